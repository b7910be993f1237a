"""The producer contract: the canonical event (sent to SQS directly or as an EventBridge ``detail``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from integrations.catalog import SEVERITIES, EventType, Severity
from integrations.errors import ValidationFailed

MAX_EVENT_BYTES = 64 * 1024  # fits an SQS message (256 KB) with the delivery job around it
EVENTBRIDGE_SOURCE = "apviso.scanner"

Text = Annotated[str, StringConstraints(max_length=2048)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _real_moment(value: str) -> str:
    datetime.fromisoformat(value)  # rejects 2026-13-45T99:99:99Z, which the pattern lets through
    return value


class _Part(BaseModel):
    # Producers may add fields; we keep them for webhooks but never require them.
    model_config = ConfigDict(extra="allow", frozen=True)


class Scan(_Part):
    id: Identifier
    target: Text | None = None
    url: Text | None = None


class Finding(_Part):
    id: Identifier
    title: Text | None = None
    severity: Severity | None = None
    url: Text | None = None


class Report(_Part):
    id: Identifier
    url: Text | None = None


class Schedule(_Part):
    id: Identifier
    name: Text | None = None


class EventData(_Part):
    scan: Scan | None = None
    finding: Finding | None = None
    report: Report | None = None
    schedule: Schedule | None = None


class Event(BaseModel):
    """A scan, finding, report or schedule event of one account."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Identifier
    type: EventType
    accountId: Identifier
    occurredAt: Annotated[
        str,
        StringConstraints(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
        AfterValidator(_real_moment),
    ]
    data: EventData = Field(default_factory=EventData)

    @model_validator(mode="after")
    def _findings_carry_a_severity(self) -> Event:
        if self.type.startswith("finding.") and (self.data.finding is None or self.data.finding.severity is None):
            raise ValueError(f"{self.type} events need data.finding with a severity ({', '.join(SEVERITIES)})")
        return self

    @property
    def severity(self) -> Severity | None:
        return self.data.finding.severity if self.data.finding else None


def parse_event(body: str) -> Event:
    """The canonical event from an SQS body: either the event itself or an EventBridge envelope around it."""
    if len(body.encode()) > MAX_EVENT_BYTES:
        raise ValidationFailed(f"event larger than {MAX_EVENT_BYTES // 1024} KB")
    try:
        raw: Any = json.loads(body)
    except ValueError:
        raise ValidationFailed("event is not JSON") from None
    if isinstance(raw, dict) and "detail" in raw and "detail-type" in raw:
        if raw.get("source") != EVENTBRIDGE_SOURCE:
            raise ValidationFailed(f"EventBridge source must be {EVENTBRIDGE_SOURCE}")
        raw = raw["detail"]
    try:
        return Event.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in error.errors())
        raise ValidationFailed(f"malformed event: {problems}") from None
