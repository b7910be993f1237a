"""PagerDuty Events API v2 against a faithful fake (it validates events and tracks alerts by dedup key)."""

from __future__ import annotations

import time

import pytest
from rfc3339_validator import validate_rfc3339

from integrations.events import Event
from integrations.providers import http
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.pagerduty import PagerDuty
from tests.providers.fakes import (
    FakePagerDuty,
    Reply,
    make_delivery,
    scanner_event,
    send_context,
)

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
INVALID = {
    "status": "invalid event",
    "message": "Event object is invalid",
    "errors": ["'payload.summary' is missing or blank"],
}


def delivery_for(event: Event | None = None, *, test: bool = False) -> Delivery:
    return make_delivery(PagerDuty, {"routingKey": ROUTING_KEY}, event=event, test=test)


def deliver(pagerduty: FakePagerDuty, event: Event | None = None) -> Outcome:
    outcome = PagerDuty.send(delivery_for(event), send_context(PAGERDUTY_EVENTS_URL=pagerduty.events_url))
    assert ROUTING_KEY not in (outcome.error or "")
    return outcome


def test_triggers_one_alert_per_finding(pagerduty: FakePagerDuty) -> None:
    outcome = deliver(pagerduty)

    assert outcome == Outcome(True, 202, outcome.response_time_ms)
    request = pagerduty.last
    assert (request.method, request.path) == ("POST", FakePagerDuty.PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == http.USER_AGENT
    assert request.json() == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "apviso:finding:fnd_3K9",
        "client": "Apviso",
        "payload": {
            "summary": "Critical finding on https://app.example.com: SQL injection in /login",
            "source": "https://app.example.com",
            "severity": "critical",
            "timestamp": "2026-04-10T10:45:20Z",
            "class": "finding.critical",
            "custom_details": {
                "Severity": "Critical",
                "Target": "https://app.example.com",
                "Scan": "scan_01J9ZQ5K2M",
                "Finding": "fnd_3K9",
                "Event": "finding.critical",
                "Occurred": "2026-04-10T10:45:20Z",
                "Event ID": "019414e5-0000-7000-8000-000000000004",
            },
        },
        "links": [{"href": "https://apviso.com/findings/fnd_3K9", "text": "Open in Apviso"}],
    }
    assert pagerduty.alerts == {"apviso:finding:fnd_3K9": "triggered"}


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info"), ("info", "info")],
)
def test_severity_map(pagerduty: FakePagerDuty, severity: str, expected: str) -> None:
    assert deliver(pagerduty, scanner_event("finding_new", severity=severity)).success

    assert pagerduty.last.json()["payload"]["severity"] == expected


def test_the_same_finding_under_two_types_is_one_alert(pagerduty: FakePagerDuty) -> None:
    assert deliver(pagerduty, scanner_event("finding_new", id="fnd_same")).success
    assert deliver(pagerduty, scanner_event("finding_critical", id="fnd_same")).success

    assert pagerduty.alerts == {"apviso:finding:fnd_same": "triggered"}


def test_a_failed_scan_is_an_error_alert_keyed_by_scan(pagerduty: FakePagerDuty) -> None:
    assert deliver(pagerduty, scanner_event("scan_failed")).success

    event = pagerduty.last.json()
    assert event["dedup_key"] == "apviso:scan:scan_01J9ZQ5K2M:failed"
    assert event["payload"]["severity"] == "error"
    assert event["payload"]["summary"] == "Scan failed on https://app.example.com"
    assert event["links"] == [{"href": "https://apviso.com/scans/scan_01J9ZQ5K2M", "text": "Open in Apviso"}]


@pytest.mark.parametrize(
    "occurred_at", ["2026-04-10T12:45:20+0200", "2026-04-10 10:45:20+00:00", "2026-W15-5T10:45:20Z"]
)
def test_the_timestamp_is_rfc_3339_in_utc_whatever_form_the_producer_used(
    pagerduty: FakePagerDuty, occurred_at: str
) -> None:
    raw = scanner_event("finding_critical").model_dump()
    raw["occurredAt"] = occurred_at

    assert deliver(pagerduty, Event.model_validate(raw)).success
    timestamp = pagerduty.last.json()["payload"]["timestamp"]
    assert timestamp == "2026-04-10T10:45:20Z" and validate_rfc3339(timestamp)  # PagerDuty's OpenAPI: date-time


def test_a_long_title_is_clipped_to_the_summary_limit(pagerduty: FakePagerDuty) -> None:
    assert deliver(pagerduty, scanner_event("finding_critical", title="A" * 2048)).success  # the fake refuses > 1024

    assert len(pagerduty.last.json()["payload"]["summary"]) == 1024


