"""Human wording shared by the providers that write to people (Slack, Jira, PagerDuty, email), and the helpers
that keep an event's free text within a provider's limits.

Events are accepted whatever the length of their strings (integrations.events); each provider declares its own
limits beside its code and cuts with ``truncate``, so that a cut is always visible.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import urlsplit

from integrations.platform import clock
from integrations.providers.delivery import TEST_EVENT_TYPE, Delivery

ELLIPSIS = "…"
HEADLINE_TARGET_LIMIT = 80  # a long target must not push a finding's title out of a cut headline
MAX_KEY_PART = 128  # an id inside a storage or deduplication key; longer ids are hashed (see key_part)
MAX_LINK = 2048  # Discord's and Chat's limit for a link, and more than any real one: a longer link is left out
# RFC 3986's characters (unreserved, reserved, percent): no space, quote, angle bracket or non-ASCII character.
_URI = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":large_blue_circle:",
    "info": ":white_circle:",
}


def headline(delivery: Delivery) -> str:
    """One line that says what happened, e.g. ``Critical finding: SQL injection in /login``."""
    data = delivery.event.data
    target = data.scan.target if data.scan and data.scan.target else None
    on = f" on {truncate(target, HEADLINE_TARGET_LIMIT)}" if target else ""
    kind = delivery.event_type
    prefix = "[TEST] " if delivery.test else ""
    if kind == TEST_EVENT_TYPE:
        return f"{prefix}Apviso test event for {delivery.integration_name}"
    if kind.startswith("finding.") and data.finding:
        severity = (data.finding.severity or "").capitalize()
        title = data.finding.title or f"finding {data.finding.id}"
        return f"{prefix}{severity} finding{on}: {title}".replace("  ", " ")
    wording = {
        "scan.started": f"Scan started{on}",
        "scan.completed": f"Scan completed{on}",
        "scan.failed": f"Scan failed{on}",
        "report.ready": f"Report ready{on}",
        "schedule.triggered": f"Scheduled scan triggered: {data.schedule.name if data.schedule else ''}".rstrip(": "),
        "schedule.skipped": f"Scheduled scan skipped: {data.schedule.name if data.schedule else ''}".rstrip(": "),
    }
    return prefix + wording.get(kind, kind)


def facts(delivery: Delivery) -> list[tuple[str, str]]:
    """Label/value pairs worth showing under the headline (only those the event carries)."""
    data = delivery.event.data
    pairs: list[tuple[str, str | None]] = [
        ("Severity", data.finding.severity.capitalize() if data.finding and data.finding.severity else None),
        ("Target", data.scan.target if data.scan else None),
        ("Scan", data.scan.id if data.scan else None),
        ("Finding", data.finding.id if data.finding else None),
        ("Schedule", data.schedule.name if data.schedule else None),
        ("Event", delivery.event_type),
        ("Occurred", delivery.event.occurredAt),
    ]
    return [(label, value) for label, value in pairs if value]


def occurred(delivery: Delivery) -> str:
    """When the event happened, as RFC 3339 in UTC (``2026-04-10T10:45:20Z``) for providers' timestamp fields.

    Intake keeps any ISO 8601 time with a zone (``+0000``, week dates, a space for the ``T``…), but Discord's
    and PagerDuty's API descriptions declare their timestamps as RFC 3339 ``date-time``: this is the one form
    both parse, whichever the producer used.
    """
    return clock.iso(datetime.fromisoformat(delivery.event.occurredAt))


def link(delivery: Delivery) -> str | None:
    """The most useful link the event gives, as ``web_link`` accepts it: the finding's, else the report's, else the
    scan's."""
    data = delivery.event.data
    for part in (data.finding, data.report, data.scan):
        if part is not None and (url := web_link(part.url)):
            return url
    return None


def web_link(url: str | None) -> str | None:
    """``url`` when every provider can make it a link: an absolute http(s) URL with a host, of URI characters only
    and at most MAX_LINK long. Anything else (``javascript:``, a relative path, a space, an unclosed ``[``) is never
    sent as a link: chat apps refuse a whole message for one bad button URL, and a cut URL leads nowhere."""
    if not url or len(url) > MAX_LINK or not _URI.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def unlinked(text: str) -> str:
    """Event text with Markdown's link syntax broken (a zero-width space), so that a finding title, which comes from
    the scanned site, cannot render a disguised link where Markdown is read (Teams, Discord)."""
    return text.replace("](", "]\u200b(")


def truncate(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters; when cut, an ellipsis ends it so that readers see it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def key_part(value: str) -> str:
    """``value`` as part of a key (a Jira issue record, a digest, a PagerDuty dedup key): itself when short,
    otherwise a hash of it, so that two long ids sharing a prefix never share a key."""
    if len(value) <= MAX_KEY_PART:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
