"""moto's DynamoDB with DynamoDB's per-item atomicity, for the local stack and the tests that race writers.

DynamoDB applies each write to an item atomically, its condition and its ReturnValues included; moto applies it
in Python without a lock (two concurrent ADDs can lose one) and answers with the live item, which a concurrent
write may change before the answer is built. Each write here runs under one lock and answers a snapshot.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

WRITES = ("put_item", "update_item", "delete_item")


def atomic_item_writes() -> dict[str, Callable[..., Any]]:
    """Replacements for DynamoDBBackend's item writes, by method name (install them with setattr)."""
    lock = threading.Lock()

    def atomic(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return copy.deepcopy(original(self, *args, **kwargs))

        write.atomic = True  # type: ignore[attr-defined]
        return write

    return {name: atomic(getattr(DynamoDBBackend, name)) for name in WRITES}


def install() -> None:
    """Make this process's moto atomic (the local stack's server); a second call changes nothing."""
    if getattr(DynamoDBBackend.update_item, "atomic", False):
        return
    for name, write in atomic_item_writes().items():
        setattr(DynamoDBBackend, name, write)
