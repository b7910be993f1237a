"""Email through SES v2, or through an SMTP relay when EMAIL_TRANSPORT is ``smtp://host:port``.

Decisions:
- One message per delivery to all recipients (at most 50, SES's limit per message), all in To: the list is
  one team's alert addresses.
- Subject: the headline on one line, at most 255 characters (cut with an ellipsis; a digest keeps its count).
  The plain-text and HTML bodies say the same; the HTML escapes every value (finding titles come from scanned
  sites), shows the facts as a table and the link as a button, and only an http(s) link becomes a link.
- SES: throttling (TooManyRequestsException, LimitExceededException, Throttling) and SES's 5xx are retried;
  any other refusal (MessageRejected, MailFromDomainNotVerifiedException, AccountSuspendedException,
  BadRequestException, …) is permanent. response_code is SES's HTTP status (200 on success).
- SMTP is meant for a trusted relay or the local stack (no TLS, no login). No connection, a dropped connection
  or a 4xx reply is retried, a 5xx reply is permanent; response_code is the SMTP reply code (250 on success).
  A message that some recipients refused but others accepted counts as delivered.
- Error texts never name an address: SES's sandbox errors and SMTP replies quote recipients, so every
  address-like token is redacted.
- Scan emails also show what the producer's sample events carry beyond the contract: ``scan.findings`` (counts
  by severity) as "Findings" and ``scan.error`` as "Reason".
- Digest mode (config.digestMode): a finding event of a scan is not sent. It is appended to
  ``digest:{integration_id}:{scan_id}`` (kept 7 days) and reported as a skipped success. scan.completed or
  scan.failed takes the scan's findings and sends one message: the scan summary and, under "Alerts", each
  finding once, most severe first, or the summary with "No alerts during this scan." when none came. When that
  send fails in a way worth retrying, the findings are put back so that the retry includes them. Other events
  (report.ready, the test event) and findings that belong to no scan are sent on their own.
- A sent digest is marked ``digest:{integration_id}:{scan_id}:sent`` (7 days). A finding that arrives after it
  (queues do not keep order) is sent on its own instead of waiting for a digest that will never come, and
  another delivery of the scan's end is a skipped success; a retry of the same delivery sends again.
- Left open: an attempt that dies between taking the scan's findings and sending them loses them, and so does
  a finding appended in the instant between the digest's sending and its check for a sent digest.
"""

from __future__ import annotations

import html
import re
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Annotated, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import AfterValidator, Field

from integrations.catalog import SEVERITIES, EventType
from integrations.events import Finding
from integrations.platform import aws
from integrations.providers import messages
from integrations.providers.base import EmailAddress, Provider, ProviderModel, SendContext
from integrations.providers.delivery import Delivery, Outcome, ProviderState

MAX_RECIPIENTS = 50  # SES's limit per message
SMTP_TIMEOUT = 10.0  # seconds for the SMTP connection and each reply
DIGEST_TTL = 7 * 24 * 3600
SCAN_ENDS = frozenset({"scan.completed", "scan.failed"})
SES_THROTTLING = frozenset({"TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException"})
ERROR_LIMIT = 200
# Event text is cut with an ellipsis: the subject (mail clients show far less; RFC 5322 lines end at 998), and
# what a digest keeps per finding (all of a scan's findings share one DynamoDB item of at most 400 KB).
SUBJECT_LIMIT = 255
DIGEST_TITLE_LIMIT = 500
NO_ALERTS = "No alerts during this scan."
SMTP_UNREACHABLE = "The SMTP server could not be reached or stopped answering"
# Anything shaped like an address, so that no recipient reaches a delivery log through a provider's error text.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1 controls, NUL, ESC and DEL among them
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*")
_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def _unique(recipients: list[str]) -> list[str]:
    if len({r.lower() for r in recipients}) != len(recipients):
        raise ValueError("must not repeat an address")
    return recipients


