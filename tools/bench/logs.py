"""Issue 5, target 3: the DynamoDB items read to answer a delivery-log page do not grow with history.

Under moto in-process, with the tables provisioned from template.yaml, two integrations get 100 and 10,000 live
entries (plus entries past their 30 days that DynamoDB has not deleted yet), written as the same items
``DeliveryLogStore.record`` writes, in batches. Items read are counted from each DynamoDB answer (bench.reads):
ScannedCount of each Query, the item of each GetItem, on the delivery logs table only. ``python -m bench.logs``
prints them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto import mock_aws

from bench.figures import Figure
from bench.reads import ItemsRead
from devstack.provision import provision
from devstack.template import load_template
from integrations.platform import aws, clock
from integrations.providers.delivery import Outcome
from integrations.storage import delivery_logs
from integrations.storage.delivery_logs import RETENTION, Attempt, DeliveryLogStore

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20
SMALL, LARGE = 100, 10_000
EXPIRED = 500  # entries past their 30 days, still in the table (DynamoDB deletes them days late)
DEEP_PAGE = 400  # of 500


def write_history(table: str, integration_id: str, moments: list[datetime]) -> None:
    """The items ``record`` would write for attempts at ``moments`` (in order), with BatchWriteItem."""
    head: Counter[str] = Counter()  # by view code
    newest_of: dict[str, int] = {}  # each filtered view's newest entry, by its position among all
    items: list[dict[str, Any]] = []
    for n, moment in enumerate(moments):
        failed = n % 7 == 0
        attempt = Attempt(
            "acct_bench",
            integration_id,
            f"delivery-{n}",
            "finding.high" if n % 3 else "scan.completed",
            Outcome(False, 503, 120, "Provider returned HTTP 503") if failed else Outcome(True, 200, 85),
            1,
            moment,
        )
        codes = [delivery_logs.view_code(view) for view in delivery_logs.views_of(attempt.status, attempt.event_type)]
        head.update(codes)
        previous = {code: newest_of[code] for code in codes if code in newest_of}
        items += delivery_logs.entry_items(attempt, dict(head), previous, int(moment.timestamp() * 1000))
        newest_of.update({code: head["a"] for code in codes if code != "a"})
    last = int(moments[-1].timestamp() * 1000)
    items.append(
        {
            "integrationId": {"S": integration_id},
            "id": {"S": delivery_logs.HEAD},
            "t": {"N": str(last)},
            "expiresAt": {"N": str(last // 1000 + delivery_logs.RETENTION_SECONDS)},
            **{code: {"N": str(count)} for code, count in head.items()},
            **{f"l{code}": {"N": str(position)} for code, position in newest_of.items()},
        }
    )
    dynamodb = aws.client("dynamodb")
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        while batch:
            batch = dynamodb.batch_write_item(RequestItems={table: batch})["UnprocessedItems"].get(table, [])


def spread(count: int, start: datetime, end: datetime) -> list[datetime]:
    step = (end - start) / count
    return [start + step * i for i in range(count)]


@contextmanager
def _mocked_aws() -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset()
    try:
        with mock_aws():
            yield
    finally:
        aws.reset()
        os.environ.clear()
        os.environ.update(saved)


def measure() -> list[Figure]:
    with _mocked_aws():
        resources = provision(load_template(ROOT / "template.yaml"))
        table = resources.ref("DeliveryLogsTable")
        store = DeliveryLogStore(table)
        now = datetime.now(UTC)
        small, large = clock.new_id(), clock.new_id()
        for integration_id, count in ((small, SMALL), (large, LARGE)):
            expired = spread(EXPIRED, now - RETENTION - timedelta(days=3), now - RETENTION - timedelta(hours=1))
            write_history(table, integration_id, expired + spread(count, now - timedelta(days=29), now))

        def items_read(integration_id: str, page: int, **options: Any) -> tuple[int, int]:
            with ItemsRead(table).counting() as counter:
                answer = delivery_logs.logs_page(store, integration_id, page, LIMIT, **options)
            assert answer.data, "the page is not empty"
            return counter.count, answer.pagination.total

        # A container's first read searches where the expired entries end (about 2 log2 of their number, see
        # DeliveryLogStore._first_live); later reads start there.
        cold_small, _ = items_read(small, 1)
        cold_large, _ = items_read(large, 1)
        page1_small, total_small = items_read(small, 1)
        page1_large, total_large = items_read(large, 1)
        assert (total_small, total_large) == (SMALL, LARGE), "totals are exact, expired entries hidden"
        deep, _ = items_read(large, DEEP_PAGE)
        earlier = (DEEP_PAGE - 1) * LIMIT
        filtered1_small, _ = items_read(small, 1, status="failed")
        filtered1_large, _ = items_read(large, 1, status="failed")
        filtered, _ = items_read(large, 50, status="failed")  # by number: reads the 49 pages before it (docs/cost.md)
        answer = delivery_logs.logs_page(store, large, 1, LIMIT, status="failed")
        for _ in range(48):  # to page 49 by cursor
            answer = delivery_logs.logs_page(store, large, 1, LIMIT, status="failed", cursor=answer.nextCursor)
        with ItemsRead(table).counting() as counter:
            answer = delivery_logs.logs_page(store, large, 1, LIMIT, status="failed", cursor=answer.nextCursor)
        assert answer.pagination.page == 50 and answer.data
        by_cursor = counter.count

    return [
        Figure(
            "logs page 1: 10k vs 100 entries",
            page1_large / page1_small,
            goal=2.0,
            detail=(
                f"{page1_large} vs {page1_small} items read; a container's first read, which finds where the "
                f"{EXPIRED} expired entries end: {cold_large} vs {cold_small}"
            ),
        ),
        Figure(
            "logs filtered page 1: 10k vs 100 entries",
            filtered1_large / filtered1_small,
            goal=2.0,
            detail=f"status=failed: {filtered1_large} vs {filtered1_small} items read",
        ),
        Figure(
            f"logs page {DEEP_PAGE} of 500 vs entries before it",
            deep / earlier,
            goal=0.1,
            detail=(
                f"{deep} items read; {earlier} entries come before it; "
                f"filtered page 50 asked by number: {filtered}, by cursor: {by_cursor}"
            ),
        ),
    ]


if __name__ == "__main__":
    for figure in measure():
        print(figure.line())
