"""Faults everywhere, nothing lost: N events to M integrations each against flaky receivers and a flaky AWS."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from integrations.delivery import retry
from integrations.delivery.jobs import delivery_id
from integrations.platform import settings
from integrations.providers import http
from integrations.storage.delivery_logs import DeliveryLogStore
from integrations.storage.store import IntegrationStore
from integrations.storage.vault import CredentialVault
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fakes import FakeWebhookReceiver, Recorded, Reply, Script

EVENTS, INTEGRATIONS, ATTEMPTS = 6, 4, 4
SECRET = "whsec_" + "ZmF1bHRzLXNpZ25pbmcta2V5LTEyMzQ1Njc4"


class FlakyReceiver(FakeWebhookReceiver):
    """Answers 503, resets the connection, or is too slow, about half of the time; otherwise verifies and takes it."""

    def __init__(self, seed: int) -> None:
        super().__init__(SECRET)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.accepted: list[str] = []  # webhook-ids answered with a 2xx

    def answer(self, request: Recorded) -> Script:
        with self.lock:
            roll = self.rng.random()
        if roll < 0.2:
            return Reply(503)
        if roll < 0.35:
            return "reset"
        if roll < 0.5:
            return Reply(204, delay=0.5)  # past the read timeout: we never learn it was taken
        reply = self.default_reply(request)
        if reply.status < 300:
            with self.lock:
                self.accepted.append(request.headers["webhook-id"])
        return reply


def flaky(target: type, name: str, rng: random.Random, rate: float) -> Callable[..., Any]:
    """``target.name`` failing with DynamoDB/Secrets Manager throttling at ``rate``."""
    original = getattr(target, name)
    lock = threading.Lock()

    def sometimes_failing(*args: Any, **kwargs: Any) -> Any:
        with lock:
            fail = rng.random() < rate
        if fail:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, name)
        return original(*args, **kwargs)

    return sometimes_failing


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"MaxDeliveryAttempts": str(ATTEMPTS)}


@pytest.fixture(autouse=True)
def _loopback_receivers_and_instant_retries(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setattr(retry, "BACKOFF", (0,) * len(retry.BACKOFF))
    monkeypatch.setattr(http, "ATTEMPT_DEADLINE", 0.3)
    settings.load.cache_clear()


@pytest.fixture
def receivers() -> Iterator[list[FlakyReceiver]]:
    with ExitStack() as stack:
        yield [stack.enter_context(FlakyReceiver(seed)) for seed in range(INTEGRATIONS)]


def test_every_delivery_of_n_events_to_m_integrations_ends_delivered_or_dead_lettered(
    api: Api, receivers: list[FlakyReceiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = []
    for receiver in receivers:
        body = {
            "provider": "webhook",
            "name": "flaky",
            "credentials": {"url": receiver.url, "secret": SECRET},
            "enabledEvents": ["scan.completed"],
        }
        hooks.append(api.request("POST", "/v1/integrations", body).body["id"])
    rng = random.Random(42)
    for target, name, rate in (
        (IntegrationStore, "get", 0.15),  # DynamoDB throttling inside the dispatcher
        (CredentialVault, "read", 0.15),  # Secrets Manager errors
        (DeliveryLogStore, "record", 0.1),  # the log write after the provider answered
    ):
        monkeypatch.setattr(target, name, flaky(target, name, rng, rate))
    for n in range(EVENTS):
        api.publish(event("scan.completed", event_id=f"evt_{n}"))
    api.drain(rounds=500)

    expected = {delivery_id(f"evt_{n}", hook) for n in range(EVENTS) for hook in hooks}
    accepted = [webhook_id for receiver in receivers for webhook_id in receiver.accepted]
    dead = {json.loads(m["Body"])["deliveryId"] for m in drain_dead_letters(api)}
    assert set(accepted) | dead == expected, "every delivery ends delivered or in the dead-letter queue"
    assert len(accepted) == len(set(accepted)), "a delivery answered in time is never sent again"
    assert not set(accepted) & dead, "nothing both delivered and dead-lettered"
    assert api.messages("DeliveriesQueue") == [] and api.messages("EventsQueue") == []
    attempts = {id_: sum(r.headers["webhook-id"] == id_ for rec in receivers for r in rec.requests) for id_ in expected}
    assert max(attempts.values()) <= ATTEMPTS
    assert dead and accepted, "the faults were real enough to dead-letter some deliveries, not all"


def drain_dead_letters(api: Api) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = api.resources.ref("DeliveriesDeadLetterQueue")
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return found


def test_a_dispatcher_that_dies_mid_batch_loses_nothing_and_sends_nothing_twice(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = FakeWebhookReceiver(SECRET)
    with receiver:
        body = {
            "provider": "webhook",
            "name": "steady",
            "credentials": {"url": receiver.url, "secret": SECRET},
            "enabledEvents": ["scan.completed"],
        }
        hook = api.request("POST", "/v1/integrations", body).body["id"]
        for n in range(EVENTS):
            api.publish(event("scan.completed", event_id=f"evt_{n}"))
        fanout = api.poller("FanoutFunction")
        while fanout.poll_once():
            pass
        # Messages of a failed invocation come back at once, instead of after the queue's visibility timeout.
        sqs = boto3.client("sqs")
        queue = api.resources.ref("DeliveriesQueue")
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "0"})
        dispatcher = api.functions["DispatcherFunction"]
        real_invoke = dispatcher.invoke

        def dies_half_way(lambda_event: dict[str, Any], **kwargs: Any) -> Any:
            records = lambda_event["Records"]
            real_invoke({**lambda_event, "Records": records[: len(records) // 2]}, **kwargs)
            raise RuntimeError("the Lambda ran out of time half-way through its batch")

        monkeypatch.setattr(dispatcher, "invoke", dies_half_way)
        assert api.poller("DispatcherFunction").poll_once() == EVENTS
        delivered_before_dying = len(receiver.requests)
        assert 0 < delivered_before_dying < EVENTS
        monkeypatch.setattr(dispatcher, "invoke", real_invoke)
        api.drain()
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert sorted(ids) == sorted(delivery_id(f"evt_{n}", hook) for n in range(EVENTS)), "each sent exactly once"
