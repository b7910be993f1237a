"""Providers' documented rates, held across concurrent invocations: deliveries are delayed, never dropped.

Each paced destination (a Slack webhook, a PagerDuty routing key) has one item in the provider-state table,
``pace:<sha256 of provider and destination>`` (never the destination itself: it is a credential), holding
``nextFree``, the first moment (epoch ms) a message may be sent. Taking a slot is one conditional update:
the destination is free (take it now, the next one is ``interval`` later) or its next slot is near enough
(take that one). An attempt sleeps up to MAX_INLINE_WAIT for its slot; a later slot is not taken, and the
attempt raises Deferred: the dispatcher re-queues the job with that delay, without counting an attempt.

A 429 from any provider holds its destination until its Retry-After: in the table for paced providers (so
every invocation waits), in this container's memory for the others (webhooks, Jira: no documented rate, and
a table read per delivery would cost every delivery for a rare answer). The 429 itself is a failed attempt
and retries after max(Retry-After, the retry schedule).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from integrations.platform import aws

MAX_INLINE_WAIT = 2.0  # seconds an attempt may sleep for its slot; longer waits go back to the queue
MAX_QUEUE_DELAY = 900  # SQS's longest DelaySeconds; a longer wait is deferred again when the job returns
DEFAULT_HOLD = 30.0  # a 429 without Retry-After
ITEM_TTL = 3600  # a slot item outlives its last slot by this much, then expires
PREFIX = "pace:"
_MAX_TRIES = 5  # conditional updates lost to concurrent takers before deferring by one interval


class Deferred(Exception):
    """The destination's next slot is too far to wait for here: deliver after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited: next slot in {seconds:.1f} s")
        self.seconds = seconds

    @property
    def delay_seconds(self) -> int:
        """The wait as SQS DelaySeconds (whole seconds, at least 1, at most 15 minutes)."""
        return max(1, min(math.ceil(self.seconds), MAX_QUEUE_DELAY))


def destination_key(provider_id: str, destination: str) -> str:
    """The table key of a destination: a hash, so the credential itself is never stored."""
    return PREFIX + hashlib.sha256(f"{provider_id}\n{destination}".encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Pacer:
    """Slots per destination in the provider-state table, and holds after a 429."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        # Destinations this container knows to be busy until a moment (epoch ms): deferred jobs keep their
        # order behind the first one, and 429s of unpaced providers are honoured without a table read.
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def wait_for_slot(self, key: str, interval: float | None) -> None:
        """Return when a message may go to ``key`` (sleeping up to MAX_INLINE_WAIT), or raise Deferred."""
        now = _now_ms()
        held = self._held.get(key, 0)
        if held > now + MAX_INLINE_WAIT * 1000:
            raise Deferred((held - now) / 1000)
        slot = self._take(key, round(interval * 1000), now) if interval else max(held, now)
        wait = (slot - _now_ms()) / 1000
        if wait > 0:
            time.sleep(wait)

    def hold(self, key: str, seconds: float | None, *, shared: bool) -> None:
        """Keep ``key`` free of messages for ``seconds`` (a 429's Retry-After); ``shared`` across invocations."""
        until = _now_ms() + round((DEFAULT_HOLD if seconds is None else seconds) * 1000)
        self._remember(key, until)
        if not shared:
            return
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"key": {"S": key}},
                UpdateExpression="SET nextFree = :until, expiresAt = :expires",
                ConditionExpression="attribute_not_exists(nextFree) OR nextFree < :until",
                ExpressionAttributeValues=_values(until=until, expires=until // 1000 + ITEM_TTL),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def _take(self, key: str, interval_ms: int, now: int) -> int:
        """Reserve the destination's next slot (epoch ms) if it is at most MAX_INLINE_WAIT away."""
        latest = now + round(MAX_INLINE_WAIT * 1000)
        dynamodb = aws.client("dynamodb")
        for _ in range(_MAX_TRIES):
            try:  # free: the slot is now
                dynamodb.update_item(
                    TableName=self.table_name,
                    Key={"key": {"S": key}},
                    UpdateExpression="SET nextFree = :next, expiresAt = :expires",
                    ConditionExpression="attribute_not_exists(nextFree) OR nextFree <= :now",
                    ExpressionAttributeValues=_values(
                        now=now, next=now + interval_ms, expires=(now + interval_ms) // 1000 + ITEM_TTL
                    ),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return now
            except ClientError as error:
                if not _condition_failed(error):
                    raise
                busy = int(error.response.get("Item", {}).get("nextFree", {}).get("N", now))
            if busy > latest:
                self._remember(key, busy)
                raise Deferred((busy - now) / 1000)
            try:  # busy, but soon: queue behind the slots already taken
                taken = dynamodb.update_item(
                    TableName=self.table_name,
                    Key={"key": {"S": key}},
                    UpdateExpression="SET nextFree = nextFree + :interval, expiresAt = :expires",
                    ConditionExpression="nextFree > :now AND nextFree <= :latest",
                    ExpressionAttributeValues=_values(
                        now=now, latest=latest, interval=interval_ms, expires=latest // 1000 + ITEM_TTL
                    ),
                    ReturnValues="UPDATED_NEW",
                )
                return int(taken["Attributes"]["nextFree"]["N"]) - interval_ms
            except ClientError as error:
                if not _condition_failed(error):
                    raise
            now = _now_ms()  # freed or filled meanwhile: look again
        raise Deferred(interval_ms / 1000)

    def _remember(self, key: str, until: int) -> None:
        with self._lock:
            if len(self._held) > 1000:  # forget destinations no longer held
                now = _now_ms()
                self._held = {k: v for k, v in self._held.items() if v > now}
            self._held[key] = max(until, self._held.get(key, 0))


def _values(**numbers: int) -> dict[str, Any]:
    return {f":{name}": {"N": str(value)} for name, value in numbers.items()}


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")
