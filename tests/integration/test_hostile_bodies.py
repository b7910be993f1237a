"""Hostile request bodies answer 400 in the error shape, never 500, whatever their depth, digits or bytes (below
the 64 KB limit); the Content-Type decision: none at all is accepted when the body is JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devstack.proxy import HttpRequest
from integrations.api.resolver import MAX_BODY_BYTES
from tests.conftest import SEED
from tests.integration.conftest import KEY_A, Api
from tests.integration.test_sample_events import sample

pytestmark = pytest.mark.usefixtures("_no_name_lookups")


@pytest.fixture
def _no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")


@pytest.fixture
def integration_id(api: Api) -> str:
    reply = api.request("POST", "/v1/integrations", SEED["create_request"])
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def send(api: Api, method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Raw bytes through the gateway, with exactly the headers given (plus the API key)."""
    sent = [*(headers or {}).items(), ("X-API-Key", KEY_A)]
    response = api.gateway.handle(HttpRequest(method, path, sent, body))
    return response.status, json.loads(response.body)


def assert_refused(status: int, body: Any, message: str) -> None:
    assert status == 400, body
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["message"] == message
    assert [d["field"] for d in body["error"]["details"]] == ["body"]


def nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


def big_integer(digits: int) -> bytes:
    return b'{"name": ' + b"9" * digits + b"}"


JSON = {"Content-Type": "application/json"}
HOSTILE = {
    "nested 250 deep": nested(250),
    "nested 7,000 deep": nested(7_000),
    "nested 10,000 deep": nested(10_000),
    "nested to the size limit": nested((MAX_BODY_BYTES - 20) // 2),
    "an integer of 4,301 digits": big_integer(4_301),
    "an integer to the size limit": big_integer(MAX_BODY_BYTES - 20),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_json_beyond_the_parsers_bounds_is_a_400_on_post_and_patch(api: Api, integration_id: str, body: bytes) -> None:
    assert len(body) <= MAX_BODY_BYTES
    for method, path in (("POST", "/v1/integrations"), ("PATCH", f"/v1/integrations/{integration_id}")):
        assert_refused(*send(api, method, path, body, JSON), "Request body is not valid JSON")


def test_json_within_the_bounds_is_validated_as_usual(api: Api, integration_id: str) -> None:
    status, body = send(api, "PATCH", f"/v1/integrations/{integration_id}", nested(150), JSON)
    assert status == 400 and body["error"]["details"][0]["field"] == "name", "parsed, then refused as a bad name"
    status, body = send(api, "PATCH", f"/v1/integrations/{integration_id}", big_integer(4_300), JSON)
    assert status == 400 and body["error"]["details"][0]["field"] == "name"


@pytest.mark.parametrize(
    "body",
    [b'{"name": "caf\xe9"}', b'{"name": "\xff\xfe"}', b'{"name": "half \xe2\x82"}', b'{"name": "\xed\xa0\x80"}'],
    ids=["latin-1", "not UTF-8 at all", "a cut sequence", "an encoded surrogate"],
)
def test_a_body_that_is_not_utf8_is_a_400(api: Api, integration_id: str, body: bytes) -> None:
    for method, path in (("POST", "/v1/integrations"), ("PATCH", f"/v1/integrations/{integration_id}")):
        assert_refused(*send(api, method, path, body, JSON), "Request body is not valid UTF-8")
    assert api.request("GET", "/v1/integrations").body["data"][0]["name"] == SEED["create_request"]["name"]


def test_a_base64_encoded_body_is_checked_as_bytes(api: Api) -> None:
    """What API Gateway hands a function for a binary media type: the bytes themselves, base64-encoded."""
    fn = api.functions
    created = json.loads(fn["CreateIntegrationFunction"].invoke(sample("create_integration"))["body"])
    update = sample("update_integration")
    update["path"], update["pathParameters"] = f"/v1/integrations/{created['id']}", {"id": created["id"]}

    def patch(raw: bytes) -> tuple[int, Any]:
        result = fn["UpdateIntegrationFunction"].invoke(
            {**update, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
        )
        return result["statusCode"], json.loads(result["body"])

    assert_refused(*patch(b'{"name": "caf\xe9"}'), "Request body is not valid UTF-8")
    status, updated = patch(json.dumps({"name": "Café"}).encode())
    assert (status, updated["name"]) == (200, "Café")


def test_a_body_without_a_content_type_is_taken_when_it_is_json(api: Api) -> None:
    status, created = send(api, "POST", "/v1/integrations", json.dumps(SEED["create_request"]).encode())
    assert status == 201, created
    assert_refused(*send(api, "POST", "/v1/integrations", b"provider=slack&name=x"), "Request body is not valid JSON")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, body = send(api, "POST", "/v1/integrations", json.dumps(SEED["create_request"]).encode(), form)
    assert status == 400 and body["error"]["message"] == "Content-Type must be application/json"


@pytest.mark.parametrize(
    "content_type",
    ["Application/JSON", "APPLICATION/JSON; charset=utf-8", "application/merge-patch+json", "application/vnd.api+json"],
)
def test_a_json_body_is_taken_whatever_the_case_or_suffix_of_its_json_media_type(
    api: Api, integration_id: str, content_type: str
) -> None:
    header = {"Content-Type": content_type}

    status, created = send(api, "POST", "/v1/integrations", json.dumps(SEED["create_request"]).encode(), header)
    assert status == 201, created
    status, updated = send(api, "PATCH", f"/v1/integrations/{integration_id}", b'{"name": "Renamed"}', header)
    assert (status, updated["name"]) == (200, "Renamed")
    assert_refused(
        *send(api, "PATCH", f"/v1/integrations/{integration_id}", b'{"name": "Renamed"', header),
        "Request body is not valid JSON",
    )
