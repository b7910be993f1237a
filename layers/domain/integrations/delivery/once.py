"""Exactly-once effect on at-least-once queues, with Powertools' idempotency utility.

A job's delivery id (and an event's id) keys a conditional record in the provider-state table: while an
attempt runs it is IN_PROGRESS (expiring with the Lambda's remaining time, so a crashed attempt frees it),
and once it finished for good (delivered, or failed beyond retrying) its outcome is kept, so a redelivered
message, a duplicated fan-out or a retry after a timeout returns that outcome without calling the provider
again. An attempt that fails retryably raises, which deletes the record, so the next attempt runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from integrations.platform import aws

DELIVERY_RECORD_SECONDS = 7 * 24 * 3600  # longer than the retry schedule (about a day)
EVENT_RECORD_SECONDS = 24 * 3600


def persistence(table_name: str) -> DynamoDBPersistenceLayer:
    """Idempotency records in the provider-state table (its key is `key`, its TTL `expiresAt`)."""
    return DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="key", expiry_attr="expiresAt", boto3_client=aws.client("dynamodb")
    )


def once_per(
    key: str,
    function: Callable[..., Any],
    store: DynamoDBPersistenceLayer,
    config: IdempotencyConfig,
) -> Callable[..., Any]:
    """``function`` run at most once to completion per value of ``key`` in its ``job`` argument."""
    wrapped: Callable[..., Any] = idempotent_function(
        data_keyword_argument="job", persistence_store=store, config=config, key_prefix=key
    )(function)
    return wrapped


def config(key_field: str, seconds: int) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath=key_field, raise_on_no_idempotency_key=True, expires_after_seconds=seconds
    )
