"""The delivery job: what fan-out enqueues and the dispatcher performs, one per (event, integration)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from integrations.catalog import EventType
from integrations.events import Event

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
