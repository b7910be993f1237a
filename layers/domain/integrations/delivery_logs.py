"""The delivery log: one entry per attempt, kept 30 days, read newest first at a cost that does not grow with history.

An integration's partition of the table (key ``integrationId``, ``id``; TTL ``expiresAt`` on every item) holds:

- ``<log id>`` — the entry. Its id is a UUIDv7 whose time is the moment it was recorded and whose counter bits
  (RFC 9562 §6.2, method 1) hold its sequence number, so ids sort in recording order; it expires 30 days after
  that moment (to the second). It keeps a snapshot of the head's counters taken when it was recorded.
- ``#head`` — per *view* (all entries, ``status=…``, ``event=…``, ``status=…&event=…``) how many entries were
  ever recorded in it, and ``t``, the latest recording time (ms), which never goes back.
- ``#<view>#<position>`` — a copy of the entry's shown fields under its position (1, 2, …) in each of its views.

And, in a partition of its own per (account, event), ``#event`` — the event, stored once however many integrations
it fans out to (fan-out writes it; entries keep its id), so that any of its deliveries can be redelivered.

Writing an entry: one UpdateItem adds 1 to its four views' counters and returns the head (DynamoDB applies
concurrent ADDs one after the other, so two writers never get the same position), then one BatchWriteItem
writes the entry and its copies (unprocessed items are sent again). Reading a page: GetItem
``#head`` (the newest position of the view), Query the first live entry (``id >= `` the id of the 30-day cutoff,
Limit 1: its snapshot tells how many entries of each view come before it, all expired), and one Query of the
page's positions: limit + 2 items, however long the history.
Sort keys starting with ``#`` sort before every UUID, so they never mix with entries.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from integrations import aws, clock, settings, stored_events
from integrations.delivery import TEST_EVENT_TYPE, Outcome
from integrations.errors import FieldError, ValidationFailed
from integrations.events import Event
from integrations.models import DeliveryLogEntry, DeliveryLogsResponse, Pagination

RETENTION = timedelta(days=30)
RETENTION_SECONDS = int(RETENTION.total_seconds())

ALL = "all"
HEAD = "#head"
_POSITION_DIGITS = 15
_COUNTER_BITS = 42  # 12 bits of rand_a and the top 30 of rand_b; the low 32 bits of rand_b stay random
_HEAD_FIELDS = frozenset({"integrationId", "id", "t", "expiresAt"})
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,1024}")


def view_key(status: str | None = None, event: str | None = None) -> str:
    """The name of a filtered view of the log (``all`` without filters); also its counter's name."""
    parts = ([f"status={status}"] if status else []) + ([f"event={event}"] if event else [])
    return "&".join(parts) or ALL


def views_of(status: str, event: str) -> list[str]:
    """The four views an entry belongs to."""
    return [ALL, view_key(status=status), view_key(event=event), view_key(status, event)]


def position_key(view: str, position: int) -> str:
    return f"#{view}#{position:0{_POSITION_DIGITS}d}"


def log_id(recorded_ms: int, sequence: int) -> str:
    """A UUIDv7 for ``recorded_ms`` whose counter bits are ``sequence``: ids sort by (time, sequence)."""
    counter = sequence & ((1 << _COUNTER_BITS) - 1)
    value = (
        (recorded_ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (counter >> 30) << 64
        | 0b10 << 62
        | (counter & ((1 << 30) - 1)) << 32
        | secrets.randbits(32)
    )
    return str(uuid.UUID(int=value))


def first_id_at(ms: int) -> str:
    """The smallest UUIDv7 of millisecond ``ms``: every entry recorded at or after it sorts at or after it."""
    return str(uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | 0b10 << 62))


def live_from_ms(now: int) -> int:
    """Entries recorded at or after this millisecond are live at ``now`` (s): expiresAt = recorded (s) + 30 days."""
    return (now - RETENTION_SECONDS + 1) * 1000


