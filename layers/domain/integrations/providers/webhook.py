"""Generic HTTPS webhooks, signed per Standard Webhooks when a secret is set."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from integrations.catalog import EVENT_TYPES
from integrations.providers.base import Provider, ProviderModel, check_destination_url

MAX_HEADERS = 20
MAX_HEADER_VALUE = 1024
# Headers we set ourselves; a custom header must not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # RFC 9110 field-name


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
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            raise ValueError(f"header {name!r} is set by the service and cannot be overridden")
        if len(value) > MAX_HEADER_VALUE or any(c in value for c in "\r\n\0"):
            # The value is never echoed: custom headers often carry tokens.
            raise ValueError(
                f"header {name!r} has an invalid value (no line breaks, at most {MAX_HEADER_VALUE} characters)"
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
