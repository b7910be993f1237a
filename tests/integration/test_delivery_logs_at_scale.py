"""Delivery logs: filters, cursors and exact totals with expired entries still in the table, concurrent writers,
and a read cost that does not grow with history (items read counted from each DynamoDB answer: bench.reads)."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import cycle
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from bench.reads import ItemsRead

from integrations.platform import clock
from integrations.providers.delivery import Outcome
from integrations.storage import delivery_logs
from integrations.storage.delivery_logs import RETENTION, DeliveryLogStore
from tests.integration.conftest import KEY_B, Api
from tests.integration.test_fanout import integration
from tests.integration.test_management_api import assert_error

EVENTS = ["scan.completed", "finding.high", "integration.test"]
STATUSES = ["success", "failed"]


def write(
    api: Api, hook: str, count: int, *, start: datetime, step: timedelta = timedelta(seconds=1)
) -> list[tuple[str, str, str]]:
    """``count`` attempts recorded from ``start`` on, cycling through statuses and events: (id, status, event)."""
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    kinds = cycle([(s, e) for e in EVENTS for s in STATUSES][:5])  # 5 kinds, so the counts differ per view
    written = []
    for i in range(count):
        status, event = next(kinds)
        moment = start + i * step
        outcome = Outcome(True, 200, 12) if status == "success" else Outcome(False, 500, 40, "Provider returned 500")
        entry_id = store.record(
            account_id="acct_a",
            integration_id=hook,
            delivery_id=f"d{i}",
            event_type=event,
            outcome=outcome,
            attempt=1,
            delivered_at=moment,
            recorded_at=moment,
        )
        written.append((entry_id, status, event))
    return written


def logs(api: Api, hook: str, **query: Any) -> dict[str, Any]:
    text = "&".join(f"{name}={quote(str(value))}" for name, value in query.items())
    reply = api.request("GET", f"/v1/integrations/{hook}/logs?{text}")
    assert reply.status == 200, reply.body
    return dict(reply.body)


def walk_pages(api: Api, hook: str, limit: int, **filters: str) -> list[str]:
    """Every page by number, through the domain (the route adds only parsing, tested below)."""
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    first = delivery_logs.logs_page(store, hook, 1, limit, **filters)
    ids: list[str] = []
    for page in range(1, first.pagination.totalPages + 1):
        body = delivery_logs.logs_page(store, hook, page, limit, **filters)
        assert len(body.data) == limit or page == body.pagination.totalPages
        ids += [entry.id for entry in body.data]
    assert not delivery_logs.logs_page(store, hook, first.pagination.totalPages + 1, limit, **filters).data
    return ids


def walk_cursor(
    api: Api, hook: str, limit: int, filters: dict[str, str] | None = None, *, through_api: bool = False
) -> list[str]:
    """Page 1, then nextCursor until it is null; checks the page numbers on the way."""
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    filters = filters or {}

    def fetch(cursor: str | None) -> dict[str, Any]:
        if through_api:
            return logs(api, hook, limit=limit, **filters, **({"cursor": cursor} if cursor else {}))
        return delivery_logs.logs_page(store, hook, 1, limit, cursor=cursor, **filters).model_dump()

    body = fetch(None)
    ids = [entry["id"] for entry in body["data"]]
    pages = [body["pagination"]["page"]]
    while body["nextCursor"] is not None:
        body = fetch(body["nextCursor"])
        ids += [entry["id"] for entry in body["data"]]
        pages.append(body["pagination"]["page"])
    assert pages == list(range(1, len(pages) + 1)), "with a cursor, page says which page the position falls on"
    return ids


FILTERS: list[dict[str, str]] = [{}, {"status": "failed"}, {"event": "finding.high"}, {"event": "integration.test"}]
FILTERS += [{"status": s, "event": e} for s in STATUSES for e in EVENTS]


def test_filtered_totals_pages_and_cursors_are_exact_and_skip_expired_entries(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC)
    # 23 expired entries DynamoDB has not deleted yet, then 41 live ones.
    write(api, hook, 23, start=now - RETENTION - timedelta(hours=2), step=timedelta(minutes=1))
    live = write(api, hook, 41, start=now - timedelta(hours=1))
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    assert walk_cursor(api, hook, 6, {"status": "failed"}, through_api=True) == [
        entry_id for entry_id, status, _ in reversed(live) if status == "failed"
    ]
    for filters in FILTERS:
        expected = [
            entry_id
            for entry_id, status, event in reversed(live)
            if filters.get("status", status) == status and filters.get("event", event) == event
        ]
        body = delivery_logs.logs_page(store, hook, 1, 6, **filters).model_dump()
        assert body["pagination"]["total"] == len(expected), filters
        assert body["pagination"]["totalPages"] == -(-len(expected) // 6)
        assert walk_pages(api, hook, 6, **filters) == expected, filters
        assert walk_cursor(api, hook, 6, filters) == expected, filters
        for entry in body["data"]:
            assert entry["status"] == filters.get("status", entry["status"])
            assert entry["event"] == filters.get("event", entry["event"])


def test_totals_follow_the_expiry_of_each_entry_as_stored(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle is the table itself: entries whose expiresAt is past are hidden, to the second, whether DynamoDB
    deleted them or not, as time goes on (the reader remembers where the expired entries ended) and in a fresh
    container (it does not)."""
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC)
    cutoff = now - RETENTION
    # Around the 30-day cutoff: some a few seconds past it, some a few seconds before it.
    write(api, hook, 40, start=cutoff - timedelta(seconds=8), step=timedelta(milliseconds=500))
    table = api.table("DeliveryLogsTable")
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    entries = sorted((item for item in items if item["id"]["S"].startswith("#all#")), key=lambda i: i["id"]["S"])
    for deleted in entries[3:9:2]:  # expired ones DynamoDB has deleted already
        boto3.client("dynamodb").delete_item(TableName=table, Key={"integrationId": {"S": hook}, "id": deleted["id"]})
    entries = [item for item in entries if item not in entries[3:9:2]]
    start = time.time()
    for moment, fresh in [(start, False), (start + 3, False), (start + 6, True), (start + 8, False)]:
        # The route and the oracle read the same clock: entries expire a second apart, so two readings could differ.
        monkeypatch.setattr(delivery_logs, "time", SimpleNamespace(time=lambda at=moment: at, sleep=time.sleep))
        if fresh:
            delivery_logs._expired_before.clear()
        body = logs(api, hook, limit=100)
        live = sorted((item["logId"]["S"] for item in entries if int(item["expiresAt"]["N"]) > moment), reverse=True)
        assert 0 < len(live) < 40, "the entries straddle the cutoff"
        assert body["pagination"]["total"] == len(live), moment - start
        assert [entry["id"] for entry in body["data"]] == live


