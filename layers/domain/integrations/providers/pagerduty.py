"""PagerDuty Events API v2.

``send`` POSTs a ``trigger`` event to ``PAGERDUTY_EVENTS_URL`` (``events.pagerduty.com``, or the EU host):
- ``dedup_key`` is ``apviso:finding:{finding id}`` for findings and ``apviso:scan:{scan id}:failed`` for
  failed scans (an id longer than 128 characters is hashed into it), so one finding raises one alert while it
  is open, whether the producer sent it as ``finding.new``, ``finding.critical`` or both, and retries never
  raise a second one;
- ``payload``: ``summary`` is the headline (at most 1024 characters, cut with an ellipsis), ``source`` the scan
  target (else ``apviso``), ``severity`` critical→critical, high→error, medium→warning, low/info→info and
  ``error`` for a failed scan, ``timestamp`` the event's ``occurredAt`` (RFC 3339, UTC), ``class`` the event type,
  ``custom_details`` the facts and the event id (``source`` and each detail at most 1024 characters);
  ``links`` carries the finding, report or scan link when the event has one.

Success is a 202 whose body says ``"status": "success"``. 400 (``invalid event``) is not retried; 429
(honouring Retry-After when given) and 5xx are. The routing key never appears in an error.

``send_test`` triggers an ``info`` alert whose summary starts with ``[TEST]``, under its own dedup key
``apviso:test:{integration id}:{delivery id}``, then resolves it at once so that nobody stays paged; the
test's result is the trigger's (a failed resolve is logged).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from integrations.platform.observability import logger
from integrations.providers import http, messages
from integrations.providers.base import Provider, ProviderModel, SendContext
from integrations.providers.delivery import Delivery, Outcome

SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}
# PagerDuty's documented limits (summary, dedup_key); event text is cut to them with an ellipsis.
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_DETAIL = 1024  # source and each custom detail: with them bounded, the body stays far below PagerDuty's 512 KB
TEST_PREFIX = "[TEST]"
LINK_TEXT = "Open in Apviso"


class PagerDutyCredentials(ProviderModel):
    routingKey: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{32}$")] = Field(
        description="PagerDuty Events API v2 routing key"
    )


class PagerDuty(Provider):
    id = "pagerduty"
    name = "PagerDuty"
    description = "Trigger PagerDuty incidents for critical and high severity findings"
    credentials = PagerDutyCredentials
    supported_events = ("finding.critical", "finding.high", "scan.failed")
    rate_interval = 0.5  # PagerDuty: about 120 events per minute per routing key

    @classmethod
    def destination(cls, credentials: PagerDutyCredentials) -> str:
        return credentials.routingKey

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Trigger the alert of this finding or failed scan (a repeat joins the open alert)."""
        return _enqueue(trigger(delivery, dedup_key(delivery), severity(delivery)), delivery, context)

    @classmethod
    def send_test(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Trigger an info alert marked [TEST], then resolve it at once; the result is the trigger's."""
        key = f"apviso:test:{delivery.integration_id}:{delivery.delivery_id}"[:MAX_DEDUP_KEY]
        event = trigger(delivery, key, "info")
        summary = event["payload"]["summary"]
        if not summary.startswith(TEST_PREFIX):
            event["payload"]["summary"] = messages.truncate(f"{TEST_PREFIX} {summary}", MAX_SUMMARY)
        outcome = _enqueue(event, delivery, context)
        if outcome.success:
            resolve = {"routing_key": event["routing_key"], "event_action": "resolve", "dedup_key": key}
            resolved = _enqueue(resolve, delivery, context)
            if not resolved.success:
                logger.warning("PagerDuty test alert left open", extra={"error": resolved.error})
        return outcome


def trigger(delivery: Delivery, key: str, level: str) -> dict[str, Any]:
    """The Events API v2 ``trigger`` event for ``delivery``."""
    credentials: PagerDutyCredentials = delivery.credentials
    event = delivery.event
    target = event.data.scan.target if event.data.scan else None
    body: dict[str, Any] = {
        "routing_key": credentials.routingKey,
        "event_action": "trigger",
        "dedup_key": key,
        "client": "Apviso",
        "payload": {
            "summary": messages.truncate(messages.headline(delivery), MAX_SUMMARY),
            "source": messages.truncate(target or "apviso", MAX_DETAIL),
            "severity": level,
            "timestamp": messages.occurred(delivery),
            "class": delivery.event_type,
            "custom_details": {
                **{label: messages.truncate(value, MAX_DETAIL) for label, value in messages.facts(delivery)},
                "Event ID": event.id,
            },
        },
    }
    url = messages.link(delivery)
    if url:
        body["links"] = [{"href": url, "text": LINK_TEXT}]
    return body


def dedup_key(delivery: Delivery) -> str:
    """One alert per finding, or per failed scan, however often and under whichever type it arrives."""
    data = delivery.event.data
    if delivery.event_type.startswith("finding.") and data.finding:
        key = f"apviso:finding:{messages.key_part(data.finding.id)}"
    elif delivery.event_type == "scan.failed" and data.scan:
        key = f"apviso:scan:{messages.key_part(data.scan.id)}:failed"
    else:
        key = f"apviso:event:{delivery.event.id}"
    return key[:MAX_DEDUP_KEY]


def severity(delivery: Delivery) -> str:
    """PagerDuty's severity: the finding's, mapped; ``error`` for a failed scan; otherwise ``info``."""
    if delivery.event.severity:
        return SEVERITY[delivery.event.severity]
    return "error" if delivery.event_type == "scan.failed" else "info"


def _enqueue(event: dict[str, Any], delivery: Delivery, context: SendContext) -> Outcome:
    """POST one event; accepted means 202 with ``"status": "success"``."""
    secrets = PagerDuty.secret_values(delivery.credentials, delivery.config)
    try:
        response = http.post(context.settings.pagerduty_events_url, json_body=event)
    except http.TransportError as error:
        return http.outcome_from_transport_error(error)
    answer = http.json_object(response.text)
    accepted = response.status == 202 and answer.get("status") == "success"
    return http.outcome_from_response(response, secrets, success=accepted, detail=_detail(answer))


def _detail(answer: dict[str, Any]) -> str | None:
    """``invalid event; Event object is invalid; <each error>``, from PagerDuty's error body."""
    errors = answer.get("errors")
    parts = [answer.get("status"), answer.get("message"), *(errors if isinstance(errors, list) else [])]
    text = "; ".join(part for part in parts if isinstance(part, str) and part)
    return text or None
