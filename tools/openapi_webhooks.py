"""openapi.json's ``webhooks``: what a webhook integration receives, one entry per event type (OpenAPI 3.1).

Everything comes from the code that sends a delivery: the body's schema from ``webhook.WebhookBody`` (the shape
``webhook.payload`` builds, with the scanner's part models of ``integrations.events``), the headers from
``webhook.standard_headers`` and the HTTP client's User-Agent, and each example from the sample producer event
``events/scanner/<type>.json`` (the test route's own sample for integration.test) put through ``payload`` and
signed by ``sign`` with EXAMPLE_SECRET. The tests validate every webhook request they capture against the result
(tests/providers/webhook_contract.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from integrations.api import test_event
from integrations.catalog import EVENT_TYPES
from integrations.delivery import jobs
from integrations.events import Event
from integrations.platform import clock
from integrations.providers import http
from integrations.providers.delivery import TEST_EVENT_TYPE, Delivery
from integrations.providers.webhook import (
    WebhookBody,
    WebhookConfig,
    WebhookCredentials,
    encode,
    payload,
    standard_headers,
)

ROOT = Path(__file__).resolve().parents[1]
# The examples are signed with this secret, so that a receiver can check its verification against them.
EXAMPLE_SECRET = "whsec_" + base64.b64encode(b"openapi.json example key, unused").decode()
EXAMPLE_INTEGRATION_ID = "019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e"  # the seed's
EXAMPLE_ATTEMPT_AT = 1775817925  # 2026-04-10T10:45:25Z, five seconds after the samples' occurredAt

SUMMARIES = {
    "scan.started": "A scan started",
    "scan.completed": "A scan completed (with its findings' counts when the scanner sends them)",
    "scan.failed": "A scan failed (with the scanner's error when it sends one)",
    "finding.new": "A new finding, of any severity",
    "finding.critical": "A critical finding",
    "finding.high": "A high-severity finding",
    "report.ready": "A scan's report is ready",
    "schedule.triggered": "A schedule started a scan",
    "schedule.skipped": "A schedule skipped its scan (with the reason when the scanner sends one)",
    TEST_EVENT_TYPE: "A test delivery (POST /v1/integrations/{id}/test): a sample finding marked as a test",
}
_DESCRIPTION = {
    "finding.new": "Sent to webhook integrations subscribed to finding.new. A critical or high finding goes to an "
    "integration subscribed to finding.critical or finding.high as that type instead: one delivery per event and "
    "integration, labelled with the most specific type it subscribed to",
    TEST_EVENT_TYPE: "Sent by the test route to any webhook integration, enabled or not",
}
_BODY_DESCRIPTION = (
    "Compact UTF-8 JSON, byte-identical on every retry; these exact bytes are what is signed. `data` is the "
    "scanner's data as it sent it (values of any length, extra fields and nulls included), plus `event.id`. "
    f"The example is signed with the example secret `{EXAMPLE_SECRET}` (its headers verify against the body "
    "serialized compactly, `json.dumps(body, separators=(',', ':'), ensure_ascii=False)`). "
    "Integrations may add their own headers (`config.headers`)."
)
_PARTS = ("scan", "finding", "report", "schedule")
# What each header the code sends means to a receiver; _parameters() fails when the code sends one not listed here.
_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_SIGNATURE = "v1,[A-Za-z0-9+/]{43}="  # base64 of an HMAC-SHA256
HEADERS: dict[str, dict[str, Any]] = {
    "webhook-id": {
        "description": "The delivery's id: the same on every retry and redelivery of this event to this "
        "integration, so use it as an idempotency key",
        "required": True,
        "schema": {"type": "string", "format": "uuid", "pattern": _UUID},
    },
    "webhook-timestamp": {
        "description": "When this attempt was made, in Unix seconds (part of what is signed): refuse a message "
        "more than 5 minutes away from your clock",
        "required": True,
        "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,11}$"},
    },
    "webhook-signature": {
        "description": "Present when the integration has a secret: `v1,<base64 HMAC-SHA256 of "
        '"{webhook-id}.{webhook-timestamp}.{body}">`, keyed with the base64 payload of a `whsec_` secret or the '
        "UTF-8 bytes of any other. For 24 hours after the secret changes, a second, space-separated signature made "
        "with the previous secret follows: accept the message when any signature verifies",
        "required": False,
        "schema": {"type": "string", "pattern": f"^{_SIGNATURE}(?: {_SIGNATURE})?$"},
    },
    "User-Agent": {
        "description": "The service's user agent",
        "required": True,
        "schema": {"type": "string", "const": http.USER_AGENT},
    },
}
# OpenAPI ignores a header parameter named Content-Type: the request body's media type says it.
_NOT_PARAMETERS = {"content-type"}

RESPONSES = {
    "2XX": {"description": "Delivered (any 2xx; the answer's body is not read)"},
    "410": {
        "description": "Gone: the receiver wants no more deliveries. Not retried, and the integration is disabled "
        "with that reason until its owner enables it again"
    },
    "default": {
        "description": "Any other answer fails the attempt. Timeouts, connection errors, 408, 425, 429 and 5xx "
        "are retried with backoff over about a day (Retry-After honoured), with the same webhook-id and body; "
        "other answers and redirects (never followed) are not retried"
    },
}


def _example_event(event_type: str) -> Event:
    if event_type == TEST_EVENT_TYPE:
        # The test route's own sample, with its random ids and time fixed so the document is reproducible.
        sent = test_event.sample("acct_example").data.sent
        sent = {**sent, "scan": {**sent["scan"], "id": "scan_test_0123456789ab"}}
        event_id, occurred_at = "019414e5-0000-7000-8000-0000000000ff", "2026-04-10T10:45:20Z"
        return Event.model_validate(
            {"id": event_id, "type": "finding.critical", "accountId": "acct_example", "occurredAt": occurred_at}
            | {"data": sent}
        )
    path = ROOT / "events" / "scanner" / f"{event_type.replace('.', '_')}.json"
    return Event.model_validate_json(path.read_text())


def example(event_type: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers a webhook integration with EXAMPLE_SECRET receives for ``event_type``."""
    event = _example_event(event_type)
    test = event_type == TEST_EVENT_TYPE
    delivery = Delivery(
        delivery_id=jobs.delivery_id(event.id, EXAMPLE_INTEGRATION_ID),
        event_type=event_type,
        event=event,
        account_id=event.accountId,
        integration_id=EXAMPLE_INTEGRATION_ID,
        integration_name="Example receiver",
        # Not validated: that would resolve the example host, and only the secret is used (below).
        credentials=WebhookCredentials.model_construct(url="https://receiver.example.com/", secret=EXAMPLE_SECRET),
        config=WebhookConfig(),
        test=test,
        timestamp=clock.now(),
    )
    body = payload(delivery)
    sent = standard_headers(delivery.delivery_id, encode(body), EXAMPLE_SECRET, timestamp=EXAMPLE_ATTEMPT_AT)
    return body, {"User-Agent": http.USER_AGENT, **sent}


