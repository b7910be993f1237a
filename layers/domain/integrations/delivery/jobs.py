"""The delivery job, one per (event, integration): what fan-out and recovery queue (``enqueue``) and the dispatcher
performs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from integrations.catalog import EventType
from integrations.events import Event
from integrations.platform import aws

SQS_BATCH = 10  # SendMessageBatch's limit

# Fixed namespace: the same (event, integration) always yields the same delivery id, so a duplicated
# fan-out produces the same job (and the webhook receiver sees the same webhook-id).
_DELIVERY_NAMESPACE = uuid.UUID("5f0c8a8e-4f7c-4c38-9a57-6b1d2c3e4f50")


def delivery_id(event_id: str, integration_id: str) -> str:
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}/{integration_id}"))


class DeliveryJob(BaseModel):
    """One event to deliver to one integration (the SQS message body of the deliveries queue)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deliveryId: str
    accountId: str
    integrationId: str
    eventType: EventType
    event: Event
    # Set by POST …/logs/{logId}/redeliver: the key this new attempt claims (integrations.delivery.once), while the
    # receiver still sees deliveryId (a finished delivery would otherwise be skipped as already done).
    redeliveryId: str | None = None
    # True when fan-out stored the event for redelivery (storage.stored_events); otherwise the first attempt
    # stores it (a redelivery: for the 30 days of its own entries; a job queued by other means).
    eventStored: bool = False


class EnqueueFailed(Exception):
    """SQS accepted only part of a batch of jobs. The caller fails, and its retry (the message handled again, the
    request sent again) queues every job again: delivery and redelivery ids are stable, so the dispatcher's claims
    send each delivery once."""

    def __init__(self, delivery_ids: list[str], batch_size: int, codes: list[str]) -> None:
        self.delivery_ids = delivery_ids  # of the jobs SQS refused
        super().__init__(
            f"{len(delivery_ids)} of {batch_size} delivery jobs were not queued ({', '.join(codes)}): {delivery_ids}"
        )


def enqueue(queue_url: str, jobs: Sequence[DeliveryJob]) -> None:
    """Send ``jobs`` to the deliveries queue, ten per SendMessageBatch, in order; raises EnqueueFailed at the first
    batch SQS accepted only in part (the batches after it are not sent)."""
    sqs = aws.client("sqs")
    for start in range(0, len(jobs), SQS_BATCH):
        batch = jobs[start : start + SQS_BATCH]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": job.model_dump_json()} for i, job in enumerate(batch)],
        )
        if failed := response.get("Failed"):
            refused = [batch[int(entry["Id"])].deliveryId for entry in failed]
            raise EnqueueFailed(refused, len(batch), sorted({entry.get("Code", "?") for entry in failed}))
