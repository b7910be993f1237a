"""Which integrations an event reaches, and as which type: every combination that matters."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.catalog import EVENT_TYPES, SEVERITIES, EventType, Severity
from integrations.delivery.matching import delivery_type, meets_minimum
from integrations.events import Event


def event(kind: str, severity: str | None = None) -> Event:
    data: dict[str, Any] = {"scan": {"id": "scan_1", "target": "https://app.example.com"}}
    if severity:
        data["finding"] = {"id": "f_1", "title": "SQL injection", "severity": severity}
    return Event.model_validate(
        {"id": "evt_1", "type": kind, "accountId": "acct_1", "occurredAt": "2026-04-10T10:45:20Z", "data": data}
    )


@pytest.mark.parametrize("kind", [k for k in EVENT_TYPES if not k.startswith("finding.")])
def test_non_finding_events_match_their_own_subscription_only(kind: EventType) -> None:
    assert delivery_type(event(kind), [kind], None) == kind
    assert delivery_type(event(kind), [kind], "critical") == kind, "minimumSeverity filters findings only"
    others: list[EventType] = [k for k in EVENT_TYPES if k != kind]
    assert delivery_type(event(kind), others, None) is None


@pytest.mark.parametrize(
    ("kind", "severity", "subscribed", "expected"),
    [
        ("finding.new", "critical", ["finding.new"], "finding.new"),
        ("finding.new", "critical", ["finding.critical"], "finding.critical"),
        ("finding.new", "critical", ["finding.new", "finding.critical"], "finding.critical"),
        ("finding.new", "critical", ["finding.high"], None),
        ("finding.new", "high", ["finding.high", "finding.new"], "finding.high"),
        ("finding.new", "high", ["finding.critical"], None),
        ("finding.new", "medium", ["finding.critical", "finding.high"], None),
        ("finding.new", "medium", ["finding.new"], "finding.new"),
        ("finding.critical", "critical", ["finding.new"], None),
        ("finding.critical", "critical", ["finding.critical"], "finding.critical"),
        ("finding.high", "high", ["finding.high", "finding.new"], "finding.high"),
    ],
)
def test_finding_events_are_labelled_with_the_most_specific_subscription(
    kind: EventType, severity: Severity, subscribed: list[EventType], expected: str | None
) -> None:
    assert delivery_type(event(kind, severity), subscribed, None) == expected


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("minimum", [*SEVERITIES, None])
def test_minimum_severity_keeps_findings_at_or_above_it(severity: Severity, minimum: Severity | None) -> None:
    order = list(SEVERITIES)  # critical first
    expected = minimum is None or order.index(severity) <= order.index(minimum)
    assert meets_minimum(severity, minimum) is expected
    label = delivery_type(event("finding.new", severity), ["finding.new"], minimum)
    assert (label == "finding.new") is expected


def test_a_finding_without_a_severity_reaches_only_integrations_without_a_minimum() -> None:
    # Accepted (it can be routed), but nothing says it passes a minimum severity.
    assert delivery_type(event("finding.new"), ["finding.new"], None) == "finding.new"
    assert delivery_type(event("finding.new"), ["finding.new"], "info") is None
    # finding.critical and finding.high say their severity themselves.
    assert delivery_type(event("finding.critical"), ["finding.critical"], "high") == "finding.critical"
    assert delivery_type(event("finding.high"), ["finding.high"], "critical") is None
