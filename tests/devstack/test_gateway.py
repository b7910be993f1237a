"""The API Gateway emulator: authorizer flow and cache, proxy events, gateway responses read from the template."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.functions import load_functions
from devstack.gateway import MAX_BODY_BYTES, Gateway, load_api
from devstack.provision import plan
from devstack.proxy import HttpRequest, HttpResponse
from devstack.template import load_template

from .conftest import AUTHORIZER, TEMPLATE

Fragment = Callable[..., Path]


def build_gateway(path: Path, parameters: dict[str, str] | None = None) -> Gateway:
    template = load_template(path)
    resources = plan(template, "st", parameters)
    functions = load_functions(template, resources)
    return Gateway(load_api(template, resources, functions), functions, port=0)


class Spy:
    """Counts and keeps the events a function receives."""

    def __init__(self, gateway: Gateway, logical_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[dict[str, Any]] = []
        function = gateway.functions[logical_id]
        real = function.invoke

        def invoke(event: Any, **kwargs: Any) -> Any:
            self.events.append(event)
            return real(event, **kwargs)

        monkeypatch.setattr(function, "invoke", invoke)


@pytest.fixture
def gateway(stand_in_stack: Path) -> Gateway:
    return build_gateway(stand_in_stack)


@pytest.fixture
def authorizer(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(gateway, "AuthorizerFunction", monkeypatch)


def call(
    gateway: Gateway,
    target: str,
    key: str | None = None,
    method: str = "GET",
    body: bytes = b"",
    header: str = "X-API-Key",
) -> HttpResponse:
    headers = [("Host", "127.0.0.1:3000"), ("User-Agent", "pytest")]
    if key is not None:
        headers.append((header, key))
    return gateway.handle(HttpRequest(method, target, headers, body))


def body(response: HttpResponse) -> Any:
    return json.loads(response.body)


def test_missing_or_empty_key_is_401_without_calling_the_authorizer(gateway: Gateway, authorizer: Spy) -> None:
    for key in (None, ""):
        response = call(gateway, "/v1/integrations", key)
        assert response.status == 401
        assert body(response) == {
            "error": {"code": "unauthorized", "message": "Missing X-API-Key header", "details": []}
        }
    assert authorizer.events == []


def test_denied_or_unmatched_policy_is_403(gateway: Gateway) -> None:
    for key in ("deny", "elsewhere"):
        response = call(gateway, "/v1/integrations", key)
        assert response.status == 403
        assert body(response)["error"]["code"] == "forbidden"


def test_allowed_request_reaches_its_function_with_a_rest_proxy_event(gateway: Gateway, authorizer: Spy) -> None:
    response = call(
        gateway, "/v1/integrations/abc?x=1&x=2&y=", "allow", method="PATCH", body=b'{"a": 1}', header="x-api-key"
    )
    assert response.status == 200
    assert response.header("X-Function") == "st-UpdateIntegrationFunction"
    event = body(response)["event"]
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/v1/integrations/{id}",
        "/v1/integrations/abc",
        "PATCH",
    )
    assert event["pathParameters"] == {"id": "abc"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["x-api-key"] == "allow"
    assert event["multiValueHeaders"]["User-Agent"] == ["pytest"]
    assert (event["stageVariables"], event["body"], event["isBase64Encoded"]) == (None, '{"a": 1}', False)
    context = event["requestContext"]
    assert (context["resourcePath"], context["httpMethod"], context["stage"]) == (
        "/v1/integrations/{id}",
        "PATCH",
        "dev",
    )
    assert context["path"] == "/dev/v1/integrations/abc"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"]
    assert context["requestTimeEpoch"] > 0
    latency = context["authorizer"].pop("integrationLatency")
    assert isinstance(latency, int)
    # REST APIs pass the authorizer's context values on as strings.
    assert context["authorizer"] == {"principalId": "user-1", "accountId": "acct_1", "count": "2", "admin": "true"}

    (request,) = authorizer.events
    assert request["type"] == "REQUEST"
    assert request["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/dev/PATCH/v1/integrations/abc"
    assert request["resource"] == "/v1/integrations/{id}"
    assert request["pathParameters"] == {"id": "abc"}
    assert request["headers"]["x-api-key"] == "allow"
    assert "body" not in request


def test_empty_query_and_parameters_are_none(gateway: Gateway) -> None:
    event = body(call(gateway, "/v1/integrations", "allow"))["event"]
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None


def test_authorizer_errors(gateway: Gateway) -> None:
    unauthorized = call(gateway, "/v1/integrations", "unauthorized")
    assert unauthorized.status == 401
    assert body(unauthorized)["error"]["code"] == "unauthorized"
    crashed = call(gateway, "/v1/integrations", "crash")
    assert crashed.status == 500
    assert body(crashed)["error"]["message"] == "Authorization failed; try again"  # AUTHORIZER_FAILURE
    malformed = call(gateway, "/v1/integrations", "malformed")
    assert malformed.status == 500
    assert body(malformed)["error"]["message"] == "Internal error"  # DEFAULT_5XX


def test_policy_is_cached_per_key_and_evaluated_per_method_arn(gateway: Gateway, authorizer: Spy) -> None:
    assert call(gateway, "/v1/integrations", "allow").status == 200
    assert call(gateway, "/v1/integrations/providers", "allow").status == 200
    assert len(authorizer.events) == 1
    assert call(gateway, "/v1/integrations", "get-only").status == 200
    # The cached policy allows GET only: a POST with the same key is refused without a new authorizer call.
    assert call(gateway, "/v1/integrations", "get-only", method="POST").status == 403
    assert len(authorizer.events) == 2
    assert call(gateway, "/v1/integrations", "deny").status == 403
    assert call(gateway, "/v1/integrations", "deny").status == 403
    assert len(authorizer.events) == 3


def test_cache_expires_after_reauthorize_every(gateway: Gateway, authorizer: Spy) -> None:
    now = [1000.0]
    keys = gateway.authorizers["ApiKeyAuthorizer"]
    keys.clock = lambda: now[0]
    ttl = load_template(TEMPLATE).properties("Api")["Auth"]["Authorizers"]["ApiKeyAuthorizer"]["Identity"]
    assert keys.config.reauthorize_every == ttl["ReauthorizeEvery"]
    call(gateway, "/v1/integrations", "allow")
    now[0] += ttl["ReauthorizeEvery"] - 1
    call(gateway, "/v1/integrations", "allow")
    assert len(authorizer.events) == 1
    now[0] += 2
    call(gateway, "/v1/integrations", "allow")
    assert len(authorizer.events) == 2


def test_unmatched_route_is_missing_authentication_token_from_the_template(gateway: Gateway) -> None:
    # template.yaml catches every path below / with {proxy+}; only / itself is left unrouted.
    response = call(gateway, "/", "allow")
    assert response.status == 404
    assert body(response) == {"error": {"code": "not_found", "message": "Route not found", "details": []}}


def test_body_over_10_mb_is_413_before_anything_runs(gateway: Gateway, authorizer: Spy) -> None:
    response = call(gateway, "/v1/integrations", "allow", method="POST", body=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status == 413
    assert body(response)["error"]["code"] == "payload_too_large"
    assert authorizer.events == []


def test_handler_failures_are_502(gateway: Gateway) -> None:
    for flag in ("raise", "malformed"):
        response = call(gateway, f"/v1/integrations?{flag}=1", "allow")
        assert response.status == 502
        assert body(response) == {"message": "Internal server error"}


def test_response_headers_and_base64_bodies(gateway: Gateway) -> None:
    response = call(gateway, "/v1/integrations", "allow")
    assert [value for name, value in response.headers if name == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.header("content-type") == "application/json"
    binary = call(gateway, "/v1/integrations?binary=1", "allow")
    assert binary.body == b"\x00\x01"
    assert binary.header("Content-Type") == "application/octet-stream"


RESPONSES = """
    Resources:
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: live
          Auth:
            DefaultAuthorizer: Keys
            Authorizers: {Keys: {FunctionArn: !GetAtt Auth.Arn, FunctionPayloadType: REQUEST,
                                 Identity: {Headers: [X-API-Key], ReauthorizeEvery: 0}}}
          GatewayResponses:
            UNAUTHORIZED:
              StatusCode: 401
              ResponseTemplates: {application/json: !Sub '{"oops": "no key", "stack": "${AWS::StackName}"}'}
            DEFAULT_4XX:
              ResponseParameters: {Headers: {Access-Control-Allow-Origin: "'*'"}}
              ResponseTemplates: {application/json: '{"message": $context.error.messageString}'}
      Auth:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: functions/authorizer/, Handler: app.lambda_handler}
      Route:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/route/
          Handler: app.lambda_handler
          Events:
            Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /things, Method: GET}}
            Open: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /open, Method: GET, Auth: {Authorizer: NONE}}}
