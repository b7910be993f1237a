"""POST /v1/integrations/{id}/recover: every delivery whose latest attempt failed since a time, sent again once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from integrations.api import recovery
from integrations.delivery.jobs import delivery_id
from integrations.events import parse_event
from integrations.platform import aws, clock
from integrations.providers.delivery import Outcome
from integrations.storage.delivery_logs import ALL, ENTRIES_PREFIX, DeliveryLogStore
from tests.integration.conftest import KEY_B, START, Api, Clock
from tests.integration.test_fanout import event
from tests.integration.test_management_api import assert_error
from tests.integration.test_pipeline import SECRET, webhook
from tests.providers.fakes import FakeWebhookReceiver, Reply

pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


def recover(api: Api, hook: str, body: Any, key: str = "apvk_test_account_a_0000000000000000000000") -> Any:
    return api.request("POST", f"/v1/integrations/{hook}/recover", body, key=key)


def since(moment_ago: timedelta = timedelta(hours=1)) -> str:
    return clock.iso(clock.now() - moment_ago)


def publish(api: Api, event_id: str) -> None:
    api.publish(event("scan.completed", event_id=event_id))
    api.drain()


def all_logs(api: Api, hook: str) -> list[dict[str, Any]]:
    return list(api.request("GET", f"/v1/integrations/{hook}/logs?limit=100").body["data"])


# ---------------------------------------------------------------- validation and tenancy


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-13-01T00:00:00Z"}, "since"),
        ({"since": 1764720000}, "since"),
        ({"since": None}, "since"),
        ({"since": "2026-04-10T00:00:00"}, "since"),  # no zone: which day it is depends on where one stands
        ({"since": "x" * 65}, "since"),
        ({"since": "2026-04-10T00:00:00Z", "until": "2026-04-11T00:00:00Z"}, "until"),
    ],
)
def test_a_malformed_body_answers_400_naming_the_field(
    api: Api, receiver: FakeWebhookReceiver, body: Any, field: str
) -> None:
    hook = webhook(api, receiver.url)
    reply = recover(api, hook, body)
    assert_error(reply, 400, "validation_error")
    assert field in [detail["field"] for detail in reply.body["error"]["details"]], reply.body


def test_since_outside_the_logs_30_days_answers_400(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    for outside in (since(timedelta(days=30, minutes=1)), clock.iso(clock.now() + timedelta(minutes=5))):
        reply = recover(api, hook, {"since": outside})
        assert_error(reply, 400, "validation_error")
        [detail] = reply.body["error"]["details"]
        assert detail["field"] == "since" and "30 days" in detail["message"]
    assert recover(api, hook, {"since": since(timedelta(days=29, hours=23))}).status == 202
    an_hour_ago = clock.now() - timedelta(hours=1)
    reply = recover(api, hook, {"since": an_hour_ago.astimezone(timezone(timedelta(hours=2))).isoformat()})
    assert reply.status == 202 and reply.body["since"] == clock.iso(an_hour_ago), "any zone, answered in UTC"


def test_another_accounts_or_an_unknown_integration_answers_404_and_a_bad_id_400(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hook = webhook(api, receiver.url)
    assert_error(recover(api, hook, {"since": since()}, key=KEY_B), 404, "not_found")
    assert_error(recover(api, str(uuid.uuid4()), {"since": since()}), 404, "not_found")
    assert_error(recover(api, "not-a-uuid", {"since": since()}), 400, "validation_error")
    api.request("DELETE", f"/v1/integrations/{hook}")
    assert_error(recover(api, hook, {"since": since()}), 404, "not_found")


def test_a_disabled_integration_answers_409(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": False})
    reply = recover(api, hook, {"since": since()})
    assert_error(reply, 409, "conflict")
    assert "enable" in reply.body["error"]["message"]


def test_wrong_method_and_bad_bodies_answer_the_error_shape(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    assert_error(api.request("GET", f"/v1/integrations/{hook}/recover"), 405, "method_not_allowed")
    assert_error(api.request("POST", f"/v1/integrations/{hook}/recover", raw=b"{"), 400, "validation_error")
    assert_error(api.request("POST", f"/v1/integrations/{hook}/recover", raw=b"[]"), 400, "validation_error")


# ---------------------------------------------------------------- what is sent again


def test_each_delivery_whose_latest_attempt_failed_is_sent_once_with_its_delivery_id(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(503), Reply(400))  # evt_twice: failed twice (503 retried, then 400 for good)
    publish(api, "evt_twice")
    receiver.script(Reply(503))  # evt_healed: failed, then its retry succeeded
    publish(api, "evt_healed")
    receiver.script(Reply(400))  # evt_once: failed once for good
    publish(api, "evt_once")
    publish(api, "evt_fine")  # delivered at once
    api.request("POST", f"/v1/integrations/{hook}/test")  # a test delivery is never recovered
    sent: dict[str, Any] = {}  # webhook-id → payload, of the scanner events' deliveries
    for request in receiver.requests:
        if request.json()["type"] == "scan.completed":
            sent.setdefault(request.headers["webhook-id"], request.json())
    assert len(sent) == 4
    before = len(receiver.requests)
    entries_before = all_logs(api, hook)
    assert [e["status"] for e in entries_before].count("failed") == 4
    assert sorted(e["attempt"] for e in entries_before) == [1, 1, 1, 1, 1, 2, 2], "each entry shows its attempt"

    asked = since()
    reply = recover(api, hook, {"since": asked})
    assert reply.status == 202, reply.body
    assert reply.body == {
        "recoveryId": str(uuid.UUID(reply.body["recoveryId"])),
        "status": "accepted",
        "queued": 2,  # evt_twice and evt_once
        "complete": True,  # seven entries: the request walked them all
        "since": asked,
        "until": reply.body["until"],
    }
    assert api.messages("RecoveryQueue") == [], "nothing left for the batch walker"
    api.drain()

    resent = receiver.requests[before:]
    twice, once = (receiver.requests[i].headers["webhook-id"] for i in (0, 4))  # evt_twice's and evt_once's
    assert Counter(r.headers["webhook-id"] for r in resent) == {twice: 1, once: 1}, "each once, the healed not"
    for request in resent:
        assert request.json() == sent[request.headers["webhook-id"]], "the original payload"
    assert len(receiver.verified) == 5, "signed as always (evt_healed's retry, evt_fine, the test, the two resent)"
    # The redeliveries are logged as new attempts, numbered from 1, and the older entries are as they were.
    entries = all_logs(api, hook)
    assert entries[2:] == entries_before
    assert [(e["status"], e["attempt"]) for e in entries[:2]] == [("success", 1), ("success", 1)]


def test_attempts_before_since_are_not_sent_again(api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(400))
    publish(api, "evt_old")
    fixed_clock.set(timedelta(hours=1))
    receiver.script(Reply(400))
    publish(api, "evt_new")
    fixed_clock.set(timedelta(hours=2))
    before = receiver.requests
    reply = recover(api, hook, {"since": clock.iso(START + timedelta(minutes=30))})
    assert (reply.status, reply.body["queued"], reply.body["complete"]) == (202, 1, True)
    api.drain()
    [resent] = receiver.requests[len(before) :]
    assert resent.headers["webhook-id"] == before[1].headers["webhook-id"]


def test_a_large_backlog_is_walked_in_bounded_batches_each_delivery_once(
    api: Api, receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "PAGE_SIZE", 3)
    hook = webhook(api, receiver.url)
    for n in range(8):
        receiver.script(Reply(503), Reply(400))  # two failed attempts each: 16 entries
        publish(api, f"evt_{n}")
    failed_ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(failed_ids) == 8
    before = len(receiver.requests)
    pages: list[int] = []
    walk = recovery.Recoverer.walk

    def counting_walk(self: recovery.Recoverer, batch: recovery.RecoveryBatch) -> int:
        pages.append(batch.position)
        return walk(self, batch)

    monkeypatch.setattr(recovery.Recoverer, "walk", counting_walk)
    reply = recover(api, hook, {"since": since()})
    # The request's own page is entries 16, 15, 14: evt_7's two attempts and evt_6's latest.
    assert (reply.status, reply.body["queued"], reply.body["complete"]) == (202, 2, False)
    assert len(api.messages("DeliveriesQueue")) == 2 and len(api.messages("RecoveryQueue")) == 1
    api.drain()
    resent = [r.headers["webhook-id"] for r in receiver.requests[before:]]
    assert sorted(resent) == sorted(failed_ids), "every failed delivery, each once"
    assert pages == [13, 10, 7, 4, 1], "the rest in pages of at most 3 entries per batch, newest first"


def test_a_backlog_of_exactly_one_page_is_counted_in_full(
    api: Api, receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "PAGE_SIZE", 4)
    hook = webhook(api, receiver.url)
    for n in range(4):
        receiver.script(Reply(400))
        publish(api, f"evt_{n}")
    before = len(receiver.requests)
    reply = recover(api, hook, {"since": since()})
    assert (reply.body["queued"], reply.body["complete"]) == (4, True), reply.body
    assert api.messages("RecoveryQueue") == []
    api.drain()
    assert len(receiver.requests) - before == 4


def test_a_retried_request_or_a_walker_rereading_its_page_sends_nothing_twice(
    api: Api, receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "PAGE_SIZE", 2)
    hook = webhook(api, receiver.url)
    for n in range(3):
        receiver.script(Reply(400))
        publish(api, f"evt_{n}")
    before = len(receiver.requests)
    asked = {"since": since()}
    first = recover(api, hook, asked)
    again = recover(api, hook, asked)  # a client retrying, the log not moved meanwhile: the same recovery
    assert first.body["recoveryId"] == again.body["recoveryId"]
    assert [(r.body["queued"], r.body["complete"]) for r in (first, again)] == [(2, False), (2, False)]
    # A walker handed the request's own page (position 3, the log's newest) claims the same deliveries again.
    page_of_the_request = recovery.RecoveryBatch(
        recoveryId=first.body["recoveryId"],
        accountId="acct_a",
        integrationId=hook,
        since=datetime.fromisoformat(asked["since"]),
        position=3,
    )
    assert recovery.from_environment().walk(page_of_the_request) == 2
    jobs = [json.loads(m["Body"]) for m in api.messages("DeliveriesQueue")]
    assert len(jobs) == 6 and len({job["redeliveryId"] for job in jobs}) == 2
    api.drain()
    resent = [r.headers["webhook-id"] for r in receiver.requests[before:]]
    assert sorted(resent) == sorted({r.headers["webhook-id"] for r in receiver.requests[:before]}), "each once"


def test_a_batch_handed_over_twice_sends_nothing_twice(
    api: Api, receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "PAGE_SIZE", 1)
    hook = webhook(api, receiver.url)
    for n in range(4):
        receiver.script(Reply(400))
        publish(api, f"evt_{n}")
    before = len(receiver.requests)
    assert recover(api, hook, {"since": since()}).body["queued"] == 1  # the request's page: one entry
    monkeypatch.setattr(recovery, "PAGE_SIZE", 3)  # the rest in one batch
    sqs = boto3.client("sqs")
    queue = api.resources.ref("RecoveryQueue")
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    batch = recovery.RecoveryBatch.model_validate_json(message["Body"])
    assert recovery.from_environment().walk(batch) == 3
    assert recovery.from_environment().walk(batch) == 3, "the same batch again claims its own deliveries"
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    jobs = [json.loads(m["Body"]) for m in api.messages("DeliveriesQueue")]
    assert len(jobs) == 7 and len({job["redeliveryId"] for job in jobs}) == 4
    api.drain()
    assert len(receiver.requests) - before == 4, "the dispatcher runs each redelivery id once"


def test_a_second_recovery_walks_the_log_afresh(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(400))
    publish(api, "evt_1")
    before = len(receiver.requests)
    receiver.script(Reply(400))  # the receiver is still broken at the first recovery
    assert recover(api, hook, {"since": since()}).status == 202
    api.drain()
    assert recover(api, hook, {"since": since()}).status == 202
    api.drain()
    resent = receiver.requests[before:]
    assert len(resent) == 2 and len({r.headers["webhook-id"] for r in resent}) == 1
    assert [e["status"] for e in all_logs(api, hook)] == ["success", "failed", "failed"]


def test_an_empty_log_is_accepted_and_sends_nothing(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    reply = recover(api, hook, {"since": since()})
    assert (reply.status, reply.body["queued"], reply.body["complete"]) == (202, 0, True)
    assert api.messages("RecoveryQueue") == []
    api.drain()
    assert receiver.requests == []


def test_a_recovery_stops_when_the_integration_is_disabled_meanwhile(
    api: Api, receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "PAGE_SIZE", 1)
    hook = webhook(api, receiver.url)
    for n in range(3):
        receiver.script(Reply(400))
        publish(api, f"evt_{n}")
    before = len(receiver.requests)
    reply = recover(api, hook, {"since": since()})
    assert (reply.body["queued"], reply.body["complete"]) == (1, False)
    api.request("PATCH", f"/v1/integrations/{hook}", {"enabled": False})
    api.drain()
    assert len(receiver.requests) == before, "the walker stops, and the request's own job is skipped"
    assert api.messages("DeliveriesQueue") == [] and api.messages("RecoveryQueue") == []


# ---------------------------------------------------------------- what a page costs


def failed_deliveries(api: Api, hook: str, count: int) -> None:
    """``count`` deliveries that failed once each, logged as the dispatcher logs them (their event stored)."""
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    for n in range(count):
        sent = parse_event(json.dumps(event("scan.completed", event_id=f"evt_{n}")))
        store.record(
            account_id="acct_a",
            integration_id=hook,
            delivery_id=delivery_id(sent.id, hook),
            event_type="scan.completed",
            outcome=Outcome(False, 503, 40, "Provider returned 503"),
            attempt=1,
            delivered_at=clock.now(),
            event=sent,
            store_event=True,
        )


def dynamodb_calls(api: Api) -> Counter[str]:
    """From now on, each DynamoDB call of the functions, as ``<operation> <table>`` and, for a delivery-log item read
    by its key, ``<operation> entry`` (a log entry), ``#event`` (a stored event) or ``#head``."""
    calls: Counter[str] = Counter()
    tables = {api.table(name): name for name in ("IntegrationsTable", "DeliveryLogsTable", "ProviderStateTable")}

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key", {}).get("id", {}).get("S", "")
        what = "entry" if key.startswith(ENTRIES_PREFIX) else key if key.startswith("#") else None
        table = params.get("TableName") or next(iter(params.get("RequestItems", {})), "")  # a batch names its table
        calls[f"{model.name} {what or tables.get(table, '?')}"] += 1

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb", count)
    return calls


