"""What the fuzzer found, pinned by fast tests (the fuzz run itself is in test_fuzz_api.py)."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

import pytest

from integrations.api.resolver import integration_id
from integrations.platform.errors import ValidationFailed
from integrations.providers.jira import Jira
from tests.conftest import ROOT
from tests.providers.fake_jira import FakeJira
from tests.providers.fakes import make_delivery, send_context

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())


def _route_fallback() -> ModuleType:
    path = ROOT / "functions" / "route_fallback" / "app.py"
    spec = importlib.util.spec_from_file_location("route_fallback_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_a_wrong_method_answers_405_naming_the_documented_methods_in_allow(path: str) -> None:
    documented = {method.upper() for method in DOCUMENT["paths"][path]}
    reply = _route_fallback().lambda_handler({"resource": path, "httpMethod": "PUT"}, None)
    assert reply["statusCode"] == 405
    assert {m.strip() for m in reply["headers"]["Allow"].split(",")} == documented
    assert json.loads(reply["body"])["error"]["code"] == "method_not_allowed"


def test_an_unknown_path_answers_404_without_allow() -> None:
    reply = _route_fallback().lambda_handler({"resource": "/{proxy+}", "httpMethod": "GET"}, None)
    assert reply["statusCode"] == 404 and "Allow" not in reply["headers"]


@pytest.mark.parametrize(
    "value",
    [
        "{019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e}",
        "urn:uuid:019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e",
        "019414e0f1a27b3cd4e56f7a8b9c0d1e",
        "019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e\n",
        "\u0660\u0661\u0669\u0664\u0661\u0664e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e",  # Arabic-Indic digits
    ],
)
def test_an_id_in_any_form_but_the_canonical_uuid_answers_400(value: str) -> None:
    with pytest.raises(ValidationFailed):
        integration_id(value)


def test_a_canonical_uuid_in_capitals_is_the_same_id() -> None:
    assert integration_id("019414E0-F1A2-7B3C-D4E5-6F7A8B9C0D1E") == "019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e"


def test_jira_credentials_outside_latin_1_authenticate_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests encodes Basic auth as Latin-1 and raised UnicodeEncodeError (a 500 from the test route, a crash of
    # every delivery attempt); Jira takes the UTF-8 bytes (RFC 7617).
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")  # the fake listens on loopback
    monkeypatch.setenv("EMAIL_SENDER", "alerts@apviso.test")
    email, token = "sécurité@exämple.com", "jira-tøken-\u20ac-\U0001f510"
    with FakeJira(email, token) as jira:
        sent = make_delivery(Jira, {"baseUrl": jira.url, "email": email, "apiToken": token}, {"projectKey": "SEC"})
        outcome = Jira.send_test(sent, send_context())
    assert outcome.success, outcome.error
