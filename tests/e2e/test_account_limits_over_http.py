"""End to end over the local stack: each account has its own rate limit (API Gateway's usage plan, emulated), and
the operator command's keys get their usage key in the stack's plan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devstack.testing import start_local_stack, stop_local_stack
from tests.e2e.test_ops_over_http import ops

pytestmark = pytest.mark.e2e

KEY_A = "apvk_e2e_limits_a"
KEY_B = "apvk_e2e_limits_b"
KEY_WARM = "apvk_e2e_limits_warm"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    log = tmp_path_factory.mktemp("limits") / "output.log"
    env = {
        "LOCAL_API_KEYS": f"{KEY_A}=acct_a,{KEY_B}=acct_b,{KEY_WARM}=acct_warm",
        # A burst of 3, then one request per 10 s: the 4th quick request is over the limit even on a slow machine.
        "DEVSTACK_PARAMETERS": "AccountRateLimit=0.1,AccountBurstLimit=3",
    }
    process, api_url, aws_url = start_local_stack(env, log_path=log)
    # The first request imports the handlers (a cold start, slow on a busy machine): made by a third account.
    list_integrations(api_url, KEY_WARM, timeout=60)
    yield api_url, aws_url
    assert stop_local_stack(process) == 0


def list_integrations(api_url: str, key: str, timeout: float = 30) -> requests.Response:
    return requests.get(f"{api_url}/v1/integrations", headers={"X-API-Key": key}, timeout=timeout)


def test_one_account_over_its_limit_gets_429_in_the_error_shape_while_another_is_served(
    stack: tuple[str, str],
) -> None:
    api_url, _ = stack
    assert [list_integrations(api_url, KEY_A).status_code for _ in range(3)] == [200, 200, 200]
    throttled = list_integrations(api_url, KEY_A)
    assert throttled.status_code == 429
    assert throttled.json() == {
        "error": {"code": "rate_limited", "message": "Too many requests; slow down and retry", "details": []}
    }
    served = [list_integrations(api_url, KEY_B) for _ in range(3)]
    assert [response.status_code for response in served] == [200, 200, 200]
    assert served[0].json() == {"data": []}


def test_a_key_issued_by_the_operator_command_has_its_own_limit(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    status, out = ops(aws_url, "keys", "issue", "--account", "acct_new")
    assert status == 0, out
    key = out.strip().splitlines()[-1]
    assert [list_integrations(api_url, key).status_code for _ in range(4)] == [200, 200, 200, 429]
    status, out = ops(aws_url, "keys", "plan", "--account", "acct_new")
    assert status == 0 and "(integrations-local-accounts): 0.1 requests/s, burst 3, no quota" in out
