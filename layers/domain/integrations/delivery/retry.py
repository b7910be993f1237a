"""When to try a failed delivery again: exponential backoff with jitter over about a day."""

from __future__ import annotations

import random

from integrations.platform import aws

# Seconds to wait before attempts 2, 3, …: Svix's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
BACKOFF = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2  # ±20 %, so failures of one burst do not retry in lockstep
MAX_DELAY = 12 * 3600  # SQS's longest visibility timeout


def next_delay(
    attempt: int, max_attempts: int, retry_after: float | None = None, rng: random.Random | None = None
) -> int | None:
    """Seconds until the next attempt after failed attempt ``attempt`` (1-based), or None when it was the last."""
    if attempt >= max_attempts:
        return None
    base = BACKOFF[min(attempt, len(BACKOFF)) - 1]
    delay = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, retry_after)  # the provider knows best when it can take more
    return max(0, min(round(delay), MAX_DELAY))


class RetryScheduled(Exception):
    """The attempt failed retryably; the message stays in the queue, hidden until the next attempt."""


def schedule_retry(queue_url: str, receipt_handle: str, delay: int) -> None:
    """Hide the message for ``delay`` seconds; when it reappears, the dispatcher makes the next attempt."""
    aws.client("sqs").change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
    )


# A message attribute: the attempts made before this message was queued again (a rate-limit deferral sends the
# job anew, whose receive count starts over; this keeps the attempt count, and a deferral is not an attempt).
ATTEMPTS_MADE = "attemptsMade"
REASON = "reason"  # the message attribute saying why a message was parked


def attempt_number(receive_count: int, attempts_made: str | None) -> int:
    """This attempt's number (1-based): the attempts carried by the message plus its receives."""
    return receive_count + (int(attempts_made) if attempts_made and attempts_made.isdigit() else 0)


def requeue(queue_url: str, body: str, delay: int, attempts_made: int) -> None:
    """Send the job again, visible after ``delay`` seconds (at most 900), carrying the attempts made so far."""
    aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        DelaySeconds=delay,
        MessageAttributes={ATTEMPTS_MADE: {"DataType": "Number", "StringValue": str(attempts_made)}},
    )


def dead_letter(queue_url: str, body: str, reason: str) -> None:
    """Park a message in a dead-letter queue with the reason beside it (fan-out's events, the dispatcher's jobs)."""
    aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={REASON: {"DataType": "String", "StringValue": reason[:1024]}},
    )
