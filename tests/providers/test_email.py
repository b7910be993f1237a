"""Email through moto's SES v2 and through a real SMTP server (aiosmtpd); digests kept in moto's DynamoDB."""

from __future__ import annotations

import copy
import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from integrations.platform import aws
from integrations.providers import email
from integrations.providers.base import SendContext
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.email import SMTP_UNREACHABLE, Email, alert_message, digest_key
from integrations.storage.provider_state import DynamoProviderState
from tests.providers.fake_smtp import FakeSmtp, parts
from tests.providers.fakes import make_delivery, scanner_event, send_context
from tests.providers.mocked_aws import mocked_aws, sent_emails

SENDER = "alerts@apviso.test"
RECIPIENTS = ["secops@example.com", "oncall@example.org"]
INTEGRATION_ID = "0190f3a0-0000-7000-8000-00000000e001"
SCAN_ID = "scan_01J9ZQ5K2M"  # the sample events' scan


@pytest.fixture
def state() -> Iterator[DynamoProviderState]:
    with mocked_aws(verified_sender=SENDER) as provider_state:
        yield provider_state


@pytest.fixture
def ses(state: DynamoProviderState) -> SendContext:
    return SendContext(send_context(EMAIL_SENDER=SENDER).settings, state)


@pytest.fixture
def ses_requests(state: DynamoProviderState) -> list[dict[str, Any]]:
    """The parameters of every SendEmail call (moto keeps only the HTML body of a message)."""
    captured: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        captured.append(copy.deepcopy(params))

    aws.client("sesv2").meta.events.register("provide-client-params.sesv2.SendEmail", capture)
    return captured


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def smtp(state: DynamoProviderState, smtp_server: FakeSmtp) -> SendContext:
    return SendContext(send_context(EMAIL_SENDER=SENDER, EMAIL_TRANSPORT=smtp_server.transport).settings, state)


def delivery(
    name: str = "finding_critical", *, digest: bool = False, delivery_id: str = "d-1", **finding: Any
) -> Delivery:
    """A delivery of a sample event to one fixed email integration."""
    made = make_delivery(Email, {"recipients": RECIPIENTS}, {"digestMode": digest}, scanner_event(name, **finding))
    return dataclasses.replace(made, delivery_id=delivery_id, integration_id=INTEGRATION_ID)


def assert_clean(outcome: Outcome) -> None:
    """No address in the error a delivery log will show."""
    assert outcome.error and "@" not in outcome.error
    for address in RECIPIENTS:
        assert address.split("@")[0] not in outcome.error


EXPECTED_TEXT = """\
Critical finding on https://app.example.com: SQL injection in /login

Severity: Critical
Target: https://app.example.com
Scan: scan_01J9ZQ5K2M
Finding: fnd_3K9
Event: finding.critical
Occurred: 2026-04-10T10:45:20Z

View in Apviso: https://apviso.com/findings/fnd_3K9

-- 
You receive this email because the Apviso integration “Security alerts” sends these notifications to this address.
"""  # noqa: W291 - "-- " is the signature delimiter


def test_ses_sends_one_message_to_every_recipient(ses: SendContext, ses_requests: list[dict[str, Any]]) -> None:
    outcome = Email.send(delivery(), ses)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    [request] = ses_requests
    assert request["FromEmailAddress"] == SENDER
    assert request["Destination"] == {"ToAddresses": RECIPIENTS}
    content = request["Content"]["Simple"]
    assert content["Subject"] == {
        "Data": "Critical finding on https://app.example.com: SQL injection in /login",
        "Charset": "UTF-8",
    }
    assert content["Body"]["Text"] == {"Data": EXPECTED_TEXT, "Charset": "UTF-8"}
    [sent] = sent_emails()
    assert (sent.source, sent.destinations, sent.subject) == (
        SENDER,
        {"ToAddresses": RECIPIENTS},
        content["Subject"]["Data"],
    )
    assert sent.body == content["Body"]["Html"]["Data"]
    assert '<th style="text-align:left;padding:4px 16px 4px 0;vertical-align:top">Severity</th>' in sent.body
    assert ">Critical finding on https://app.example.com: SQL injection in /login</h2>" in sent.body
    assert '<a href="https://apviso.com/findings/fnd_3K9" style="display:inline-block' in sent.body


def test_html_escapes_what_the_scanned_site_controls(ses: SendContext) -> None:
    title = '<img src=x onerror="alert(1)"> & </td></table>'
    outcome = Email.send(delivery(title=title, url="javascript:alert(document.cookie)"), ses)

    assert outcome.success
    html = sent_emails()[0].body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;/td&gt;&lt;/table&gt;" in html
    assert "<img" not in html and "javascript:" not in html
    assert html.count("</table>") == 1


