"""The providers catalog (GET /v1/integrations/providers), generated from the registry so it cannot drift."""

from __future__ import annotations

from functools import cache

from integrations.models.providers import ProviderField, ProviderInfo, ProvidersResponse
from integrations.providers.base import ProviderModel, field_type
from integrations.providers.registry import PROVIDERS


def _fields(model: type[ProviderModel]) -> list[ProviderField]:
    return [
        ProviderField(name=name, type=field_type(info), required=info.is_required(), description=info.description or "")
        for name, info in model.model_fields.items()
    ]


@cache
def provider_catalog() -> ProvidersResponse:
    """Every provider with its credential and config fields and supported events, in registry order."""
    return ProvidersResponse(
        providers=[
            ProviderInfo(
                id=p.id,
                name=p.name,
                description=p.description,
                credentialFields=_fields(p.credentials),
                configFields=_fields(p.config),
                supportedEvents=list(p.supported_events),
            )
            for p in PROVIDERS.values()
        ]
    )
