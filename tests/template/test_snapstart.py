"""Issue 13: every function is published behind its `live` alias, invoked only through it, with SnapStart in prod."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import pytest
from transform_template import CONFIGS

from tests.conftest import ROOT
from tests.template.conftest import Deployed

CONFIG_NAMES = ["dev", "prod", "console-off"]
SNAPSTART = {"dev": "None", "prod": "PublishedVersions", "console-off": "None"}


@pytest.fixture(params=CONFIG_NAMES)
def stack(request: pytest.FixtureRequest, deployed: dict[str, Deployed]) -> Deployed:
    return deployed[request.param]


def _ref(value: Any) -> str:
    assert isinstance(value, dict) and list(value) == ["Ref"], value
    return str(value["Ref"])


def _live_aliases(stack: Deployed) -> dict[str, str]:
    """Alias logical id -> the function it belongs to, for every `live` alias."""
    aliases = {}
    for logical_id, alias in stack.of_type("AWS::Lambda::Alias").items():
        props = alias["Properties"]
        assert props["Name"] == "live", logical_id
        aliases[logical_id] = _ref(props["FunctionName"])
    return aliases


def test_every_function_has_its_live_alias_on_a_published_version(stack: Deployed) -> None:
    functions = stack.of_type("AWS::Lambda::Function")
    versions = stack.of_type("AWS::Lambda::Version")
    aliases = _live_aliases(stack)
    assert len(functions) >= 12
    assert sorted(aliases.values()) == sorted(functions)  # one alias per function, none without
    for logical_id, alias in stack.of_type("AWS::Lambda::Alias").items():
        version_id, attribute = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"]
        assert attribute == "Version"
        assert _ref(versions[version_id]["Properties"]["FunctionName"]) == aliases[logical_id]


def test_snapstart_is_on_in_prod_only(stack: Deployed) -> None:
    for logical_id, function in stack.of_type("AWS::Lambda::Function").items():
        applied = stack.resolve(function["Properties"]["SnapStart"]["ApplyOn"])
        assert applied == SNAPSTART[stack.name], logical_id


def test_prod_deploys_with_snapstart_as_checked_here() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = dict(
        item.split("=", 1) for item in shlex.split(config["prod"]["deploy"]["parameters"]["parameter_overrides"])
    )
    assert overrides["SnapStart"] == "PublishedVersions" == CONFIGS["prod"]["SnapStart"]
    dev = config["default"]["deploy"]["parameters"]["parameter_overrides"]
    assert "SnapStart" not in dev  # the template's default: off


def test_every_invoker_calls_an_alias(stack: Deployed) -> None:
    resources = stack.resources
    aliases = _live_aliases(stack)
    functions = set(stack.of_type("AWS::Lambda::Function"))

    # The queues' event source mappings
    mappings = stack.of_type("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 3
    assert {aliases[_ref(m["Properties"]["FunctionName"])] for m in mappings.values()} == {
        "FanoutFunction",
        "DispatcherFunction",
        "RecoveryBatchesFunction",
    }

    # Every permission to invoke (API routes and the authorizer) is the alias's
    permissions = stack.of_type("AWS::Lambda::Permission")
    assert permissions
    for logical_id, permission in permissions.items():
        assert _ref(permission["Properties"]["FunctionName"]) in aliases, logical_id

    # Every Lambda URI API Gateway calls, integrations and the authorizer, names an alias and no bare function
    [api] = stack.of_type("AWS::ApiGateway::RestApi").values()
    uris = re.findall(r"lambda:path/2015-03-31/functions/\$\{([^}]+)\}/invocations", str(api["Properties"]["Body"]))
    authorizer_arns = re.findall(r"'__FunctionArn__': \{'Ref': '([^']+)'\}", str(api["Properties"]["Body"]))
    assert authorizer_arns == ["AuthorizerFunctionAliaslive"]
    named = {uri for uri in uris if uri != "__FunctionArn__"} | set(authorizer_arns)
    assert len(named) == len(functions) - len(mappings)  # every function but those the queues call
    for name in named:
        assert resources[name]["Type"] == "AWS::Lambda::Alias", name
    assert not named & functions
