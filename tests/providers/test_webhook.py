"""Generic webhooks against a receiver that verifies Standard Webhooks signatures with the reference library."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pydantic import ValidationError

from integrations.events import Event
from integrations.providers import http
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.webhook import GONE, Webhook, WebhookConfig, payload, standard_headers
from tests.conftest import ROOT
from tests.providers.fakes import (
    FakeReceiver,
    FakeWebhookReceiver,
    Reply,
    make_delivery,
    scanner_event,
    send_context,
)
from tests.providers.webhook_contract import DOCUMENT

PATH = "/hooks/apviso?token=query-token-5f2a9c"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
PLAIN = "correct horse battery staple"
HEADERS = {"Authorization": "Bearer header-token-8d1e77", "X-Team": "security"}
PERMANENT = (400, 401, 403, 404, 422)
TRANSIENT = (408, 425, 429, 500, 502, 503)


@pytest.fixture
def endpoint() -> Iterator[FakeWebhookReceiver]:
    """An endpoint without a secret (it checks no signature)."""
    with FakeWebhookReceiver() as fake:
        yield fake


def delivery_to(
    receiver: FakeReceiver,
    secret: str | None = None,
    event: Event | None = None,
    headers: dict[str, str] | None = None,
    *,
    test: bool = False,
) -> Delivery:
    credentials = {"url": receiver.url + PATH, **({"secret": secret} if secret else {})}
    return make_delivery(Webhook, credentials, {"headers": headers} if headers else None, event, test=test)


def deliver(receiver: FakeReceiver, secret: str | None = None, headers: dict[str, str] | None = None) -> Outcome:
    outcome = Webhook.send(delivery_to(receiver, secret, headers=headers), send_context())
    assert_no_credential(outcome, receiver, secret)
    return outcome


def assert_no_credential(outcome: Outcome, receiver: FakeReceiver, secret: str | None = None) -> None:
    """No URL, path, query token, secret or custom header value may reach an error."""
    for value in (receiver.url + PATH, "/hooks/apviso", "query-token-5f2a9c", secret, *HEADERS.values()):
        assert not value or value not in (outcome.error or "")


def test_posts_the_event_with_standard_webhooks_headers(endpoint: FakeWebhookReceiver) -> None:
    delivery = delivery_to(endpoint)

    outcome = Webhook.send(delivery, send_context())

    assert outcome == Outcome(True, 204, outcome.response_time_ms)
    request = endpoint.last
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == http.USER_AGENT
    assert request.headers["webhook-id"] == delivery.delivery_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    assert "webhook-signature" not in request.headers  # no secret, no signature
    assert request.body == json.dumps(request.json(), separators=(",", ":"), ensure_ascii=False).encode()
    assert request.json() == {
        "type": "finding.critical",
        "timestamp": "2026-04-10T10:45:20Z",
        "data": {
            "scan": {
                "id": "scan_01J9ZQ5K2M",
                "target": "https://app.example.com",
                "url": "https://apviso.com/scans/scan_01J9ZQ5K2M",
            },
            "finding": {
                "id": "fnd_3K9",
                "title": "SQL injection in /login",
                "severity": "critical",
                "url": "https://apviso.com/findings/fnd_3K9",
            },
            "event": {"id": "019414e5-0000-7000-8000-000000000004"},
        },
    }


@pytest.mark.parametrize("secret", [WHSEC, PLAIN], ids=["whsec", "plain"])
def test_signature_verifies_with_the_standardwebhooks_library(secret: str) -> None:
    with FakeWebhookReceiver(secret) as receiver:
        outcome = deliver(receiver, secret)

        assert outcome.success, outcome.error
        assert receiver.verified == [receiver.last.json()]
        assert receiver.last.headers["webhook-signature"].startswith("v1,")


def test_a_signature_made_with_another_secret_is_rejected_by_the_receiver() -> None:
    with FakeWebhookReceiver(WHSEC) as receiver:
        outcome = deliver(receiver, PLAIN)

        assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 401, False)
        assert receiver.verified == []


def test_every_retry_sends_the_same_bytes_under_the_same_id(endpoint: FakeWebhookReceiver) -> None:
    delivery = delivery_to(endpoint, PLAIN)

    Webhook.send(delivery, send_context())
    Webhook.send(delivery, send_context())

    first, second = endpoint.requests
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.delivery_id


def test_producer_fields_are_kept_and_absent_ones_omitted(endpoint: FakeWebhookReceiver) -> None:
    Webhook.send(delivery_to(endpoint, event=scanner_event("scan_failed")), send_context())

    body = endpoint.last.json()
    assert body["type"] == "scan.failed"
    assert body["data"]["scan"]["error"] == "Target unreachable: connection timed out"
    assert set(body["data"]) == {"scan", "event"}  # no finding, report or schedule: not null, absent


def test_timestamp_is_when_the_event_occurred_in_utc(endpoint: FakeWebhookReceiver) -> None:
    raw = scanner_event("finding_high").model_dump()
    event = Event.model_validate({**raw, "occurredAt": "2026-04-10T12:45:20.731+02:00"})

    Webhook.send(delivery_to(endpoint, event=event), send_context())

    assert endpoint.last.json()["timestamp"] == "2026-04-10T10:45:20Z"


def test_a_test_delivery_says_so(endpoint: FakeWebhookReceiver) -> None:
    assert Webhook.send_test(delivery_to(endpoint, test=True), send_context()).success

    body = endpoint.last.json()
    assert body["type"] == "integration.test"
    assert body["data"]["test"] is True


def test_custom_headers_are_sent(endpoint: FakeWebhookReceiver) -> None:
    assert deliver(endpoint, headers=HEADERS).success

    assert endpoint.last.headers["authorization"] == HEADERS["Authorization"]
    assert endpoint.last.headers["x-team"] == "security"


def test_custom_headers_never_replace_ours(endpoint: FakeWebhookReceiver) -> None:
    forged = {"content-type": "text/plain", "User-Agent": "evil", "Webhook-Id": "forged", "HOST": "evil.example"}
    with pytest.raises(ValueError, match="cannot be overridden"):
        WebhookConfig.model_validate({"headers": forged})
    # Stored settings are validated, but sending must hold even if a reserved header slipped through.
    delivery = delivery_to(endpoint, PLAIN)
    delivery = replace(delivery, config=WebhookConfig.model_construct(headers=forged))

    assert Webhook.send(delivery, send_context()).success

    request = endpoint.last
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == http.USER_AGENT
    assert request.headers["webhook-id"] == delivery.delivery_id
    assert request.headers["host"].startswith("127.0.0.1:")
    for name in ("content-type", "user-agent", "webhook-id", "host"):
        assert request.header_count(name) == 1


def test_header_values_that_http_cannot_carry_are_refused_at_validation() -> None:
    with pytest.raises(ValidationError) as refused:
        WebhookConfig.model_validate({"headers": {"X-Label": "🔒 secret-value"}})
    message = refused.value.errors()[0]["msg"]  # what the API answers (pydantic's str() also quotes the input)
    assert "invalid value" in message and "secret-value" not in message


def test_a_header_name_that_is_no_name_is_refused_without_being_quoted() -> None:
    pasted = "Authorization: Bearer sk_live_0c1d2e3f4a5b"  # a whole header line pasted as the name

    with pytest.raises(ValidationError) as refused:
        WebhookConfig.model_validate({"headers": {pasted: "x"}})

    message = refused.value.errors()[0]["msg"]
    assert "not a valid HTTP header name" in message and "sk_live" not in message


def test_a_token_of_the_url_quoted_alone_is_scrubbed(endpoint: FakeWebhookReceiver) -> None:
    endpoint.script(Reply(401, {"error": "unknown hook apviso-hook-7f3e91 or bad token query-token-5f2a9c"}))
    delivery = make_delivery(Webhook, {"url": endpoint.url + "/hooks/apviso-hook-7f3e91?token=query-token-5f2a9c"})

    outcome = Webhook.send(delivery, send_context())

    assert outcome.error is not None and "unknown hook [redacted] or bad token [redacted]" in outcome.error


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(endpoint: FakeWebhookReceiver, status: int) -> None:
    endpoint.script(Reply(status))

    outcome = deliver(endpoint)

    assert (outcome.success, outcome.response_code, outcome.error) == (True, status, None)


@pytest.mark.parametrize(
    ("status", "retryable"), [*((status, False) for status in PERMANENT), *((status, True) for status in TRANSIENT)]
)
def test_errors_are_retried_only_when_they_may_heal(
    endpoint: FakeWebhookReceiver, status: int, retryable: bool
) -> None:
    endpoint.script(Reply(status, f"echo: {HEADERS['Authorization']} via {PATH}"))

    outcome = deliver(endpoint, headers=HEADERS)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, retryable)
    assert (outcome.error or "").startswith(f"Provider returned HTTP {status}: ")
    assert "[redacted]" in (outcome.error or "")


def test_410_gone_asks_for_no_more_deliveries(endpoint: FakeWebhookReceiver) -> None:
    endpoint.script(Reply(410, "endpoint removed"))

    outcome = deliver(endpoint)

    assert outcome == Outcome(False, 410, outcome.response_time_ms, GONE, retryable=False)
    assert "no more deliveries (410 Gone)" in GONE


@pytest.mark.parametrize(
    ("retry_after", "seconds"), [("120", 120.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None)]
)
def test_429_carries_retry_after(endpoint: FakeWebhookReceiver, retry_after: str, seconds: float | None) -> None:
    endpoint.script(Reply(429, "slow down", {"Retry-After": retry_after}))

    outcome = deliver(endpoint)

    assert (outcome.retryable, outcome.retry_after) == (True, seconds)


def test_an_answer_slower_than_the_timeout_is_retried(endpoint: FakeWebhookReceiver, short_read_timeout: float) -> None:
    endpoint.script(Reply(204, delay=5))
    started = time.monotonic()

    outcome = deliver(endpoint, PLAIN)

    assert time.monotonic() - started < 1
    assert outcome == Outcome(
        False, None, outcome.response_time_ms, f"Timeout: no complete response within {short_read_timeout:g} s", True
    )


def test_a_reset_connection_is_retried(endpoint: FakeWebhookReceiver) -> None:
    endpoint.script("reset")

    outcome = deliver(endpoint, PLAIN)

    assert outcome == Outcome(False, None, outcome.response_time_ms, "Connection reset by the provider", True)


def test_a_redirect_is_not_followed(endpoint: FakeWebhookReceiver) -> None:
    endpoint.script(Reply(307, "", {"Location": endpoint.url + "/elsewhere"}))

    outcome = deliver(endpoint, PLAIN)

    assert len(endpoint.requests) == 1
    assert not outcome.success


def test_a_redirect_is_a_permanent_failure(endpoint: FakeWebhookReceiver) -> None:
    endpoint.script(Reply(307, "", {"Location": endpoint.url + "/elsewhere"}))

    outcome = deliver(endpoint, PLAIN)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 307, False)


def test_during_a_rotation_both_secrets_sign_and_an_error_never_quotes_the_previous_one() -> None:
    with FakeWebhookReceiver(PLAIN) as old_receiver, FakeWebhookReceiver(WHSEC) as new_receiver:
        for receiver in (old_receiver, new_receiver):  # a receiver on either secret accepts the message
            delivery = replace(delivery_to(receiver, WHSEC), previous_secret=PLAIN)
            assert Webhook.send(delivery, send_context()).success
            assert len(receiver.last.headers["webhook-signature"].split(" ")) == 2
        old_receiver.script(Reply(500, f"cannot verify with {PLAIN}"))
        outcome = Webhook.send(replace(delivery_to(old_receiver, WHSEC), previous_secret=PLAIN), send_context())
        assert outcome.error is not None and "cannot verify" in outcome.error and PLAIN not in outcome.error


def test_the_receiver_refuses_a_request_that_openapi_json_does_not_describe() -> None:
    # The fake receiver checks every webhook request against openapi.json; this proves the check can fail.
    receiver = FakeWebhookReceiver()
    body = payload(delivery_to(receiver, event=scanner_event("finding_new")))
    body["data"]["finding"]["severity"] = "urgent"
    encoded = json.dumps(body).encode()
    receiver.__enter__()
    refused = http.post(receiver.url, data=encoded, headers=standard_headers(str(uuid.uuid4()), encoded))
    unsigned = http.post(receiver.url, data=encoded, headers={"Content-Type": "application/json"})
    with pytest.raises(AssertionError, match=r"openapi\.json does not describe"):
        receiver.__exit__(None, None, None)  # leaving the receiver fails the test that got such a request

    assert refused.status == 400 and unsigned.status == 400
    wrong_field, no_headers = receiver.contract_violations
    assert wrong_field == [
        "body $.data.finding.severity: 'urgent' is not one of ['critical', 'high', 'medium', 'low', 'info']"
    ]
    assert {"header webhook-id: missing", "header webhook-timestamp: missing"} <= set(no_headers)


def test_what_the_webhook_sends_for_every_event_is_what_openapi_json_describes(endpoint: FakeWebhookReceiver) -> None:
    for path in sorted((ROOT / "events" / "scanner").glob("*.json")):
        assert Webhook.send(delivery_to(endpoint, WHSEC, scanner_event(path.stem)), send_context()).success
    assert Webhook.send(delivery_to(endpoint, PLAIN, test=True), send_context()).success
    assert {request.json()["type"] for request in endpoint.requests} == set(DOCUMENT["webhooks"])
    assert endpoint.contract_violations == []
