"""An attempt's time limits fit the functions' timeouts and API Gateway's: no attempt is cut short by them."""

from __future__ import annotations

from devstack.template import load_template
from integrations.delivery import dispatch
from integrations.providers import http
from tests.conftest import ROOT

API_GATEWAY_INTEGRATION_TIMEOUT = 29  # seconds: REST APIs' default (and usual) maximum

TEMPLATE = load_template(ROOT / "template.yaml")


def timeout(function: str) -> float:
    return float(TEMPLATE.properties(function)["Timeout"])


def test_the_test_routes_attempt_fits_its_function_and_the_gateway() -> None:
    needed = http.ATTEMPT_DEADLINE + dispatch.SERVICE_CALLS_ALLOWANCE  # test sends are not paced
    assert needed <= timeout("TestIntegrationFunction") <= API_GATEWAY_INTEGRATION_TIMEOUT


def test_the_dispatcher_has_time_for_at_least_one_whole_attempt_per_invocation() -> None:
    # Later jobs of a batch are queued anew when less than a budget is left (functions/dispatcher/app.py).
    assert dispatch.attempt_budget() <= timeout("DispatcherFunction")


def test_an_attempt_deadline_covers_the_connect_timeout() -> None:
    assert http.CONNECT_TIMEOUT < http.ATTEMPT_DEADLINE