class EmailCredentials(ProviderModel):
    recipients: Annotated[
        list[EmailAddress], Field(min_length=1, max_length=MAX_RECIPIENTS), AfterValidator(_unique)
    ] = Field(description="List of email addresses")


class EmailConfig(ProviderModel):
    digestMode: bool | None = Field(
        default=None, description="Send a single digest email per scan instead of individual alerts"
    )


class Email(Provider):
    id = "email"
    name = "Email"
    description = "Send scan summaries and alerts to email addresses"
    credentials = EmailCredentials
    config = EmailConfig
    supported_events = ("scan.completed", "scan.failed", "finding.critical", "finding.high", "report.ready")

    @classmethod
    def check(cls, config: ProviderModel, events: list[EventType]) -> dict[str, str]:
        """A digest is sent when its scan ends, so digest mode needs a scan-end subscription."""
        if getattr(config, "digestMode", None) and not SCAN_ENDS & set(events):
            return {"config.digestMode": "digest mode needs scan.completed or scan.failed in enabledEvents"}
        return {}

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Send the event's email; in digest mode gather a scan's findings and send them when the scan ends."""
        config: EmailConfig = delivery.config
        scan, finding = delivery.event.data.scan, delivery.event.data.finding
        if config.digestMode and scan is not None:
            key = digest_key(delivery.integration_id, scan.id)
            if delivery.event_type in SCAN_ENDS:
                return _send_digest(delivery, context, key)
            if finding is not None and delivery.event_type.startswith("finding.") and not _sent(context.state, key):
                context.state.append(key, digest_item(finding), DIGEST_TTL)
                return Outcome(True, None, 0, skipped=True)
        return _send(delivery, context, alert_message(delivery))


@dataclass(frozen=True)
class Message:
    """One email in both renderings."""

    subject: str
    text: str
    html: str


def digest_key(integration_id: str, scan_id: str) -> str:
    """Where a scan's findings wait for its digest."""
    return f"digest:{integration_id}:{messages.key_part(scan_id)}"


def sent_marker(key: str) -> str:
    """Present once the digest kept under ``key`` has been sent."""
    return f"{key}:sent"


def digest_item(finding: Finding) -> dict[str, Any]:
    """What the digest needs to list a finding."""
    return {
        "id": messages.key_part(finding.id),
        "title": messages.truncate(finding.title, DIGEST_TITLE_LIMIT) if finding.title else None,
        "severity": finding.severity,
        "url": messages.web_link(finding.url),
    }


def _sent(state: ProviderState, key: str) -> bool:
    """Whether the digest kept under ``key`` went out already (a finding arriving now would wait forever)."""
    return state.get(sent_marker(key)) is not None


def _send_digest(delivery: Delivery, context: SendContext, key: str) -> Outcome:
    """One message for the scan and every finding gathered for it; the findings go back when a retry will follow."""
    if not _claim_digest(delivery, context.state, key):
        return Outcome(True, None, 0, skipped=True)
    findings = context.state.pop_all(key)
    outcome = _send(delivery, context, digest_message(delivery, findings))
    if not outcome.success and outcome.retryable:
        for finding in findings:
            context.state.append(key, finding, DIGEST_TTL)
    return outcome


def _claim_digest(delivery: Delivery, state: ProviderState, key: str) -> bool:
    """Whether this delivery sends the scan's digest: the first scan end to come, or a retry of it."""
    marker = sent_marker(key)
    if state.put_if_absent(marker, {"deliveryId": delivery.delivery_id}, DIGEST_TTL):
        return True
    held = state.get(marker)
    return held is not None and bool(held.get("deliveryId") == delivery.delivery_id)


def alert_message(delivery: Delivery) -> Message:
    """The email for one event."""
    return _render(delivery, messages.headline(delivery), None)


