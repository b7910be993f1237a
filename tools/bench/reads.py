"""DynamoDB items read, as each answer reports them: what the read targets (and the logs test) count."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from botocore.client import BaseClient


class ItemsRead:
    """Items read by every DynamoDB client (ours and Powertools' own) while ``counting``, on ``table`` or all.

    Query and Scan: ``ScannedCount`` (examined before any filter, which is what is billed); GetItem: its item;
    BatchGetItem and TransactGetItems: the items answered.
    """

    def __init__(self, table: str | None = None) -> None:
        self.table = table
        self.count = 0

    def add(self, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        if self.table is not None and params.get("TableName", self.table) != self.table:
            return
        if "ScannedCount" in answer:
            self.count += int(answer["ScannedCount"])
        elif operation == "GetItem":
            self.count += 1 if "Item" in answer else 0
        elif operation == "BatchGetItem":
            self.count += sum(len(items) for items in answer.get("Responses", {}).values())
        elif operation == "TransactGetItems":
            self.count += sum(1 for response in answer.get("Responses", []) if "Item" in response)

    @contextlib.contextmanager
    def counting(self) -> Iterator[ItemsRead]:
        original: Callable[..., Any] = BaseClient._make_api_call

        def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            answer = original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                self.add(operation, params, answer)
            return answer

        BaseClient._make_api_call = counted
        try:
            yield self
        finally:
            BaseClient._make_api_call = original
