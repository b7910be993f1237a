"""Lenient intake through the pipeline: every event that can be routed is delivered, whatever its size or extra
fields; one that cannot be routed, however it is built, is parked at once with its reason (`dlq inspect`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import ops
import pytest

from integrations.platform import settings
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fakes import FakeSlack, FakeWebhookReceiver

pytestmark = pytest.mark.usefixtures("instant_local_delivery")

TITLE = "SQL injection in /login " + "A" * 10_000


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver() as fake:
        yield fake


def create(api: Api, provider: str, credentials: dict[str, Any], events: list[str]) -> str:
    body = {"provider": provider, "name": provider, "credentials": credentials, "enabledEvents": events}
    reply = api.request("POST", "/v1/integrations", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def park(api: Api, body: str) -> None:
    """Send ``body`` straight to the events queue (as a producer may) and let fan-out take it once."""
    boto3.client("sqs").send_message(QueueUrl=api.resources.ref("EventsQueue"), MessageBody=body)
    api.poller("FanoutFunction").poll_once()


def inspect(api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """What the operator sees: `integrations-ops dlq inspect --queue events`."""
    monkeypatch.setenv("EVENTS_QUEUE_URL", api.resources.ref("EventsQueue"))
    settings.load.cache_clear()
    capsys.readouterr()
    assert ops.main(["dlq", "inspect", "--queue", "events"]) == 0
    return capsys.readouterr().out


def test_a_ten_thousand_character_title_and_extra_fields_reach_every_integration(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    create(api, "webhook", {"url": receiver.url + "/hook"}, ["finding.new"])
    with FakeSlack() as slack:
        create(api, "slack", {"webhookUrl": slack.webhook_url}, ["finding.new"])
        sent = event("finding.new", severity="critical")
        sent["data"]["finding"] |= {"title": TITLE, "cwe": ["CWE-89"], "evidence": None}
        sent["data"]["producerVersion"] = "scanner 7.1"
        api.publish(sent)
        api.drain()
        header = slack.last.json()["blocks"][0]["text"]["text"]

    assert len(header) == 150 and header.endswith("…"), "Slack's header limit, cut visibly"
    data = receiver.last.json()["data"]
    assert data["finding"] == sent["data"]["finding"], "the webhook gets the finding as sent, long title and all"
    assert data["producerVersion"] == "scanner 7.1"
    assert api.messages("EventsDeadLetterQueue") == []


def test_an_event_without_an_account_is_parked_at_once_with_its_reason(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unroutable = json.dumps({k: v for k, v in event("scan.completed").items() if k != "accountId"})
    park(api, unroutable)

    [parked] = api.messages("EventsDeadLetterQueue")
    assert parked["Body"] == unroutable
    assert parked["MessageAttributes"]["reason"]["StringValue"] == "malformed event: accountId: Field required"
    assert api.messages("EventsQueue") == [], "not retried"
    assert "malformed event: accountId: Field required" in inspect(api, monkeypatch, capsys)


def test_a_message_nested_ten_thousand_deep_is_parked_at_once_with_its_reason(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A routable event whose data nests 10,000 objects, and a bare array nesting 10,000 arrays.
    deep = '{"id": "evt_deep", "type": "scan.completed", "accountId": "acct_a", "data": '
    deep += '{"a": ' * 10_000 + "1" + "}" * 10_000 + "}"
    nested = "[" * 10_000 + "]" * 10_000
    park(api, deep)
    park(api, nested)

    parked = {m["Body"]: m["MessageAttributes"]["reason"]["StringValue"] for m in api.messages("EventsDeadLetterQueue")}
    assert set(parked) == {deep, nested}, "classified and parked on the first receive"
    assert parked[nested] == "event is not JSON: recursion limit exceeded at line 1 column 202"
    assert parked[deep].startswith("event is not JSON: recursion limit exceeded")
    assert api.messages("EventsQueue") == []
    shown = inspect(api, monkeypatch, capsys)
    assert "event is not JSON: recursion limit exceeded" in shown
    assert "fan-out kept failing" not in shown
