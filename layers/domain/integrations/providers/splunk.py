"""Splunk HTTP Event Collector (HEC).

What is sent: ``POST {url}/services/collector/event`` with ``Authorization: Splunk <token>`` and one HEC event:
``{"time": <occurredAt as epoch seconds>, "host": <the scan target's host, else "apviso">, "source":
<config.source, default "apviso">, "sourcetype": <config.sourcetype, default "_json">, "index": <config.index,
only when set>, "event": <the event as webhooks receive it: {"type", "timestamp", "data"}>}``. Every event type
is supported: a SIEM wants all of them. The event is sent as the producer sent it (no truncation: HEC takes
events up to its ``max_content_length``, 1 MB by default, far beyond an event's 64 KB).

Answers: success is 200 with ``{"text": "Success", "code": 0}``. 401 (codes 2/3: token missing or malformed),
403 (code 4: invalid token; code 1: token disabled), 400 (codes 5-7, 12-13, 27: bad data or index) and 404 are
permanent; 503 (code 9: server busy) and other 5xx, and 429, are retried. HEC's ``text`` and ``code`` are kept in
the error.

TLS: HEC often runs with Splunk's self-signed certificate. Verification is on unless the integration sets
``skipTlsVerification: true``, a documented opt-in: the certificate is then not checked at all, so anyone on
the network path can read the token and the events. The SSRF rules apply either way. The token is the
credential, never logged or shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from integrations.providers import http, webhook
from integrations.providers.base import Provider, ProviderModel, SendContext, check_destination_url
from integrations.providers.delivery import Delivery, Outcome

EVENT_PATH = "/services/collector/event"
DEFAULT_SOURCE = "apviso"
DEFAULT_SOURCETYPE = "_json"


def _check_hec_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    path = parts.path.rstrip("/")
    if path and path not in ("/services/collector", EVENT_PATH):
        raise ValueError("must be the HEC base URL (https://HOST:8088) or end in /services/collector/event")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_:.\-]*$")]


class SplunkCredentials(ProviderModel):
    url: Annotated[str, AfterValidator(check_destination_url), AfterValidator(_check_hec_url)] = Field(
        description="HTTP Event Collector URL (e.g. https://splunk.example.com:8088 or "
        "https://http-inputs-STACK.splunkcloud.com); /services/collector/event is added"
    )
    token: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")] = Field(
        description="HEC token"
    )


class SplunkConfig(ProviderModel):
    index: Name | None = Field(default=None, description="Index to write to (the token's default index if omitted)")
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description='Event source (defaults to "apviso")'
    )
    sourcetype: Name | None = Field(default=None, description='Event sourcetype (defaults to "_json")')
    skipTlsVerification: bool | None = Field(
        default=None,
        description="Opt-in: do not verify the HEC's TLS certificate (e.g. Splunk's self-signed default). "
        "Anyone on the network path could then read the token and the events; prefer a trusted certificate.",
    )


class Splunk(Provider):
    id = "splunk"
    name = "Splunk HEC"
    description = "Send every scan, finding, report and schedule event to Splunk's HTTP Event Collector"
    credentials = SplunkCredentials
    config = SplunkConfig
    supported_events = webhook.Webhook.supported_events

    @classmethod
    def destination(cls, credentials: SplunkCredentials) -> str:
        return credentials.url  # no documented rate; a 429 holds the collector

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """POST the HEC event; success is 200 with HEC's code 0."""
        credentials: SplunkCredentials = delivery.credentials
        config: SplunkConfig = delivery.config
        try:
            response = http.post(
                event_url(credentials.url),
                json_body=hec_event(delivery),
                headers={"Authorization": f"Splunk {credentials.token}"},
                verify=not config.skipTlsVerification,
            )
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        answer = http.json_object(response.text)
        accepted = response.status == 200 and answer.get("code") == 0
        return http.outcome_from_response(
            response, cls.secret_values(credentials, config), success=accepted, detail=_detail(answer)
        )


def event_url(url: str) -> str:
    """The event endpoint of a HEC URL given as its base or as the endpoint itself."""
    base = url.rstrip("/").removesuffix(EVENT_PATH).removesuffix("/services/collector")
    return base + EVENT_PATH


def hec_event(delivery: Delivery) -> dict[str, Any]:
    """HEC's event envelope around the webhook body."""
    config: SplunkConfig = delivery.config
    scan = delivery.event.data.scan
    target_host = _host(scan.target) if scan and scan.target else None
    body: dict[str, Any] = {
        "time": datetime.fromisoformat(delivery.event.occurredAt).timestamp(),
        "host": target_host or "apviso",
        "source": config.source or DEFAULT_SOURCE,
        "sourcetype": config.sourcetype or DEFAULT_SOURCETYPE,
        "event": webhook.payload(delivery),
    }
    if config.index:
        body["index"] = config.index
    return body


def _host(target: str) -> str | None:
    """The host of a scan target given as a URL; None for a bare name or what Python cannot parse (``https://[x``)."""
    try:
        return urlsplit(target).hostname if "://" in target else None
    except ValueError:
        return None


def _detail(answer: dict[str, Any]) -> str | None:
    text, code = answer.get("text"), answer.get("code")
    if not isinstance(text, str):
        return None
    return f"{text} (code {code})" if isinstance(code, int) else text