def digest_message(delivery: Delivery, findings: list[dict[str, Any]]) -> Message:
    """The email for a scan's end with the findings gathered during the scan (each once, most severe first)."""
    first_of_each: dict[str, dict[str, Any]] = {}
    for finding in findings:
        first_of_each.setdefault(finding["id"], finding)
    unique = sorted(first_of_each.values(), key=lambda finding: _RANK.get(finding.get("severity") or "", len(_RANK)))
    count = len(unique)
    counted = f"{count} alert{'' if count == 1 else 's'}" if count else "no alerts"
    # The count stays in the subject: the headline is cut to make room for it.
    headline = messages.truncate(_one_line(messages.headline(delivery)), SUBJECT_LIMIT - len(counted) - 3)
    return _render(delivery, f"{headline} ({counted})", unique)


def _render(delivery: Delivery, subject: str, findings: list[dict[str, Any]] | None) -> Message:
    """Subject, text and HTML; ``findings`` is None for an alert and a (possibly empty) list for a digest."""
    subject = messages.truncate(_one_line(subject), SUBJECT_LIMIT)
    facts = _facts(delivery)
    url = messages.link(delivery)
    footer = (
        f"You receive this email because the Apviso integration “{delivery.integration_name}” "
        "sends these notifications to this address."
    )
    return Message(subject, _text(subject, facts, findings, url, footer), _html(subject, facts, findings, url, footer))


def _facts(delivery: Delivery) -> list[tuple[str, str]]:
    """The shared facts, plus what the producer tells about a scan's end: findings by severity, why it failed."""
    scan = delivery.event.data.scan
    extra = (scan.model_extra if scan else None) or {}
    facts = [(label, _one_line(value)) for label, value in messages.facts(delivery)]
    counts = extra.get("findings")
    if isinstance(counts, dict):
        # type(), not isinstance: a bool is an int, and would read "True high".
        counted = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if type(counts.get(s)) is int)
        if counted:
            facts.append(("Findings", counted))
    if isinstance(extra.get("error"), str) and extra["error"]:
        facts.append(("Reason", _one_line(extra["error"])))
    return facts


def _text(
    title: str, facts: list[tuple[str, str]], findings: list[dict[str, Any]] | None, url: str | None, footer: str
) -> str:
    lines = [title, ""] + [f"{label}: {value}" for label, value in facts]
    if findings is not None:
        lines += ["", f"Alerts ({len(findings)}):" if findings else NO_ALERTS]
        lines += [
            f"- [{_severity(finding)}] {_finding_title(finding)}" + (f" — {finding['url']}" if finding["url"] else "")
            for finding in findings
        ]
    if url:
        lines += ["", f"View in Apviso: {url}"]
    return "\n".join([*lines, "", "-- ", footer, ""])


def _html(
    title: str, facts: list[tuple[str, str]], findings: list[dict[str, Any]] | None, url: str | None, footer: str
) -> str:
    cell = 'style="text-align:left;padding:4px 16px 4px 0;vertical-align:top"'
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>',
        '<body style="font-family:Arial,Helvetica,sans-serif;color:#111827">',
        f'<h2 style="margin:0 0 16px">{_escape(title)}</h2>',
        '<table role="presentation" style="border-collapse:collapse">',
        *(f"<tr><th {cell}>{_escape(label)}</th><td {cell}>{_escape(value)}</td></tr>" for label, value in facts),
        "</table>",
    ]
    if findings is not None:
        parts.append(_html_findings(findings, cell))
    if url:
        button = "display:inline-block;padding:10px 18px;background:#4f46e5;color:#ffffff;text-decoration:none"
        parts.append(f'<p style="margin:24px 0"><a href="{_escape(url)}" style="{button}">View in Apviso</a></p>')
    parts.append(f'<p style="color:#6b7280;font-size:12px">{_escape(footer)}</p></body></html>')
    return "\n".join(parts)


def _html_findings(findings: list[dict[str, Any]], cell: str) -> str:
    if not findings:
        return f"<p>{NO_ALERTS}</p>"
    rows = []
    for finding in findings:
        title = _escape(_finding_title(finding))
        link = finding["url"]
        shown = f'<a href="{_escape(link)}">{title}</a>' if link else title
        rows.append(f"<tr><td {cell}>{_escape(_severity(finding))}</td><td {cell}>{shown}</td></tr>")
    header = f"<tr><th {cell}>Severity</th><th {cell}>Finding</th></tr>"
    return f'<h3 style="margin:24px 0 8px">Alerts ({len(findings)})</h3><table>{header}{"".join(rows)}</table>'


