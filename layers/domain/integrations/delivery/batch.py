"""Powertools' SQS batch processing, with the records of different integrations processed at once.

Delivery is latency-bound: a serial loop over a batch of ten jobs waits for ten provider round trips. This
processor keeps Powertools' BatchProcessor (its record handling, failure collection and the
``batchItemFailures`` response) and only replaces its loop: records are grouped by a key (the integration),
groups run in threads, and the records of one group run one after another in their batch order, so that
deliveries to one integration stay ordered and paced (``integrations.delivery.pacing``).

Powertools' AsyncBatchProcessor would need an async record handler and an async HTTP client; the
providers use requests, and threads are enough for a batch of at most ten I/O-bound records. What the
threads share is safe to share: boto3 clients (not sessions or resources), the pooled requests session,
the delivery claims (their Lambda context is registered before the batch starts), the logger
(per-record keys go through Powertools' thread-safe, context-local keys) and metrics (single_metric).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

MAX_WORKERS = 10  # the dispatcher's BatchSize: every group of a full batch gets its thread


def job_of(record: dict[str, Any]) -> tuple[str, str] | None:
    """The (account, integration) a deliveries-queue record's job names, or None when its body cannot say."""
    try:
        body = json.loads(record["body"])
        return str(body["accountId"]), str(body["integrationId"])
    except (KeyError, TypeError, ValueError):
        return None


def integration_of(record: dict[str, Any]) -> str:
    """The group of a deliveries-queue record: its job's integration (a record that cannot say is alone)."""
    named = job_of(record)
    return named[1] if named else f"message:{record.get('messageId')}"


def integrations_of(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (account, integration) each deliveries-queue record names, in order (one that cannot say is left out)."""
    return [named for named in map(job_of, records) if named]


class ConcurrentBatchProcessor(BatchProcessor):
    """BatchProcessor whose groups of records run concurrently, each group in its records' order."""

    def __init__(
        self, event_type: EventType, group_of: Callable[[dict[str, Any]], str], max_workers: int = MAX_WORKERS
    ) -> None:
        # A batch whose every job failed is reported job by job, like a partial failure, not raised: raising makes
        # the invocation a Lambda error, and one customer's receiver being down would then look like ours.
        super().__init__(event_type=event_type, raise_on_entire_batch_failure=False)
        self.group_of = group_of
        self.max_workers = max_workers

    def process(self) -> list[tuple[Any, ...]]:
        """Each record through BatchProcessor's own handling; results in the records' order, as the base returns."""
        groups: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            groups.setdefault(self.group_of(record), []).append(index)
        results: list[tuple[Any, ...]] = [()] * len(self.records)

        def run(indices: list[int]) -> None:
            for index in indices:
                results[index] = self._process_record(self.records[index])

        if len(groups) <= 1:
            for indices in groups.values():
                run(indices)  # nothing to overlap: no thread
        else:
            with ThreadPoolExecutor(max_workers=min(len(groups), self.max_workers)) as pool:
                # list() re-raises anything that escaped _process_record (which itself catches Exception).
                list(pool.map(run, groups.values()))
        return results
