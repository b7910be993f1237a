"""The producer contract: the canonical event (sent to SQS directly or as an EventBridge ``detail``).

Intake is lenient. An event that can be routed (a JSON object with an ``id``, a known ``type`` and an
``accountId``) is accepted whatever else it holds, up to MAX_EVENT_BYTES:
- its ``data`` is kept exactly as sent, extra fields included (webhooks receive it so);
- the parts the providers read (``scan``, ``finding``, ``report``, ``schedule``) take from ``data`` what they
  understand: a value of the wrong type is left out of them, never a reason to drop the event;
- long strings are kept whole: each provider cuts them where its own limits require, visibly;
- a missing or unreadable ``occurredAt`` becomes the time fan-out received the event.
Only an event that cannot be routed is refused (ValidationFailed, with the reason).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_serializer,
    model_validator,
)

from integrations.catalog import EventType, Severity
from integrations.platform import bounded_json, clock
from integrations.platform.errors import ValidationFailed

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's message size limit (the events and deliveries queues keep the default)
# An accepted event travels on inside a delivery job, through a queue with the same limit: room for the job's fields.
MAX_EVENT_BYTES = MAX_MESSAGE_BYTES - 2 * 1024
EVENTBRIDGE_SOURCE = "apviso.scanner"

# What routes an event: its id and account (ids of this service's accounts are short; so are producers' event ids).
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# The id of a scan, finding, report or schedule: any non-empty string (providers hash long ones into their keys).
PartId = Annotated[str, StringConstraints(min_length=1)]
_SEVERITY_OF_TYPE: dict[str, Severity] = {"finding.critical": "critical", "finding.high": "high"}


def _moment_or_now(value: Any) -> str:
    """``occurredAt`` as sent when it is an ISO 8601 time with a zone, otherwise the time it was received (also when it
    is so near year 1 or 9999 that it has no UTC time: providers are given it in UTC)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                moment.astimezone(UTC)
                return value
        except (ValueError, OverflowError):
            pass
    return clock.iso(clock.now())


class _Part(BaseModel):
    """What providers read of one part of ``data``. Extra fields are kept (email shows some)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Scan(_Part):
    id: PartId
    target: str | None = None
    url: str | None = None


class Finding(_Part):
    id: PartId
    title: str | None = None
    severity: Severity | None = None
    url: str | None = None


class Report(_Part):
    id: PartId
    url: str | None = None


class Schedule(_Part):
    id: PartId
    name: str | None = None


_PARTS: dict[str, type[_Part]] = {"scan": Scan, "finding": Finding, "report": Report, "schedule": Schedule}


def _readable[P: _Part](model: type[P], value: Any) -> P | None:
    """``value`` as ``model``, leaving out each field of the wrong type; None when it is no object or has no id."""
    if not isinstance(value, dict):
        return None
    fields = dict(value)
    while True:
        try:
            return model.model_validate(fields)
        except ValidationError as error:
            wrong = {problem["loc"][0] for problem in error.errors() if problem["loc"]}
            if not wrong or "id" in wrong:
                return None
            for name in wrong:
                fields.pop(name, None)


class EventData(BaseModel):
    """The event's ``data``: serialized exactly as the producer sent it; read through its typed parts."""

    model_config = ConfigDict(frozen=True)

    scan: Scan | None = None
    finding: Finding | None = None
    report: Report | None = None
    schedule: Schedule | None = None
    _sent: Any = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _from_sent(cls, value: Any, handler: ModelWrapValidatorHandler[EventData]) -> EventData:
        if isinstance(value, EventData):
            return value
        sent = {} if value is None else value
        parts = sent if isinstance(sent, dict) else {}
        readable = {name: _readable(model, parts.get(name)) for name, model in _PARTS.items()}
        data = handler({name: part for name, part in readable.items() if part is not None})
        data._sent = sent
        return data

    @model_serializer(mode="plain")
    def _as_sent(self) -> Any:
        return self._sent

    @property
    def sent(self) -> Any:
        """``data`` exactly as the producer sent it (an object, normally)."""
        return self._sent


class Event(BaseModel):
    """A scan, finding, report or schedule event of one account."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Identifier
    type: EventType
    accountId: Identifier
    occurredAt: Annotated[str, BeforeValidator(_moment_or_now)] = Field(default_factory=lambda: clock.iso(clock.now()))
    data: EventData = Field(default_factory=EventData)

    @property
    def severity(self) -> Severity | None:
        """The finding's severity; for a finding.critical or finding.high without one, the type's."""
        finding = self.data.finding
        if finding is not None and finding.severity is not None:
            return finding.severity
        return _SEVERITY_OF_TYPE.get(self.type)


def parse_event(body: str) -> Event:
    """The canonical event from an SQS body: either the event itself or an EventBridge envelope around it."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise ValidationFailed(f"message larger than {MAX_MESSAGE_BYTES // 1024} KB")
    try:
        raw: Any = bounded_json.loads(body)
    except bounded_json.UnreadableJson as error:
        raise ValidationFailed(f"event is not JSON: {error.reason}") from None
    if isinstance(raw, dict) and "detail" in raw and "detail-type" in raw:
        if raw.get("source") != EVENTBRIDGE_SOURCE:
            raise ValidationFailed(f"EventBridge source must be {EVENTBRIDGE_SOURCE}")
        raw = raw["detail"]
    if not isinstance(raw, dict):
        raise ValidationFailed("event must be a JSON object")
    try:
        event = Event.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in error.errors())
        raise ValidationFailed(f"malformed event: {problems}") from None
    if len(event.model_dump_json().encode()) > MAX_EVENT_BYTES:
        raise ValidationFailed(f"event larger than {MAX_EVENT_BYTES // 1024} KB: its delivery job would not fit in SQS")
    return event