def test_unverified_sender_is_a_permanent_failure(state: DynamoProviderState) -> None:
    context = SendContext(send_context(EMAIL_SENDER="not-verified@apviso.test").settings, state)
    outcome = Email.send(delivery(), context)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 400, False)
    assert outcome.error == "SES refused the message: MessageRejected (Email address not verified [address])"
    assert sent_emails() == []


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("TooManyRequestsException", 429, True),
        ("LimitExceededException", 400, True),
        ("Throttling", 400, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("MessageRejected", 400, False),
        ("MailFromDomainNotVerifiedException", 400, False),
        ("AccountSuspendedException", 400, False),
        ("BadRequestException", 400, False),
        ("SendingPausedException", 400, False),
    ],
)
def test_ses_errors_are_retried_only_when_worth_it(ses: SendContext, code: str, status: int, retryable: bool) -> None:
    # SES's sandbox quotes the recipients it refuses; the delivery log must not.
    message = f"Email address is not verified. The following identities failed the check: {', '.join(RECIPIENTS)}"
    with Stubber(aws.client("sesv2")) as stub:
        stub.add_client_error("send_email", service_error_code=code, service_message=message, http_status_code=status)
        outcome = Email.send(delivery(), ses)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, retryable)
    assert (outcome.error or "").startswith(f"SES refused the message: {code} (Email address is not verified.")
    assert_clean(outcome)


def test_smtp_sends_text_and_html_alternatives(smtp: SendContext, smtp_server: FakeSmtp) -> None:
    sent = delivery()
    outcome = Email.send(sent, smtp)

    assert outcome == Outcome(True, 250, outcome.response_time_ms)
    [received] = smtp_server.received
    assert (received.mail_from, received.rcpt_tos) == (SENDER, RECIPIENTS)
    message = received.message
    assert message["Subject"] == "Critical finding on https://app.example.com: SQL injection in /login"
    assert (message["From"], message["To"]) == (SENDER, ", ".join(RECIPIENTS))
    assert message["Message-ID"].endswith("@apviso.test>") and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert parts(message) == {"text/plain": EXPECTED_TEXT, "text/html": alert_message(sent).html + "\n"}


@pytest.mark.parametrize(
    ("stage", "reply", "retryable"),
    [
        ("recipients", "550 5.1.1 <secops@example.com>: Recipient address rejected: User unknown", False),
        ("recipients", "450 4.2.0 <secops@example.com>: Recipient address rejected: Greylisted", True),
        ("data", "451 4.3.0 Temporary lookup failure for oncall@example.org", True),
        ("data", "554 5.7.1 Message rejected for oncall@example.org", False),
    ],
)
def test_smtp_replies_4xx_are_retried_5xx_are_not(
    smtp: SendContext, smtp_server: FakeSmtp, stage: str, reply: str, retryable: bool
) -> None:
    if stage == "recipients":
        smtp_server.refuse_recipients = reply
    else:
        smtp_server.refuse_data = reply
    outcome = Email.send(delivery(), smtp)

    code = int(reply[:3])
    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, code, retryable)
    assert (outcome.error or "").startswith(f"SMTP server answered {code}")
    assert_clean(outcome)
    assert smtp_server.received == []


def test_unreachable_smtp_server_is_retried(state: DynamoProviderState) -> None:
    with FakeSmtp() as server:
        context = SendContext(send_context(EMAIL_SENDER=SENDER, EMAIL_TRANSPORT=server.transport).settings, state)
    outcome = Email.send(delivery(), context)  # the server has stopped listening
    assert outcome == Outcome(False, None, outcome.response_time_ms, SMTP_UNREACHABLE, retryable=True)


