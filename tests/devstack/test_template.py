"""The template loader (short tags) and the intrinsic-function resolver."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devstack.provision import plan
from devstack.template import NO_VALUE, Resolver, Template, TemplateError, load_template, load_yaml, merge_globals

from .conftest import TEMPLATE


def _template(text: str, tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return load_template(path)


def test_short_tags_become_long_forms() -> None:
    body = load_yaml(
        textwrap.dedent("""
        a: !Ref Thing
        b: !Sub "${AWS::Region}-x"
        c: !GetAtt Queue.Arn
        d: !GetAtt [Queue, Arn]
        e: !GetAtt Db.Endpoint.Address
        f: !If [IsProd, 1, !Ref AWS::NoValue]
        g: !Equals [!Ref Env, prod]
        h: !Not [!Condition IsProd]
        i: !And [!Condition A, !Or [!Condition B, !Condition C]]
        j: !Join [",", [a, b]]
        k: !Select [0, !Split [",", "a,b"]]
        l: !FindInMap [Map, Top, Second]
        m: !Base64 text
        n: !GetAZs ""
        o: !ImportValue Export
        p: !Sub [ "${X}", {X: !Ref Y} ]
        date: 2010-09-09
        """)
    )
    assert body["a"] == {"Ref": "Thing"}
    assert body["b"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert body["c"] == body["d"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert body["e"] == {"Fn::GetAtt": ["Db", "Endpoint.Address"]}
    assert body["f"] == {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}
    assert body["g"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
    assert body["h"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert body["i"] == {"Fn::And": [{"Condition": "A"}, {"Fn::Or": [{"Condition": "B"}, {"Condition": "C"}]}]}
    assert body["j"] == {"Fn::Join": [",", ["a", "b"]]}
    assert body["k"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert body["l"] == {"Fn::FindInMap": ["Map", "Top", "Second"]}
    assert body["m"] == {"Fn::Base64": "text"}
    assert body["n"] == {"Fn::GetAZs": ""}
    assert body["o"] == {"Fn::ImportValue": "Export"}
    assert body["p"] == {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]}
    assert body["date"] == "2010-09-09"  # CloudFormation keeps dates as strings


def test_real_template_loads_with_its_transforms_and_deletion_policies() -> None:
    template = load_template(TEMPLATE)
    assert "AWS::LanguageExtensions" in template.transforms
    assert template.resources["IntegrationsTable"]["DeletionPolicy"] == {"Fn::If": ["IsProd", "Retain", "Delete"]}
    resources = plan(template, "stack")
    assert resources.resolver is not None
    resolver = resources.resolver
    # Outputs behind a false condition (the console's, by default) do not exist, as in CloudFormation.
    present = {
        key: output
        for key, output in template.body["Outputs"].items()
        if "Condition" not in output or resolver.condition(output["Condition"])
    }
    assert "ConsoleUrl" not in present
    outputs = resolver.resolve(present)
    assert outputs["ApiUrl"]["Value"] == "https://local.execute-api.us-east-1.amazonaws.com/dev"
    assert outputs["ApiKeysTableName"]["Value"] == "stack-ApiKeysTable"
    assert outputs["SecretsPrefix"]["Value"] == "stack/integrations/"


def test_unknown_short_tag_is_refused() -> None:
    with pytest.raises(Exception, match="Bogus"):
        load_yaml("a: !Bogus x")


SMALL = """
    Parameters:
      Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
      Size: {Type: Number, Default: 27}
      Names: {Type: CommaDelimitedList, Default: "a,b"}
    Mappings:
      Sizes: {dev: {memory: 128}, prod: {memory: 1024}}
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
      IsDev: !Not [!Condition IsProd]
      Both: !And [!Condition IsDev, !Equals [!Ref Size, 27]]
    Resources:
      Queue: {Type: AWS::SQS::Queue}
      ProdOnly: {Type: AWS::SQS::Queue, Condition: IsProd}
