"""Per-account limits in the gateway emulator: a token bucket per usage key, the usage plan read from the template."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from devstack.__main__ import StartupError, parameter_overrides
from devstack.functions import load_functions
from devstack.gateway import Gateway, load_api
from devstack.provision import plan, provision
from devstack.proxy import HttpRequest, HttpResponse
from devstack.template import load_template
from devstack.throttling import AccountLimits, UsageLimiter

from .conftest import TEMPLATE

LIMITS = {"AccountRateLimit": "2", "AccountBurstLimit": "3"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build(path: Path, parameters: dict[str, str]) -> Gateway:
    template = load_template(path)
    resources = plan(template, "st", parameters)
    functions = load_functions(template, resources)
    return Gateway(load_api(template, resources, functions), functions, port=0)


def get(gateway: Gateway, key: str) -> HttpResponse:
    return gateway.handle(HttpRequest("GET", "/v1/integrations", [("X-API-Key", key)]))


def test_one_account_over_its_burst_is_throttled_with_429_in_the_error_shape_while_another_is_served(
    stand_in_stack: Path,
) -> None:
    gateway = build(stand_in_stack, LIMITS)
    assert gateway.usage is not None
    clock = FakeClock()
    gateway.usage.clock = clock
    assert [get(gateway, "allow").status for _ in range(3)] == [200, 200, 200]  # the burst
    throttled = get(gateway, "allow")
    assert throttled.status == 429
    assert json.loads(throttled.body) == {
        "error": {"code": "rate_limited", "message": "Too many requests; slow down and retry", "details": []}
    }
    assert [get(gateway, "allow-b").status for _ in range(3)] == [200, 200, 200], "another account is unaffected"
    clock.now += 0.5  # 2 requests per second: one token back
    assert get(gateway, "allow").status == 200
    assert get(gateway, "allow").status == 429


def test_an_allowed_key_without_a_usage_key_is_refused_403_in_the_error_shape(stand_in_stack: Path) -> None:
    response = get(build(stand_in_stack, {}), "no-usage-key")
    assert response.status == 403
    assert json.loads(response.body)["error"]["code"] == "forbidden"


def test_a_daily_quota_answers_429_quota_exceeded_until_the_next_utc_day(stand_in_stack: Path) -> None:
    gateway = build(stand_in_stack, {"AccountQuotaPerDay": "2"})
    assert gateway.usage is not None
    day = ["2026-05-01"]
    gateway.usage.today = lambda: day[0]
    assert [get(gateway, "allow").status for _ in range(2)] == [200, 200]
    exceeded = get(gateway, "allow")
    assert exceeded.status == 429 and json.loads(exceeded.body)["error"]["code"] == "rate_limited"
    assert "quota" in json.loads(exceeded.body)["error"]["message"].lower()
    assert get(gateway, "allow-b").status == 200
    day[0] = "2026-05-02"
    assert get(gateway, "allow").status == 200


def test_the_limits_are_the_usage_plan_on_the_apis_stage_resolved_with_the_parameters() -> None:
    template = load_template(TEMPLATE)
    resources = plan(template, "st", {"AccountRateLimit": "3.5", "AccountBurstLimit": "4", "AccountQuotaPerDay": "9"})
    api = load_api(template, resources, load_functions(template, resources))
    assert api.api_key_required
    assert api.account_limits == AccountLimits(rate=3.5, burst=4, quota_per_day=9)
    defaults = plan(template, "st")
    assert load_api(template, defaults, load_functions(template, defaults)).account_limits == AccountLimits(10, 20)


def test_the_bucket_refills_at_the_rate_up_to_the_burst_only() -> None:
    clock = FakeClock()
    limiter = UsageLimiter(AccountLimits(rate=1, burst=2), clock=clock)
    assert [limiter.admit("k") for _ in range(3)] == [None, None, "THROTTLED"]
    clock.now += 60  # a long pause refills to the burst, not beyond
    assert [limiter.admit("k") for _ in range(3)] == [None, None, "THROTTLED"]
    assert limiter.admit(None) == "INVALID_API_KEY"


def test_the_usage_plan_is_created_in_moto_on_the_apis_stage(aws: boto3.session.Session) -> None:
    resources = provision(TEMPLATE, aws, "st", {"Environment": "prod", **LIMITS})
    usage_plan = aws.client("apigateway").get_usage_plan(usagePlanId=resources.ref("AccountUsagePlan"))
    assert usage_plan["name"] == "st-accounts"
    assert usage_plan["apiStages"] == [{"apiId": "local", "stage": "prod"}]
    assert usage_plan["throttle"] == {"rateLimit": 2.0, "burstLimit": 3}
    assert "quota" not in usage_plan  # AccountQuotaPerDay 0: no quota


def test_parameters_come_from_devstack_parameters_and_the_command_line_wins() -> None:
    environ = {"DEVSTACK_PARAMETERS": "AccountRateLimit=1, AccountBurstLimit=2"}
    assert parameter_overrides(environ, ["AccountBurstLimit=5"]) == {"AccountRateLimit": "1", "AccountBurstLimit": "5"}
    with pytest.raises(StartupError):
        parameter_overrides({"DEVSTACK_PARAMETERS": "AccountRateLimit"}, [])
