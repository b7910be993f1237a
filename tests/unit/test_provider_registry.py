"""The registry is the single source of the catalog; every provider's declaration is checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from integrations.api.provider_catalog import provider_catalog
from integrations.catalog import EVENT_TYPES, PROVIDER_IDS
from integrations.providers.base import Provider, ProviderModel
from integrations.providers.registry import PROVIDERS
from tests.conftest import seed_catalog_as_decided

SEED = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_examples.json").read_text())


def test_catalog_starts_with_exactly_the_seeds_json_in_the_seeds_order() -> None:
    ours = provider_catalog().model_dump(mode="json")
    # Dumping without sorting compares key order and list order too.
    seed = seed_catalog_as_decided()["providers"]
    assert json.dumps(ours["providers"][: len(seed)]) == json.dumps(seed)


def test_catalog_lists_ten_providers_the_five_added_after_the_seeds() -> None:
    ids = [p.id for p in provider_catalog().providers]
    assert ids == [
        "slack",
        "webhook",
        "jira",
        "pagerduty",
        "email",
        "teams",
        "discord",
        "google_chat",
        "github",
        "splunk",
    ]


def test_slack_supports_finding_new_as_the_seeds_patch_example_requires() -> None:
    [slack] = [p for p in provider_catalog().model_dump(mode="json")["providers"] if p["id"] == "slack"]
    assert set(SEED["update_request"]["enabledEvents"]) <= set(slack["supportedEvents"])


@pytest.mark.parametrize("provider", PROVIDERS.values(), ids=list(PROVIDERS))
def test_provider_declaration_is_complete(provider: type[Provider]) -> None:
    assert issubclass(provider, Provider)
    assert provider.id == provider.id.lower().strip() and provider.id.isidentifier()
    assert provider.name and provider.description
    assert provider.supported_events, "a provider must support at least one event"
    assert len(set(provider.supported_events)) == len(provider.supported_events)
    assert set(provider.supported_events) <= set(EVENT_TYPES)
    for model in (provider.credentials, provider.config):
        assert issubclass(model, ProviderModel)
        assert model.model_config.get("extra") == "forbid", "unknown fields must be refused"
        assert model.model_config.get("strict") is True, "types must not be coerced"
        for name, field in model.model_fields.items():
            assert field.description, f"{provider.id}.{name} needs a description for the catalog"
    assert any(f.is_required() for f in provider.credentials.model_fields.values())


def test_registry_ids_are_unique_and_keyed_by_id() -> None:
    assert all(key == provider.id for key, provider in PROVIDERS.items())
    assert len({p.name for p in PROVIDERS.values()}) == len(PROVIDERS)


def test_catalog_types_cover_every_field_kind() -> None:
    kinds = {f.type for p in provider_catalog().providers for f in [*p.credentialFields, *p.configFields]}
    assert kinds == {"string", "string[]", "boolean", "object"}


def test_response_models_hold_no_secret_fields() -> None:
    from integrations.models.integrations import IntegrationResponse

    secret_names = {"credentials", "config", "secretName", *PROVIDERS["jira"].credentials.model_fields}
    assert not secret_names & set(IntegrationResponse.model_fields)
    assert issubclass(IntegrationResponse, BaseModel)


def test_the_api_models_know_the_registrys_ids_in_its_order() -> None:
    """catalog.PROVIDER_IDS spares the routes that validate no credentials the import of every provider."""
    assert tuple(PROVIDERS) == PROVIDER_IDS


def test_the_registry_imports_a_provider_when_it_is_asked_for() -> None:
    # A cold start loads the provider its request names, not all ten; load_all (SnapStart) loads every one.
    probe = (
        "import sys\n"
        "from integrations.providers import registry\n"
        "names = {'integrations.providers.' + module for module, _ in registry._CLASSES.values()}\n"
        "loaded = lambda: sorted(m.rsplit('.', 1)[1] for m in sys.modules if m in names)\n"
        "print(loaded())\n"
        "print(registry.PROVIDERS['webhook'].name, loaded())\n"
        "registry.load_all()\n"
        "print(len(loaded()))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "Webhook ['webhook']", "10"]