def test_a_cursor_walk_is_stable_while_new_entries_arrive(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC) - timedelta(minutes=10)
    written = write(api, hook, 30, start=now)
    first = logs(api, hook, limit=10)
    write(api, hook, 5, start=now + timedelta(minutes=5))  # five newer entries push page numbers along
    second = logs(api, hook, limit=10, cursor=first["nextCursor"])
    expected = [entry_id for entry_id, _, _ in reversed(written)]
    assert [e["id"] for e in first["data"] + second["data"]] == expected[:20], "no entry twice, none skipped"
    assert second["pagination"] == {"page": 2, "limit": 10, "total": 35, "totalPages": 4}


def _cursor(**fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


def test_invalid_or_foreign_cursors_answer_400(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    other = integration(api, ["scan.completed"])
    write(api, hook, 5, start=datetime.now(UTC) - timedelta(minutes=1))
    write(api, other, 5, start=datetime.now(UTC) - timedelta(minutes=1))
    cursor = logs(api, hook, limit=2)["nextCursor"]
    failed_cursor = logs(api, hook, limit=1, status="failed")["nextCursor"]
    assert cursor and failed_cursor
    refused = [
        (other, f"cursor={cursor}"),  # another integration's listing
        (hook, f"cursor={cursor}&status=failed"),  # other filters
        (hook, f"cursor={failed_cursor}"),
        (hook, "cursor=not-a-cursor"),
        (hook, "cursor=" + quote(cursor[:-3] + "!!!")),
        (hook, "cursor=" + _cursor(i=hook, s=None, e=None, p=999)),  # past the newest entry
        (hook, "cursor=" + _cursor(i=hook, s=None, e=None, p=0)),
        (hook, "cursor=" + _cursor(i=hook, s=None, e=None, p="3")),
        (hook, "cursor=" + _cursor(i=hook, s=None, p=3)),
        # A filtered view's cursor names where its entry is among all: it must be that entry, of that view.
        (hook, "status=failed&cursor=" + _cursor(i=hook, s="failed", e=None, p=1)),
        (hook, "status=failed&cursor=" + _cursor(i=hook, s="failed", e=None, p=1, a=3)),  # a success
        (hook, "status=failed&cursor=" + _cursor(i=hook, s="failed", e=None, p=1, a=4)),  # failed, but 2nd
        (hook, "cursor=" + _cursor(i=hook, s=None, e=None, p=1, a=1)),
        (hook, "cursor="),
        (hook, "cursor=" + base64.urlsafe_b64encode(b"[" * 760).decode()),  # nested too deep for the parser
        (hook, "cursor=" + base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=")),  # not UTF-8
    ]
    for target, query in refused:
        assert_error(api.request("GET", f"/v1/integrations/{target}/logs?{query}"), 400, "validation_error", "cursor")
    for query in ("status=ok", "event=scan.exploded", "status=", "event=integration"):
        assert_error(api.request("GET", f"/v1/integrations/{hook}/logs?{query}"), 400, "validation_error")
    # A cursor of account A's integration does not open it to account B.
    assert_error(api.request("GET", f"/v1/integrations/{hook}/logs?cursor={cursor}", key=KEY_B), 404, "not_found")


def test_a_page_reads_limit_plus_two_items_however_deep(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC)
    write(api, hook, 40, start=now - RETENTION - timedelta(hours=1), step=timedelta(seconds=1))  # expired
    write(api, hook, 260, start=now - timedelta(hours=1))
    # The first read searches where the expired entries end (about 2 log2 of their number); later ones start there.
    with ItemsRead(api.table("DeliveryLogsTable")).counting() as items_read:
        first = logs(api, hook, limit=20)
    assert first["pagination"]["total"] == 260
    assert items_read.count <= len(first["data"]) + 2 + 2 * math.ceil(math.log2(40)) + 1, items_read.count
    queries: list[dict[str, Any]] = [{"page": 1}, {"page": 12}, {"page": 13}]
    queries += [{"page": 1, **filters} for filters in FILTERS if filters]  # page 1 of every view
    for query in queries:
        with ItemsRead(api.table("DeliveryLogsTable")).counting() as items_read:
            body = logs(api, hook, limit=20, **query)
        assert body["data"] or query.get("event") == "integration.test"  # no failed test in this history
        assert items_read.count == len(body["data"]) + 2, (query, items_read.count)
    # A filtered view's page reached by cursor reads its own entries only; by number, the entries before it too.
    cursor = logs(api, hook, limit=20, status="failed")["nextCursor"]
    for _ in range(4):
        cursor = logs(api, hook, limit=20, status="failed", cursor=cursor)["nextCursor"]
    with ItemsRead(api.table("DeliveryLogsTable")).counting() as items_read:
        body = logs(api, hook, limit=20, status="failed", cursor=cursor)
    assert body["pagination"]["page"] == 6 and items_read.count == len(body["data"]) + 2
    with ItemsRead(api.table("DeliveryLogsTable")).counting() as items_read:
        assert logs(api, hook, limit=20, status="failed", page=6)["data"] == body["data"]
    assert items_read.count == 5 * 20 + len(body["data"]) + 2


@pytest.mark.usefixtures("atomic_item_writes")
def test_concurrent_writers_get_distinct_positions_and_exact_totals(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    start = threading.Barrier(6)

    def writer(n: int) -> None:
        start.wait()
        for i in range(9):
            store.record(
                account_id="acct_a",
                integration_id=hook,
                delivery_id=f"w{n}-{i}",
                event_type="scan.completed",
                outcome=Outcome(i % 3 != 0, 200, 5),
                attempt=1,
                delivered_at=datetime.now(UTC),
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = walk_cursor(api, hook, 13)
    assert len(everything) == len(set(everything)) == 54
    assert everything == sorted(everything, reverse=True), "newest first: ids follow positions"
    assert logs(api, hook)["pagination"]["total"] == 54
    assert logs(api, hook, status="failed")["pagination"]["total"] == 6 * 3
    assert len(walk_cursor(api, hook, 7, {"status": "success"})) == 6 * 6


def test_a_writer_whose_clock_is_behind_takes_the_latest_time(api: Api) -> None:
    """Recording times never go back along the sequence, so expiry follows positions (a suffix stays live)."""
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC)
    [(ahead, _, _)] = write(api, hook, 1, start=now)
    [(behind, _, _)] = write(api, hook, 1, start=now - RETENTION - timedelta(days=1))  # would be expired at once
    body = logs(api, hook)
    assert [e["id"] for e in body["data"]] == [behind, ahead] and body["pagination"]["total"] == 2


def test_entries_written_before_the_counters_existed_are_skipped(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC)
    legacy = {
        "integrationId": {"S": hook},
        "id": {"S": clock.new_id()},
        "event": {"S": "scan.completed"},
        "status": {"S": "success"},
        "responseTime": {"N": "5"},
        "deliveredAt": {"S": clock.iso(now)},
        "expiresAt": {"N": str(int((now + RETENTION).timestamp()))},
    }
    boto3.client("dynamodb").put_item(TableName=api.table("DeliveryLogsTable"), Item=legacy)
    written = write(api, hook, 3, start=now + timedelta(seconds=1))
    body = logs(api, hook)
    assert [e["id"] for e in body["data"]] == [entry_id for entry_id, _, _ in reversed(written)]
    assert body["pagination"]["total"] == 3


def test_a_hole_in_a_views_chain_costs_its_entry_only(api: Api) -> None:
    """An entry whose write failed for good leaves a hole: its filtered views walk past it to the older entries."""
    hook = integration(api, ["scan.completed"])
    written = write(api, hook, 20, start=datetime.now(UTC) - timedelta(minutes=5))
    failed = [entry_id for entry_id, status, _ in reversed(written) if status == "failed"]
    dynamodb = boto3.client("dynamodb")
    copies = dynamodb.query(
        TableName=api.table("DeliveryLogsTable"),
        KeyConditionExpression="integrationId = :i AND begins_with(id, :all)",
        ExpressionAttributeValues={":i": {"S": hook}, ":all": {"S": "#all#"}},
        ScanIndexForward=False,
    )["Items"]
    [lost] = [item for item in copies if item["logId"]["S"] == failed[1]]
    dynamodb.delete_item(TableName=api.table("DeliveryLogsTable"), Key={"integrationId": {"S": hook}, "id": lost["id"]})
    expected = [failed[0], *failed[2:]]
    assert walk_cursor(api, hook, 3, {"status": "failed"}) == expected
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    shown = [e.id for page in (1, 2, 3) for e in delivery_logs.logs_page(store, hook, page, 3, status="failed").data]
    assert shown == expected


def test_positions_that_start_again_after_the_head_expired_are_all_read(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader remembers where the expired entries ended; once the head expired, positions start again at 1."""
    hook = integration(api, ["scan.completed"])
    now = datetime.now(UTC)
    write(api, hook, 10, start=now - RETENTION - timedelta(seconds=5), step=timedelta(seconds=1))
    assert 0 < logs(api, hook)["pagination"]["total"] < 10, "the reader now starts past the expired entries"
    # 30 days without an entry: the head expires and DynamoDB deletes it (the old entries may linger).
    table = api.table("DeliveryLogsTable")
    boto3.client("dynamodb").delete_item(
        TableName=table, Key={"integrationId": {"S": hook}, "id": {"S": delivery_logs.HEAD}}
    )
    later = now + RETENTION + timedelta(days=1)
    monkeypatch.setattr(delivery_logs, "time", SimpleNamespace(time=later.timestamp, sleep=time.sleep))
    written = write(api, hook, 3, start=later)
    body = logs(api, hook)
    assert [e["id"] for e in body["data"]] == [entry_id for entry_id, _, _ in reversed(written)]
    assert body["pagination"]["total"] == 3