def test_the_test_alert_is_resolved_at_once(pagerduty: FakePagerDuty) -> None:
    delivery = delivery_for(test=True)

    outcome = PagerDuty.send_test(delivery, send_context(PAGERDUTY_EVENTS_URL=pagerduty.events_url))

    assert outcome == Outcome(True, 202, outcome.response_time_ms)
    trigger, resolve = (request.json() for request in pagerduty.requests)
    key = f"apviso:test:{delivery.integration_id}:{delivery.delivery_id}"
    assert (trigger["event_action"], trigger["dedup_key"], trigger["payload"]["severity"]) == ("trigger", key, "info")
    assert trigger["payload"]["summary"].startswith("[TEST] ")
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key}
    assert pagerduty.alerts == {key: "resolved"}


def test_a_failed_test_trigger_sends_no_resolve(pagerduty: FakePagerDuty) -> None:
    pagerduty.script(Reply(400, INVALID))

    outcome = PagerDuty.send_test(delivery_for(test=True), send_context(PAGERDUTY_EVENTS_URL=pagerduty.events_url))

    assert (outcome.success, outcome.response_code) == (False, 400)
    assert len(pagerduty.requests) == 1


def test_an_invalid_event_is_not_retried(pagerduty: FakePagerDuty) -> None:
    pagerduty.script(Reply(400, INVALID))

    outcome = deliver(pagerduty)

    error = (
        "Provider returned HTTP 400: Bad Request "
        "(invalid event; Event object is invalid; 'payload.summary' is missing or blank)"
    )
    assert outcome == Outcome(False, 400, outcome.response_time_ms, error, retryable=False)


def test_an_error_quoting_the_routing_key_is_scrubbed(pagerduty: FakePagerDuty) -> None:
    pagerduty.script(Reply(400, {**INVALID, "errors": [f"Unknown routing key {ROUTING_KEY}"]}))

    outcome = deliver(pagerduty)  # asserts the key is absent

    assert "Unknown routing key [redacted]" in (outcome.error or "")


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "60"}, 60.0), ({}, None)])
def test_throttling_is_retried(pagerduty: FakePagerDuty, headers: dict[str, str], retry_after: float | None) -> None:
    pagerduty.script(
        Reply(429, {"status": "throttle event", "message": "Requests for this service are throttled"}, headers)
    )

    outcome = deliver(pagerduty)

    assert (outcome.success, outcome.response_code, outcome.retryable, outcome.retry_after) == (
        False,
        429,
        True,
        retry_after,
    )
    assert outcome.error == (
        "Provider returned HTTP 429: Too Many Requests (throttle event; Requests for this service are throttled)"
    )


@pytest.mark.parametrize(("status", "body"), [(500, ""), (502, "<html>Bad Gateway</html>"), (503, "")])
def test_server_errors_are_retried(pagerduty: FakePagerDuty, status: int, body: str) -> None:
    pagerduty.script(Reply(status, body))

    outcome = deliver(pagerduty)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, True)


def test_an_accepted_answer_without_success_is_a_failure(pagerduty: FakePagerDuty) -> None:
    pagerduty.script(Reply(202, {"status": "unexpected"}))

    outcome = deliver(pagerduty)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 202, False)


def test_an_answer_slower_than_the_timeout_is_retried(pagerduty: FakePagerDuty, short_read_timeout: float) -> None:
    pagerduty.script(Reply(202, {"status": "success"}, delay=5))
    started = time.monotonic()

    outcome = deliver(pagerduty)

    assert time.monotonic() - started < 1
    assert outcome == Outcome(
        False, None, outcome.response_time_ms, f"Timeout: no complete response within {short_read_timeout:g} s", True
    )


def test_a_reset_connection_is_retried(pagerduty: FakePagerDuty) -> None:
    pagerduty.script("reset")

    outcome = deliver(pagerduty)

    assert outcome == Outcome(False, None, outcome.response_time_ms, "Connection reset by the provider", True)


def test_a_redirect_is_not_followed(pagerduty: FakePagerDuty) -> None:
    pagerduty.script(Reply(301, "", {"Location": pagerduty.url + "/v2/elsewhere"}))

    outcome = deliver(pagerduty)

    assert len(pagerduty.requests) == 1
    assert not outcome.success


def test_a_redirect_is_a_permanent_failure(pagerduty: FakePagerDuty) -> None:
    pagerduty.script(Reply(301, "", {"Location": pagerduty.url + "/v2/elsewhere"}))

    outcome = deliver(pagerduty)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 301, False)
