"""openapi.json's create shape of each provider added after the seed agrees with the provider's own validation, both
ways (what schemathesis relies on: a body the document admits is accepted, one it refuses is refused)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT
from tests.unit.test_provider_validation import INVALID, VALID

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
NEW = {"teams", "discord", "google_chat", "github", "splunk"}


def _accepts(provider: str, credentials: Any, config: Any, events: list[str]) -> bool:
    body = {"provider": provider, "name": "n", "credentials": credentials, "enabledEvents": events}
    if config is not None:
        body["config"] = config
    schema = {"$ref": "#/components/schemas/CreateIntegrationRequest", "components": DOCUMENT["components"]}
    return bool(jsonschema.Draft202012Validator(schema).is_valid(body))


@pytest.mark.parametrize(("provider", "credentials", "config", "events"), [v for v in VALID if v[0] in NEW])
def test_what_the_providers_accept_the_document_accepts(
    provider: str, credentials: dict[str, Any], config: Any, events: list[str]
) -> None:
    assert _accepts(provider, credentials, config, events)


@pytest.mark.parametrize(("provider", "credentials", "config", "events", "field"), [i for i in INVALID if i[0] in NEW])
def test_what_the_providers_refuse_the_document_refuses(
    provider: str, credentials: dict[str, Any], config: Any, events: list[str], field: str
) -> None:
    assert not _accepts(provider, credentials, config, events)
