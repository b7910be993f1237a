"""The one way delivery jobs reach the deliveries queue, for fan-out and recovery alike: ten per SendMessageBatch, and
a batch SQS accepted only in part raised with the delivery ids it refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from integrations.delivery.jobs import DeliveryJob, EnqueueFailed, delivery_id, enqueue
from integrations.events import parse_event
from integrations.platform import aws


@pytest.fixture
def queue() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("sqs").create_queue(QueueName="deliveries")["QueueUrl"]


def job(n: int) -> DeliveryJob:
    event = parse_event(
        f'{{"id": "evt_{n}", "type": "scan.completed", "accountId": "acct_a", "occurredAt": "2026-04-10T10:45:20Z",'
        ' "data": {"scan": {"id": "scan_1", "target": "https://app.example.com"}}}'
    )
    return DeliveryJob(
        deliveryId=delivery_id(event.id, "integration_1"),
        accountId="acct_a",
        integrationId="integration_1",
        eventType="scan.completed",
        event=event,
    )


def batch_sizes() -> list[int]:
    """The number of entries of every SendMessageBatch the shared SQS client sends from now on."""
    sizes: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sizes.append(len(params["Entries"]))

    aws.client("sqs").meta.events.register("provide-client-params.sqs.SendMessageBatch", count)
    return sizes


def queued(url: str) -> list[DeliveryJob]:
    """Every job in the queue (received once each: they stay hidden for the visibility timeout)."""
    sqs, found = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [DeliveryJob.model_validate_json(message["Body"]) for message in messages]
    return found


def test_jobs_are_sent_ten_per_batch_each_once(queue: str) -> None:
    jobs = [job(n) for n in range(23)]
    sizes = batch_sizes()
    enqueue(queue, [])
    assert sizes == []  # nothing to send, no call
    enqueue(queue, jobs)
    assert sizes == [10, 10, 3]
    assert sorted(queued(queue), key=jobs.index) == jobs


def test_a_batch_accepted_in_part_raises_with_the_refused_ids_and_sends_no_later_batch(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [job(n) for n in range(23)]
    refused = {jobs[13].deliveryId, jobs[17].deliveryId}  # both in the second batch
    sqs = aws.client("sqs")
    real_send = sqs.send_message_batch

    def refuses_two(**request: Any) -> Any:  # as SQS answers when it fails some entries (moto never does)
        refusing = [
            e for e in request["Entries"] if DeliveryJob.model_validate_json(e["MessageBody"]).deliveryId in refused
        ]
        response = real_send(**{**request, "Entries": [e for e in request["Entries"] if e not in refusing]})
        failed = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in refusing]
        return {**response, "Failed": failed}

    monkeypatch.setattr(sqs, "send_message_batch", refuses_two)
    with pytest.raises(EnqueueFailed, match=r"2 of 10 delivery jobs were not queued \(InternalError\)") as raised:
        enqueue(queue, jobs)
    assert raised.value.delivery_ids == [jobs[13].deliveryId, jobs[17].deliveryId]
    # The first batch and the rest of the second are queued; the third was never sent.
    assert sorted(queued(queue), key=jobs.index) == [j for j in jobs[:20] if j.deliveryId not in refused]
