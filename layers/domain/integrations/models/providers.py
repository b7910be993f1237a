"""The provider catalog's answer (GET /v1/integrations/providers)."""

from __future__ import annotations

from pydantic import BaseModel

from integrations.catalog import EventType


class ProviderField(BaseModel):
    name: str
    type: str
    required: bool
    description: str


class ProviderInfo(BaseModel):
    id: str
    name: str
    description: str
    credentialFields: list[ProviderField]
    configFields: list[ProviderField]
    supportedEvents: list[EventType]


class ProvidersResponse(BaseModel):
    providers: list[ProviderInfo]