def test_silent_smtp_server_times_out_and_is_retried(
    state: DynamoProviderState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email, "SMTP_TIMEOUT", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections (backlog), never greets
        transport = f"smtp://127.0.0.1:{silent.getsockname()[1]}"
        context = SendContext(send_context(EMAIL_SENDER=SENDER, EMAIL_TRANSPORT=transport).settings, state)
        outcome = Email.send(delivery(), context)
    assert outcome == Outcome(False, None, outcome.response_time_ms, SMTP_UNREACHABLE, retryable=True)
    assert 200 <= outcome.response_time_ms < 2000


FINDINGS = [
    {"name": "finding_high", "id": "fnd_A", "title": "Open redirect in /next", "severity": "high"},
    {"name": "finding_critical", "id": "fnd_B", "title": "SQL injection in /login", "severity": "critical"},
    {"name": "finding_high", "id": "fnd_C", "title": "Stored XSS in /comments", "severity": "high"},
]


def gather(context: SendContext, findings: list[dict[str, Any]] = FINDINGS) -> list[Outcome]:
    """Deliver finding events in digest mode, one delivery each."""
    return [Email.send(delivery(digest=True, delivery_id=f"d-{f['id']}", **f), context) for f in findings]


def test_digest_gathers_the_scans_findings_into_one_message(
    ses: SendContext, ses_requests: list[dict[str, Any]], state: DynamoProviderState
) -> None:
    assert gather(ses) == [Outcome(True, None, 0, skipped=True)] * 3
    assert sent_emails() == []

    outcome = Email.send(delivery("scan_completed", digest=True, delivery_id="d-end"), ses)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    [sent] = sent_emails()
    assert sent.subject == "Scan completed on https://app.example.com (3 alerts)"
    text = ses_requests[0]["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert "Findings: 1 critical, 2 high, 4 medium, 3 low, 7 info\n" in text
    assert (
        "Alerts (3):\n"
        "- [Critical] SQL injection in /login — https://apviso.com/findings/fnd_3K9\n"
        "- [High] Open redirect in /next — https://apviso.com/findings/fnd_5M1\n"
        "- [High] Stored XSS in /comments — https://apviso.com/findings/fnd_5M1\n"
    ) in text
    for finding in FINDINGS:
        assert finding["title"] in sent.body
    assert state.pop_all(digest_key(INTEGRATION_ID, SCAN_ID)) == []


def test_digest_of_a_scan_without_alerts_still_summarises_it(
    ses: SendContext, ses_requests: list[dict[str, Any]]
) -> None:
    outcome = Email.send(delivery("scan_failed", digest=True), ses)

    assert outcome.success
    [sent] = sent_emails()
    assert sent.subject == "Scan failed on https://app.example.com (no alerts)"
    text = ses_requests[0]["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert "Reason: Target unreachable: connection timed out\n" in text
    assert "No alerts during this scan." in text and "No alerts during this scan." in sent.body


def test_digest_lists_a_finding_delivered_twice_once(ses: SendContext) -> None:
    gather(ses, [FINDINGS[1], FINDINGS[1]])  # e.g. a redelivered event
    Email.send(delivery("scan_completed", digest=True), ses)
    assert sent_emails()[0].subject.endswith("(1 alert)")


def test_failed_digest_keeps_its_findings_for_the_retry(smtp: SendContext, smtp_server: FakeSmtp) -> None:
    gather(smtp)
    end = delivery("scan_completed", digest=True, delivery_id="d-end")
    smtp_server.refuse_data = "451 4.3.0 Try again later"
    failed = Email.send(end, smtp)
    smtp_server.refuse_data = None
    retried = Email.send(dataclasses.replace(end, attempt=2), smtp)

    assert (failed.success, failed.retryable) == (False, True)
    assert retried == Outcome(True, 250, retried.response_time_ms)
    [received] = smtp_server.received
    assert received.message["Subject"] == "Scan completed on https://app.example.com (3 alerts)"
    for finding in FINDINGS:
        assert finding["title"] in parts(received.message)["text/plain"]


def test_after_the_digest_a_late_finding_is_sent_on_its_own(ses: SendContext) -> None:
    Email.send(delivery("scan_completed", digest=True, delivery_id="d-end"), ses)
    [late] = gather(ses, FINDINGS[:1])

    assert late == Outcome(True, 200, late.response_time_ms)
    assert [m.subject for m in sent_emails()] == [
        "Scan completed on https://app.example.com (no alerts)",
        "High finding on https://app.example.com: Open redirect in /next",
    ]


def test_another_delivery_of_the_scans_end_sends_no_second_digest(ses: SendContext) -> None:
    gather(ses)
    first = Email.send(delivery("scan_completed", digest=True, delivery_id="d-completed"), ses)
    second = Email.send(delivery("scan_failed", digest=True, delivery_id="d-failed"), ses)

    assert (first.success, first.skipped) == (True, False)
    assert second == Outcome(True, None, 0, skipped=True)
    assert len(sent_emails()) == 1


@pytest.mark.parametrize("test", [False, True], ids=["report.ready", "test event"])
def test_digest_mode_sends_other_events_at_once(ses: SendContext, test: bool) -> None:
    sent = delivery("report_ready", digest=True)
    if test:
        sent = make_delivery(Email, {"recipients": RECIPIENTS}, {"digestMode": True}, test=True)
    outcome = Email.send_test(sent, ses) if test else Email.send(sent, ses)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    [message] = sent_emails()
    assert (
        message.subject.startswith("[TEST] Apviso test event") if test else message.subject.startswith("Report ready")
    )
