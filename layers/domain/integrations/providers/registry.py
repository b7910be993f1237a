"""The provider registry: the one explicit list of providers, in the catalog's order.

A provider's module is imported when the registry is first asked for it: a request validates or delivers for one
provider, so a cold start loads that one (about 10 ms each, `make bench ONLY=coldstart`), not all ten. SnapStart
loads them all before the snapshot (``load_all``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integrations.providers.base import Provider

# Each provider's module and class: the seed's five first, in the seed's order, then the providers added since
# (catalog.PROVIDER_IDS lists the same ids: a unit test keeps them equal).
_CLASSES = {
    "slack": ("slack", "Slack"),
    "webhook": ("webhook", "Webhook"),
    "jira": ("jira", "Jira"),
    "pagerduty": ("pagerduty", "PagerDuty"),
    "email": ("email", "Email"),
    "teams": ("teams", "Teams"),
    "discord": ("discord", "Discord"),
    "google_chat": ("google_chat", "GoogleChat"),
    "github": ("github", "GitHub"),
    "splunk": ("splunk", "Splunk"),
}


class _Registry(Mapping[str, "type[Provider]"]):
    """Provider id → provider class, importing each provider's module on first use."""

    def __getitem__(self, provider_id: str) -> type[Provider]:
        module, name = _CLASSES[provider_id]
        provider: type[Provider] = getattr(importlib.import_module(f"integrations.providers.{module}"), name)
        return provider

    def __iter__(self) -> Iterator[str]:
        return iter(_CLASSES)

    def __len__(self) -> int:
        return len(_CLASSES)


PROVIDERS: Mapping[str, type[Provider]] = _Registry()


def load_all() -> None:
    """Import every provider's module (before a SnapStart snapshot)."""
    for provider_id in PROVIDERS:
        _ = PROVIDERS[provider_id]
