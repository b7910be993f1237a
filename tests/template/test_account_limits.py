"""Per-account limits as deployed: the usage plan and the authorizer's key, read from the transformed templates."""

from __future__ import annotations

import pytest

from tests.template.conftest import Deployed


@pytest.fixture(params=["dev", "prod", "console-off"])
def stack(request: pytest.FixtureRequest, deployed: dict[str, Deployed]) -> Deployed:
    return deployed[request.param]


def test_the_usage_plan_is_bound_to_the_apis_stage_with_the_parameters_as_limits(stack: Deployed) -> None:
    [(_, plan)] = stack.of_type("AWS::ApiGateway::UsagePlan").items()
    [stage_id] = stack.of_type("AWS::ApiGateway::Stage")
    [rest_api_id] = stack.of_type("AWS::ApiGateway::RestApi")
    props = plan["Properties"]
    # A Ref to the stage resource: the plan is created after the stage exists.
    assert props["ApiStages"] == [{"ApiId": {"Ref": rest_api_id}, "Stage": {"Ref": stage_id}}]

    # The language extensions put the parameters' values in place of their Refs.
    def value_of(parameter: str) -> str:
        return str(stack.resolve({"Ref": parameter}))

    throttle = {key: str(value) for key, value in props["Throttle"].items()}
    assert throttle == {"RateLimit": value_of("AccountRateLimit"), "BurstLimit": value_of("AccountBurstLimit")}
    if stack.condition("HasAccountQuota"):
        assert str(props["Quota"]["Limit"]) == value_of("AccountQuotaPerDay")
        assert props["Quota"]["Period"] == "DAY"
    else:
        assert "Quota" not in props


def test_every_method_but_the_preflight_requires_the_key_the_authorizer_returns(stack: Deployed) -> None:
    [api] = stack.of_type("AWS::ApiGateway::RestApi").values()
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
