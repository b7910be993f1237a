"""SQS pollers: the Lambda SQS event, partial batch failures, whole-batch failures, clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.creators import client_factory
from devstack.functions import Function, load_functions
from devstack.pollers import SqsPoller, failed_ids, start_pollers
from devstack.provision import provision
from devstack.resources import Resources
from devstack.template import load_template

Fragment = Callable[..., Path]

TEMPLATE = """
    Resources:
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/worker/
          Handler: app.lambda_handler
          Events:
            Jobs:
              Type: SQS
              Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 5, FunctionResponseTypes: [ReportBatchItemFailures]}
      Plain:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/plain/
          Handler: app.lambda_handler
          Events:
            Other: {Type: SQS, Properties: {Queue: !GetAtt Other.Arn, BatchSize: 5}}
      Jobs:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 30
          RedrivePolicy: {deadLetterTargetArn: !GetAtt JobsDLQ.Arn, maxReceiveCount: 3}
      JobsDLQ: {Type: AWS::SQS::Queue}
      Other: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}
"""

# Fails the records whose body is "fail", crashes on "crash", answers garbage on "garbage".
HANDLER = """
def lambda_handler(event, context):
    bodies = [record["body"] for record in event["Records"]]
    if "crash" in bodies:
        raise RuntimeError("crash")
    if "garbage" in bodies:
        return {"batchItemFailures": [{"itemIdentifier": "no-such-id"}]}
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                  for record in event["Records"] if record["body"] == "fail"]}
"""


class Stack:
    """The fragment provisioned in mock_aws, with a spy on every function."""

    def __init__(self, path: Path, session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> None:
        template = load_template(path)
        self.resources: Resources = provision(template, session, "st")
        self.functions = load_functions(template, self.resources)
        self.sqs = session.client("sqs")
        self.client = client_factory(session)
        self.events: list[dict[str, Any]] = []
        for function in self.functions.values():
            monkeypatch.setattr(function, "invoke", self._spy(function))

    def _spy(self, function: Function) -> Callable[..., Any]:
        real = function.invoke

        def invoke(event: Any, **kwargs: Any) -> Any:
            self.events.append(event)
            return real(event, **kwargs)

        return invoke

    def poller(self, logical_id: str) -> SqsPoller:
        function = self.functions[logical_id]
        (source,) = function.sqs_events
        queue = self.resources[source.queue]
        return SqsPoller(function, source, queue.ref, queue.arn, self.sqs, threading.Event(), wait_seconds=0)

    def send(self, queue: str, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(
                QueueUrl=self.resources.ref(queue),
                MessageBody=body,
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
            )

    def counts(self, queue: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.resources.ref(queue), AttributeNames=names)
        return int(attributes["Attributes"][names[0]]), int(attributes["Attributes"][names[1]])


@pytest.fixture
def stack(fragment: Fragment, aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> Stack:
    path = fragment(TEMPLATE, {"functions/worker": HANDLER, "functions/plain": HANDLER})
    return Stack(path, aws, monkeypatch)


def test_sqs_event_has_lambdas_shape(stack: Stack) -> None:
    stack.send("Jobs", "hello")
    assert stack.poller("Worker").poll_once() == 1
    (record,) = stack.events[0]["Records"]
    assert record["body"] == "hello"
    assert record["messageId"]
    assert record["receiptHandle"]
    assert record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-east-1")
    assert record["eventSourceARN"] == stack.resources.arn("Jobs")
    assert stack.counts("Jobs") == (0, 0)


def test_batch_item_failures_stay_for_redelivery(stack: Stack) -> None:
    stack.send("Jobs", "ok-1", "fail", "ok-2")
    assert stack.poller("Worker").poll_once() == 3
    assert stack.counts("Jobs") == (0, 1)  # only the failed record is left, invisible until its timeout
    failed = next(r for r in stack.events[0]["Records"] if r["body"] == "fail")
    stack.sqs.change_message_visibility(
        QueueUrl=stack.resources.ref("Jobs"), ReceiptHandle=failed["receiptHandle"], VisibilityTimeout=0
    )
    stack.poller("Worker").poll_once()
    (again,) = stack.events[1]["Records"]
    assert (again["messageId"], again["attributes"]["ApproximateReceiveCount"]) == (failed["messageId"], "2")


def test_an_exception_fails_the_whole_batch(stack: Stack) -> None:
    stack.send("Jobs", "ok", "crash")
    stack.poller("Worker").poll_once()
    assert stack.counts("Jobs") == (0, 2)


def test_an_invalid_failure_report_fails_the_whole_batch(stack: Stack) -> None:
    stack.send("Jobs", "ok", "garbage")
    stack.poller("Worker").poll_once()
    assert stack.counts("Jobs") == (0, 2)


def test_without_report_batch_item_failures_the_response_is_ignored(stack: Stack) -> None:
    stack.send("Other", "ok", "fail")
    stack.poller("Plain").poll_once()
    assert stack.counts("Other") == (0, 0)


def test_failed_ids() -> None:
    ids = ["a", "b"]
    assert failed_ids(None, ids) == set()
    assert failed_ids({"batchItemFailures": []}, ids) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == {"a", "b"}
    assert failed_ids({"batchItemFailures": "b"}, ids) == {"a", "b"}


def test_pollers_run_in_threads_and_stop_cleanly(stack: Stack) -> None:
    stop = threading.Event()
    pollers = start_pollers(stack.functions, stack.resources, stack.client, stop, wait_seconds=1)
    assert sorted(p.function.logical_id for p in pollers) == ["Plain", "Worker"]
    stack.send("Jobs", "threaded")
    deadline = time.monotonic() + 10
    while not stack.events and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for poller in pollers:
        poller.join(timeout=5)
        assert not poller.is_alive()
    assert stack.events[0]["Records"][0]["body"] == "threaded"
