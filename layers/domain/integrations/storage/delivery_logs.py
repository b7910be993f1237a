"""The delivery log: one entry per attempt, kept 30 days, read newest first at a cost that does not grow with history.

An integration's partition of the table (key ``integrationId``, ``id``; TTL ``expiresAt`` on every item) holds:

- ``#head`` — per *view* (all entries, ``status=…``, ``event=…``, ``status=…&event=…``) how many entries were
  ever recorded in it (under a short code: ``a``, ``f``, ``e1a2b``…, see ``view_code``), for each filtered view the
  position in the unfiltered view of its newest entry (``l<code>``), and ``t``, the latest recording time (ms),
  which never goes back.
- ``#all#<position>`` — the entry recorded at that position (1, 2, …) among all entries. Its id (``logId``) is a
  UUIDv7 whose time is the moment it was recorded and whose counter bits (RFC 9562 §6.2, method 1) hold that
  position, so ids sort in recording order and name their item; it expires 30 days after that moment (to the
  second). It keeps a snapshot of the head's counters taken when it was recorded, its position in each of its
  views and, for each filtered view, the position (among all) of the view's previous entry: each filtered view is
  a chain through these items, newest first.

And, in a partition of its own per (account, event), ``#event`` — the event, stored once however many integrations
it fans out to (fan-out writes it; entries keep its id), so that any of its deliveries can be redelivered.

Writing an entry: one UpdateItem adds 1 to its four views' counters, points its filtered views at its position
and returns the head as it was (DynamoDB applies concurrent updates one after the other, so two writers never get
the same position), then one BatchWriteItem writes the entry (unprocessed items are sent again): one item per
attempt, where a copy per view made five. Reading a page: GetItem ``#head`` (the newest position of the view),
the first live entry (its snapshot tells how many entries of each view come before it, all expired; see
``_first_live``: one item read where this container last saw the expired entries end, about 2 log2 of the
entries expired since otherwise), then the page: unfiltered, one Query of its positions; filtered, one GetItem per
entry along the view's chain from its newest entry (or from a cursor's). So page 1 of every view, every page of
the unfiltered view and every page reached by cursor reads limit + 2 items however long the history; page *n* of a
filtered view by number reads (n - 1) * limit more (the issue's first allowance). Totals are exact in every view.
An entry is read by its id (redelivery) at the position its id holds, checking the id; recovery walks the items of
the pages it reads (``LogPage.stored``), with no read per entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from integrations.platform import aws, clock, settings
from integrations.platform.errors import FieldError, ValidationFailed
from integrations.providers.delivery import TEST_EVENT_TYPE, Outcome
from integrations.storage import stored_events

if TYPE_CHECKING:
    from integrations.events import Event
    from integrations.models.delivery_logs import DeliveryLogEntry, DeliveryLogsResponse

RETENTION = timedelta(days=30)
RETENTION_SECONDS = int(RETENTION.total_seconds())

ALL = "all"
HEAD = "#head"
_POSITION_DIGITS = 15
_BATCH_GET = 100  # BatchGetItem's limit of keys
_COUNTER_BITS = 42  # 12 bits of rand_a and the top 30 of rand_b; the low 32 bits of rand_b stay random
_HEAD_FIELDS = frozenset({"integrationId", "id", "t", "expiresAt"})
_LAST = "l"  # prefix of a filtered view's pointer to its newest entry, in the head
_PREVIOUS = "p"  # …and to the one before it (what the newest entry points at)
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,1024}")


def view_key(status: str | None = None, event: str | None = None) -> str:
    """The name of a filtered view of the log (``all`` without filters); also its counter's name."""
    parts = ([f"status={status}"] if status else []) + ([f"event={event}"] if event else [])
    return "&".join(parts) or ALL


def views_of(status: str, event: str) -> list[str]:
    """The four views an entry belongs to."""
    return [ALL, view_key(status=status), view_key(event=event), view_key(status, event)]


def view_code(view: str) -> str:
    """A view's short attribute name: ``a`` (all), ``s``/``f`` (a status), ``e`` or the status's letter followed by
    3 hex digits of the event type's SHA-256 (distinct for the known types: tests/unit/test_cost_meter.py). The head
    holds 33 counters and 64 pointers for an integration that logged every kind: short names keep it under 1 KB,
    one write unit, up to about 10 million entries (the event types' names would make it 2 or 3)."""
    if view == ALL:
        return "a"
    filters = dict(part.split("=", 1) for part in view.split("&"))
    status, event = filters.get("status"), filters.get("event")
    head = {"success": "s", "failed": "f", None: "e"}[status]
    return head if event is None else head + hashlib.sha256(event.encode()).hexdigest()[:3]


