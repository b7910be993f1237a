"""One ticket per (integration, finding) for the providers that open tickets (Jira issues, GitHub issues).

The ticket is remembered under a provider-chosen record key for a year; a finding that has one is reported as a
skipped success with no request (search APIs are eventually consistent and cannot tell whether a ticket was
just created). Two deliveries of one finding may run at once (the producer sends finding.new and
finding.critical): before creating, a delivery reserves ``{record key}:creating`` with a conditional write, and
only the winner creates; a loser reports a skipped success. A failed creation releases the reservation so that
its retry (or a later event) can create. A retry of the winning delivery itself (same delivery id) may take the
reservation back, since its earlier attempt died before it could finish; the reservation also expires by itself
after RESERVATION_TTL, far longer than one attempt may run.

Left open: when the provider creates the ticket but the attempt dies before remembering it, the retry creates a
second one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integrations.providers import messages
from integrations.providers.delivery import Delivery, Outcome, ProviderState

TICKET_TTL = 365 * 24 * 3600
RESERVATION_TTL = 15 * 60  # far longer than the dispatcher's 60 s timeout

type Create = Callable[[], tuple[Outcome, dict[str, Any] | None]]


def record_key(prefix: str, delivery: Delivery) -> str | None:
    """Where the finding's ticket is remembered (``{prefix}:{integration}:{finding}``); None without a finding.

    A long finding id is hashed (messages.key_part), so that two long ids sharing a prefix never share a record.
    """
    finding = delivery.event.data.finding
    return None if finding is None else f"{prefix}:{delivery.integration_id}:{messages.key_part(finding.id)}"


def reservation_key(record: str) -> str:
    """Where the delivery creating the finding's ticket holds its reservation."""
    return f"{record}:creating"


def create_once(delivery: Delivery, state: ProviderState, record: str | None, create: Create) -> Outcome:
    """Run ``create`` unless the finding has its ticket or another delivery is creating it; remember the ticket."""
    if record is None:
        return create()[0]
    if state.get(record) is not None or not _reserve(delivery, state, record):
        return Outcome(True, None, 0, skipped=True)
    outcome, ticket = create()
    if ticket is None:
        state.delete(reservation_key(record))
    else:
        state.put_if_absent(record, ticket, TICKET_TTL)
    return outcome


def _reserve(delivery: Delivery, state: ProviderState, record: str) -> bool:
    """Whether this delivery may create the ticket: it took the reservation, or holds it from an earlier attempt."""
    key = reservation_key(record)
    if state.put_if_absent(key, {"status": "creating", "deliveryId": delivery.delivery_id}, RESERVATION_TTL):
        return True
    held = state.get(key)
    return held is not None and bool(held.get("deliveryId") == delivery.delivery_id)
