"""POST /v1/integrations/{id}/logs/{logId}/redeliver: the same event and delivery id, a new attempt, 30 days."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from integrations.events import Event
from integrations.platform import aws
from integrations.providers.delivery import Outcome
from integrations.storage import delivery_logs, stored_events
from integrations.storage.delivery_logs import RETENTION, DeliveryLogStore
from tests.integration.conftest import KEY_B, Api
from tests.integration.test_fanout import event
from tests.integration.test_management_api import assert_error
from tests.integration.test_pipeline import SECRET, logs, webhook
from tests.providers.fakes import FakeWebhookReceiver, Reply

pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


def redeliver(api: Api, hook: str, log_id: str, key: str | None = None) -> tuple[int, object]:
    path = f"/v1/integrations/{hook}/logs/{log_id}/redeliver"
    reply = api.request("POST", path) if key is None else api.request("POST", path, key=key)
    return reply.status, reply.body


def test_a_redelivery_sends_the_same_event_and_webhook_id_again_and_logs_a_new_attempt(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("finding.critical", severity="critical"))
    api.drain()
    [original] = logs(api, hook)
    status, body = redeliver(api, hook, original["id"])
    assert status == 202, body
    first = receiver.requests[0]
    assert isinstance(body, dict)
    assert body == {
        "deliveryId": first.headers["webhook-id"],
        "logId": original["id"],
        "redeliveryId": str(uuid.UUID(body["redeliveryId"])),
        "event": "finding.critical",
        "status": "queued",
        "queuedAt": body["queuedAt"],
    }
    assert body["redeliveryId"] != body["deliveryId"]
    assert abs(datetime.fromisoformat(body["queuedAt"]) - datetime.now(UTC)) < timedelta(minutes=1)
    api.drain()
    assert len(receiver.requests) == 2, "a finished delivery is sent again, not skipped as already done"
    again = receiver.requests[1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"], "the receiver can deduplicate"
    assert again.json() == first.json(), "the same payload"
    assert len(receiver.verified) == 2, "signed for this attempt"
    entries = logs(api, hook)
    assert len(entries) == 2 and entries[1]["id"] == original["id"]
    assert entries[0]["event"] == "finding.critical" and entries[0]["status"] == "success"
    # The redelivered attempt can itself be redelivered (it has its own log entry and the same delivery id).
    assert redeliver(api, hook, entries[0]["id"])[0] == 202
    api.drain()
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first.headers["webhook-id"]] * 3


def test_the_same_entry_redelivered_twice_is_sent_twice(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.drain()
    [original] = logs(api, hook)
    answers = [redeliver(api, hook, original["id"]) for _ in range(2)]
    assert [status for status, _ in answers] == [202, 202]
    ids = {body["redeliveryId"] for _, body in answers}  # type: ignore[index]
    assert len(ids) == 2, "each request is its own redelivery"
    api.drain()
    assert len(receiver.requests) == 3 and len({r.headers["webhook-id"] for r in receiver.requests}) == 1


def test_a_failing_redelivery_is_retried_like_any_delivery(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.drain()
    [original] = logs(api, hook)
    receiver.script(Reply(503))
    assert redeliver(api, hook, original["id"])[0] == 202
    api.drain()
    assert [e["status"] for e in logs(api, hook)] == ["success", "failed", "success"]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


def test_the_event_is_stored_once_for_all_its_deliveries_and_outlives_their_last_entries(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hooks = [webhook(api, receiver.url) for _ in range(3)]
    receiver.script(Reply(503), Reply(503))
    stored: list[str] = []

    def count_events(params: dict[str, Any], **_: object) -> None:
        items = (
            [params["Item"]]
            if "Item" in params
            else [r["PutRequest"]["Item"] for requests in params["RequestItems"].values() for r in requests]
        )
        stored.extend(item["integrationId"]["S"] for item in items if item.get("id") == {"S": stored_events.EVENT_KEY})

    for operation in ("PutItem", "BatchWriteItem"):
        aws.client("dynamodb").meta.events.register(f"provide-client-params.dynamodb.{operation}", count_events)
    api.publish(event("scan.completed", event_id="evt_once"))
    api.drain()  # three deliveries, two 503s among them: five entries, one stored event
    assert sum(len(logs(api, hook)) for hook in hooks) == 5
    assert stored == [stored_events.partition("acct_a", "evt_once")]

    dynamodb = boto3.client("dynamodb")
    [held] = dynamodb.query(
        TableName=api.table("DeliveryLogsTable"),
        KeyConditionExpression="integrationId = :i",
        ExpressionAttributeValues={":i": {"S": stored[0]}},
    )["Items"]
    entries = [
        item
        for hook in hooks
        for item in dynamodb.query(
            TableName=api.table("DeliveryLogsTable"),
            KeyConditionExpression="integrationId = :i AND begins_with(id, :entries)",
            ExpressionAttributeValues={":i": {"S": hook}, ":entries": {"S": "#all#"}},
        )["Items"]
    ]
    assert int(held["expiresAt"]["N"]) > max(int(i["expiresAt"]["N"]) for i in entries)
    for hook in hooks:
        assert redeliver(api, hook, logs(api, hook)[0]["id"])[0] == 202  # each delivery's last attempt's entry
    api.drain()
    assert len(receiver.requests) == 5 + 3
    assert {r.json()["data"]["event"]["id"] for r in receiver.requests} == {"evt_once"}


def test_redelivery_answers_404_for_unknown_foreign_or_expired_entries(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.drain()
    [entry] = logs(api, hook)
    other = webhook(api, receiver.url)
    unknown = "019414e0-f1a2-7b3c-8d4e-6f7a8b9c0d1e"
    # The entry's position (its id's counter bits) with another time and other random bits: its item is read, but
    # its logId is not this id.
    forged = delivery_logs.log_id(1_700_000_000_000, delivery_logs.position_of(entry["id"]) or 0)
    assert delivery_logs.position_of(forged) == delivery_logs.position_of(entry["id"]) == 1
    for target, log_id, key in [
        (hook, unknown, None),  # unknown log id
        (hook, forged, None),  # a forged id of an existing position
        (other, entry["id"], None),  # another integration's entry
        (hook, entry["id"], KEY_B),  # another account's
    ]:
        status, body = redeliver(api, target, log_id, key)
        assert status == 404 and body["error"]["code"] == "not_found", body  # type: ignore[index]
    # An entry past its 30 days that DynamoDB has not deleted yet.
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    old = datetime.now(UTC) - RETENTION - timedelta(minutes=1)
    expired_id = store.record(
        account_id="acct_a",
        integration_id=other,
        delivery_id="old-delivery",
        event_type="scan.completed",
        outcome=Outcome(True, 200, 10),
        attempt=1,
        delivered_at=old,
        event=Event.model_validate(event("scan.completed")),
        recorded_at=old,
    )
    assert_error(api.request("POST", f"/v1/integrations/{other}/logs/{expired_id}/redeliver"), 404, "not_found")
    assert_error(api.request("POST", f"/v1/integrations/{hook}/logs/not-a-uuid/redeliver"), 400, "validation_error")
    assert len(receiver.requests) == 1 and not api.messages("DeliveriesQueue")


def test_redelivery_of_a_disabled_deleted_or_test_delivery_is_refused(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.drain()
    assert api.request("POST", f"/v1/integrations/{hook}/test").status == 200
    tested, delivered = logs(api, hook)
    assert tested["event"] == "integration.test"
    reply = api.request("POST", f"/v1/integrations/{hook}/logs/{tested['id']}/redeliver")
    assert_error(reply, 400, "validation_error", "logId")
    api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": False})
    assert_error(api.request("POST", f"/v1/integrations/{hook}/logs/{delivered['id']}/redeliver"), 409, "conflict")
    api.request("DELETE", f"/v1/integrations/{hook}")
    assert_error(api.request("POST", f"/v1/integrations/{hook}/logs/{delivered['id']}/redeliver"), 404, "not_found")
    assert len(receiver.requests) == 2 and not api.messages("DeliveriesQueue")


def test_the_redelivery_answer_and_stored_payload_hold_no_credentials(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.drain()
    [entry] = logs(api, hook)
    reply = api.request("POST", f"/v1/integrations/{hook}/logs/{entry['id']}/redeliver")
    stored = boto3.client("dynamodb").scan(TableName=api.table("DeliveryLogsTable"))["Items"]
    for text in (reply.raw, str(stored)):
        assert SECRET not in text and SECRET.removeprefix("whsec_") not in text
        assert receiver.url not in text


def test_a_wrong_method_on_the_redeliver_path_answers_405(api: Api) -> None:
    reply = api.request("GET", "/v1/integrations/019414e0-f1a2-7b3c-8d4e-6f7a8b9c0d1e/logs/x/redeliver")
    assert_error(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == "POST"
