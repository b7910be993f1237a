"""openapi.json's webhooks: one entry per event type a webhook integration receives, whose schema is what the
webhook provider builds, and whose examples are real signed deliveries."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import openapi_webhooks
import pytest
from standardwebhooks import Webhook as StandardWebhook

from integrations.catalog import EVENT_TYPES
from integrations.providers import http
from integrations.providers.delivery import TEST_EVENT_TYPE
from integrations.providers.webhook import Webhook, WebhookBody, encode, payload, standard_headers
from tests.providers.fakes import make_delivery, scanner_event
from tests.providers.webhook_contract import DOCUMENT, problems

TYPES = [*EVENT_TYPES, TEST_EVENT_TYPE]


def test_there_is_one_webhook_per_event_type_and_the_test_event() -> None:
    assert list(DOCUMENT["webhooks"]) == TYPES
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert all(set(webhook) == {"post"} for webhook in DOCUMENT["webhooks"].values())


def test_operation_ids_are_unique_across_the_api_and_its_webhooks() -> None:
    operations = [op for item in (*DOCUMENT["paths"].values(), *DOCUMENT["webhooks"].values()) for op in item.values()]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    assert DOCUMENT["webhooks"]["finding.new"]["post"]["operationId"] == "findingNewWebhook"


@pytest.mark.parametrize("event_type", TYPES)
def test_each_example_is_a_signed_request_that_matches_its_entry(event_type: str) -> None:
    operation = DOCUMENT["webhooks"][event_type]["post"]
    body = operation["requestBody"]["content"]["application/json"]["example"]
    headers = {parameter["name"]: parameter["example"] for parameter in operation["parameters"]}
    assert body["type"] == event_type
    assert problems(encode(body), {**headers, "Content-Type": "application/json"}) == []
    # The signature, recomputed by the reference library from the documented secret and the compact body.
    signer = StandardWebhook(openapi_webhooks.EXAMPLE_SECRET)
    moment = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    assert signer.sign(headers["webhook-id"], moment, encode(body).decode()) == headers["webhook-signature"]


@pytest.mark.parametrize("event_type", TYPES)
def test_the_published_model_describes_exactly_what_the_webhook_builds(event_type: str) -> None:
    test = event_type == TEST_EVENT_TYPE
    event = None if test else scanner_event(event_type.replace(".", "_"))
    built = payload(make_delivery(Webhook, {"url": "http://127.0.0.1:9/"}, event=event, test=test))
    assert WebhookBody.model_validate(built).model_dump(mode="json", exclude_unset=True) == built
    assert problems(encode(built), _headers_of(built)) == [], "and openapi.json takes it"


def test_the_document_refuses_a_wrong_field_an_unknown_type_and_a_missing_event_id() -> None:
    body: dict[str, Any] = payload(make_delivery(Webhook, {"url": "http://127.0.0.1:9/"}))
    headers = _headers_of(body)
    assert problems(encode({**body, "timestamp": "2026-04-10 10:45"}), headers)[0].startswith("body $.timestamp")
    assert problems(encode({**body, "type": "scan.paused"}), headers) == [
        "openapi.json has no webhook for the body's type 'scan.paused'"
    ]
    no_event = {**body, "data": {k: v for k, v in body["data"].items() if k != "event"}}
    assert problems(encode(no_event), headers) == ["body $.data: 'event' is a required property"]
    not_a_test = {**body, "type": TEST_EVENT_TYPE}
    assert problems(encode(not_a_test), headers) == ["body $.data: 'test' is a required property"]


def test_the_example_secret_is_a_valid_whsec_secret() -> None:
    assert len(base64.b64decode(openapi_webhooks.EXAMPLE_SECRET.removeprefix("whsec_"))) >= 16


def _headers_of(body: dict[str, Any]) -> dict[str, str]:
    """The headers the webhook sends with ``body``, signed with a secret (http.post adds the User-Agent)."""
    signed = standard_headers(str(uuid.uuid4()), encode(body), openapi_webhooks.EXAMPLE_SECRET)
    return {**signed, "User-Agent": http.USER_AGENT}
