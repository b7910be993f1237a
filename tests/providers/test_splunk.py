"""Splunk HEC against a local collector that checks events and tokens as HEC does, over HTTP and over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.events import Event
from integrations.providers import http
from integrations.providers.delivery import Outcome
from integrations.providers.splunk import Splunk, event_url
from integrations.providers.webhook import payload
from tests.providers.fake_splunk import FakeSplunk
from tests.providers.fakes import Reply, make_delivery, scanner_event, send_context
from tests.providers.oversized import oversized_event
from tests.security.tls import TlsReceiver, make_ca_and_server_cert

TOKEN = "7e1b1c55-4f2e-4a7b-9c1d-0a1b2c3d4e5f"
ALL_EVENTS = [
    "scan_started", "scan_completed", "scan_failed", "finding_new", "finding_critical", "finding_high",
    "report_ready", "schedule_triggered", "schedule_skipped",
]  # fmt: skip


@pytest.fixture
def splunk() -> Iterator[FakeSplunk]:
    with FakeSplunk(TOKEN) as fake:
        yield fake


def deliver(
    splunk: FakeSplunk, event: Event | None = None, config: dict[str, Any] | None = None, token: str = TOKEN
) -> Outcome:
    delivery = make_delivery(Splunk, {"url": splunk.url, "token": token}, config, event)
    return Splunk.send(delivery, send_context())


def test_sends_one_hec_event_with_the_splunk_token(splunk: FakeSplunk) -> None:
    event = scanner_event("finding_critical")
    delivery = make_delivery(Splunk, {"url": splunk.url, "token": TOKEN}, {"index": "security"}, event)

    outcome = Splunk.send(delivery, send_context())

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    request = splunk.last
    assert (request.method, request.path) == ("POST", "/services/collector/event")
    assert request.headers["authorization"] == f"Splunk {TOKEN}"
    assert request.json() == {
        "time": datetime.fromisoformat("2026-04-10T10:45:20Z").timestamp(),
        "host": "app.example.com",
        "source": "apviso",
        "sourcetype": "_json",
        "index": "security",
        "event": payload(delivery),
    }
    assert splunk.events[0]["event"]["type"] == "finding.critical"
    assert splunk.events[0]["event"]["data"]["finding"]["id"] == "fnd_3K9"


@pytest.mark.parametrize("name", ALL_EVENTS)
def test_every_event_type_is_accepted(splunk: FakeSplunk, name: str) -> None:
    assert deliver(splunk, scanner_event(name), {"source": "apviso:prod", "sourcetype": "apviso:event"}).success
    sent = splunk.events[0]
    assert (sent["source"], sent["sourcetype"]) == ("apviso:prod", "apviso:event") and "index" not in sent


def test_long_values_reach_splunk_as_sent(splunk: FakeSplunk) -> None:
    assert deliver(splunk, oversized_event()).success
    assert len(splunk.events[0]["event"]["data"]["finding"]["title"]) == 20_000


@pytest.mark.parametrize(
    ("token", "status", "text"),
    [("", 401, "Token is required (code 2)"), ("not-the-token", 403, "Invalid token (code 4)")],
)
def test_token_errors_are_permanent(splunk: FakeSplunk, token: str, status: int, text: str) -> None:
    if not token:
        splunk.script(Reply(401, {"text": "Token is required", "code": 2}))
        token = TOKEN
    outcome = deliver(splunk, token=token)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, False)
    assert text in (outcome.error or "") and TOKEN not in (outcome.error or "")


def test_a_disabled_token_and_bad_data_are_permanent(splunk: FakeSplunk) -> None:
    splunk.script(Reply(403, {"text": "Token disabled", "code": 1}))
    assert deliver(splunk).retryable is False
    outcome = deliver(splunk, config={"index": "forbidden"})
    assert (outcome.response_code, outcome.retryable) == (400, False)
    assert "Incorrect index (code 7)" in (outcome.error or "")


def test_server_busy_is_retried(splunk: FakeSplunk) -> None:
    splunk.busy = True
    outcome = deliver(splunk)
    assert (outcome.response_code, outcome.retryable) == (503, True)
    assert "Server is busy (code 9)" in (outcome.error or "")
    splunk.busy = False
    assert deliver(splunk).success


def test_a_200_without_hecs_code_0_is_a_failure(splunk: FakeSplunk) -> None:
    splunk.script(Reply(200, "<html>Splunk login</html>"))
    assert deliver(splunk).success is False


def test_an_error_quoting_the_token_is_scrubbed(splunk: FakeSplunk) -> None:
    splunk.script(Reply(500, {"text": f"Internal error for token {TOKEN}", "code": 8}))
    outcome = deliver(splunk)
    assert outcome.retryable and TOKEN not in (outcome.error or "") and "[redacted]" in (outcome.error or "")


@pytest.mark.parametrize(
    "given",
    ["https://hec.example:8088", "https://hec.example:8088/", "https://hec.example:8088/services/collector",
     "https://hec.example:8088/services/collector/event"],
)  # fmt: skip
def test_the_event_endpoint_from_the_url_as_given(given: str) -> None:
    assert event_url(given) == "https://hec.example:8088/services/collector/event"


def test_a_self_signed_certificate_needs_the_documented_opt_in(tmp_path: Path) -> None:
    _, cert, key = make_ca_and_server_cert(tmp_path, "hec.internal")
    with TlsReceiver(cert, key) as hec:
        hec.script(Reply(200, {"text": "Success", "code": 0}))
        url = hec.url.replace("http://", "https://")

        verified = Splunk.send(make_delivery(Splunk, {"url": url, "token": TOKEN}), send_context())
        assert (verified.success, verified.error) == (False, "TLS handshake failed")
        assert hec.requests == []  # nothing, not even the token, went to the unverified server

        opted_in = make_delivery(Splunk, {"url": url, "token": TOKEN}, {"skipTlsVerification": True})
        assert Splunk.send(opted_in, send_context()).success
        assert hec.last.headers["authorization"] == f"Splunk {TOKEN}"
        # The unverified connection is not reused by an integration that did not opt in, on the same host.
        again = Splunk.send(make_delivery(Splunk, {"url": url, "token": TOKEN}), send_context())
        assert (again.success, again.error, len(hec.requests)) == (False, "TLS handshake failed", 1)


def test_an_hec_event_that_openapi_json_does_not_describe_fails_the_test() -> None:
    # The fake checks each event's `event` (the webhook body) against openapi.json; this proves the check can fail.
    fake = FakeSplunk(TOKEN)
    fake.__enter__()
    body = {"event": {"type": "finding.new", "timestamp": "2026-04-10T10:45:20Z", "data": {}}}
    answer = http.post(
        fake.url + "/services/collector/event", json_body=body, headers={"Authorization": f"Splunk {TOKEN}"}
    )
    with pytest.raises(AssertionError, match=r"openapi\.json's webhooks do not describe"):
        fake.__exit__(None, None, None)
    assert answer.status == 200, "HEC itself takes it"
    assert fake.contract_violations == [["body $.data: 'event' is a required property"]]
