"""Exactly-once effect on at-least-once queues.

A conditional write per delivery, a *claim* (``Claims``) in the provider-state table, keyed by the delivery id
(a redelivery's own id). The first SQS message to claim a delivery sends it; the claim is kept 7 days, so any
other message for the delivery (a duplicated fan-out, a copy received while the attempt runs) finds it and sends
nothing. A claim is held for the invocation's remaining time; once that hold ran out and the attempt is not marked
finished, its invocation died mid-attempt, and the next message for the delivery takes it: the same message
coming back, or the job redriven from the dead-letter queue under a new message id. An attempt that is over
(sent, refused for good, or nothing to send) marks the claim finished, so even a late copy of the same message
(SQS may hand one over at any time, with the same message id) sends nothing; an attempt that fails retryably (or
sends nothing: a rate-limit deferral) releases the claim, so the next attempt, from any message, runs. That is
two writes per delivery, as Powertools' idempotency record took.

Fan-out claims each event the same way (per account and event id, kept a day): an event published twice fans out
once; a fan-out that failed releases it for the message's retry; one that died mid-way is taken over once its hold
ran out.
"""

from __future__ import annotations

import time
from typing import Protocol

from integrations.platform import aws

DELIVERY_RECORD_SECONDS = 7 * 24 * 3600  # longer than the retry schedule (about a day)
EVENT_RECORD_SECONDS = 24 * 3600


CLAIM_HOLD_SECONDS = 60.0  # without a Lambda context (tests, tools): the dispatcher's timeout


class _LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Claims:
    """One conditional write per delivery (or event): which SQS message may act on it (see the module's docstring)."""

    def __init__(self, table_name: str, kind: str = "delivery", keep_seconds: int = DELIVERY_RECORD_SECONDS) -> None:
        self.table_name = table_name
        self.kind = kind
        self.keep_seconds = keep_seconds
        self._context: _LambdaContext | None = None

    def register_lambda_context(self, context: _LambdaContext) -> None:
        """Claims taken during this invocation are held for its remaining time (set before the batch's threads)."""
        self._context = context

    def _hold_seconds(self) -> float:
        if self._context is None:
            return CLAIM_HOLD_SECONDS
        return self._context.get_remaining_time_in_millis() / 1000

    def claim(self, key: str, holder: str) -> bool:
        """Take ``key`` for the SQS message ``holder``; False when the delivery is done or a message (this one or
        another) holds it for an attempt whose invocation may still be running."""
        now = time.time()
        try:
            aws.client("dynamodb").put_item(
                TableName=self.table_name,
                Item={
                    "key": {"S": f"{self.kind}#{key}"},
                    "holder": {"S": holder},
                    "heldUntil": {"N": str(int(now + self._hold_seconds()) + 1)},
                    "expiresAt": {"N": str(int(now) + self.keep_seconds)},
                },
                ConditionExpression="attribute_not_exists(#key) OR (heldUntil < :now AND attribute_not_exists(done))",
                ExpressionAttributeNames={"#key": "key"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
            return False
        return True

    def finish(self, key: str, holder: str) -> None:
        """The holder's attempt is over: nothing may take ``key`` again, not even a late copy of the holder."""
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"key": {"S": f"{self.kind}#{key}"}},
                UpdateExpression="SET done = :done",
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":done": {"BOOL": True}, ":holder": {"S": holder}},
            )
        except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
            pass  # not ours (any more): its holder finishes it

    def release(self, key: str, holder: str) -> None:
        """Let the next attempt run (this one failed retryably or sent nothing); only the holder's own claim."""
        try:
            aws.client("dynamodb").delete_item(
                TableName=self.table_name,
                Key={"key": {"S": f"{self.kind}#{key}"}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
            pass  # not ours (any more): nothing to release
