"""GET /v1/integrations/{id}/logs: the seed's shape, newest first, exact totals, no expired entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.providers.delivery import Outcome
from integrations.storage.delivery_logs import DeliveryLogStore
from tests.conftest import SEED
from tests.integration.conftest import KEY_B, Api
from tests.integration.test_fanout import integration
from tests.integration.test_management_api import assert_error


def write(api: Api, integration_id: str, count: int, *, age: timedelta = timedelta(0), failed: bool = False) -> None:
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    now = datetime.now(UTC) - age
    for i in range(count):
        outcome = (
            Outcome(False, 500, 2004, "Provider returned HTTP 500: Internal Server Error", retryable=True)
            if failed
            else Outcome(True, 200, 89)
        )
        store.record(
            account_id="acct_a",
            integration_id=integration_id,
            delivery_id=f"d{i}",
            event_type="scan.completed",
            outcome=outcome,
            attempt=1,
            delivered_at=now + timedelta(seconds=i),
            recorded_at=now + timedelta(seconds=i),
        )


def test_logs_answer_the_seed_shape_newest_first(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    write(api, hook, 2)
    write(api, hook, 1, failed=True)
    reply = api.request("GET", f"/v1/integrations/{hook}/logs")
    assert reply.status == 200
    assert list(reply.body) == [*SEED["logs_response"], "nextCursor"]  # the seed's shape, plus the cursor
    assert reply.body["nextCursor"] is None
    assert reply.body["pagination"] == {"page": 1, "limit": 20, "total": 3, "totalPages": 1}
    entries = reply.body["data"]
    # the seed's fields, plus the attempt's number (docs/recovery.md)
    assert all(list(e) == [*SEED["logs_response"]["data"][0], "attempt"] for e in entries)
    assert all(e["attempt"] == 1 for e in entries)
    assert entries[0]["status"] == "failed" and entries[0]["error"].startswith("Provider returned HTTP 500")
    assert entries[0]["responseCode"] == 500 and entries[0]["responseTime"] == 2004
    assert entries[1]["error"] is None
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)


def test_pages_are_exact_and_a_page_past_the_end_is_empty(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    write(api, hook, 45)
    seen = []
    for page in (1, 2, 3):
        body = api.request("GET", f"/v1/integrations/{hook}/logs?page={page}&limit=20").body
        assert body["pagination"] == {"page": page, "limit": 20, "total": 45, "totalPages": 3}
        seen += [e["id"] for e in body["data"]]
    assert len(seen) == len(set(seen)) == 45
    for far in (4, 100_001, 10**30):  # any page number: the design sets no highest page
        past = api.request("GET", f"/v1/integrations/{hook}/logs?page={far}&limit=20&status=success").body
        assert past["data"] == [] and past["pagination"] == {"page": far, "limit": 20, "total": 45, "totalPages": 3}
    assert len(api.request("GET", f"/v1/integrations/{hook}/logs?limit=100").body["data"]) == 45


def test_expired_entries_are_never_shown(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    write(api, hook, 3, age=timedelta(days=31))  # past the 30-day TTL, not yet removed by DynamoDB
    write(api, hook, 2)
    body = api.request("GET", f"/v1/integrations/{hook}/logs").body
    assert body["pagination"]["total"] == 2 and len(body["data"]) == 2


@pytest.mark.parametrize("query", ["page=0", "limit=0", "limit=101", "page=x", "limit=-5", "page=1.5"])
def test_bad_paging_answers_400(api: Api, query: str) -> None:
    hook = integration(api, ["scan.completed"])
    assert_error(api.request("GET", f"/v1/integrations/{hook}/logs?{query}"), 400, "validation_error")


def test_logs_stay_readable_after_deletion_but_not_for_other_accounts(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    write(api, hook, 2)
    assert_error(api.request("GET", f"/v1/integrations/{hook}/logs", key=KEY_B), 404, "not_found")
    api.request("DELETE", f"/v1/integrations/{hook}")
    body = api.request("GET", f"/v1/integrations/{hook}/logs").body
    assert body["pagination"]["total"] == 2
    assert_error(api.request("GET", "/v1/integrations/019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e/logs"), 404, "not_found")