def test_a_page_is_read_by_its_query_not_again_entry_by_entry(api: Api, receiver: FakeWebhookReceiver) -> None:
    calls, seen = dynamodb_calls(api), {}
    for count in (10, 60):
        hook = webhook(api, receiver.url)
        failed_deliveries(api, hook, count)
        calls.clear()
        reply = recover(api, hook, {"since": since()})
        assert (reply.status, reply.body["queued"], reply.body["complete"]) == (202, count, True), reply.body
        seen[count] = dict(calls)
    assert "GetItem entry" not in seen[60] and "GetItem #event" not in seen[60], seen
    # The reads do not grow with the page: the integration, the log's head, its first live entry and the page
    # (Query), then the events of the page's deliveries to send, in one batch.
    reads = ("GetItem", "Query", "BatchGetItem")
    assert {k: n for k, n in seen[10].items() if k.startswith(reads)} == {
        k: n for k, n in seen[60].items() if k.startswith(reads)
    }, seen
    assert seen[60]["BatchGetItem DeliveryLogsTable"] == 1, seen
    # What does grow: a claim per delivery met, so that each is sent once.
    assert seen[60]["PutItem ProviderStateTable"] - seen[10]["PutItem ProviderStateTable"] == 50, seen


def test_a_pages_events_are_read_a_hundred_at_a_time_as_payload_reads_each(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = str(uuid.uuid4())
    failed_deliveries(api, hook, 130)
    store = DeliveryLogStore(api.table("DeliveryLogsTable"))
    entries = store.page(hook, ALL, 1, 130).stored
    unknown = entries[0]._replace(event_id="evt_never_stored")
    dynamodb = aws.client("dynamodb")
    real_get, asked = dynamodb.batch_get_item, []

    def leaves_five_unprocessed_once(**request: Any) -> Any:  # as DynamoDB does when throttled or past 16 MB
        [(table, wanted)] = request["RequestItems"].items()
        asked.append(len(wanted["Keys"]))
        if len(asked) > 1:
            return real_get(**request)
        answer = real_get(RequestItems={table: {"Keys": wanted["Keys"][:-5]}})
        return {**answer, "UnprocessedKeys": {table: {"Keys": wanted["Keys"][-5:]}}}

    monkeypatch.setattr(dynamodb, "batch_get_item", leaves_five_unprocessed_once)
    found = store.payloads([*entries, unknown])
    assert asked == [100, 5, 31]  # the unknown event is asked for too, and not found
    assert found == [store.payload(entry) for entry in entries] + [None]
    assert [event.id for event in found if event is not None] == [f"evt_{n}" for n in reversed(range(130))]
