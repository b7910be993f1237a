"""The delivery log's answers and what redelivery and recovery accept and answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from integrations.catalog import DeliveryStatus, EventType
from integrations.models.base import RequestModel


class DeliveryLogEntry(BaseModel):
    id: str
    event: str = Field(description="The event type delivered, or integration.test")
    status: DeliveryStatus
    responseCode: int | None
    responseTime: int = Field(description="Milliseconds the provider took to answer")
    error: str | None
    deliveredAt: str
    attempt: int | None = Field(
        default=None,
        description="The attempt's number within its delivery (1, 2, … over retries; a redelivery or recovery "
        "counts from 1 again); null on entries recorded before the log showed it",
    )


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int


class DeliveryLogsResponse(BaseModel):
    data: list[DeliveryLogEntry]
    pagination: Pagination
    nextCursor: str | None = Field(
        default=None, description="Pass as `cursor` to fetch the next page; null on the last page"
    )


LoggedEvent = Literal[EventType, "integration.test"]


class RedeliveryResponse(BaseModel):
    """The redeliver route's answer: the delivery queued again (same delivery id, a new attempt)."""

    deliveryId: str = Field(description="The delivery's id, the same as the original's (a webhook's webhook-id)")
    logId: str = Field(description="The log entry that was redelivered")
    redeliveryId: str = Field(description="This redelivery's own id")
    event: EventType
    status: Literal["queued"]
    queuedAt: str


class RecoveryRequest(RequestModel):
    since: str = Field(
        description="ISO 8601 time with a zone (e.g. 2026-04-10T00:00:00Z) within the log's 30 days: every delivery"
        " whose latest attempt failed at or after it is sent again",
        max_length=64,
        # Documented as RFC 3339; parsed by datetime.fromisoformat, which also takes its other ISO 8601 spellings.
        json_schema_extra={"format": "date-time"},
    )


class RecoveryResponse(BaseModel):
    """The recover route's answer: how many deliveries the request queued from the log's first page, and whether
    that was the whole walk (``complete``) or the rest continues in the background."""

    recoveryId: str = Field(description="This recovery's id (its redeliveries are logged like any attempt)")
    status: Literal["accepted"] = Field(
        description="Always `accepted` (kept from the first version of this answer); `complete` says what remains"
    )
    queued: int = Field(
        ge=0,
        description="Deliveries this request queued to be sent again (from the log's first page of 100 attempts); "
        "the final count when `complete` is true",
    )
    complete: bool = Field(
        description="True when the whole window was walked within the request, so `queued` is the final count; "
        "false when the rest of the log is walked in the background (its redeliveries appear in the delivery log)"
    )
    since: str = Field(description="Deliveries whose latest attempt failed at or after this time are sent again")
    until: str = Field(description="Attempts logged up to this time are considered; later ones are not")
