"""The dispatcher's batch runs its integrations concurrently, keeps each one's jobs in order, and honours rates.

Timing is asserted on order and overlap seen by real receivers, or on lower bounds of the gaps between our own
send starts; never on how fast a (noisy) machine finishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.functions import LambdaContext
from devstack.pollers import sqs_event
from integrations.delivery import batch, dispatch, pacing, retry
from integrations.delivery.jobs import DeliveryJob
from integrations.platform import settings
from integrations.providers import http
from integrations.providers.slack import Slack
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fakes import FakeSlack, FakeWebhookReceiver, Recorded, Reply, Script

# Parallel dispatches race on items (pacing slots, log counters): DynamoDB applies each write atomically.
pytestmark = pytest.mark.usefixtures("atomic_item_writes")

INTERVAL = 0.3  # Slack's pace in these tests (1 s in production), so that they stay short
INLINE = 0.7  # longest inline wait in these tests: a third queued job still waits inline, a fourth is deferred


@pytest.fixture(autouse=True)
def _local_receivers_quick_pace(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setattr(retry, "BACKOFF", (0,) * len(retry.BACKOFF))
    monkeypatch.setattr(Slack, "rate_interval", INTERVAL)
    monkeypatch.setattr(pacing, "MAX_INLINE_WAIT", INLINE)
    settings.load.cache_clear()


class Sends:
    """When each provider request starts on our side, and when the first job began asking for a slot."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.first_ask: float | None = None

    def paced(self, interval: float) -> bool:
        """Whether the k-th send (0-based) started at least k intervals after the first slot.

        The first slot is no earlier than the first request for one (ms rounding aside); a slow machine only
        makes sends later, so this cannot fail for noise.
        """
        assert self.first_ask is not None
        return all(at >= self.first_ask + k * interval - 0.002 for k, at in enumerate(sorted(self.started)))


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Sends:
    recorded = Sends()
    real_post, real_wait = http.post, pacing.Pacer.wait_for_slot

    def recorded_post(url: str, **kwargs: Any) -> http.HttpResponse:
        recorded.started.append(time.time())
        return real_post(url, **kwargs)

    def recorded_wait(self: pacing.Pacer, key: str, interval: float | None) -> None:
        if recorded.first_ask is None:
            recorded.first_ask = time.time()
        real_wait(self, key, interval)

    monkeypatch.setattr(http, "post", recorded_post)
    monkeypatch.setattr(pacing.Pacer, "wait_for_slot", recorded_wait)
    return recorded


class GatedReceiver(FakeWebhookReceiver):
    """Answers nobody until ``expected`` requests are in (or 5 s passed); records when each arrived and was answered."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.arrived: list[float] = []
        self.answered: list[float] = []
        self.all_in = threading.Event()
        self.times = threading.Lock()

    def answer(self, request: Recorded) -> Script:
        reply = super().answer(request)
        with self.times:
            self.arrived.append(time.monotonic())
            if len(self.arrived) >= self.expected:
                self.all_in.set()
        self.all_in.wait(5)
        with self.times:
            self.answered.append(time.monotonic())
        return reply

    def default_reply(self, request: Recorded) -> Reply:
        return {"/fail": Reply(500), "/gone": Reply(410)}.get(request.path.rsplit("/", 1)[0], Reply(204))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def create(api: Api, body: dict[str, Any]) -> str:
    reply = api.request("POST", "/v1/integrations", {"name": "n", "enabledEvents": ["scan.completed"], **body})
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def webhook(api: Api, url: str) -> str:
    return create(api, {"provider": "webhook", "credentials": {"url": url}})


def slack_integration(api: Api, fake: FakeSlack) -> str:
    return create(api, {"provider": "slack", "credentials": {"webhookUrl": fake.webhook_url}})


def fan_out(api: Api, *event_ids: str) -> None:
    for event_id in event_ids:
        published = event("scan.completed", event_id=event_id)
        published["data"]["scan"] = {**published["data"]["scan"], "id": f"s-{event_id}"}  # Slack shows the scan id
        api.publish(published)
    while api.poller("FanoutFunction").poll_once():
        pass


def dispatch_batch(api: Api) -> tuple[list[dict[str, Any]], Any]:
    """Receive one batch from the deliveries queue and invoke the dispatcher; the messages and its answer."""
    poller = api.poller("DispatcherFunction")
    messages = poller.receive()
    result = api.functions["DispatcherFunction"].invoke(sqs_event(messages, poller.queue_arn))
    done = [m for m in messages if m["MessageId"] not in {f["itemIdentifier"] for f in result["batchItemFailures"]}]
    if done:
        boto3.client("sqs").delete_message_batch(
            QueueUrl=poller.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    return messages, result


def job_of(message: dict[str, Any]) -> DeliveryJob:
    return DeliveryJob.model_validate_json(message["Body"])


def queued(api: Api) -> list[dict[str, Any]]:
    """Every message of the deliveries queue, delayed or hidden ones included (read through moto's backend), with
    the seconds until it can be received."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"]["us-east-1"].queues[api.resources.ref("DeliveriesQueue").rsplit("/", 1)[1]]
    now = time.time() * 1000  # moto keeps epoch milliseconds
    return [
        {
            "body": m.body,
            "wait": (max(m.delayed_until, m.visible_at, now) - now) / 1000,
            "attributes": m.message_attributes,
        }
        for m in queue._messages
    ]


