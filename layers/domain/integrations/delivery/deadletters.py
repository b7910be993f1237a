"""The operator's view of the dead-letter queues: what is in them and why, and moving messages back.

Dead letters hold scanner events (the events DLQ) and delivery jobs (the deliveries DLQ): an event and the
ids of the integration it was for, never credentials, which live in Secrets Manager and are read at each
attempt. Samples are still passed through the log redaction as a second line of defence.

Redrive moves messages back to their source queue in batches, sending each batch before deleting it from
the dead-letter queue: a failure half way leaves every message not yet sent where it was, and at worst a
message is sent twice (a delete failing after its send), which fan-out (per event id) and the dispatcher
(per delivery id) absorb. Moto does not implement SQS's StartMessageMoveTask, which could not be tested
here; receive, send, delete is what it would do anyway.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from integrations.delivery.jobs import DeliveryJob
from integrations.delivery.retry import ATTEMPTS_MADE, REASON
from integrations.platform import aws, bounded_json
from integrations.platform.redaction import redact_text
from integrations.storage import delivery_logs

SQS_BATCH = 10
PEEK_SECONDS = 30  # how long inspected messages stay hidden before they are released
MOVE_SECONDS = 120  # how long a batch being moved stays hidden (released at once on a failure)
SAMPLE_CHARS = 4000
NO_EVENT_REASON = "fan-out kept failing (receive limit reached; see the fan-out function's logs)"
NO_BUS_REASON = "EventBridge could not hand it to the events queue"
NO_RECOVERY_REASON = "the recovery page kept failing (receive limit reached; see the recovery_batches function's logs)"
# What EventBridge attaches to an event it parks in a rule target's dead-letter queue (why, and for which target).
BUS_ERROR_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN", "EXHAUSTED_RETRY_CONDITION")
NO_LOG_REASON = "no attempt logged (failed inside the service; see the dispatcher's logs)"


@dataclass(frozen=True)
class DeadLetterQueue:
    # "events", "deliveries", "bus" (scanner events the EventBridge rule could not hand over) or "recovery"
    name: str
    url: str
    source_url: str  # where a redrive sends its messages


@dataclass
class Inspection:
    queue: str
    approximate_count: int  # SQS's own count, visible and in flight
    examined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    sample: str | None = None


@dataclass
class Redrive:
    queue: str
    moved: int = 0
    failed: int = 0  # left in the dead-letter queue because sending them failed
    error: str | None = None


def approximate_count(url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def _receive(url: str, hide_seconds: int) -> list[dict[str, Any]]:
    response = aws.client("sqs").receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=SQS_BATCH,
        VisibilityTimeout=hide_seconds,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["SentTimestamp"],
        WaitTimeSeconds=0,
    )
    return list(response.get("Messages", []))


def _release(url: str, messages: list[dict[str, Any]]) -> None:
    """Make ``messages`` visible again at once."""
    for start in range(0, len(messages), SQS_BATCH):
        batch = messages[start : start + SQS_BATCH]
        aws.client("sqs").change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(batch)
            ],
        )


@contextmanager
def _peeked(url: str, limit: int) -> Iterator[list[dict[str, Any]]]:
    """Up to ``limit`` messages, hidden while they are looked at and released afterwards (nothing consumed)."""
    messages: list[dict[str, Any]] = []
    try:
        while len(messages) < limit:
            batch = _receive(url, PEEK_SECONDS)
            if not batch:
                break
            messages += batch
        yield messages[:limit]
    finally:
        _release(url, messages)


class DeadLetters:
    """Inspects and redrives the stack's dead-letter queues."""

    def __init__(self, queues: list[DeadLetterQueue], delivery_logs_table: str | None) -> None:
        self.queues = queues
        self.delivery_logs_table = delivery_logs_table

    def inspect(self, queue: DeadLetterQueue, limit: int = 100) -> Inspection:
        """Counts and reasons of (up to ``limit``) messages, and one body as a sample."""
        found = Inspection(queue.name, approximate_count(queue.url))
        with _peeked(queue.url, limit) as messages:
            found.examined = len(messages)
            for message in messages:
                found.reasons[self._reason(queue, message)] += 1
            if messages:
                found.sample = _sample(messages[0]["Body"])
        return found

    def redrive(self, queue: DeadLetterQueue, limit: int | None = None) -> Redrive:
        """Move the messages parked before this call back to the source queue, each batch sent before deleted.

        A message that fails again at once comes back to the dead-letter queue as a new message: it arrived
        after the redrive began, so it is left there (hidden until the end, then released), never moved in
        a loop.
        """
        result = Redrive(queue.name)
        sqs = aws.client("sqs")
        started_ms = int(time.time() * 1000)
        arrived_since: list[dict[str, Any]] = []
        try:
            while limit is None or result.moved < limit:
                received = _receive(queue.url, MOVE_SECONDS)
                if not received:
                    break
                batch = [m for m in received if int(m.get("Attributes", {}).get("SentTimestamp", 0)) <= started_ms]
                arrived_since += [m for m in received if m not in batch]
                if limit is not None:
                    _release(queue.url, batch[limit - result.moved :])
                    batch = batch[: limit - result.moved]
                if batch and not self._move(queue, batch, result, sqs):
                    break
        finally:
            _release(queue.url, arrived_since)
        return result

    @staticmethod
    def _move(queue: DeadLetterQueue, batch: list[dict[str, Any]], result: Redrive, sqs: Any) -> bool:
        """Send ``batch`` to the source queue, then delete what was sent; False (and the rest released) on a failure."""
        try:
            response = sqs.send_message_batch(
                QueueUrl=queue.source_url,
                Entries=[{"Id": str(i), **_resend(message)} for i, message in enumerate(batch)],
            )
        except Exception as error:  # nothing of this batch was sent: leave all of it in place
            _release(queue.url, batch)
            result.failed += len(batch)
            result.error = f"sending to the source queue failed: {type(error).__name__}"
            return False
        sent = {entry["Id"] for entry in response.get("Successful", [])}
        done = [message for i, message in enumerate(batch) if str(i) in sent]
        kept = [message for i, message in enumerate(batch) if str(i) not in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        result.moved += len(done)
        if kept:
            _release(queue.url, kept)
            result.failed += len(kept)
            codes = sorted({entry.get("Code", "?") for entry in response.get("Failed", [])})
            result.error = f"the source queue refused {len(kept)} message(s): {', '.join(codes)}"
            return False
        return True

    def _reason(self, queue: DeadLetterQueue, message: dict[str, Any]) -> str:
        # Fan-out and the dispatcher attach the reason when they park a message themselves.
        reason = message.get("MessageAttributes", {}).get(REASON, {}).get("StringValue")
        if reason:
            return str(reason)
        if queue.name == "events":
            return NO_EVENT_REASON
        if queue.name == "recovery":
            return NO_RECOVERY_REASON
        if queue.name == "bus":
            attributes = message.get("MessageAttributes", {})
            code, text = (attributes.get(name, {}).get("StringValue") for name in ("ERROR_CODE", "ERROR_MESSAGE"))
            return f"{NO_BUS_REASON}: {code}: {text}" if code else NO_BUS_REASON
        try:
            job = DeliveryJob.model_validate_json(message["Body"])
        except ValidationError:
            return "not a delivery job"
        return self._last_error(job)

    def _last_error(self, job: DeliveryJob) -> str:
        """The delivery log's newest entry for this delivery (its error is already scrubbed of credentials)."""
        if not self.delivery_logs_table:
            return NO_LOG_REASON
        pages = (
            aws.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.delivery_logs_table,
                # The entries only (not the head), newest first.
                KeyConditionExpression="integrationId = :integration AND begins_with(id, :entries)",
                FilterExpression="deliveryId = :delivery",
                ExpressionAttributeValues={
                    ":integration": {"S": job.integrationId},
                    ":entries": {"S": delivery_logs.ENTRIES_PREFIX},
                    ":delivery": {"S": job.deliveryId},
                },
                ScanIndexForward=False,
            )
        )
        for page in pages:
            for item in page["Items"]:
                error = item.get("error", {}).get("S")
                code = item.get("responseCode", {}).get("N")
                return str(error or (f"HTTP {code}" if code else "failed"))
        return NO_LOG_REASON


def _resend(message: dict[str, Any]) -> dict[str, Any]:
    """The same body and attributes, minus the ``reason`` (a new rejection writes its own), the attempts made
    (a redriven job starts a fresh schedule of attempts) and EventBridge's error attributes (the event now arrives
    as the rule would have sent it)."""
    attributes = {
        name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue", "BinaryValue")}
        for name, attribute in message.get("MessageAttributes", {}).items()
        if name not in (REASON, ATTEMPTS_MADE, *BUS_ERROR_ATTRIBUTES)
    }
    return {"MessageBody": message["Body"], **({"MessageAttributes": attributes} if attributes else {})}


def _sample(body: str) -> str:
    try:
        text = json.dumps(bounded_json.loads(body), indent=2, ensure_ascii=False)
    except bounded_json.UnreadableJson:  # e.g. nested too deep for any parser: shown as it is
        text = body
    text = redact_text(text)
    return text if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS] + "\n… (truncated)"