"""


@pytest.fixture
def small(tmp_path: Path) -> Template:
    return _template(SMALL, tmp_path)


def _resolve(template: Template, value: Any, **parameters: Any) -> Any:
    resources = plan(template, "st", parameters)
    assert resources.resolver is not None
    return resources.resolver.resolve(value)


def test_parameters_defaults_overrides_and_allowed_values(small: Template) -> None:
    assert _resolve(small, {"Ref": "Env"}) == "dev"
    assert _resolve(small, {"Ref": "Env"}, Env="prod") == "prod"
    assert _resolve(small, {"Ref": "Size"}) == "27"  # CloudFormation hands numbers over as strings
    assert _resolve(small, {"Ref": "Names"}) == ["a", "b"]
    with pytest.raises(TemplateError, match="not one of"):
        _resolve(small, {"Ref": "Env"}, Env="staging")
    with pytest.raises(TemplateError, match="unknown parameter"):
        _resolve(small, {"Ref": "Env"}, Nope="x")


def test_pseudo_parameters(small: Template) -> None:
    value = {"Fn::Sub": "${AWS::Region}|${AWS::AccountId}|${AWS::StackName}|${AWS::Partition}|${AWS::URLSuffix}"}
    assert _resolve(small, value) == "us-east-1|123456789012|st|aws|amazonaws.com"


def test_conditions_and_resources_behind_them(small: Template) -> None:
    dev = plan(small, "st")
    prod = plan(small, "st", {"Env": "prod"})
    assert dev.resolver is not None
    assert prod.resolver is not None
    assert (dev.resolver.condition("IsProd"), dev.resolver.condition("IsDev"), dev.resolver.condition("Both")) == (
        False,
        True,
        True,
    )
    assert prod.resolver.condition("IsProd") is True
    assert "ProdOnly" not in dev
    assert "ProdOnly" in prod
    assert _resolve(small, {"a": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}, "b": 2}) == {"b": 2}
    assert _resolve(small, [{"Fn::If": ["IsDev", "x", {"Ref": "AWS::NoValue"}]}, {"Ref": "AWS::NoValue"}]) == ["x"]


def test_ref_getatt_and_sub_of_resources(small: Template) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/st-Queue"
    arn = "arn:aws:sqs:us-east-1:123456789012:st-Queue"
    assert _resolve(small, {"Ref": "Queue"}) == url
    assert _resolve(small, {"Fn::GetAtt": ["Queue", "Arn"]}) == arn
    assert _resolve(small, {"Fn::GetAtt": "Queue.QueueName"}) == "st-Queue"
    assert _resolve(small, {"Fn::Sub": "${Queue.Arn}/${Queue}"}) == f"{arn}/{url}"
    assert _resolve(small, {"Fn::Sub": ["${Q}-${Env}-${!Literal}", {"Q": {"Fn::GetAtt": "Queue.QueueName"}}]}) == (
        "st-Queue-dev-${Literal}"
    )
    with pytest.raises(TemplateError, match="no attribute"):
        _resolve(small, {"Fn::GetAtt": ["Queue", "Nope"]})
    with pytest.raises(TemplateError, match="unknown name"):
        _resolve(small, {"Ref": "Missing"})


def test_other_functions(small: Template) -> None:
    assert _resolve(small, {"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}) == "a-dev-3"
    assert _resolve(small, {"Fn::Select": ["1", {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert _resolve(small, {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "memory"]}) == 128
    assert _resolve(small, {"Fn::Base64": "hi"}) == base64.b64encode(b"hi").decode()
    assert _resolve(small, {"Fn::GetAZs": ""}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert _resolve(small, {"Fn::ToJsonString": {"a": [1]}}) == '{"a":[1]}'
    with pytest.raises(TemplateError, match="ImportValue"):
        _resolve(small, {"Fn::ImportValue": "Shared-Thing"})


def test_imports_can_be_supplied(small: Template) -> None:
    resolver = Resolver(small, stack_name="st", imports={"Shared-Thing": "value"})
    assert resolver.resolve({"Fn::ImportValue": "Shared-Thing"}) == "value"
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_globals_merge_like_sam() -> None:
    merged = merge_globals(
        {"Timeout": 10, "Layers": ["a"], "Environment": {"Variables": {"A": "1", "B": "1"}}},
        {"Timeout": 3, "Layers": ["b"], "Environment": {"Variables": {"B": "2"}}},
    )
    assert merged == {"Timeout": 3, "Layers": ["a", "b"], "Environment": {"Variables": {"A": "1", "B": "2"}}}


def test_a_functions_alias_and_version_name_the_function(tmp_path: Path) -> None:
    """SAM's `!Ref MyFunction.Alias` (AutoPublishAlias, issue 13): the local stack has no versions, so an invoker
    of the alias or version is given the function itself."""
    template = _template(
        """
        Globals:
          Function: {AutoPublishAlias: live}
        Resources:
          Fn: {Type: AWS::Serverless::Function, Properties: {Handler: app.handler, CodeUri: fn/}}
          Plain: {Type: AWS::SQS::Queue}
        """,
        tmp_path,
    )
    resources = plan(template, "st")
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:st-Fn"
    assert _resolve(template, {"Fn::GetAtt": ["Fn", "Arn"]}) == function_arn
    assert _resolve(template, {"Ref": "Fn.Alias"}) == f"{function_arn}:live"
    assert _resolve(template, {"Ref": "Fn.Version"}) == f"{function_arn}:1"
    assert resources.logical_id_of({"Ref": "Fn.Alias"}, "test") == "Fn"
    assert resources.logical_id_of(f"{function_arn}:live", "test") == "Fn"
    assert resources.logical_id_of(function_arn, "test") == "Fn"
    with pytest.raises(TemplateError, match="not an AWS::Serverless::Function"):
        _resolve(template, {"Ref": "Plain.Alias"})
