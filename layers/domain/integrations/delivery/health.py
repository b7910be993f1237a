"""Auto-disable: stop delivering to a receiver that is gone (410) or has failed every attempt for days.

The outcome of attempts is recorded on the integration (``lastDeliveryAt`` / ``lastDeliveryStatus``) with its
``failingSince`` (the first failure since the last success); a failure answered 410 Gone, or arriving when
``failingSince`` is at least the configured number of days old, disables the integration with a reason the API
shows. Fan-out and the dispatcher skip disabled integrations, so deliveries stop at once; PATCH ``enabled: true``
clears it.

That write is made when the status changes, and otherwise at most once a minute (``REFRESH``) per integration:
the attempt has just read the integration (consistently), so it knows whether the item already says what it
would write. A busy integration's ``lastDeliveryAt`` is thus up to a minute old; its status never is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from integrations.catalog import DeliveryStatus
from integrations.platform import clock
from integrations.platform.observability import logger, record_disable
from integrations.providers.delivery import Outcome
from integrations.storage.store import IntegrationRecord, IntegrationStore

DEFAULT_DISABLE_AFTER = timedelta(days=5)
REFRESH = timedelta(minutes=1)
GONE_REASON = "The receiver answered 410 Gone"


def failing_reason(after: timedelta) -> str:
    days = after / timedelta(days=1)
    return f"Every delivery failed for {days:g} day{'' if days == 1 else 's'}"


class IntegrationHealth:
    """Records attempts' outcomes on the integration and disables the ones that cannot be delivered to."""

    def __init__(self, store: IntegrationStore, disable_after: timedelta = DEFAULT_DISABLE_AFTER) -> None:
        self.store = store
        self.disable_after = disable_after

    def record(self, record: IntegrationRecord, outcome: Outcome, at: datetime) -> str | None:
        """Write lastDelivery* and failingSince unless ``record`` (read just before the attempt) says it already;
        disable when needed. Returns the reason when it disabled."""
        success = outcome.success
        status: DeliveryStatus = "success" if success else "failed"
        if _up_to_date(record, status, at):
            failing_since = record.failingSince
        else:
            failing_since = self.store.set_last_delivery(record.accountId, record.id, clock.iso(at), status)
        if success:
            return None
        if outcome.response_code == 410:
            cause, reason = "gone", GONE_REASON
        elif failing_since is not None and datetime.fromisoformat(failing_since) <= at - self.disable_after:
            cause, reason = "failing", failing_reason(self.disable_after)
        else:
            return None
        if not self.store.disable(record.accountId, record.id, reason, clock.iso(at)):
            return None  # already disabled or deleted meanwhile
        logger.warning(
            "Integration disabled",
            extra={
                "account_id": record.accountId,
                "integration_id": record.id,
                "provider": record.provider,
                "cause": cause,
                "reason": reason,
                "failing_since": failing_since,
            },
        )
        record_disable(record.provider, cause)
        return reason


def _up_to_date(record: IntegrationRecord, status: str, at: datetime) -> bool:
    """The integration already shows this status (and its streak) from an attempt less than REFRESH before ``at``."""
    if record.lastDeliveryAt is None or record.lastDeliveryStatus != status:
        return False
    if (record.failingSince is None) != (status == "success"):
        return False  # a streak to start or to end
    last = datetime.fromisoformat(record.lastDeliveryAt)
    return last <= at < last + REFRESH
