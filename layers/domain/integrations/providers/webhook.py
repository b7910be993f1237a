"""Generic HTTPS webhooks, signed per Standard Webhooks when a secret is set.

The request: ``POST`` to the integration's URL with the body
``{"type": <event type>, "timestamp": <when the event occurred>, "data": {...}}``, compact JSON in UTF-8.
- ``type`` is the delivery's label (for instance ``finding.critical``, or ``integration.test``).
- ``timestamp`` is the event's ``occurredAt`` in UTC (``2026-04-10T10:45:20Z``), as Standard Webhooks
  recommends; when the attempt was made is the ``webhook-timestamp`` header. The body is therefore
  byte-identical on every retry of one delivery.
- ``data`` is the producer's event data exactly as sent (``scan``, ``finding``, ``report``, ``schedule``, with
  any extra fields, values of any length and any nulls the producer sent), plus ``event: {"id": …}`` to match
  the event across integrations, and ``test: true`` on test deliveries. The account id is not sent: an endpoint
  belongs to one account.

Headers: ``Content-Type: application/json``, the service's ``User-Agent``, ``webhook-id`` (the delivery
id: the same on every retry, an idempotency key), ``webhook-timestamp`` (Unix seconds of this attempt;
receivers should refuse values more than 5 minutes away) and, when a secret is set,
``webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`` (for a grace
period after the secret changes, a second, space-separated ``v1,…`` made with the previous secret). The key is
the base64 payload of a ``whsec_`` secret, otherwise the secret's UTF-8 bytes. With the ``standardwebhooks``
library a receiver verifies a ``whsec_`` secret with ``Webhook(secret)`` and a plain one with
``Webhook(secret.encode())`` (given a string, that library always base64-decodes it).

Signing uses hmac/hashlib: it is three lines, and the tests verify it with the independent
``standardwebhooks`` library rather than with the code under test. Custom ``config.headers`` are added,
but never replace the headers above (validation refuses them; sending drops them again).

Outcome: 2xx is success; 410 Gone means the receiver wants no more deliveries (not retried); 408, 425,
429, 5xx and network errors are retried; redirects are not followed and count as failures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from integrations.catalog import EVENT_TYPES, EventType
from integrations.events import Finding, Identifier, Report, Scan, Schedule
from integrations.platform import clock
from integrations.providers import http
from integrations.providers.base import Provider, ProviderModel, SendContext, check_destination_url, with_url_parts
from integrations.providers.delivery import Delivery, Outcome

MAX_HEADERS = 20
MAX_HEADER_VALUE = 1024
# Headers we set ourselves; a custom header must not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # RFC 9110 field-name
GONE = "The receiver asked for no more deliveries (410 Gone)"


def is_reserved_header(name: str) -> bool:
    """Whether ``name`` is a header the service sets itself (any case)."""
    lowered = name.lower()
    return lowered in RESERVED_HEADERS or lowered.startswith("webhook-")


def _check_secret(value: str) -> str:
    if value.startswith("whsec_"):
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise ValueError("a whsec_ secret must be followed by base64") from None
        if len(key) < 16:
            raise ValueError("a whsec_ secret must hold at least 16 bytes")
    return value


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        if not _TOKEN.match(name):
            # Not echoed: what is no header name is often a whole header line pasted, its token included.
            raise ValueError(
                "a header name is not a valid HTTP header name (at most 128 letters, digits and !#$%&'*+-.^_`|~)"
            )
        if is_reserved_header(name):
            raise ValueError(f"header {name!r} is set by the service and cannot be overridden")
        # ASCII only, or the HTTP client could not send it. The value is never echoed: it often holds a token.
        if len(value) > MAX_HEADER_VALUE or not value.isascii() or any(c in value for c in "\r\n\0"):
            raise ValueError(
                f"header {name!r} has an invalid value (ASCII, no line breaks, at most {MAX_HEADER_VALUE} characters)"
            )
    return headers


class WebhookCredentials(ProviderModel):
    url: Annotated[str, AfterValidator(check_destination_url)] = Field(
        description="Webhook endpoint URL (HTTPS required)"
    )
    secret: Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_check_secret)] | None = (
        Field(default=None, description="HMAC-SHA256 signing secret for payload verification")
    )


class WebhookConfig(ProviderModel):
    headers: Annotated[dict[str, str], AfterValidator(_check_headers)] | None = Field(
        default=None, description="Additional HTTP headers to include in webhook requests"
    )


class Webhook(Provider):
    id = "webhook"
    name = "Webhook"
    description = "Send event payloads to any HTTP endpoint via POST requests"
    credentials = WebhookCredentials
    config = WebhookConfig
    supported_events = EVENT_TYPES

    @classmethod
    def destination(cls, credentials: WebhookCredentials) -> str:
        return credentials.url  # no documented rate; a 429 holds the endpoint

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """POST the signed event; 2xx is success, and 410 Gone asks us to stop."""
        credentials: WebhookCredentials = delivery.credentials
        config: WebhookConfig = delivery.config
        body = encode(payload(delivery))
        # Ours last, so that no custom header can stand in for them.
        secrets = [credentials.secret, delivery.previous_secret] if credentials.secret else []
        headers = {**custom_headers(config), **standard_headers(delivery.delivery_id, body, *secrets)}
        try:
            response = http.post(credentials.url, data=body, headers=headers)
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        if response.status == 410:
            return Outcome(False, response.status, response.elapsed_ms, GONE, retryable=False)
        scrubbed = [*cls.secret_values(credentials, config), *filter(None, [delivery.previous_secret])]
        return http.outcome_from_response(response, scrubbed)

    @classmethod
    def secret_values(cls, credentials: ProviderModel, config: ProviderModel) -> list[str]:
        """Also the URL's path, last segment, query and query values: they often hold a token, and an error page
        may quote one alone."""
        return with_url_parts(super().secret_values(credentials, config))


class EventReference(BaseModel):
    """The event a delivery carries: the same id at every integration it reaches."""

    id: Identifier = Field(description="The scanner's event id")


class WebhookData(BaseModel):
    """The scanner's data as it sent it (extra fields kept), plus `event` (and `test` on test deliveries)."""

    model_config = ConfigDict(extra="allow")

    scan: Scan | None = Field(default=None, description="The scan (every event but schedule.skipped)")
    finding: Finding | None = Field(default=None, description="The finding (finding events)")
    report: Report | None = Field(default=None, description="The report (report.ready)")
    schedule: Schedule | None = Field(default=None, description="The schedule (schedule events)")
    event: EventReference
    test: bool = Field(default=False, description="true on test deliveries (integration.test), absent otherwise")


