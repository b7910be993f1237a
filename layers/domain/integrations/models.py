"""The API's request and response models, exactly the seed's fields (responses never carry secrets)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic.config import JsonDict

from integrations.catalog import PROVIDER_IDS, DeliveryStatus, EventType, Severity

MAX_NAME = 100


def _known_provider(value: str) -> str:
    if value not in PROVIDER_IDS:
        raise ValueError(f"unknown provider; expected one of {', '.join(PROVIDER_IDS)}")
    return value


def _distinct(events: list[EventType]) -> list[EventType]:
    return list(dict.fromkeys(events))


ProviderId = Annotated[
    str,
    AfterValidator(_known_provider),
    WithJsonSchema({"type": "string", "enum": list(PROVIDER_IDS)}),
]
# Names are trimmed of Unicode White_Space (pydantic's trim), so a valid name holds one character outside that set;
# the pattern only documents it (engines disagree on what \s matches, so the set is spelled out).
_NOT_WHITE_SPACE = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME),
    Field(json_schema_extra={"pattern": _NOT_WHITE_SPACE}),
]
EnabledEvents = Annotated[list[EventType], Field(min_length=1, max_length=50), AfterValidator(_distinct)]
# Shapes are checked against the provider's own models once the provider is known.
ProviderFields = Annotated[dict[str, Any], Field(max_length=50)]


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True)


class _Request(_Model):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateIntegrationRequest(_Request):
    provider: ProviderId = Field(description='Provider ID (e.g. "slack", "webhook", "jira", "pagerduty", "email")')
    name: Name = Field(description='Display name for this integration (e.g. "Security Team Slack")')
    credentials: ProviderFields = Field(description="Provider-specific credentials (see the providers endpoint)")
    config: ProviderFields | None = Field(default=None, description="Provider-specific configuration options")
    enabledEvents: EnabledEvents = Field(description="Event types to subscribe to (see the providers endpoint)")
    minimumSeverity: Severity | None = Field(
        default=None, description="Minimum severity for finding events; findings below it are not delivered"
    )


def _not_null(schema: JsonDict) -> None:
    """The JSON Schema of an optional field that may be absent but not null: its anyOf without the null branch."""
    options = schema.pop("anyOf")
    assert isinstance(options, list)
    kept = [option for option in options if option != {"type": "null"}]
    assert len(kept) == 1 and isinstance(kept[0], dict)
    rest = dict(schema)
    schema.clear()
    schema.update({**kept[0], **rest})


class UpdateIntegrationRequest(_Request):
    """Only the fields present change; ``config`` and ``minimumSeverity`` may be set to null to clear them."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # Absent means unchanged; null is refused for these four (below), so the schema does not offer it.
    name: Name | None = Field(default=None, json_schema_extra=_not_null)
    credentials: ProviderFields | None = Field(
        default=None, description="Merged key by key into the stored credentials", json_schema_extra=_not_null
    )
    config: ProviderFields | None = Field(default=None, description="Replaces the stored configuration")
    enabledEvents: EnabledEvents | None = Field(default=None, json_schema_extra=_not_null)
    minimumSeverity: Severity | None = None
    enabled: bool | None = Field(default=None, json_schema_extra=_not_null)

    @model_validator(mode="before")
    @classmethod
    def _not_empty_nor_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError("the body must contain at least one field to update")
            for key in ("name", "credentials", "enabledEvents", "enabled"):
                if key in data and data[key] is None:
                    raise ValueError(f"{key} cannot be null")
        return data


class OmitsNull(_Model):
    """A response whose optional additions are left out, not sent as null, while they have no value."""

    omitted_when_null: ClassVar[tuple[str, ...]] = ()

    # Unannotated on purpose: pydantic documents a wrap serializer's return annotation instead of the fields.
    @model_serializer(mode="wrap")
    def _omit_nulls(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data: dict[str, Any] = handler(self)
        for name in self.omitted_when_null:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class IntegrationResponse(OmitsNull):
    id: str
    provider: str
    name: str
    enabled: bool
    enabledEvents: list[EventType]
    minimumSeverity: Severity | None
    lastDeliveryAt: str | None
    lastDeliveryStatus: DeliveryStatus | None
    createdAt: str
    updatedAt: str
    # Additions beyond the seed, present only while the service or an operator has disabled the integration.
    disabledReason: str | None = Field(
        default=None,
        description="Why the service or an operator disabled the integration (absent otherwise); "
        "PATCH enabled: true clears it",
        json_schema_extra=_not_null,
    )
    disabledAt: str | None = Field(
        default=None, description="When it was disabled, with disabledReason", json_schema_extra=_not_null
    )

    omitted_when_null = ("disabledReason", "disabledAt")


class IntegrationListResponse(_Model):
    data: list[IntegrationResponse]


class DeleteResponse(_Model):
    message: str = "Integration deleted successfully"


class DeliveryLogEntry(_Model):
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


class Pagination(_Model):
    page: int
    limit: int
    total: int
    totalPages: int


class DeliveryLogsResponse(_Model):
    data: list[DeliveryLogEntry]
    pagination: Pagination
    nextCursor: str | None = Field(
        default=None, description="Pass as `cursor` to fetch the next page; null on the last page"
    )


LoggedEvent = Literal[EventType, "integration.test"]


class RedeliveryResponse(_Model):
    """The redeliver route's answer: the delivery queued again (same delivery id, a new attempt)."""

    deliveryId: str = Field(description="The delivery's id, the same as the original's (a webhook's webhook-id)")
    logId: str = Field(description="The log entry that was redelivered")
    redeliveryId: str = Field(description="This redelivery's own id")
    event: EventType
    status: Literal["queued"]
    queuedAt: str


class RecoveryRequest(_Request):
    since: str = Field(
        description="ISO 8601 time with a zone (e.g. 2026-04-10T00:00:00Z) within the log's 30 days: every delivery"
        " whose latest attempt failed at or after it is sent again",
        max_length=64,
        # Documented as RFC 3339; parsed by datetime.fromisoformat, which also takes its other ISO 8601 spellings.
        json_schema_extra={"format": "date-time"},
    )


class RecoveryResponse(_Model):
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


class TestResult(OmitsNull):
    """The test route's answer; ``error`` appears only when the test failed."""

    success: bool
    message: str
    deliveredAt: str
    responseCode: int | None
    responseTime: int
    error: str | None = Field(default=None, description="Present when success is false", json_schema_extra=_not_null)

    omitted_when_null = ("error",)


class ProviderField(_Model):
    name: str
    type: str
    required: bool
    description: str


class ProviderInfo(_Model):
    id: str
    name: str
    description: str
    credentialFields: list[ProviderField]
    configFields: list[ProviderField]
    supportedEvents: list[EventType]


class ProvidersResponse(_Model):
    providers: list[ProviderInfo]


class ErrorDetail(_Model):
    field: str
    message: str


class ErrorInfo(_Model):
    code: str = Field(description="validation_error, unauthorized, forbidden, not_found, conflict, limit_exceeded, …")
    message: str
    details: list[ErrorDetail]


class ErrorResponse(_Model):
    error: ErrorInfo
