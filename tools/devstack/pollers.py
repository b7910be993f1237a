"""SQS event source mappings: long-poll each queue and feed its function as Lambda would."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devstack.functions import Function, SqsEvent
from devstack.resources import Resources
from devstack.template import REGION

log = logging.getLogger(__name__)

MAX_RECEIVE = 10  # SQS's own cap per ReceiveMessage call


def _message_attribute(attribute: Mapping[str, Any]) -> dict[str, Any]:
    binary = attribute.get("BinaryValue")
    return {
        "stringValue": attribute.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
        "stringListValues": list(attribute.get("StringListValues") or []),
        "binaryListValues": list(attribute.get("BinaryListValues") or []),
        "dataType": attribute.get("DataType"),
    }


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Lambda's SQS event for received messages."""
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: _message_attribute(attribute)
                for name, attribute in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_ids(result: Any, message_ids: list[str]) -> set[str]:
    """The ids a ReportBatchItemFailures response asks to keep; an invalid response fails the whole batch."""
    if not result:
        return set()
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            log.error("invalid batchItemFailures entry %r: the whole batch is retried", failure)
            return set(message_ids)
        failed.add(identifier)
    return failed


class SqsPoller(threading.Thread):
    """Feeds one function from one queue until the stop event is set."""

    def __init__(
        self,
        function: Function,
        source: SqsEvent,
        queue_url: str,
        queue_arn: str,
        sqs: Any,
        stop: threading.Event,
        wait_seconds: int = 1,
    ) -> None:
        super().__init__(name=f"devstack-poller-{function.logical_id}-{source.name}", daemon=True)
        self.function = function
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = sqs
        self.stop_event = stop
        self.wait_seconds = wait_seconds

    def run(self) -> None:
        """Poll until stopped; errors are logged and polling goes on, as Lambda's poller does."""
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    break  # moto is going away under us
                log.exception("polling %s for %s failed", self.source.queue, self.function.logical_id)
                self.stop_event.wait(1)

    def receive(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: one long poll, then quick calls while messages keep coming."""
        messages: list[dict[str, Any]] = []
        wait = self.wait_seconds
        while len(messages) < self.source.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, self.source.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += received
            if len(received) < MAX_RECEIVE:
                break
            wait = 0
        return messages

    def poll_once(self) -> int:
        """Receive one batch, invoke the function, delete what succeeded; returns the batch size."""
        messages = self.receive()
        if not messages:
            return 0
        ids = [message["MessageId"] for message in messages]
        try:
            result = self.function.invoke(sqs_event(messages, self.queue_arn))
        except Exception:
            # The whole batch becomes visible again after the visibility timeout.
            log.exception("%s failed on a batch of %d from %s", self.function.logical_id, len(ids), self.source.queue)
            return len(messages)
        keep = failed_ids(result, ids) if self.source.report_batch_item_failures else set()
        done = [message for message in messages if message["MessageId"] not in keep]
        for start in range(0, len(done), MAX_RECEIVE):
            chunk = done[start : start + MAX_RECEIVE]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        return len(messages)


def start_pollers(
    functions: Mapping[str, Function],
    resources: Resources,
    client: Callable[[str], Any],
    stop: threading.Event,
    wait_seconds: int = 1,
) -> list[SqsPoller]:
    """Start one poller per enabled SQS event source."""
    pollers = []
    for function in functions.values():
        for source in function.sqs_events:
            if not source.enabled:
                continue
            queue = resources[source.queue]
            poller = SqsPoller(function, source, queue.ref, queue.arn, client("sqs"), stop, wait_seconds)
            poller.start()
            pollers.append(poller)
    return pollers