def _parameters(headers: dict[str, str]) -> list[dict[str, Any]]:
    sent = {name for name in headers if name.lower() not in _NOT_PARAMETERS}
    if sent != set(HEADERS):
        raise ValueError(f"the webhook sends headers {sorted(sent)}, the document describes {sorted(HEADERS)}")
    return [{"name": name, "in": "header", **rule, "example": headers[name]} for name, rule in HEADERS.items()]


def _component_schemas() -> dict[str, Any]:
    schema = WebhookBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = {**schema.pop("$defs"), "WebhookBody": schema}
    # The scanner's part models are named Scan, Finding, …: prefixed, so that no API schema can clash with them.
    names = {name: name if name.startswith("Webhook") else f"Webhook{name}" for name in defs}
    text = json.dumps(defs)
    for name, prefixed in names.items():
        text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{prefixed}"')
    defs = {names[name]: {**value, "title": names[name]} for name, value in json.loads(text).items()}
    for part in _PARTS:
        defs[f"Webhook{part.title()}"]["description"] = f"The {part} as the scanner sent it; extra fields may appear"
    return defs


def _body_schema(event_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "allOf": [{"$ref": "#/components/schemas/WebhookBody"}],
        "properties": {"type": {"const": event_type}},
    }
    if event_type == TEST_EVENT_TYPE:
        schema["properties"]["data"] = {"properties": {"test": {"const": True}}, "required": ["test"]}
    return schema


def operation_id(event_type: str) -> str:
    """``finding.new`` → ``findingNewWebhook`` (API operations are named after their functions; these after
    their event)."""
    first, *rest = event_type.split(".")
    return first + "".join(word.title() for word in rest) + "Webhook"


def document_webhooks(document: dict[str, Any]) -> dict[str, Any]:
    """Add ``webhooks`` (one POST per event type a webhook integration receives) and the body's schemas."""
    schemas = document["components"]["schemas"]
    for name, schema in _component_schemas().items():
        if name in schemas:
            raise ValueError(f"the webhook body's schema {name!r} clashes with an API schema")
        schemas[name] = schema
    webhooks = {}
    for event_type in (*EVENT_TYPES, TEST_EVENT_TYPE):
        body, headers = example(event_type)
        webhooks[event_type] = {
            "post": {
                "operationId": operation_id(event_type),
                "summary": SUMMARIES[event_type],
                "description": _DESCRIPTION.get(event_type, f"Sent to webhook integrations subscribed to {event_type}"),
                "tags": ["Webhooks"],
                "security": [],
                "parameters": _parameters(headers),
                "requestBody": {
                    "required": True,
                    "description": _BODY_DESCRIPTION,
                    "content": {"application/json": {"schema": _body_schema(event_type), "example": body}},
                },
                "responses": RESPONSES,
            }
        }
    document["webhooks"] = webhooks
    return document
