"""SnapStart runtime hooks (docs/cold-starts.md): the work done once before Lambda snapshots a function, and what
each copy restored from that snapshot must not share with the others.

Before the snapshot each function does what its first request would otherwise do: import what requests need,
load its settings, create its boto3 clients, build its resolver. After a restore, every copy reseeds ``random``
(retry jitter: copies restored from one snapshot would otherwise draw the same delays and retry in lockstep) and
drops what it must not share or keep: cached secrets (read before the snapshot, possibly changed since) and
pooled connections (their sockets were open in another machine's past).

The hooks are registered with ``snapshot_restore_py``, which the Lambda runtime provides. Where it is missing
(local stack and tests need not have it) they are only kept here; ``before_snapshot()`` and ``after_restore()``
run them as the runtime does, for the benchmark and the tests. Without SnapStart the runtime runs no hook: the
work of ``prepare`` then happens on first use, as before.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from typing import Any

try:
    import snapshot_restore_py as _runtime
except ImportError:  # not in the local stack's or the tests' environment: the hooks stay local
    _runtime = None

Step = Callable[[], Any]

_before: list[Step] = []
_after: list[Step] = []


def prepare(*steps: Step) -> None:
    """Run ``steps``, in this order, before Lambda snapshots the function."""

    def prepare_function() -> None:
        for step in steps:
            step()

    _before.append(prepare_function)
    if _runtime is not None:
        _runtime.register_before_snapshot(prepare_function)


def on_restore(step: Step) -> Step:
    """Run ``step`` in each copy of the function restored from the snapshot (usable as a decorator)."""
    _after.append(step)
    if _runtime is not None:
        _runtime.register_after_restore(step)
    return step


def clients(*services: str) -> Step:
    """A step creating the boto3 clients of ``services`` (botocore loads each service's model then)."""

    def create_clients() -> None:
        from integrations import aws

        for service in services:
            aws.client(service)

    return create_clients


def before_snapshot() -> None:
    """Run the before-snapshot hooks as the runtime does (last registered first)."""
    for step in reversed(_before):
        step()


def after_restore() -> None:
    """Run the after-restore hooks as the runtime does (in registration order)."""
    for step in _after:
        step()


@on_restore
def reseed_random() -> None:
    """A fresh seed from the OS: the snapshot's generator state is the same in every restored copy."""
    random.seed()


@on_restore
def forget_secrets_and_connections() -> None:
    """Cached secrets and pooled connections (AWS and providers) are dropped; the next use makes them anew.

    Only modules the function has loaded can hold any: the others are not imported here (restores are billed).
    """
    if vault := sys.modules.get("integrations.vault"):
        vault.forget_cached_secrets()
    if aws := sys.modules.get("integrations.aws"):
        aws.close_connections()
    if http := sys.modules.get("integrations.http"):
        http.close_connections()
