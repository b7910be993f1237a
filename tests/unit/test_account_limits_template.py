"""Per-account limits as deployed: template.yaml through the SAM transform (samtranslator, in the tools virtualenv)."""

from __future__ import annotations

import json
import subprocess
import textwrap
from typing import Any

import pytest

from tests.conftest import ROOT

TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
# Code locations are S3 URIs after `sam build`/`sam package`; anything else is what `sam deploy` sends.
TRANSFORM = textwrap.dedent("""
    import json, sys
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self):
            return {}

    template = yaml_parse(open(sys.argv[1]).read())
    template["Transform"] = "AWS::Serverless-2016-10-31"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://bucket/layer.zip"
    print(json.dumps(transform(template, {}, NoManagedPolicies()), default=str))
""")


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    assert TOOLS_PYTHON.exists(), "the tools virtualenv is missing: run `make setup`"
    done = subprocess.run(
        [str(TOOLS_PYTHON), "-c", TRANSFORM, str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    resources: dict[str, Any] = json.loads(done.stdout)["Resources"]
    return resources


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {lid: res for lid, res in resources.items() if res["Type"] == resource_type}


def test_the_usage_plan_is_bound_to_the_apis_stage_with_the_parameters_as_limits(transformed: dict[str, Any]) -> None:
    [(_, plan)] = of_type(transformed, "AWS::ApiGateway::UsagePlan").items()
    [stage_id] = of_type(transformed, "AWS::ApiGateway::Stage")  # helper A's item 1 also asserts this: one stage
    [rest_api_id] = of_type(transformed, "AWS::ApiGateway::RestApi")
    props = plan["Properties"]
    # A Ref to the stage resource: the plan is created after the stage exists.
    assert props["ApiStages"] == [{"ApiId": {"Ref": rest_api_id}, "Stage": {"Ref": stage_id}}]
    assert props["Throttle"] == {"RateLimit": {"Ref": "AccountRateLimit"}, "BurstLimit": {"Ref": "AccountBurstLimit"}}
    quota = {"Limit": {"Ref": "AccountQuotaPerDay"}, "Period": "DAY"}
    assert props["Quota"] == {"Fn::If": ["HasAccountQuota", quota, {"Ref": "AWS::NoValue"}]}


def test_every_method_but_the_preflight_requires_the_key_the_authorizer_returns(transformed: dict[str, Any]) -> None:
    [api] = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    methods = [
        (path, method, operation)
        for path, operations in api["Properties"]["Body"]["paths"].items()
        for method, operation in operations.items()
    ]
    assert len(methods) > 10
    for path, method, operation in methods:
        security = [name for requirement in operation.get("security") or [] for name in requirement]
        if method == "options":
            assert security == [], f"the CORS preflight of {path} needs no key"
        else:
            assert {"ApiKeyAuthorizer", "api_key"} <= set(security), f"{method} {path}"
