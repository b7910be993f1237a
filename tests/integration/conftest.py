"""The whole API in-process: moto, resources provisioned from template.yaml, the gateway emulator with the
real authorizer and each route's own handler. No HTTP port, no second list of tables."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jsonschema
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from devstack import atomic
from devstack.functions import Function, load_functions, merged_environment
from devstack.gateway import Gateway, load_api
from devstack.pollers import SqsPoller
from devstack.provision import provision
from devstack.proxy import HttpRequest
from devstack.resources import Resources
from devstack.template import load_template
from integrations.delivery import retry
from integrations.platform import clock, settings
from integrations.storage import apikeys
from tests.conftest import ROOT

KEY_A = "apvk_test_account_a_0000000000000000000000"
KEY_B = "apvk_test_account_b_0000000000000000000000"
OPENAPI: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text())


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: str


@dataclass
class Api:
    """Speaks to the gateway emulator like an HTTP client, and checks each answer against openapi.json."""

    gateway: Gateway
    resources: Resources
    functions: dict[str, Function]
    replies: list[Reply] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = KEY_A,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = list({"Content-Type": "application/json", **(headers or {})}.items())
        if key is not None:
            sent.append(("X-API-Key", key))
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.gateway.handle(HttpRequest(method, path, sent, data))
        text = response.body.decode()
        reply = Reply(response.status, json.loads(text) if text else None, dict(response.headers), text)
        self.replies.append(reply)
        _check_against_openapi(method, path, reply)
        return reply

    def table(self, logical_id: str) -> str:
        return self.resources.ref(logical_id)

    def publish(self, event: dict[str, Any]) -> None:
        """As the scanner does: PutEvents on the stack's bus (the rule forwards it to the events queue)."""
        response = boto3.client("events").put_events(
            Entries=[
                {
                    "EventBusName": self.resources.ref("ScannerEventBus"),
                    "Source": "apviso.scanner",
                    "DetailType": event.get("type", "unknown"),
                    "Detail": json.dumps(event),
                }
            ]
        )
        assert response["FailedEntryCount"] == 0

    def poller(self, function: str) -> SqsPoller:
        """A poller feeding ``function`` from its queue as Lambda's event source mapping would."""
        [source] = self.functions[function].sqs_events
        queue = self.resources[source.queue]
        stop = threading.Event()
        return SqsPoller(self.functions[function], source, queue.ref, queue.arn, boto3.client("sqs"), stop, 0)

    def drain(self, rounds: int = 50) -> None:
        """Run fan-out, recovery batches and dispatcher until their queues are empty (hidden retries excepted)."""
        pollers = [self.poller(name) for name in ("FanoutFunction", "RecoveryBatchesFunction", "DispatcherFunction")]
        for _ in range(rounds):
            if sum(poller.poll_once() for poller in pollers) == 0:
                return
        raise AssertionError(f"queues not drained after {rounds} rounds")

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """Every message visible in ``queue`` (read without consuming: they become visible again at once)."""
        url = self.resources.ref(queue)
        sqs = boto3.client("sqs")
        found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        for message in found:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        return list(found)


def _check_against_openapi(method: str, path: str, reply: Reply) -> None:
    """A documented operation's answer must match the schema documented for its status."""
    template = "/v1/integrations/{id}" if path.count("/") == 3 and "/providers" not in path else path.split("?")[0]
    operation = OPENAPI["paths"].get(template, {}).get(method.lower())
    if operation is None or (reply.status in (404, 405) and str(reply.status) not in operation["responses"]):
        return
    documented = operation["responses"].get(str(reply.status))
    assert documented, f"{method} {path} answered {reply.status}, which openapi.json does not document"
    schema = documented["content"]["application/json"]["schema"]
    jsonschema.validate(reply.body, {**schema, "components": OPENAPI["components"]})


# Tests send one account's requests as fast as they can: each account's own rate limit (AccountRateLimit)
# would answer some 429. Its tests (tests/devstack/test_throttling.py, tests/e2e) set the limits themselves.
UNTHROTTLED = {"AccountRateLimit": "100000", "AccountBurstLimit": "100000"}


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    """Template parameters for the provisioned stack; override in a test module to change them."""
    return {}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, stack_parameters: dict[str, str]) -> Iterator[Api]:
    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        resources = provision(template, parameters={**UNTHROTTLED, **stack_parameters})
        functions = load_functions(template, resources)
        for name, value in merged_environment(functions).items():
            monkeypatch.setenv(name, value)
        table, usage_plan = resources.ref("ApiKeysTable"), resources.ref("AccountUsagePlan")
        apikeys.issue_key(table, "acct_a", usage_plan, "test", api_key=KEY_A)
        apikeys.issue_key(table, "acct_b", usage_plan, "test", api_key=KEY_B)
        yield Api(Gateway(load_api(template, resources, functions), functions), resources, functions)


@pytest.fixture
def atomic_item_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB's per-item atomicity for tests that race writers (moto in-process lacks it: devstack.atomic)."""
    for name, write in atomic.atomic_item_writes().items():
        monkeypatch.setattr(DynamoDBBackend, name, write)


@pytest.fixture
def instant_local_delivery(monkeypatch: pytest.MonkeyPatch, api: Api) -> None:
    """Receivers on loopback are allowed (the fakes listen there) and retries come at once (the schedule is
    unit-tested)."""
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setattr(retry, "BACKOFF", (0,) * len(retry.BACKOFF))
    settings.load.cache_clear()


START = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """The service's clock (integrations.platform.clock.now), moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = START
        monkeypatch.setattr(clock, "now", lambda: self.at)

    def set(self, after: timedelta) -> None:
        self.at = START + after


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)
