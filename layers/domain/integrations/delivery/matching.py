"""Which of an account's integrations an event goes to, and under which event type."""

from __future__ import annotations

from integrations.catalog import SEVERITIES, EventType, Severity
from integrations.events import Event

# critical > high > medium > low > info
_RANK = {severity: len(SEVERITIES) - i for i, severity in enumerate(SEVERITIES)}

# A new finding of these severities also answers subscriptions to the specific finding types.
_SPECIFIC: dict[str, EventType] = {"critical": "finding.critical", "high": "finding.high"}


def meets_minimum(severity: Severity | None, minimum: Severity | None) -> bool:
    """Whether a finding's severity passes an integration's ``minimumSeverity`` (no minimum: always)."""
    return minimum is None or (severity is not None and _RANK[severity] >= _RANK[minimum])


def delivery_type(event: Event, subscribed: list[EventType], minimum: Severity | None) -> EventType | None:
    """The type to deliver ``event`` as to an integration subscribed to ``subscribed``, or None.

    At most one type per (event, integration): a ``finding.new`` that is critical or high is labelled
    with the more specific type when the integration subscribes to it.
    """
    if event.type.startswith("finding.") and not meets_minimum(event.severity, minimum):
        return None
    candidates: list[EventType] = [event.type]
    if event.type == "finding.new" and event.severity in _SPECIFIC:
        candidates.insert(0, _SPECIFIC[event.severity])
    return next((candidate for candidate in candidates if candidate in subscribed), None)