"""


@pytest.fixture
def custom(fragment: Fragment) -> Gateway:
    return build_gateway(fragment(RESPONSES, {"functions/authorizer": AUTHORIZER}))


def test_gateway_responses_come_from_the_template(custom: Gateway) -> None:
    unauthorized = call(custom, "/things")
    assert (unauthorized.status, body(unauthorized)) == (401, {"oops": "no key", "stack": "st"})
    denied = call(custom, "/things", "deny")
    # No ACCESS_DENIED entry: DEFAULT_4XX's template, with API Gateway's own message, and its header.
    assert denied.status == 403
    assert body(denied) == {"message": "User is not authorized to access this resource with an explicit deny"}
    assert denied.header("Access-Control-Allow-Origin") == "*"
    missing = call(custom, "/nowhere", "allow")
    assert (missing.status, body(missing)) == (403, {"message": "Missing Authentication Token"})
    crashed = call(custom, "/things", "crash")
    assert (crashed.status, body(crashed)) == (500, {"message": None})  # no DEFAULT_5XX: API Gateway's default


def test_open_routes_and_uncached_authorizer(custom: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(custom, "Auth", monkeypatch)
    opened = call(custom, "/open")
    assert opened.status == 200
    assert "authorizer" not in body(opened)["event"]["requestContext"]
    assert body(opened)["event"]["requestContext"]["stage"] == "live"
    call(custom, "/things", "allow")
    call(custom, "/things", "allow")
    assert len(spy.events) == 2  # ReauthorizeEvery: 0 turns the cache off


@pytest.fixture
def served(gateway: Gateway) -> Iterator[Gateway]:
    gateway.start()
    yield gateway
    gateway.stop()


def test_over_http_with_keep_alive_head_and_too_large_bodies(served: Gateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    connection.request("GET", "/v1/integrations", headers={"X-API-Key": "allow"})
    first = connection.getresponse()
    assert first.status == 200
    assert json.loads(first.read())["function"] == "st-ListIntegrationsFunction"
    connection.request("HEAD", "/v1/integrations", headers={"X-API-Key": "allow"})
    head = connection.getresponse()
    assert head.status == 200
    assert head.read() == b""
    connection.request("GET", "/v1/integrations?binary=1", headers={"X-API-Key": "allow"})
    assert connection.getresponse().read() == base64.b64decode("AAE=")
    connection.request("POST", "/v1/integrations", body=b"x" * (MAX_BODY_BYTES + 1), headers={"X-API-Key": "allow"})
    too_large = connection.getresponse()
    assert too_large.status == 413
    assert json.loads(too_large.read())["error"]["code"] == "payload_too_large"
    connection.close()


def test_the_console_is_served_from_the_apis_origin(stand_in_stack: Path, tmp_path: Path) -> None:
    site = tmp_path / "console"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>console</title>")
    (site / "app.js").write_text("init();")
    (tmp_path / "secret.txt").write_text("outside the folder")
    gateway = build_gateway(stand_in_stack)
    gateway.console_dir = site

    def get(path: str, method: str = "GET") -> HttpResponse:
        return gateway.handle(HttpRequest(method, path, []))

    assert get("/console").status == 301 and get("/console").header("Location") == "/console/"
    index = get("/console/")
    assert index.status == 200 and index.body.startswith(b"<!doctype html>")
    assert index.header("Content-Type") == "text/html; charset=utf-8"
    assert "script-src 'self'" in (index.header("Content-Security-Policy") or "")
    assert index.header("X-Content-Type-Options") == "nosniff"
    assert get("/console/app.js").header("Content-Type") == "text/javascript; charset=utf-8"
    for outside in ("/console/../secret.txt", "/console/%2e%2e/secret.txt", "/console/missing.js"):
        assert get(outside).status == 404
    assert get("/console/", "POST").status == 405
    # Everything else is still the API's (here: no route, so the template's gateway response).
    assert get("/consoles").status == get("/nowhere").status
