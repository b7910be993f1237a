"""The delivery log: one entry per attempt, kept 30 days, read newest first."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from integrations import aws, clock, settings
from integrations.delivery import Outcome
from integrations.models import DeliveryLogEntry, DeliveryLogsResponse, Pagination

RETENTION = timedelta(days=30)


def _entry(item: dict[str, Any]) -> DeliveryLogEntry:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return DeliveryLogEntry(
        id=item["id"]["S"],
        event=item["event"]["S"],
        status=item["status"]["S"],
        responseCode=number("responseCode"),
        responseTime=number("responseTime") or 0,
        error=text("error"),
        deliveredAt=item["deliveredAt"]["S"],
    )


class DeliveryLogStore:
    """Entries keyed by (integrationId, id); ids are UUIDv7, so a reverse Query is newest first."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def record(
        self,
        *,
        account_id: str,
        integration_id: str,
        delivery_id: str,
        event_type: str,
        outcome: Outcome,
        attempt: int,
        delivered_at: datetime,
    ) -> DeliveryLogEntry:
        """Write the entry for one attempt (its error text is already scrubbed of credentials)."""
        item: dict[str, Any] = {
            "integrationId": {"S": integration_id},
            "id": {"S": clock.new_id()},
            "accountId": {"S": account_id},
            "deliveryId": {"S": delivery_id},
            "attempt": {"N": str(attempt)},
            "event": {"S": event_type},
            "status": {"S": "success" if outcome.success else "failed"},
            "responseTime": {"N": str(outcome.response_time_ms)},
            "deliveredAt": {"S": clock.iso(delivered_at)},
            "expiresAt": {"N": str(int((delivered_at + RETENTION).timestamp()))},
        }
        if outcome.response_code is not None:
            item["responseCode"] = {"N": str(outcome.response_code)}
        if outcome.error:
            item["error"] = {"S": outcome.error}
        aws.client("dynamodb").put_item(TableName=self.table_name, Item=item)
        return _entry(item)

    def page(self, integration_id: str, page: int, limit: int) -> tuple[list[DeliveryLogEntry], int]:
        """Entries of one page (newest first) and the total, never counting expired ones."""
        paginator = aws.client("dynamodb").get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="integrationId = :integration",
            # DynamoDB removes expired items days late (moto never does): hide them ourselves.
            FilterExpression="expiresAt > :now",
            ExpressionAttributeValues={":integration": {"S": integration_id}, ":now": {"N": str(int(time.time()))}},
            ScanIndexForward=False,
        )
        items = [item for result in pages for item in result["Items"]]
        start = (page - 1) * limit
        return [_entry(item) for item in items[start : start + limit]], len(items)


def logs_page(store: DeliveryLogStore, integration_id: str, page: int, limit: int) -> DeliveryLogsResponse:
    """The logs route's answer: one page and exact totals (a page past the end is empty)."""
    entries, total = store.page(integration_id, page, limit)
    pagination = Pagination(page=page, limit=limit, total=total, totalPages=math.ceil(total / limit))
    return DeliveryLogsResponse(data=entries, pagination=pagination)


@cache
def from_environment() -> DeliveryLogStore:
    return DeliveryLogStore(settings.load(settings.DispatchSettings).delivery_logs_table)
