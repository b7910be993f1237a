"""CORS for the hosted console: its origin only, on every answer of a route (errors included), and only when set."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from devstack.proxy import HttpRequest, proxy_event
from devstack.routing import Route
from integrations.api.resolver import build_app
from integrations.platform.errors import FieldError, ValidationFailed

CONSOLE = "https://d111111abcdef8.cloudfront.net"


def _router() -> Router:
    router = Router()

    @router.get("/v1/ok")
    def ok() -> dict[str, str]:
        return {"status": "ok"}

    @router.post("/v1/refused")
    def refused() -> dict[str, str]:
        raise ValidationFailed("Invalid request", [FieldError("name", "required")])

    return router


def call(method: str, path: str, origin: str | None, body: bytes = b"") -> dict[str, Any]:
    headers = [("Content-Type", "application/json")] + ([("Origin", origin)] if origin else [])
    event = proxy_event(
        HttpRequest(method, path, headers, body),
        Route(path, method, "Fn"),
        {},
        api_id="api",
        stage="dev",
        request_id="req-1",
        now=time.time(),
    )
    return build_app(_router()).resolve(event, cast(LambdaContext, None))  # no handler reads it


def headers_of(reply: dict[str, Any]) -> dict[str, str]:
    """Single and multi-value headers (the REST resolver answers with the latter), by lower-case name."""
    headers = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    headers.update({k.lower(): ",".join(v) for k, v in (reply.get("multiValueHeaders") or {}).items()})
    return headers


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/ok", b"", 200),
        ("POST", "/v1/refused", b"{}", 400),  # a service error
        ("POST", "/v1/refused", b"x" * (65 * 1024), 413),  # refused before routing
    ],
)
def test_the_consoles_origin_may_read_every_answer(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, body: bytes, status: int
) -> None:
    monkeypatch.setenv("CONSOLE_ORIGIN", CONSOLE + "/")
    reply = call(method, path, CONSOLE, body)
    assert reply["statusCode"] == status
    headers = headers_of(reply)
    assert headers["access-control-allow-origin"] == CONSOLE
    assert "x-api-key" in headers["access-control-allow-headers"].lower()
    if status == 400:
        assert json.loads(reply["body"])["error"]["details"] == [{"field": "name", "message": "required"}]


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_other_origins_get_no_cors_headers(monkeypatch: pytest.MonkeyPatch, origin: str | None) -> None:
    monkeypatch.setenv("CONSOLE_ORIGIN", CONSOLE)
    for method, path, body in (("GET", "/v1/ok", b""), ("POST", "/v1/refused", b"x" * (65 * 1024))):
        reply = call(method, path, origin, body)
        assert not any(name.startswith("access-control-") for name in headers_of(reply))


def test_without_a_console_origin_there_is_no_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSOLE_ORIGIN", raising=False)
    reply = call("GET", "/v1/ok", CONSOLE)
    assert reply["statusCode"] == 200
    assert not any(name.startswith("access-control-") for name in headers_of(reply))