def position_key(view: str, position: int) -> str:
    return f"#{view}#{position:0{_POSITION_DIGITS}d}"


ENTRIES_PREFIX = f"#{ALL}#"  # every entry's key starts with it


def _all_key(position: int) -> str:
    return position_key(ALL, position)


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


def _entry(item: dict[str, Any]) -> DeliveryLogEntry:
    # The API's models are imported by what shows entries (the logs route), not by what writes them (the dispatcher).
    from integrations.models.delivery_logs import DeliveryLogEntry

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
        attempt=number("attempt"),
    )


class Attempt(NamedTuple):
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


def entry_items(
    attempt: Attempt, head: dict[str, int], previous: dict[str, int], recorded_ms: int
) -> list[dict[str, Any]]:
    """The entry, under its position among all entries, given the head's counters right after its allocation
    (``head``, by view code) and, per filtered view of the entry, the position among all of the view's previous
    entry. One item: its id holds the position, so it is found by id too (``get``)."""
    codes = [view_code(view) for view in views_of(attempt.status, attempt.event_type)]
    position = head["a"]
    entry_id = log_id(recorded_ms, position)
    item: dict[str, Any] = {
        "integrationId": {"S": attempt.integration_id},
        "id": {"S": _all_key(position)},
        "logId": {"S": entry_id},
        "event": {"S": attempt.event_type},
        "status": {"S": attempt.status},
        "responseTime": {"N": str(attempt.outcome.response_time_ms)},
        "deliveredAt": {"S": clock.iso(attempt.delivered_at)},
        "attempt": {"N": str(attempt.attempt)},
        "expiresAt": {"N": str(recorded_ms // 1000 + RETENTION_SECONDS)},
        "accountId": {"S": attempt.account_id},
        "deliveryId": {"S": attempt.delivery_id},
        "counts": {"M": {code: {"N": str(count)} for code, count in head.items()}},
        "pos": {"M": {code: {"N": str(head[code])} for code in codes}},
        "prev": {"M": {code: {"N": str(previous[code])} for code in codes if code in previous}},
    }
    if attempt.outcome.response_code is not None:
        item["responseCode"] = {"N": str(attempt.outcome.response_code)}
    if attempt.outcome.error:
        item["error"] = {"S": attempt.outcome.error}
    return [item]


def position_of(entry_id: str) -> int | None:
    """The position among all entries that ``log_id`` put in an entry's id (its counter bits), or None."""
    try:
        value = uuid.UUID(entry_id).int
    except ValueError:
        return None
    position = ((value >> 64) & 0xFFF) << 30 | (value >> 32) & ((1 << 30) - 1)
    return position or None


class StoredEntry(NamedTuple):
    """An entry as redelivery and recovery read it: the delivery it belongs to and how its attempt went."""

    id: str
    account_id: str
    delivery_id: str
    event_type: str
    event_id: str | None  # its event's id (integrations.storage.stored_events)
    status: str  # success or failed
    delivered_at: str  # when the attempt started (ISO 8601)


def _stored(item: dict[str, Any]) -> StoredEntry:
    return StoredEntry(
        id=item["logId"]["S"],
        account_id=item["accountId"]["S"],
        delivery_id=item["deliveryId"]["S"],
        event_type=item["event"]["S"],
        event_id=item["eventId"]["S"] if "eventId" in item else None,
        status=item["status"]["S"],
        delivered_at=item["deliveredAt"]["S"],
    )


class LogPage(NamedTuple):
    items: list[dict[str, Any]]  # the page's entries as read, newest first
    total: int
    newest: int  # the newest position of the view (0 when empty)
    next_position: int | None  # where the next page starts, None on the last page
    next_anchor: int | None = None  # a filtered view's next page: the position among all of its first entry

    @property
    def entries(self) -> list[DeliveryLogEntry]:
        """The page's entries as the logs route shows them."""
        return [_entry(item) for item in self.items]

    @property
    def stored(self) -> list[StoredEntry]:
        """The page's entries as ``get`` reads them, from the items the page read (recovery walks them)."""
        return [_stored(item) for item in self.items]


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
    ) -> str:
        """Write the entry for one attempt, which refers to ``event``, and return its id; with ``store_event`` on a
        first attempt (not a test), the event itself: fan-out stores it, but a redelivery's first attempt stores it
        afresh (and so does a job queued by other means).

        ``recorded_at`` (default: now) lets tests write history; a time before the latest entry's becomes that one.
        """
        what = Attempt(account_id, integration_id, delivery_id, event_type, outcome, attempt, delivered_at)
        now_ms = int((recorded_at.timestamp() if recorded_at else time.time()) * 1000)
        head, previous, recorded_ms = self._allocate(integration_id, views_of(what.status, event_type), now_ms)
        items = entry_items(what, head, previous, recorded_ms)
        if event is not None:
            items[0]["eventId"] = {"S": event.id}
            if store_event and event_type != TEST_EVENT_TYPE and attempt == 1:
                items.append(stored_events.item(account_id, event, recorded_ms // 1000))
        self._write(items)
        return str(items[0]["logId"]["S"])

    def _write(self, items: list[dict[str, Any]]) -> None:
        """One BatchWriteItem (a TransactWriteItems would cost twice the write units); what DynamoDB leaves
        unprocessed is sent again, so an entry is written or, after repeated failures, raises
        (see docs/delivery-logs.md)."""
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

    def _allocate(
        self, integration_id: str, views: list[str], now_ms: int
    ) -> tuple[dict[str, int], dict[str, int], int]:
        """Add 1 to each view's counter and point the filtered views at the new position among all. Returns the
        head's counters after that, each filtered view's previous newest entry (its position among all), and the
        entry's recording time (ms).

        The recording time is the head's ``t``, which only moves forward: a writer whose clock is behind the last
        one takes the last one's time, so recording times (and expiry) never decrease along the sequence.
        """
        dynamodb = aws.client("dynamodb")
        codes = [view_code(view) for view in views]
        names = {f"#v{i}": code for i, code in enumerate(codes)}
        filtered = [(i, code) for i, code in enumerate(codes) if code != "a"]
        pointers = {f"#l{i}": _LAST + code for i, code in filtered}
        pointers |= {f"#p{i}": _PREVIOUS + code for i, code in filtered}
        # Every operand is read from the item as it was: each view's pointer moves to the new position among all
        # (#v0), and its previous value is kept beside it, for the new entry to point at (0: none).
        update = "ADD " + ", ".join(f"{name} :one" for name in names)
        update += " SET " + ", ".join(
            f"#l{i} = if_not_exists(#v0, :zero) + :one, #p{i} = if_not_exists(#l{i}, :zero)" for i, _ in filtered
        )
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"integrationId": {"S": integration_id}, "id": {"S": HEAD}},
            "ReturnValues": "ALL_NEW",
        }
        values = {":one": {"N": "1"}, ":zero": {"N": "0"}}
        try:
            result = dynamodb.update_item(
                **request,
                UpdateExpression=f"{update}, #t = :t, expiresAt = :expires",
                ConditionExpression="attribute_not_exists(#t) OR #t <= :t",
                ExpressionAttributeNames={**names, **pointers, "#t": "t"},
                ExpressionAttributeValues={
                    **values,
                    ":t": {"N": str(now_ms)},
                    ":expires": {"N": str(now_ms // 1000 + RETENTION_SECONDS)},
                },
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            result = dynamodb.update_item(
                **request, UpdateExpression=update, ExpressionAttributeNames={**names, **pointers},
                ExpressionAttributeValues=values,
            )  # fmt: skip
        head = result["Attributes"]
        counts = {
            name: int(value["N"])
            for name, value in head.items()
            if name not in _HEAD_FIELDS and not name.startswith((_LAST, _PREVIOUS))
        }
        previous = {code: int(head[_PREVIOUS + code]["N"]) for _, code in filtered}
        return counts, {code: at for code, at in previous.items() if at}, int(head["t"]["N"])

    def page(
        self,
        integration_id: str,
        view: str,
        page: int,
        limit: int,
        *,
        position: int | None = None,
        anchor: int | None = None,
    ) -> LogPage:
        """One page of ``view``, newest first, from page number ``page`` or from ``position`` (a cursor's; in a
        filtered view with ``anchor``, that entry's position among all, which the previous page's ``next_anchor``
        gave: the page then reads no entry before it).

        Totals count live entries only (expiresAt > now), whether or not DynamoDB has deleted the expired ones.
        """
        dynamodb = aws.client("dynamodb")
        now = int(time.time())
        code = view_code(view)
        head = dynamodb.get_item(
            TableName=self.table_name,
            Key={"integrationId": {"S": integration_id}, "id": {"S": HEAD}},
            ConsistentRead=True,
        ).get("Item", {})
        newest = int(head[code]["N"]) if code in head else 0
        first_live = self._first_live(integration_id, now, int(head["expiresAt"]["N"]) if head else 0)
        if first_live is None:
            return LogPage([], 0, newest, None)
        counts = first_live["counts"]["M"]
        own = first_live["status"]["S"], first_live["event"]["S"]
        expired = (int(counts[code]["N"]) if code in counts else 0) - (view in views_of(*own))
        if position is not None and position > newest:
            raise ValidationFailed("Invalid cursor", [FieldError("cursor", "not a position of this log")])
        high = position if position is not None else newest - (page - 1) * limit
        low = max(expired + 1, high - limit + 1)
        if high < low:
            return LogPage([], newest - expired, newest, None)
        following: tuple[int, int] | None = None  # a filtered view's next page: its position among all, and in the view
        if code == "a":
            items = self._positions(integration_id, low, high, now)
        else:
            start = (newest, int(head[_LAST + code]["N"]))
            if position is not None and anchor is not None:
                start = (position, anchor)
            items, following = self._chain(integration_id, code, start, low, high, now, checked=anchor is not None)
        if code != "a" and (following is None or following[1] <= expired):
            return LogPage(items, newest - expired, newest, None)
        has_more = low > expired + 1
        next_position = following[1] if following else low - 1
        return LogPage(
            items,
            newest - expired,
            newest,
            next_position if has_more else None,
            following[0] if following and has_more else None,
        )

    def _positions(self, integration_id: str, low: int, high: int, now: int) -> list[dict[str, Any]]:
        """The entries at positions ``low``…``high`` among all entries, newest first: one Query."""
        items: list[dict[str, Any]] = (
            aws.client("dynamodb")
            .query(
                TableName=self.table_name,
                KeyConditionExpression="integrationId = :integration AND id BETWEEN :low AND :high",
                # Only an entry left from a counter item that expired and was deleted can be expired here
                # (docs/delivery-logs.md).
                FilterExpression="expiresAt > :now",
                ExpressionAttributeValues={
                    ":integration": {"S": integration_id},
                    ":low": {"S": _all_key(low)},
                    ":high": {"S": _all_key(high)},
                    ":now": {"N": str(now)},
                },
                ScanIndexForward=False,
                ConsistentRead=True,
            )
            .get("Items", [])
        )
        return items

    def _chain(
        self,
        integration_id: str,
        code: str,
        start: tuple[int, int],
        low: int,
        high: int,
        now: int,
        *,
        checked: bool,
    ) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
        """Positions ``low``…``high`` of a filtered view, following its chain from ``start`` (a position in the view,
        and the entry's among all); with where the next page starts: (among all, in the view), None at the end.
        ``checked``: the start is a cursor's, which must name an entry of the view at that position."""
        dynamodb = aws.client("dynamodb")
        expected, at = start
        items: list[dict[str, Any]] = []
        step: int | None = at
        while step is not None and len(items) < high - low + 1:
            item = dynamodb.get_item(
                TableName=self.table_name,
                Key={"integrationId": {"S": integration_id}, "id": {"S": _all_key(step)}},
                ConsistentRead=True,
            ).get("Item")
            place_of = (item or {}).get("pos", {}).get("M", {}).get(code)
            if checked and step == at and item is not None and (place_of is None or int(place_of["N"]) != expected):
                raise ValidationFailed("Invalid cursor", [FieldError("cursor", "not a position of this log")])
            found = item is not None and int(item["expiresAt"]["N"]) > now and place_of is not None
            if not found:
                item = self._before(integration_id, code, step, now)  # a write that failed for good, or racing us
                if item is None:
                    return items, None
            assert item is not None
            place = int(item["pos"]["M"][code]["N"])
            if place < low:  # past a hole: the next page starts here
                return items, (_position(item), place)
            if place <= high:
                items.append(item)
            previous = item.get("prev", {}).get("M", {}).get(code)
            step = int(previous["N"]) if previous else None
        return items, None if step is None else (step, low - 1)

    def _before(self, integration_id: str, code: str, below: int, now: int) -> dict[str, Any] | None:
        """The view's newest live entry before position ``below`` among all, found by walking: only needed where
        its chain has a hole (an entry whose write failed for good, or one being written right now)."""
        pages = (
            aws.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.table_name,
                KeyConditionExpression="integrationId = :integration AND id BETWEEN :low AND :high",
                FilterExpression="attribute_exists(pos.#code) AND expiresAt > :now",
                ExpressionAttributeNames={"#code": code},
                ExpressionAttributeValues={
                    ":integration": {"S": integration_id},
                    ":low": {"S": _all_key(1)},
                    ":high": {"S": _all_key(below - 1)},
                    ":now": {"N": str(now)},
                },
                ScanIndexForward=False,
                ConsistentRead=True,
            )
        )
        return next((item for page in pages for item in page["Items"]), None)

    def _first_live(self, integration_id: str, now: int, head_expires: int) -> dict[str, Any] | None:
        """The oldest live entry, or None. Recording times never decrease along positions, so the expired entries
        are a prefix: one item read from where this container last saw them end (every position before it was
        expired then, so it still is); past it, a galloping then binary search over positions (about 2 log2 of the
        entries that expired since, one item read each). ``head_expires``: the head's expiresAt (0: no head)."""
        key = (self.table_name, integration_id)
        low, seen_at, seen_head_expires = _expired_before.get(key, (1, now, 0))
        # Positions start again at 1 once the head expired (30 days without an entry), which cannot have happened
        # before the head seen then was due to expire; a clock that went back (only tests do that) starts over too.
        if not seen_at <= now < seen_head_expires:
            low = 1
        found = self._at_or_after(integration_id, low)
        if found is None or _live(found, now):
            return found
        # Gallop from the expired entry found to a live one (or the end), then search between them.
        low, step = _position(found) + 1, 1
        while (found := self._at_or_after(integration_id, low + step - 1)) is not None and not _live(found, now):
            low, step = _position(found) + 1, step * 2
        high = low + step - 1
        while low < high:
            middle = (low + high) // 2
            probe = self._at_or_after(integration_id, middle)
            if probe is None or _live(probe, now):
                high, found = middle, probe
            else:
                low = _position(probe) + 1
        if head_expires > now:  # every entry before ``low`` is expired: they will stay so while this head lives
            _expired_before[key] = (low, now, head_expires)
        return found

    def _at_or_after(self, integration_id: str, position: int) -> dict[str, Any] | None:
        """The first entry written at ``position`` or after (one item read): positions whose item DynamoDB deleted
        after it expired, or whose write failed for good, are skipped."""
        items = (
            aws.client("dynamodb")
            .query(
                TableName=self.table_name,
                KeyConditionExpression="integrationId = :integration AND id BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":integration": {"S": integration_id},
                    ":low": {"S": _all_key(position)},
                    ":high": {"S": _all_key(10**_POSITION_DIGITS - 1)},
                },
                ConsistentRead=True,
                Limit=1,
            )
            .get("Items", [])
        )
        return items[0] if items else None

    def get(self, integration_id: str, entry_id: str) -> StoredEntry | None:
        """A live entry by its id, or None (unknown, forged or expired): read at the position its id holds."""
        position = position_of(entry_id)
        item = None if position is None else self._get(integration_id, _all_key(position))
        if item is None or item.get("logId", {}).get("S") != entry_id:
            return None
        return _stored(item)

    def payload(self, entry: StoredEntry) -> Event | None:
        """The event a logged attempt sent (``entry`` from ``get`` or a page), while one of its deliveries' entries
        is live."""
        if entry.event_id is None:
            return None
        item = self._get(stored_events.partition(entry.account_id, entry.event_id), stored_events.EVENT_KEY)
        event = None if item is None else _parse_event(item)
        return event if event is not None and event.id == entry.event_id else None

    def payloads(self, entries: Sequence[StoredEntry]) -> list[Event | None]:
        """The events ``entries`` sent, in their order, as ``payload`` reads them one by one: recovery reads a page's
        with one BatchGetItem per 100 events instead of a GetItem each."""
        wanted = [None if e.event_id is None else stored_events.partition(e.account_id, e.event_id) for e in entries]
        partitions = list(dict.fromkeys(partition for partition in wanted if partition is not None))
        items: dict[str, dict[str, Any]] = {}
        for start in range(0, len(partitions), _BATCH_GET):
            items |= self._get_events(partitions[start : start + _BATCH_GET])
        events = {partition: _parse_event(item) for partition, item in items.items()}
        found: list[Event | None] = []
        for entry, partition in zip(entries, wanted, strict=True):
            event = events.get(partition) if partition is not None else None
            found.append(event if event is not None and event.id == entry.event_id else None)
        return found

    def _get_events(self, partitions: list[str]) -> dict[str, dict[str, Any]]:
        """The live stored events of ``partitions`` (at most 100), by partition: one BatchGetItem; what DynamoDB
        leaves unprocessed (throttling, or over its 16 MB per answer) is asked again, and raises after repeated
        failures (the page is walked again)."""
        dynamodb = aws.client("dynamodb")
        keys = [{"integrationId": {"S": partition}, "id": {"S": stored_events.EVENT_KEY}} for partition in partitions]
        pending: dict[str, Any] = {self.table_name: {"Keys": keys}}
        found: dict[str, dict[str, Any]] = {}
        for delay in (0.05, 0.2, 0.5, 1.0, None):
            answer = dynamodb.batch_get_item(RequestItems=pending)
            for item in answer["Responses"].get(self.table_name, []):
                if int(item["expiresAt"]["N"]) > time.time():  # as ``_get``: expired is gone, whatever DynamoDB says
                    found[item["integrationId"]["S"]] = item
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                return found
            if delay is None:
                raise RuntimeError(f"{len(pending[self.table_name]['Keys'])} stored events were not read")
            time.sleep(delay)
        return found

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


# Per (table, integration): a position before which every entry was expired when this container last looked, when
# (s), and when the head seen then was due to expire. Expiry only moves forward, so it stays a lower bound of the
# first live entry while that head lives.
_expired_before: dict[tuple[str, str], tuple[int, int, int]] = {}


def _live(item: dict[str, Any], now: int) -> bool:
    return int(item["expiresAt"]["N"]) > now


def _position(item: dict[str, Any]) -> int:
    return int(item["id"]["S"].rsplit("#", 1)[1])


# ---------------------------------------------------------------- cursors


def encode_cursor(
    integration_id: str, status: str | None, event: str | None, position: int, anchor: int | None = None
) -> str:
    """An opaque cursor, bound to the integration and the filters it was made for (a filtered view's also holds
    where its entry is among all, ``anchor``)."""
    fields: dict[str, Any] = {"i": integration_id, "s": status, "e": event, "p": position}
    if anchor is not None:
        fields["a"] = anchor
    raw = json.dumps(fields, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def decode_cursor(cursor: str, integration_id: str, status: str | None, event: str | None) -> tuple[int, int | None]:
    """The position a cursor points at (and a filtered view's anchor); 400 when it is malformed or was made for
    another listing."""
    invalid = ValidationFailed("Invalid cursor", [FieldError("cursor", "not a cursor this API returned")])
    if not _CURSOR.fullmatch(cursor):
        raise invalid
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, RecursionError):
        raise invalid from None
    filtered = status is not None or event is not None
    if not isinstance(raw, dict) or set(raw) != {"i", "s", "e", "p", *(["a"] if filtered and "a" in raw else [])}:
        raise invalid
    position, anchor = raw["p"], raw.get("a")
    if not _count(position) or (anchor is not None and not _count(anchor)):
        raise invalid
    if (raw["i"], raw["s"], raw["e"]) != (integration_id, status, event):
        raise ValidationFailed(
            "Invalid cursor",
            [FieldError("cursor", "belongs to another listing; repeat the integration and filters it was made for")],
        )
    if filtered and anchor is None:
        raise invalid
    return position, anchor


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
    from integrations.models.delivery_logs import DeliveryLogsResponse, Pagination  # as in _entry

    view = view_key(status, event)
    position, anchor = (None, None) if cursor is None else decode_cursor(cursor, integration_id, status, event)
    found = store.page(integration_id, view, page, limit, position=position, anchor=anchor)
    if position is not None:  # the page this position falls on now
        page = (found.newest - position) // limit + 1
    pagination = Pagination(page=page, limit=limit, total=found.total, totalPages=math.ceil(found.total / limit))
    next_cursor = (
        None
        if found.next_position is None
        else encode_cursor(integration_id, status, event, found.next_position, found.next_anchor)
    )
    return DeliveryLogsResponse(data=found.entries, pagination=pagination, nextCursor=next_cursor)


def _parse_event(item: dict[str, Any]) -> Event:
    # Imported here: the redelivery and recovery paths parse events, the logs route never does (its cold start).
    from integrations.events import Event

    return Event.model_validate_json(item["body"]["S"])


@cache
def from_environment() -> DeliveryLogStore:
    return DeliveryLogStore(settings.load(settings.DispatchSettings).delivery_logs_table)
