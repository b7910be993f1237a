"""Events whose texts are far past any provider's limits, as producers may send them (intake no longer refuses
long strings: providers cut them visibly). Built without validation, so that they do not depend on intake's
own bounds."""

from __future__ import annotations

from integrations.catalog import EventType, Severity
from integrations.events import Event, EventData, Finding, Report, Scan, Schedule

LONG = 20_000


def oversized_event(kind: EventType = "finding.critical", *, char: str = "Ω", severity: Severity = "critical") -> Event:
    """A ``kind`` event whose title, target, URLs and schedule name each hold LONG characters (``char``)."""
    finding = None
    if kind.startswith("finding."):
        finding = Finding.model_construct(
            id="fnd_long", title=char * LONG, severity=severity, url="https://apviso.com/findings/" + "f" * LONG
        )
    data = EventData.model_construct(
        scan=Scan.model_construct(
            id="scan_long", target="https://app.example.com/" + char * LONG, url="https://apviso.com/scans/scan_long"
        ),
        finding=finding,
        report=Report.model_construct(id="rep_long", url="https://apviso.com/reports/" + "r" * LONG),
        schedule=Schedule.model_construct(id="sch_long", name=char * LONG),
    )
    return Event.model_construct(
        id="evt_long", type=kind, accountId="acct_local", occurredAt="2026-04-10T10:45:20Z", data=data
    )
