"""Events stored once for redelivery: fan-out writes each event it fans out, whatever its number of deliveries.

An event lives in the delivery logs table, in a partition of its own per (account, event id) under ``#event``:
event ids are the producer's, unique only within an account. Delivery log entries keep the event's id, and
redelivery reads the event back through ``DeliveryLogStore.payload``. (Kept apart from
the delivery log module so that fan-out does not load the API models it needs.)
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from integrations.platform import aws

if TYPE_CHECKING:
    from integrations.events import Event

RETENTION_SECONDS = 30 * 24 * 3600  # a delivery log entry's
# Past the 30 days by the retry schedule (about 28 h; 3 days leaves room for rate-limit deferrals), so the event is
# there as long as its deliveries' last entries. A redelivery's first attempt stores it again, for its own entries.
MARGIN_SECONDS = 3 * 24 * 3600
EVENT_KEY = "#event"


def partition(account_id: str, event_id: str) -> str:
    """The partition that holds an event."""
    return "#event#" + hashlib.sha256(json.dumps([account_id, event_id]).encode()).hexdigest()


def item(account_id: str, event: Event, stored_at: int) -> dict[str, Any]:
    """The event's item, kept as long as the entries of deliveries made from ``stored_at`` (s) on."""
    return {
        "integrationId": {"S": partition(account_id, event.id)},
        "id": {"S": EVENT_KEY},
        "body": {"S": event.model_dump_json()},
        "expiresAt": {"N": str(stored_at + RETENTION_SECONDS + MARGIN_SECONDS)},
    }


def store(table_name: str, account_id: str, event: Event) -> None:
    """Fan-out's one write of an event for all its deliveries (written again as is if the event comes again)."""
    aws.client("dynamodb").put_item(TableName=table_name, Item=item(account_id, event, int(time.time())))
