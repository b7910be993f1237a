"""The integrations' requests and answers (create, list, update, delete), exactly the seed's fields; responses
never carry secrets."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from integrations.catalog import PROVIDER_IDS, DeliveryStatus, EventType, Severity
from integrations.models.base import OmitsNull, RequestModel, not_null

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


class CreateIntegrationRequest(RequestModel):
    provider: ProviderId = Field(description='Provider ID (e.g. "slack", "webhook", "jira", "pagerduty", "email")')
    name: Name = Field(description='Display name for this integration (e.g. "Security Team Slack")')
    credentials: ProviderFields = Field(description="Provider-specific credentials (see the providers endpoint)")
    config: ProviderFields | None = Field(default=None, description="Provider-specific configuration options")
    enabledEvents: EnabledEvents = Field(description="Event types to subscribe to (see the providers endpoint)")
    minimumSeverity: Severity | None = Field(
        default=None, description="Minimum severity for finding events; findings below it are not delivered"
    )


class UpdateIntegrationRequest(RequestModel):
    """Only the fields present change; ``config`` and ``minimumSeverity`` may be set to null to clear them."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # Absent means unchanged; null is refused for these four (below), so the schema does not offer it.
    name: Name | None = Field(default=None, json_schema_extra=not_null)
    credentials: ProviderFields | None = Field(
        default=None, description="Merged key by key into the stored credentials", json_schema_extra=not_null
    )
    config: ProviderFields | None = Field(default=None, description="Replaces the stored configuration")
    enabledEvents: EnabledEvents | None = Field(default=None, json_schema_extra=not_null)
    minimumSeverity: Severity | None = None
    enabled: bool | None = Field(default=None, json_schema_extra=not_null)

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
        json_schema_extra=not_null,
    )
    disabledAt: str | None = Field(
        default=None, description="When it was disabled, with disabledReason", json_schema_extra=not_null
    )

    omitted_when_null = ("disabledReason", "disabledAt")


class IntegrationListResponse(BaseModel):
    data: list[IntegrationResponse]


class DeleteResponse(BaseModel):
    message: str = "Integration deleted successfully"