def _entry(item: dict[str, Any]) -> DeliveryLogEntry:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return DeliveryLogEntry(
        id=item["logId"]["S"],
        event=item["event"]["S"],
        status=item["status"]["S"],
        responseCode=number("responseCode"),
        responseTime=number("responseTime") or 0,
        error=text("error"),
        deliveredAt=item["deliveredAt"]["S"],
    )


@dataclass(frozen=True)
class Attempt:
    """What one entry records (its error text is already scrubbed of credentials)."""

    account_id: str
    integration_id: str
    delivery_id: str
    event_type: str
    outcome: Outcome
    attempt: int
    delivered_at: datetime

    @property
    def status(self) -> str:
        return "success" if self.outcome.success else "failed"


def entry_items(attempt: Attempt, head: dict[str, int], recorded_ms: int) -> list[dict[str, Any]]:
    """The entry and its per-view copies, given the head's counters right after its allocation (``head``)."""
    views = views_of(attempt.status, attempt.event_type)
    entry_id = log_id(recorded_ms, head[ALL])
    shown: dict[str, Any] = {
        "integrationId": {"S": attempt.integration_id},
        "logId": {"S": entry_id},
        "event": {"S": attempt.event_type},
        "status": {"S": attempt.status},
        "responseTime": {"N": str(attempt.outcome.response_time_ms)},
        "deliveredAt": {"S": clock.iso(attempt.delivered_at)},
        "expiresAt": {"N": str(recorded_ms // 1000 + RETENTION_SECONDS)},
    }
    if attempt.outcome.response_code is not None:
        shown["responseCode"] = {"N": str(attempt.outcome.response_code)}
    if attempt.outcome.error:
        shown["error"] = {"S": attempt.outcome.error}
    entry = {
        **shown,
        "id": {"S": entry_id},
        "accountId": {"S": attempt.account_id},
        "deliveryId": {"S": attempt.delivery_id},
        "attempt": {"N": str(attempt.attempt)},
        "counts": {"M": {name: {"N": str(count)} for name, count in head.items()}},
    }
    return [entry, *({**shown, "id": {"S": position_key(view, head[view])}} for view in views)]


@dataclass(frozen=True)
class StoredEntry:
    """An entry as redelivery reads it."""

    id: str
    account_id: str
    delivery_id: str
    event_type: str
    event_id: str | None  # its event's id (integrations.stored_events)


@dataclass(frozen=True)
class LogPage:
    entries: list[DeliveryLogEntry]
    total: int
    newest: int  # the newest position of the view (0 when empty)
    next_position: int | None  # where the next page starts, None on the last page


class DeliveryLogStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def record(
        self,
        *,
        account_id: str,
        integration_id: str,
        delivery_id: str,
        event_type: str,
        outcome: Outcome,
        attempt: int,
        delivered_at: datetime,
        event: Event | None = None,
        store_event: bool = False,
        recorded_at: datetime | None = None,
    ) -> DeliveryLogEntry:
        """Write the entry for one attempt, which refers to ``event``; with ``store_event`` on a first attempt (not a
        test), the event itself: fan-out stores it, but a redelivery's first attempt stores it afresh (and so does
        a job queued by other means).

        ``recorded_at`` (default: now) lets tests write history; a time before the latest entry's becomes that one.
        """
        what = Attempt(account_id, integration_id, delivery_id, event_type, outcome, attempt, delivered_at)
        now_ms = int((recorded_at.timestamp() if recorded_at else time.time()) * 1000)
        head, recorded_ms = self._allocate(integration_id, views_of(what.status, event_type), now_ms)
        items = entry_items(what, head, recorded_ms)
        if event is not None:
            items[0]["eventId"] = {"S": event.id}
            if store_event and event_type != TEST_EVENT_TYPE and attempt == 1:
                items.append(stored_events.item(account_id, event, recorded_ms // 1000))
        self._write(items)
        return _entry(items[0])

    def _write(self, items: list[dict[str, Any]]) -> None:
        """One BatchWriteItem (a TransactWriteItems would cost twice the write units); what DynamoDB leaves
        unprocessed is sent again, so an entry ends in every view or, after repeated failures, raises (see README)."""
        dynamodb = aws.client("dynamodb")
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
        for delay in (0.05, 0.2, 0.5, 1.0, None):
            pending = dynamodb.batch_write_item(RequestItems={self.table_name: pending})["UnprocessedItems"].get(
                self.table_name, []
            )
            if not pending:
                return
            if delay is None:
                raise RuntimeError(f"{len(pending)} delivery log items were not written")
            time.sleep(delay)

    def _allocate(self, integration_id: str, views: list[str], now_ms: int) -> tuple[dict[str, int], int]:
        """Add 1 to each view's counter; the head's counters after that, and the entry's recording time (ms).

        The recording time is the head's ``t``, which only moves forward: a writer whose clock is behind the last
        one takes the last one's time, so recording times (and expiry) never decrease along the sequence.
        """
        dynamodb = aws.client("dynamodb")
        names = {f"#v{i}": view for i, view in enumerate(views)}
        adds = "ADD " + ", ".join(f"{name} :one" for name in names)
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"integrationId": {"S": integration_id}, "id": {"S": HEAD}},
            "ReturnValues": "ALL_NEW",
        }
        try:
            result = dynamodb.update_item(
                **request,
                UpdateExpression=f"{adds} SET #t = :t, expiresAt = :expires",
                ConditionExpression="attribute_not_exists(#t) OR #t <= :t",
                ExpressionAttributeNames={**names, "#t": "t"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":t": {"N": str(now_ms)},
                    ":expires": {"N": str(now_ms // 1000 + RETENTION_SECONDS)},
                },
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            result = dynamodb.update_item(
                **request, UpdateExpression=adds, ExpressionAttributeNames=names,
                ExpressionAttributeValues={":one": {"N": "1"}},
            )  # fmt: skip
        attributes = result["Attributes"]
        counts = {name: int(value["N"]) for name, value in attributes.items() if name not in _HEAD_FIELDS}
        return counts, int(attributes["t"]["N"])

    def page(
        self,
        integration_id: str,
        view: str,
        page: int,
        limit: int,
        *,
        position: int | None = None,
    ) -> LogPage:
        """One page of ``view``, newest first, from page number ``page`` or from ``position`` (a cursor's).

        Totals count live entries only (expiresAt > now), whether or not DynamoDB has deleted the expired ones.
        """
        dynamodb = aws.client("dynamodb")
        now = int(time.time())
        partition = {":integration": {"S": integration_id}}
        head = dynamodb.get_item(
            TableName=self.table_name,
            Key={"integrationId": {"S": integration_id}, "id": {"S": HEAD}},
            ConsistentRead=True,
        ).get("Item", {})
        newest = int(head[view]["N"]) if view in head else 0
        first_live = self._first_live(integration_id, now)
        if first_live is None:
            return LogPage([], 0, newest, None)
        counts = first_live["counts"]["M"]
        own = first_live["status"]["S"], first_live["event"]["S"]
        expired = (int(counts[view]["N"]) if view in counts else 0) - (view in views_of(*own))
        if position is not None and position > newest:
            raise ValidationFailed("Invalid cursor", [FieldError("cursor", "not a position of this log")])
        high = position if position is not None else newest - (page - 1) * limit
        low = max(expired + 1, high - limit + 1)
        entries: list[DeliveryLogEntry] = []
        if high >= low:
            items = dynamodb.query(
                TableName=self.table_name,
                KeyConditionExpression="integrationId = :integration AND id BETWEEN :low AND :high",
                # Only a copy left from a counter item that expired and was deleted can be expired here (see README).
                FilterExpression="expiresAt > :now",
                ExpressionAttributeValues={
                    **partition,
                    ":low": {"S": position_key(view, low)},
                    ":high": {"S": position_key(view, high)},
                    ":now": {"N": str(now)},
                },
                ScanIndexForward=False,
                ConsistentRead=True,
            )["Items"]
            entries = [_entry(item) for item in items]
        has_more = high >= low and low > expired + 1
        return LogPage(entries, newest - expired, newest, low - 1 if has_more else None)

    def _first_live(self, integration_id: str, now: int) -> dict[str, Any] | None:
        """The oldest live entry (one item read), or None."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "integrationId = :integration AND id >= :live",
            "ExpressionAttributeValues": {
                ":integration": {"S": integration_id},
                ":live": {"S": first_id_at(live_from_ms(now))},
            },
            "ConsistentRead": True,
        }
        dynamodb = aws.client("dynamodb")
        items = dynamodb.query(**query, Limit=1)["Items"]
        if not items or "counts" in items[0]:
            return items[0] if items else None
        # Entries written before the counters existed (gone 30 days after the upgrade) are not shown: skip them.
        pages = dynamodb.get_paginator("query").paginate(**query, FilterExpression="attribute_exists(counts)")
        return next((item for page in pages for item in page["Items"]), None)

    def get(self, integration_id: str, entry_id: str) -> StoredEntry | None:
        """A live entry by its id, or None (unknown or expired)."""
        item = self._get(integration_id, entry_id)
        if item is None or "deliveryId" not in item:
            return None
        event_id = item["eventId"]["S"] if "eventId" in item else None
        return StoredEntry(entry_id, item["accountId"]["S"], item["deliveryId"]["S"], item["event"]["S"], event_id)

    def payload(self, entry: StoredEntry) -> Event | None:
        """The event a logged attempt sent (``entry`` from ``get``), while one of its deliveries' entries is live."""
        if entry.event_id is None:
            return None
        item = self._get(stored_events.partition(entry.account_id, entry.event_id), stored_events.EVENT_KEY)
        event = None if item is None else Event.model_validate_json(item["body"]["S"])
        return event if event is not None and event.id == entry.event_id else None

    def _get(self, integration_id: str, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            aws.client("dynamodb")
            .get_item(TableName=self.table_name, Key={"integrationId": {"S": integration_id}, "id": {"S": key}})
            .get("Item")
        )
        # DynamoDB deletes expired items days late (moto never does): they are gone for us at once.
        if item is None or int(item["expiresAt"]["N"]) <= time.time():
            return None
        return item


# ---------------------------------------------------------------- cursors


def encode_cursor(integration_id: str, status: str | None, event: str | None, position: int) -> str:
    """An opaque cursor, bound to the integration and the filters it was made for."""
    raw = json.dumps({"i": integration_id, "s": status, "e": event, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, integration_id: str, status: str | None, event: str | None) -> int:
    """The position a cursor points at; 400 when it is malformed or was made for another listing."""
    invalid = ValidationFailed("Invalid cursor", [FieldError("cursor", "not a cursor this API returned")])
    if not _CURSOR.fullmatch(cursor):
        raise invalid
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, RecursionError):
        raise invalid from None
    if not isinstance(raw, dict) or set(raw) != {"i", "s", "e", "p"}:
        raise invalid
    position = raw["p"]
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise invalid
    if (raw["i"], raw["s"], raw["e"]) != (integration_id, status, event):
        raise ValidationFailed(
            "Invalid cursor",
            [FieldError("cursor", "belongs to another listing; repeat the integration and filters it was made for")],
        )
    return position


def logs_page(
    store: DeliveryLogStore,
    integration_id: str,
    page: int,
    limit: int,
    *,
    status: str | None = None,
    event: str | None = None,
    cursor: str | None = None,
) -> DeliveryLogsResponse:
    """The logs route's answer: one page, exact totals, and the cursor of the next page (None on the last)."""
    view = view_key(status, event)
    position = None if cursor is None else decode_cursor(cursor, integration_id, status, event)
    found = store.page(integration_id, view, page, limit, position=position)
    if position is not None:  # the page this position falls on now
        page = (found.newest - position) // limit + 1
    pagination = Pagination(page=page, limit=limit, total=found.total, totalPages=math.ceil(found.total / limit))
    next_cursor = (
        None if found.next_position is None else encode_cursor(integration_id, status, event, found.next_position)
    )
    return DeliveryLogsResponse(data=found.entries, pagination=pagination, nextCursor=next_cursor)


@cache
def from_environment() -> DeliveryLogStore:
    return DeliveryLogStore(settings.load(settings.DispatchSettings).delivery_logs_table)
