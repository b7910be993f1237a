"""When to try a failed delivery again: exponential backoff with jitter over about a day."""

from __future__ import annotations

import random

from integrations import aws

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