# What payload() builds, published as openapi.json's webhooks (tools/openapi_webhooks.py); the docstrings and
# descriptions are the document's.
class WebhookBody(BaseModel):
    """What a webhook integration receives: Standard Webhooks' `type`, `timestamp` and `data`."""

    type: EventType | Literal["integration.test"] = Field(
        description="The event type (the most specific one the integration subscribed to), or integration.test"
    )
    timestamp: str = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        description="When the event occurred, UTC (the same on every retry; the attempt's time is webhook-timestamp)",
    )
    data: WebhookData


def payload(delivery: Delivery) -> dict[str, Any]:
    """The Standard Webhooks body: type, when the event occurred, and the event's data."""
    sent = delivery.event.data.sent  # as the producer sent it: extra fields, long strings and nulls included
    if not isinstance(sent, dict):
        return {"type": delivery.event_type, "timestamp": _timestamp(delivery), "data": sent}
    data = {**sent, "event": {"id": delivery.event.id}}
    if delivery.test:
        data["test"] = True
    return {"type": delivery.event_type, "timestamp": _timestamp(delivery), "data": data}


def _timestamp(delivery: Delivery) -> str:
    """When the event occurred, in UTC (the same on every retry, so the body is too)."""
    return clock.iso(datetime.fromisoformat(delivery.event.occurredAt))


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: these exact bytes are both signed and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def standard_headers(
    message_id: str, body: bytes, *secrets: str | None, timestamp: int | None = None
) -> dict[str, str]:
    """Content type and the ``webhook-*`` headers of this attempt, signed with each secret given.

    Several signatures are space-separated (``v1,<new> v1,<previous>`` during a rotation's grace period);
    a receiver accepts the message when any of them verifies with its secret. ``timestamp`` (Unix seconds)
    defaults to now; openapi.json's examples pass a fixed one.
    """
    if timestamp is None:
        timestamp = int(time.time())  # the attempt's time, so that retries pass receivers' 5-minute window
    headers = {"Content-Type": "application/json", "webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    signatures = [sign(secret, message_id, timestamp, body) for secret in dict.fromkeys(secrets) if secret]
    if signatures:
        headers["webhook-signature"] = " ".join(signatures)
    return headers


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` per Standard Webhooks."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def custom_headers(config: WebhookConfig) -> dict[str, str]:
    """The integration's extra headers without any reserved one, whatever its case."""
    return {name: value for name, value in (config.headers or {}).items() if not is_reserved_header(name)}