def _severity(finding: dict[str, Any]) -> str:
    return str(finding["severity"] or "unknown").capitalize()


def _finding_title(finding: dict[str, Any]) -> str:
    return _one_line(str(finding["title"] or f"Finding {finding['id']}"))


def _one_line(text: str) -> str:
    """``text`` on one line of visible characters: a header (RFC 5322) or a fact must not carry controls."""
    return " ".join(_CONTROLS.sub(" ", text).split())


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _send(delivery: Delivery, context: SendContext, message: Message) -> Outcome:
    credentials: EmailCredentials = delivery.credentials
    sender, transport = context.settings.email_sender, context.settings.email_transport
    if transport == "ses":
        return _send_ses(sender, credentials.recipients, message)
    return _send_smtp(transport, sender, credentials.recipients, message)


def _send_ses(sender: str, recipients: list[str], message: Message) -> Outcome:
    started = time.monotonic()
    try:
        response = aws.client("sesv2").send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": recipients},
            Content={
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": message.text, "Charset": "UTF-8"},
                        "Html": {"Data": message.html, "Charset": "UTF-8"},
                    },
                }
            },
        )
    except ClientError as error:
        return _ses_refusal(error, _elapsed(started))
    except (BotoConnectionError, HTTPClientError):
        return Outcome(False, None, _elapsed(started), "Could not reach SES", retryable=True)
    return Outcome(True, int(response["ResponseMetadata"]["HTTPStatusCode"]), _elapsed(started))


def _ses_refusal(error: ClientError, elapsed_ms: int) -> Outcome:
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    detail = str(error.response.get("Error", {}).get("Message") or "")
    status: int | None = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    retryable = code in SES_THROTTLING or (status or 0) >= 500
    text = f"SES refused the message: {code}" + (f" ({detail})" if detail else "")
    return Outcome(False, status, elapsed_ms, _redact(text), retryable=retryable)


def _send_smtp(transport: str, sender: str, recipients: list[str], message: Message) -> Outcome:
    relay = urlsplit(transport)
    started = time.monotonic()
    try:
        with smtplib.SMTP(relay.hostname or "", relay.port or 25, _domain(sender), timeout=SMTP_TIMEOUT) as smtp:
            smtp.send_message(_mime(sender, recipients, message))
    except smtplib.SMTPRecipientsRefused as error:
        # Retry when any refusal is temporary (4xx); the lowest code tells.
        code = min(code for code, _ in error.recipients.values())
        return _smtp_refusal(code, "every recipient was refused", started)
    except smtplib.SMTPResponseException as error:
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return _smtp_refusal(error.smtp_code, str(reply), started)
    except OSError:  # refused, reset, closed or silent past the timeout (smtplib's own errors are OSErrors too)
        return Outcome(False, None, _elapsed(started), SMTP_UNREACHABLE, retryable=True)
    return Outcome(True, 250, _elapsed(started))


def _smtp_refusal(code: int, reply: str, started: float) -> Outcome:
    text = _redact(f"SMTP server answered {code}: {_one_line(reply)}")
    return Outcome(False, code, _elapsed(started), text, retryable=400 <= code < 500)


def _mime(sender: str, recipients: list[str], message: Message) -> EmailMessage:
    """The multipart/alternative message (text, then HTML) for SMTP."""
    mime = EmailMessage()
    mime["Subject"] = message.subject
    mime["From"] = sender
    mime["To"] = ", ".join(recipients)
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = make_msgid(domain=_domain(sender))
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


def _domain(sender: str) -> str:
    # Naming our own domain spares smtplib a slow reverse DNS look-up of this host.
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _redact(text: str) -> str:
    return _ADDRESS.sub("[address]", text)[:ERROR_LIMIT]


def _elapsed(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
