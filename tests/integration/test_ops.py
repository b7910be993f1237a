"""The operator command (integrations-ops): dead-letter queues (inspect, redrive) and disabling an integration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import ops
import pytest

from integrations.delivery import retry
from integrations.platform import aws, settings
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fakes import FakeWebhookReceiver, Reply

SECRET = "whsec_" + "b3BzLWNvbW1hbmQtc2lnbmluZy1rZXktMDEyMw=="
URL_TOKEN = "tok-OPSCHECK-8812"


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"MaxDeliveryAttempts": "2"}


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, api: Api) -> None:
    """The names the command reads without --stack (the functions' variables are already set by the fixture)."""
    monkeypatch.setenv("EVENTS_QUEUE_URL", api.resources.ref("EventsQueue"))
    monkeypatch.setenv("DELIVERIES_DLQ_URL", api.resources.ref("DeliveriesDeadLetterQueue"))
    monkeypatch.setenv("BUS_DLQ_URL", api.resources.ref("ScannerEventsDeadLetterQueue"))  # no function has it
    monkeypatch.setenv("RECOVERY_QUEUE_URL", api.resources.ref("RecoveryQueue"))
    monkeypatch.setenv("RECOVERY_DLQ_URL", api.resources.ref("RecoveryDeadLetterQueue"))
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setattr(retry, "BACKOFF", (0,) * len(retry.BACKOFF))
    settings.load.cache_clear()


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = ops.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def bodies(url: str) -> list[str]:
    """Every message body in the queue, without consuming any."""
    sqs = boto3.client("sqs")
    seen: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        seen += batch
    for message in seen:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return sorted(message["Body"] for message in seen)


def webhook(api: Api, url: str) -> str:
    body = {
        "provider": "webhook",
        "name": "Receiver",
        "credentials": {"url": f"{url}/hooks/{URL_TOKEN}", "secret": SECRET},
        "enabledEvents": ["scan.completed"],
    }
    reply = api.request("POST", "/v1/integrations", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def fill_both_dead_letter_queues(api: Api, receiver: FakeWebhookReceiver) -> str:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(503, "down for maintenance"), Reply(503, "down for maintenance"))
    api.publish(event("scan.completed", event_id="evt_failed"))
    api.drain()  # both attempts fail: the job goes to the deliveries DLQ
    events_queue = api.resources.ref("EventsQueue")
    boto3.client("sqs").send_message(QueueUrl=events_queue, MessageBody=json.dumps({**event("scan.exploded")}))
    api.drain()  # an unknown type: fan-out parks it with its reason
    # One that fan-out gave up on (receive limit): no reason attribute.
    boto3.client("sqs").send_message(
        QueueUrl=api.resources.ref("EventsDeadLetterQueue"), MessageBody=json.dumps(event("scan.completed", "acct_x"))
    )
    return hook


def test_inspect_shows_counts_reasons_and_a_sample_and_consumes_nothing(
    api: Api, receiver: FakeWebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = fill_both_dead_letter_queues(api, receiver)
    status, out = run(capsys, "dlq", "inspect")
    assert status == 0
    events_part, deliveries_part = out.split("\nevents dead-letter queue")[1].split("\ndeliveries dead-letter queue")
    assert events_part.startswith(": about 2 message(s) (2 examined)")
    assert "1  fan-out kept failing (receive limit reached" in events_part
    assert "1  malformed event: type: Input should be 'scan.started'" in events_part  # fan-out's reason attribute
    assert deliveries_part.startswith(": about 1 message(s) (1 examined)")
    # The reason the dispatcher attached when it parked the job, naming the last attempt's error.
    assert "1  2 attempts failed; last: Provider returned HTTP 503: Service Unavailable" in deliveries_part
    assert hook in deliveries_part and '"deliveryId"' in deliveries_part  # the sample: the job itself
    assert "never credentials" in out
    for secret in (SECRET, SECRET.removeprefix("whsec_"), URL_TOKEN):
        assert secret not in out
    # Still there, and visible at once.
    assert len(bodies(api.resources.ref("EventsDeadLetterQueue"))) == 2
    assert len(bodies(api.resources.ref("DeliveriesDeadLetterQueue"))) == 1

    status, out = run(capsys, "dlq", "inspect", "--queue", "deliveries")
    assert status == 0 and "events dead-letter queue" not in out


def test_redrive_after_a_fix_delivers_the_parked_job(
    api: Api, receiver: FakeWebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = fill_both_dead_letter_queues(api, receiver)
    status, out = run(capsys, "dlq", "redrive", "--queue", "deliveries")
    assert (status, out.strip()) == (0, "deliveries: moved 1 message(s) back to the source queue")
    assert bodies(api.resources.ref("DeliveriesDeadLetterQueue")) == []
    api.drain()
    assert receiver.last.json()["data"]["event"]["id"] == "evt_failed"  # the receiver verified its signature
    entries = api.request("GET", f"/v1/integrations/{hook}/logs").body["data"]
    assert [e["status"] for e in entries] == ["success", "failed", "failed"]


def test_a_redriven_job_starts_a_fresh_schedule_of_attempts(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    attributes = {
        "reason": {"DataType": "String", "StringValue": "8 attempts failed; last: timeout"},
        "attemptsMade": {"DataType": "Number", "StringValue": "7"},
        "kept": {"DataType": "String", "StringValue": "yes"},
    }
    boto3.client("sqs").send_message(
        QueueUrl=api.resources.ref("DeliveriesDeadLetterQueue"), MessageBody='{"job": 1}', MessageAttributes=attributes
    )
    status, _ = run(capsys, "dlq", "redrive", "--queue", "deliveries")
    [moved] = api.messages("DeliveriesQueue")
    assert status == 0 and moved["Body"] == '{"job": 1}'
    assert set(moved["MessageAttributes"]) == {"kept"}


def test_redrive_of_events_drops_the_old_reason_and_rejected_events_come_back_with_a_new_one(
    api: Api, receiver: FakeWebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_both_dead_letter_queues(api, receiver)
    status, out = run(capsys, "dlq", "redrive", "--queue", "events")
    assert (status, out.strip()) == (0, "events: moved 2 message(s) back to the source queue")
    api.drain()
    # The valid event of an account without integrations fans out to nothing; the malformed one is parked again.
    [parked] = api.messages("EventsDeadLetterQueue")
    assert "scan.exploded" in parked["Body"] and parked["MessageAttributes"]["reason"]["StringValue"]


def park(api: Api, count: int) -> tuple[str, str, list[str]]:
    dlq, source = api.resources.ref("EventsDeadLetterQueue"), api.resources.ref("EventsQueue")
    sent = [f"message {n:02}" for n in range(count)]
    for body in sent:
        boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody=body)
    return dlq, source, sent


def test_redrive_loses_nothing_when_sending_fails_half_way(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq, source, sent = park(api, 25)
    sqs = aws.client("sqs")
    real_send = sqs.send_message_batch
    calls = []

    def fails_on_the_second_batch(**request: Any) -> Any:
        calls.append(request)
        if len(calls) == 2:
            raise ConnectionError("connection reset")
        return real_send(**request)

    monkeypatch.setattr(sqs, "send_message_batch", fails_on_the_second_batch)
    status, out = run(capsys, "dlq", "redrive", "--queue", "events")
    assert status == 1
    assert "moved 10 message(s)" in out and "10 left in the dead-letter queue" in out
    moved, left = bodies(source), bodies(dlq)
    assert (len(moved), len(left)) == (10, 15)
    assert sorted(moved + left) == sent  # nothing lost, nothing twice

    monkeypatch.setattr(sqs, "send_message_batch", real_send)
    assert run(capsys, "dlq", "redrive", "--queue", "events")[0] == 0
    assert bodies(source) == sent and bodies(dlq) == []


def test_redrive_keeps_the_messages_a_batch_send_refused(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq, source, sent = park(api, 10)
    sqs = aws.client("sqs")
    real_send = sqs.send_message_batch

    def refuses_two(**request: Any) -> Any:
        refused = [e for e in request["Entries"] if e["MessageBody"] in ("message 03", "message 07")]
        accepted = [e for e in request["Entries"] if e not in refused]
        response = real_send(**{**request, "Entries": accepted})
        failed = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in refused]
        return {**response, "Failed": failed}

    monkeypatch.setattr(sqs, "send_message_batch", refuses_two)
    status, out = run(capsys, "dlq", "redrive")
    assert status == 1 and "events: moved 8" in out and "InternalError" in out
    assert bodies(dlq) == ["message 03", "message 07"]
    assert sorted(bodies(source) + bodies(dlq)) == sent


def test_messages_failing_again_during_the_redrive_are_not_moved_in_a_loop(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq, source, sent = park(api, 12)
    sqs = aws.client("sqs")
    real_send = sqs.send_message_batch

    def rejected_again_at_once(**request: Any) -> Any:
        response = real_send(**request)
        for entry in request["Entries"]:  # as fan-out parks a malformed event again while the redrive runs
            sqs.send_message(QueueUrl=dlq, MessageBody=entry["MessageBody"])
        return response

    monkeypatch.setattr(sqs, "send_message_batch", rejected_again_at_once)
    status, out = run(capsys, "dlq", "redrive", "--queue", "events")
    assert (status, out.strip()) == (0, "events: moved 12 message(s) back to the source queue")
    assert bodies(source) == sent and bodies(dlq) == sent  # the new copies wait, visible, in the DLQ


def test_redrive_limit(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    dlq, source, sent = park(api, 13)
    assert run(capsys, "dlq", "redrive", "--queue", "events", "--limit", "11")[0] == 0
    assert (len(bodies(source)), len(bodies(dlq))) == (11, 2)
    assert sorted(bodies(source) + bodies(dlq)) == sent


def test_an_operator_disables_and_enables_an_integration(
    api: Api, receiver: FakeWebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = webhook(api, receiver.url)
    status, out = run(capsys, "integration", "disable", "--account", "acct_a", hook, "--reason", "abuse report #12")
    assert status == 0
    shown = json.loads(out)
    assert shown["enabled"] is False and shown["disabledReason"] == "Disabled by an operator: abuse report #12"
    [listed] = api.request("GET", "/v1/integrations").body["data"]
    assert listed["disabledReason"] == shown["disabledReason"] and listed["disabledAt"] == shown["disabledAt"]
    api.publish(event("scan.completed"))
    api.drain()
    assert receiver.requests == []  # nothing delivered while disabled

    status, out = run(capsys, "integration", "enable", "--account", "acct_a", hook)
    assert status == 0 and json.loads(out)["enabled"] is True and "disabledReason" not in json.loads(out)
    api.publish(event("scan.completed", event_id="evt_2"))
    api.drain()
    assert len(receiver.requests) == 1


def test_disable_without_a_reason_and_for_the_wrong_account(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    hook = webhook(api, "http://127.0.0.1:9")
    status, out = run(capsys, "integration", "disable", "--account", "acct_a", hook)
    assert status == 0 and json.loads(out)["disabledReason"] == "Disabled by an operator"
    status, out = run(capsys, "integration", "enable", "--account", "acct_b", hook)
    assert (status, out.strip()) == (1, f"no integration {hook} for acct_b")
    assert api.request("GET", "/v1/integrations").body["data"][0]["enabled"] is False


def test_names_come_from_the_environment_or_the_command_says_which_is_missing(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_KEYS_TABLE", api.table("ApiKeysTable"))
    assert run(capsys, "keys", "list", "--account", "acct_a")[0] == 0  # the API keys subcommands, without --table
    monkeypatch.delenv("DELIVERIES_DLQ_URL")
    with pytest.raises(SystemExit, match="give --stack, or set DELIVERIES_DLQ_URL"):
        ops.main(["dlq", "inspect"])


def test_with_stack_the_names_come_from_its_outputs(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = {
        output: api.resources.ref(logical_id)
        for output, logical_id in (
            ("EventsQueueUrl", "EventsQueue"),
            ("EventsDeadLetterQueueUrl", "EventsDeadLetterQueue"),
            ("DeliveriesQueueUrl", "DeliveriesQueue"),
            ("DeliveriesDeadLetterQueueUrl", "DeliveriesDeadLetterQueue"),
            ("ScannerEventsDeadLetterQueueUrl", "ScannerEventsDeadLetterQueue"),
            ("RecoveryQueueUrl", "RecoveryQueue"),
            ("RecoveryDeadLetterQueueUrl", "RecoveryDeadLetterQueue"),
            ("DeliveryLogsTableName", "DeliveryLogsTable"),
        )
    }
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="ops-test", TemplateBody=json.dumps(template))
    queues = ("EVENTS", "DELIVERIES", "RECOVERY")
    for variable in [f"{q}_{kind}_URL" for q in queues for kind in ("QUEUE", "DLQ")] + ["BUS_DLQ_URL"]:
        monkeypatch.delenv(variable)
    park(api, 3)
    status, out = run(capsys, "--stack", "ops-test", "dlq", "inspect")
    assert status == 0 and "events dead-letter queue: about 3 message(s)" in out
    with pytest.raises(SystemExit, match="stack ops-test has no SecretsPrefix output"):
        ops.main(["--stack", "ops-test", "integration", "enable", "--account", "acct_a", "x"])


def test_the_bus_dead_letters_show_eventbridges_reason_and_redrive_into_the_events_queue(
    api: Api, receiver: FakeWebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    # What EventBridge parks when it cannot send to the events queue (e.g. its policy was broken by hand).
    hook = webhook(api, receiver.url)
    bus_dlq = api.resources.ref("ScannerEventsDeadLetterQueue")
    eventbridge = {
        "ERROR_CODE": "SQS.AccessDenied",
        "ERROR_MESSAGE": "not authorized to send to the events queue",
        "RULE_ARN": "arn:aws:events:us-east-1:123456789012:rule/scanner-events",
    }
    boto3.client("sqs").send_message(
        QueueUrl=bus_dlq,
        MessageBody=json.dumps(event("scan.completed", event_id="evt_from_the_bus")),
        MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in eventbridge.items()},
    )

    status, out = run(capsys, "dlq", "inspect", "--queue", "bus")
    assert status == 0 and "bus dead-letter queue: about 1 message(s) (1 examined)" in out
    assert "1  EventBridge could not hand it to the events queue: SQS.AccessDenied: not authorized" in out

    status, out = run(capsys, "dlq", "redrive", "--queue", "bus")
    assert (status, out.strip()) == (0, "bus: moved 1 message(s) back to the source queue")
    assert bodies(bus_dlq) == []
    [moved] = api.messages("EventsQueue")
    assert not set(moved.get("MessageAttributes", {})) & set(eventbridge)  # it arrives as the rule would send it
    api.drain()
    assert receiver.last.json()["data"]["event"]["id"] == "evt_from_the_bus"
    assert [e["status"] for e in api.request("GET", f"/v1/integrations/{hook}/logs").body["data"]] == ["success"]


def test_recovery_dead_letters_are_inspected_and_redriven_to_the_recovery_queue(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    page = {"recoveryId": "r-1", "accountId": "acct_a", "integrationId": "i-1", "since": "2026-01-01T00:00:00Z"}
    boto3.client("sqs").send_message(
        QueueUrl=api.resources.ref("RecoveryDeadLetterQueue"), MessageBody=json.dumps({**page, "position": 7})
    )
    status, out = run(capsys, "dlq", "inspect", "--queue", "recovery")
    assert status == 0 and "recovery dead-letter queue: about 1 message(s) (1 examined)" in out
    assert "1  the recovery page kept failing" in out and '"position": 7' in out
    status, out = run(capsys, "dlq", "redrive", "--queue", "recovery")
    assert (status, out.strip()) == (0, "recovery: moved 1 message(s) back to the source queue")
    [moved] = api.messages("RecoveryQueue")
    assert json.loads(moved["Body"])["position"] == 7