def test_a_batch_of_ten_integrations_is_delivered_concurrently(api: Api) -> None:
    with GatedReceiver(expected=10) as receiver:
        for n in range(10):
            webhook(api, f"{receiver.url}/hook/{n}")
        fan_out(api, "evt_1")
        messages, result = dispatch_batch(api)
    assert len(messages) == 10 and result == {"batchItemFailures": []}
    assert sorted(r.path for r in receiver.requests) == sorted(f"/hook/{n}" for n in range(10))
    assert max(receiver.arrived) <= min(receiver.answered), "all ten were in flight before the first answer"


def test_partial_failures_of_a_concurrent_batch_are_reported_exactly(api: Api) -> None:
    paths = ["ok/1", "fail/1", "ok/2", "gone/1", "fail/2", "ok/3"]
    with GatedReceiver(expected=len(paths)) as receiver:
        hooks = {webhook(api, f"{receiver.url}/{path}"): path for path in paths}
        fan_out(api, "evt_1")
        messages, result = dispatch_batch(api)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    expected = {m["MessageId"] for m in messages if hooks[job_of(m).integrationId].startswith("fail/")}
    assert failed == expected and len(failed) == 2, "the retryable failures, and nothing that succeeded or gave up"
    assert max(receiver.arrived) <= min(receiver.answered)
    # The acknowledged ones are gone; the two failures wait hidden for their retry.
    remaining = [job_of({"Body": m["body"]}).integrationId for m in queued(api)]
    assert sorted(hooks[i] for i in remaining) == ["fail/1", "fail/2"]


def test_one_integrations_jobs_in_a_batch_go_in_order_and_paced(api: Api, slack: FakeSlack, sends: Sends) -> None:
    slack_integration(api, slack)
    fan_out(api, "evt_1", "evt_2", "evt_3")
    messages, result = dispatch_batch(api)
    assert result == {"batchItemFailures": []}
    batch_order = [job_of(m).event.id for m in messages]
    assert [r.json()["blocks"] for r in slack.requests] and len(slack.requests) == 3
    sent_order = [_event_id(r) for r in slack.requests]
    assert sent_order == batch_order, "in the batch's order"
    assert len(sends.started) == 3 and sends.paced(INTERVAL), sends.started


