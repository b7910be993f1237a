"""The whole API in-process: moto, resources provisioned from template.yaml, the gateway emulator with the
real authorizer and each route's own handler. No HTTP port, no second list of tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from moto import mock_aws

from devstack.functions import Function, load_functions, merged_environment
from devstack.gateway import Gateway, load_api
from devstack.provision import provision
from devstack.proxy import HttpRequest
from devstack.resources import Resources
from devstack.template import load_template
from integrations import apikeys
from tests.conftest import ROOT

KEY_A = "apvk_test_account_a_0000000000000000000000"
KEY_B = "apvk_test_account_b_0000000000000000000000"
OPENAPI: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text())


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: str


@dataclass
class Api:
    """Speaks to the gateway emulator like an HTTP client, and checks each answer against openapi.json."""

    gateway: Gateway
    resources: Resources
    functions: dict[str, Function]
    replies: list[Reply] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = KEY_A,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = list({"Content-Type": "application/json", **(headers or {})}.items())
        if key is not None:
            sent.append(("X-API-Key", key))
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.gateway.handle(HttpRequest(method, path, sent, data))
        text = response.body.decode()
        reply = Reply(response.status, json.loads(text) if text else None, dict(response.headers), text)
        self.replies.append(reply)
        _check_against_openapi(method, path, reply)
        return reply

    def table(self, logical_id: str) -> str:
        return self.resources.ref(logical_id)


def _check_against_openapi(method: str, path: str, reply: Reply) -> None:
    """A documented operation's answer must match the schema documented for its status."""
    template = "/v1/integrations/{id}" if path.count("/") == 3 and "/providers" not in path else path.split("?")[0]
    operation = OPENAPI["paths"].get(template, {}).get(method.lower())
    if operation is None or (reply.status in (404, 405) and str(reply.status) not in operation["responses"]):
        return
    documented = operation["responses"].get(str(reply.status))
    assert documented, f"{method} {path} answered {reply.status}, which openapi.json does not document"
    schema = documented["content"]["application/json"]["schema"]
    jsonschema.validate(reply.body, {**schema, "components": OPENAPI["components"]})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        resources = provision(template)
        functions = load_functions(template, resources)
        for name, value in merged_environment(functions).items():
            monkeypatch.setenv(name, value)
        tables = resources.ref("ApiKeysTable")
        apikeys.register_key(tables, KEY_A, "acct_a")
        apikeys.register_key(tables, KEY_B, "acct_b")
        yield Api(Gateway(load_api(template, resources, functions), functions), resources, functions)
