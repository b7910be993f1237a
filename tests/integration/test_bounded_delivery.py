"""A dripping receiver cannot hold an attempt past its deadline, nor a batch past the dispatcher's timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from integrations.delivery import dispatch, pacing, retry
from integrations.platform import settings
from integrations.providers import http
from tests.integration.conftest import Api
from tests.integration.test_parallel_and_paced_delivery import dispatch_batch, fan_out, queued, webhook
from tests.providers.hostile import DRIPPING_BODY, HostileReceiver

pytestmark = pytest.mark.usefixtures("atomic_item_writes")

DEADLINE = 1.5  # the drip sends a byte every 0.2 s: no socket read ever times out, only the deadline can end it


@pytest.fixture(autouse=True)
def _local_receivers_short_deadline(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setattr(retry, "BACKOFF", (0,) * len(retry.BACKOFF))
    monkeypatch.setattr(http, "ATTEMPT_DEADLINE", DEADLINE)
    settings.load.cache_clear()


@pytest.fixture
def dripping() -> Iterator[HostileReceiver]:
    with HostileReceiver(DRIPPING_BODY) as receiver:
        yield receiver


def test_a_dripping_receivers_attempt_ends_at_the_deadline_and_is_logged_as_a_timeout(
    api: Api, dripping: HostileReceiver
) -> None:
    hook = webhook(api, dripping.url + "/hook")
    fan_out(api, "evt_1")

    started = time.monotonic()
    _, result = dispatch_batch(api)
    took = time.monotonic() - started

    assert len(result["batchItemFailures"]) == 1, "a timeout is retried"
    assert DEADLINE <= took < DEADLINE + 2
    [entry] = api.request("GET", f"/v1/integrations/{hook}/logs").body["data"]
    assert entry["status"] == "failed" and entry["responseCode"] is None
    assert entry["error"] == f"Timeout: no complete response within {DEADLINE:g} s"
    assert DEADLINE * 1000 <= entry["responseTime"] < (DEADLINE + 1.5) * 1000


def test_the_test_route_answers_at_the_deadline(api: Api, dripping: HostileReceiver) -> None:
    hook = webhook(api, dripping.url + "/hook")
    started = time.monotonic()
    reply = api.request("POST", f"/v1/integrations/{hook}/test")
    took = time.monotonic() - started

    assert reply.status == 200
    assert reply.body["success"] is False
    assert "Timeout" in str(reply.body)
    assert DEADLINE <= took < DEADLINE + 2


def test_jobs_the_invocation_has_no_time_left_for_go_back_to_the_queue_without_an_attempt(
    api: Api, dripping: HostileReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three jobs of one integration run one after another. Each attempt may take the budget (the pacing wait, the
    # deadline, the service's calls): with time for one, the first is attempted and the others are queued anew.
    deadline = 3.0  # an attempt to the drip takes this long: after the first, less than a budget is left
    monkeypatch.setattr(http, "ATTEMPT_DEADLINE", deadline)
    monkeypatch.setattr(pacing, "MAX_INLINE_WAIT", 0.5)
    monkeypatch.setattr(dispatch, "SERVICE_CALLS_ALLOWANCE", 1.0)
    budget = dispatch.attempt_budget()  # 4.5 s
    function = api.functions["DispatcherFunction"]
    monkeypatch.setattr(function, "timeout", budget + deadline - 0.1)  # time for one attempt, then no second
    webhook(api, dripping.url + "/hook")
    fan_out(api, "evt_1", "evt_2", "evt_3")

    started = time.monotonic()
    messages, result = dispatch_batch(api)
    took = time.monotonic() - started

    assert len(messages) == 3
    assert took < function.timeout, "the batch ended before the function's timeout"
    assert len(dripping.requests) == 1, "one attempt made"
    [failed] = result["batchItemFailures"]  # the attempted job, hidden until its retry
    requeued = [m for m in queued(api) if m["attributes"].get(retry.ATTEMPTS_MADE)]
    assert len(requeued) == 2
    assert all(m["attributes"][retry.ATTEMPTS_MADE]["StringValue"] == "0" for m in requeued), "no attempt counted"
    attempted = next(m for m in messages if m["MessageId"] == failed["itemIdentifier"])
    assert attempted["Body"] not in {m["body"] for m in requeued}
