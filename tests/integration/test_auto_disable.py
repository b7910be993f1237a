"""Auto-disable: a receiver answering 410 Gone, or failing every attempt for days, is disabled with a reason."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from integrations.platform import clock
from integrations.platform.errors import Conflict
from integrations.storage.store import IntegrationStore
from tests.integration.conftest import START, Api, Clock
from tests.integration.test_fanout import event
from tests.integration.test_management_api import assert_error
from tests.providers.fakes import FakeWebhookReceiver, Reply

pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver() as fake:
        yield fake


def webhook(api: Api, url: str) -> str:
    body = {"provider": "webhook", "name": "Receiver", "credentials": {"url": url}, "enabledEvents": ["scan.completed"]}
    reply = api.request("POST", "/v1/integrations", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def shown(api: Api, integration_id: str) -> dict[str, Any]:
    [found] = [i for i in api.request("GET", "/v1/integrations").body["data"] if i["id"] == integration_id]
    return dict(found)


def deliver(api: Api, event_id: str) -> None:
    api.publish(event("scan.completed", event_id=event_id))
    api.drain()


def emf_metrics(stdout: str, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [line for line in lines if name in line]


def test_a_receiver_answering_410_is_disabled_at_once_with_a_reason_logged_and_counted(
    api: Api, receiver: FakeWebhookReceiver, log_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(410, "gone"))
    deliver(api, "evt_1")
    assert len(receiver.requests) == 1  # 410 is not retried
    integration = shown(api, hook)
    assert integration["enabled"] is False
    assert integration["disabledReason"] == "The receiver answered 410 Gone"
    assert integration["disabledAt"] == integration["updatedAt"] == integration["lastDeliveryAt"]

    deliver(api, "evt_2")  # fan-out skips it now
    assert len(receiver.requests) == 1

    [line] = [json.loads(line) for line in log_output.getvalue().splitlines() if "Integration disabled" in line]
    assert (line["integration_id"], line["cause"], line["level"]) == (hook, "gone", "WARNING")
    [metric] = emf_metrics(capsys.readouterr().out, "IntegrationsAutoDisabled")
    assert (metric["IntegrationsAutoDisabled"], metric["provider"], metric["cause"]) == ([1.0], "webhook", "gone")


def test_patch_enabled_true_clears_the_reason_and_deliveries_resume(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(410))
    deliver(api, "evt_1")
    assert shown(api, hook)["enabled"] is False

    reply = api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": True})
    assert reply.status == 200
    assert reply.body["enabled"] is True
    assert "disabledReason" not in reply.body and "disabledAt" not in reply.body
    deliver(api, "evt_2")
    assert len(receiver.requests) == 2 and shown(api, hook)["lastDeliveryStatus"] == "success"


def test_jobs_queued_before_the_disable_are_dropped(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    assert api.poller("FanoutFunction").poll_once() == 1  # the job waits in the deliveries queue
    receiver.script(Reply(410))
    assert api.request("POST", f"/v1/integrations/{hook}/test").body["success"] is False  # the test route's 410
    assert shown(api, hook)["disabledReason"] == "The receiver answered 410 Gone"
    api.drain()
    assert len(receiver.requests) == 1  # only the test


def test_a_user_who_disabled_it_keeps_their_state_and_no_reason_is_invented(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hook = webhook(api, receiver.url)
    assert api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": False}).status == 200
    receiver.script(Reply(410))
    api.request("POST", f"/v1/integrations/{hook}/test")  # the test route works on disabled integrations
    integration = shown(api, hook)
    assert integration["enabled"] is False and "disabledReason" not in integration


def test_every_attempt_failing_for_five_days_disables_it(
    api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(*[Reply(500)] * 100)
    deliver(api, "evt_1")  # every attempt fails, the job ends in the dead-letter queue
    fixed_clock.set(timedelta(days=4, hours=23, minutes=59))
    deliver(api, "evt_2")
    assert shown(api, hook)["enabled"] is True
    attempts = len(receiver.requests)

    fixed_clock.set(timedelta(days=5))
    deliver(api, "evt_3")
    integration = shown(api, hook)
    assert integration["enabled"] is False
    assert integration["disabledReason"] == "Every delivery failed for 5 days"
    assert integration["disabledAt"] == clock.iso(START + timedelta(days=5))
    assert len(receiver.requests) == attempts + 1  # the disabling attempt was the last one


def test_a_success_restarts_the_count(api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(*[Reply(500)] * 8)  # every attempt of evt_1
    deliver(api, "evt_1")
    fixed_clock.set(timedelta(days=3))
    deliver(api, "evt_2")  # succeeds
    receiver.script(*[Reply(500)] * 100)
    fixed_clock.set(timedelta(days=6))
    deliver(api, "evt_3")
    assert shown(api, hook)["enabled"] is True
    fixed_clock.set(timedelta(days=8))
    deliver(api, "evt_4")
    assert shown(api, hook)["enabled"] is True  # failing for 5 days only from day 11
    fixed_clock.set(timedelta(days=11))
    deliver(api, "evt_5")
    assert shown(api, hook)["enabled"] is False


def test_re_enabling_restarts_the_count(api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(*[Reply(500)] * 100)
    deliver(api, "evt_1")
    fixed_clock.set(timedelta(days=5))
    deliver(api, "evt_2")
    assert shown(api, hook)["enabled"] is False
    api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": True})
    deliver(api, "evt_3")  # fails again, but the streak starts now
    assert shown(api, hook)["enabled"] is True


def test_enabled_true_on_an_enabled_integration_keeps_the_count(
    api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(*[Reply(500)] * 100)
    deliver(api, "evt_1")
    fixed_clock.set(timedelta(days=3))
    # A client that sends enabled: true with every edit must not postpone the disable forever.
    assert api.request("PATCH", f"/v1/integrations/{hook}", {"name": "Renamed", "enabled": True}).status == 200
    fixed_clock.set(timedelta(days=5))
    deliver(api, "evt_2")
    assert shown(api, hook)["enabled"] is False


def test_the_disable_bumps_the_version_so_a_stale_patch_answers_409_instead_of_acting_on_it(api: Api) -> None:
    store = IntegrationStore(api.table("IntegrationsTable"))
    hook = webhook(api, "http://127.0.0.1:9/hook")
    before = store.get("acct_a", hook)
    assert before is not None
    assert store.disable("acct_a", hook, "The receiver answered 410 Gone", "2026-05-01T12:00:00Z")
    assert not store.disable("acct_a", hook, "Every delivery failed for 5 days", "2026-05-02T12:00:00Z")
    with pytest.raises(Conflict):
        store.update(before, {"name": "renamed"})
    after = store.get("acct_a", hook)
    assert after is not None and after.version == before.version + 1
    assert after.disabledReason == "The receiver answered 410 Gone"  # the first reason stays


class TestConfigurable:
    @pytest.fixture
    def stack_parameters(self) -> dict[str, str]:
        return {"AutoDisableAfterDays": "2"}

    def test_the_template_parameter_sets_the_number_of_days(
        self, api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
    ) -> None:
        hook = webhook(api, receiver.url)
        receiver.script(*[Reply(503)] * 100)
        deliver(api, "evt_1")
        fixed_clock.set(timedelta(days=2))
        deliver(api, "evt_2")
        assert shown(api, hook)["disabledReason"] == "Every delivery failed for 2 days"


@pytest.mark.parametrize("field", ["disabledReason", "disabledAt"])
def test_the_disable_fields_are_read_only(api: Api, field: str) -> None:
    hook = webhook(api, "http://127.0.0.1:9/hook")
    reply = api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": False, field: "set by the client"})
    assert_error(reply, 400, "validation_error", field)
    assert "disabledReason" not in shown(api, hook) and shown(api, hook)["enabled"] is True