def test_two_invocations_share_one_destinations_pace(api: Api, slack: FakeSlack, sends: Sends) -> None:
    # Two containers: two dispatchers with nothing in common but DynamoDB, each with two jobs of one integration.
    slack_integration(api, slack)
    fan_out(api, "evt_1", "evt_2", "evt_3", "evt_4")
    jobs = [job_of(m) for m in api.messages("DeliveriesQueue")]
    containers = [dispatch.from_environment.__wrapped__() for _ in range(2)]
    for container in containers:
        container.claims.register_lambda_context(LambdaContext(api.functions["DispatcherFunction"]))
    outcomes: list[Any] = []

    def run(container: dispatch.Dispatcher, own: list[DeliveryJob]) -> None:
        outcomes.extend(container.deliver(job, 1) for job in own)

    threads = [threading.Thread(target=run, args=(c, jobs[i::2])) for i, c in enumerate(containers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 4 and all(o.success for o in outcomes)
    assert len(sends.started) == 4 and sends.paced(INTERVAL), sends.started
    sent = [_event_id(r) for r in slack.requests]
    for own in (jobs[0::2], jobs[1::2]):
        ids = [job.event.id for job in own]
        assert [i for i in sent if i in ids] == ids, "each container's jobs in its order"
    boto3.client("sqs").purge_queue(QueueUrl=api.resources.ref("DeliveriesQueue"))


@pytest.mark.parametrize("stack_parameters", [{"MaxDeliveryAttempts": "2"}])
def test_a_rate_limit_delay_costs_no_attempt(api: Api, slack: FakeSlack) -> None:
    hook = slack_integration(api, slack)
    destination = pacing.destination_key("slack", slack.webhook_url)
    hold = pacing.Pacer(api.table("ProviderStateTable")).hold
    slack.script(Reply(500), Reply(500))
    fan_out(api, "evt_1")

    hold(destination, 1.0, shared=True)  # as another invocation's 429 would
    dispatch_batch(api)
    [deferred] = queued(api)
    assert slack.requests == [] and 0 < deferred["wait"] <= 1  # the rest of the 1 s hold
    assert deferred["attributes"][retry.ATTEMPTS_MADE]["StringValue"] == "0"
    time.sleep(1.1)

    dispatch_batch(api)  # attempt 1: 500, retried at once (backoff 0 here)
    assert len(slack.requests) == 1
    hold(destination, 1.0, shared=True)
    dispatch_batch(api)  # deferred again: still one attempt made
    [deferred] = queued(api)
    assert len(slack.requests) == 1 and deferred["attributes"][retry.ATTEMPTS_MADE]["StringValue"] == "1"
    time.sleep(1.1)

    dispatch_batch(api)  # attempt 2, the last: 500, parked
    assert len(slack.requests) == 2, "two deferrals, and still both attempts were made"
    assert queued(api) == []
    [parked] = api.messages("DeliveriesDeadLetterQueue")
    assert hook in parked["Body"]
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("2 attempts failed; last: Provider returned")
    attempts = [int(i["attempt"]["N"]) for i in _log_items(api, hook)]
    assert sorted(attempts) == [1, 2]


def test_a_429_holds_the_destination_for_every_job_until_retry_after(
    api: Api, slack: FakeSlack, log_output: Any
) -> None:
    slack_integration(api, slack)
    slack.script(Reply(429, "rate_limited", {"Retry-After": "30"}))
    fan_out(api, "evt_1")
    _, result = dispatch_batch(api)
    assert len(result["batchItemFailures"]) == 1 and len(slack.requests) == 1  # the 429 is a failed attempt
    fan_out(api, "evt_2")
    dispatch.from_environment.cache_clear()  # another container: only DynamoDB knows about the 429
    _, result = dispatch_batch(api)
    assert result == {"batchItemFailures": []} and len(slack.requests) == 1, "deferred, not sent"
    waits = [m["wait"] for m in queued(api)]
    assert len(waits) == 2 and all(28 < wait <= 30 for wait in waits), "both wait out Retry-After"
    assert "Delivery deferred: rate limit" in log_output.getvalue()


def test_a_webhook_429_holds_that_endpoint_in_this_container(api: Api) -> None:
    with FakeWebhookReceiver() as receiver:
        webhook(api, f"{receiver.url}/limited")
        receiver.script(Reply(429, headers={"Retry-After": "20"}))
        fan_out(api, "evt_1")
        dispatch_batch(api)
        fan_out(api, "evt_2")
        dispatch_batch(api)
        assert len(receiver.requests) == 1
    waits = [m["wait"] for m in queued(api)]
    assert len(waits) == 2 and all(18 < wait <= 20 for wait in waits), "the retry and the next job wait it out"


def test_nothing_is_dropped_when_a_burst_exceeds_the_pace(api: Api, slack: FakeSlack) -> None:
    slack_integration(api, slack)
    ids = [f"evt_{n}" for n in range(6)]
    fan_out(api, *ids)
    deadline = time.monotonic() + 30
    while len(slack.requests) < len(ids) and time.monotonic() < deadline:
        if not api.poller("DispatcherFunction").poll_once():
            time.sleep(0.2)
    assert sorted(_event_id(r) for r in slack.requests) == sorted(ids), "each delivered once, none lost"
    assert queued(api) == [] and api.messages("DeliveriesDeadLetterQueue") == []


def test_records_are_grouped_by_integration() -> None:
    record = {"messageId": "m1", "body": '{"accountId": "acct_1", "integrationId": "i_1"}'}
    assert batch.integration_of(record) == "i_1"
    assert batch.integration_of({"messageId": "m2", "body": "not json"}) == "message:m2"
    assert batch.integration_of({"messageId": "m3", "body": '["i_1"]'}) == "message:m3"
    assert batch.integrations_of([record, {"messageId": "m2", "body": "{}"}, record]) == [("acct_1", "i_1")] * 2


def _event_id(request: Recorded) -> str:
    text: str = request.json()["blocks"][1]["text"]["text"]
    return next(word for word in text.replace("*", " ").split() if word.startswith("s-evt_"))[2:]


def _log_items(api: Api, integration_id: str) -> list[dict[str, Any]]:
    """The integration's log entries (not the counters kept beside them)."""
    items: list[dict[str, Any]] = boto3.client("dynamodb").query(
        TableName=api.table("DeliveryLogsTable"),
        KeyConditionExpression="integrationId = :i AND begins_with(id, :entries)",
        ExpressionAttributeValues={":i": {"S": integration_id}, ":entries": {"S": "#all#"}},
    )["Items"]
    return items
