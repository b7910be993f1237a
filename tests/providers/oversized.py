"""Events whose texts are far past any provider's limits, as producers may send them (intake refuses no long
string: providers cut them visibly). Parsed like intake parses them, so that webhooks see them as sent."""

from __future__ import annotations

from typing import Any

from integrations.catalog import EventType, Severity
from integrations.events import Event

LONG = 20_000


def oversized_event(kind: EventType = "finding.critical", *, char: str = "Ω", severity: Severity = "critical") -> Event:
    """A ``kind`` event whose title, target, URLs and schedule name each hold LONG characters (``char``)."""
    data: dict[str, Any] = {
        "scan": {
            "id": "scan_long",
            "target": "https://app.example.com/" + char * LONG,
            "url": "https://apviso.com/scans/scan_long",
        },
        "report": {"id": "rep_long", "url": "https://apviso.com/reports/" + "r" * LONG},
        "schedule": {"id": "sch_long", "name": char * LONG},
    }
    if kind.startswith("finding."):
        data["finding"] = {
            "id": "fnd_long",
            "title": char * LONG,
            "severity": severity,
            "url": "https://apviso.com/findings/" + "f" * LONG,
        }
    return Event.model_validate(
        {"id": "evt_long", "type": kind, "accountId": "acct_local", "occurredAt": "2026-04-10T10:45:20Z", "data": data}
    )
