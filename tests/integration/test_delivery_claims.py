"""Exactly-once sending with one claim write per delivery (integrations.delivery.once.DeliveryClaims)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from integrations.delivery import dispatch
from integrations.delivery.jobs import DeliveryJob, delivery_id
from integrations.events import Event
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.integration.test_pipeline import SECRET, logs, webhook
from tests.providers.fakes import FakeWebhookReceiver, Reply

pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


class _Context:
    """As much of Lambda's context as the claims read: the time left."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _job(integration_id: str) -> DeliveryJob:
    return DeliveryJob(
        deliveryId=delivery_id("evt_claim", integration_id),
        accountId="acct_a",
        integrationId=integration_id,
        eventType="scan.completed",
        event=Event.model_validate(event("scan.completed", event_id="evt_claim")),
    )


def _claim_items(api: Api) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=api.table("ProviderStateTable"))["Items"]
    return [item for item in items if item["key"]["S"].startswith("delivery#")]


def test_one_claim_write_per_delivery_blocks_every_other_message(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    dispatcher = dispatch.from_environment()
    job = _job(hook)
    first = dispatcher.deliver(job, 1, holder="message-1")
    assert first is not None and first.success
    # A copy of the message, a duplicated fan-out, the same message received while the attempt ran: nothing sent.
    assert dispatcher.deliver(job, 1, holder="message-2") is None
    assert dispatcher.deliver(job, 2, holder="message-3") is None
    assert len(receiver.requests) == 1
    [claim] = _claim_items(api)
    assert claim["key"]["S"] == f"delivery#{job.deliveryId}" and claim["holder"]["S"] == "message-1"
    assert [entry["status"] for entry in logs(api, hook)] == ["success"]


def test_an_unfinished_claim_is_taken_over_once_its_hold_ran_out(api: Api, receiver: FakeWebhookReceiver) -> None:
    # An invocation that died mid-attempt: its claim is held for the time it had left; then the next message for the
    # delivery takes it: its own message coming back, or the job redriven from the dead-letter queue (a new id).
    hook = webhook(api, receiver.url)
    dispatcher = dispatch.from_environment()
    job = _job(hook)
    dispatcher.claims.register_lambda_context(_Context(remaining_ms=30_000))
    assert dispatcher.claims.claim(job.deliveryId, "message-1")  # …and then the invocation died
    assert dispatcher.deliver(job, 2, holder="message-1") is None, "held: the attempt may still be running"

    # 40 s later: the hold has run out.
    boto3.client("dynamodb").update_item(
        TableName=api.table("ProviderStateTable"),
        Key={"key": {"S": f"delivery#{job.deliveryId}"}},
        UpdateExpression="ADD heldUntil :back",
        ExpressionAttributeValues={":back": {"N": "-40"}},
    )
    redriven = dispatcher.deliver(job, 2, holder="message-2")
    assert redriven is not None and redriven.success
    assert dispatcher.deliver(job, 2, holder="message-1") is None, "then done: the first message's return sends nothing"
    assert len(receiver.requests) == 1


def test_a_retryable_failure_releases_the_claim_for_the_next_attempt(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    dispatcher = dispatch.from_environment()
    job = _job(hook)
    receiver.script(Reply(503))
    failed = dispatcher.deliver(job, 1, holder="message-1")
    assert failed is not None and not failed.success and failed.retryable
    assert _claim_items(api) == []
    succeeded = dispatcher.deliver(job, 1, holder="message-2")  # a copy of the message, say
    assert succeeded is not None and succeeded.success
    assert dispatcher.deliver(job, 2, holder="message-1") is None, "the first message's retry finds it delivered"
    assert len(receiver.requests) == 2
    assert [entry["status"] for entry in logs(api, hook)] == ["success", "failed"]


def test_a_redelivery_claims_its_own_key(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    dispatcher = dispatch.from_environment()
    job = _job(hook)
    assert dispatcher.deliver(job, 1, holder="message-1") is not None
    again = dispatcher.deliver(job.model_copy(update={"redeliveryId": "redelivery-1"}), 1, holder="message-2")
    assert again is not None and again.success
    assert [r.headers["webhook-id"] for r in receiver.requests] == [job.deliveryId, job.deliveryId]


def _hold_ran_out(api: Api, job: DeliveryJob) -> None:
    boto3.client("dynamodb").update_item(
        TableName=api.table("ProviderStateTable"),
        Key={"key": {"S": f"delivery#{job.deliveryId}"}},
        UpdateExpression="ADD heldUntil :back",
        ExpressionAttributeValues={":back": {"N": "-3600"}},
    )


def test_a_late_copy_of_the_message_that_delivered_sends_nothing(api: Api, receiver: FakeWebhookReceiver) -> None:
    # SQS may hand over a copy of a message (the same message id) at any time, long after it was processed.
    hook = webhook(api, receiver.url)
    dispatcher = dispatch.from_environment()
    job = _job(hook)
    dispatcher.claims.register_lambda_context(_Context(remaining_ms=30_000))
    delivered = dispatcher.deliver(job, 1, holder="message-1")
    assert delivered is not None and delivered.success
    _hold_ran_out(api, job)  # an hour later
    assert dispatcher.deliver(job, 1, holder="message-1") is None
    assert len(receiver.requests) == 1


def test_a_permanent_failure_is_not_sent_again_by_a_late_copy(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    dispatcher = dispatch.from_environment()
    job = _job(hook)
    receiver.script(Reply(400, "refused"))
    refused = dispatcher.deliver(job, 1, holder="message-1")
    assert refused is not None and not refused.success and not refused.retryable
    _hold_ran_out(api, job)
    assert dispatcher.deliver(job, 1, holder="message-1") is None
    assert len(receiver.requests) == 1
