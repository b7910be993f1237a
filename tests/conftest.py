"""Fixtures shared by every suite: a clean, fake AWS environment and fresh per-test caches."""

from __future__ import annotations

import copy
import gc
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.api import recovery, redelivery, service
from integrations.delivery import dispatch, fanout
from integrations.platform import aws, settings
from integrations.platform.observability import logger
from integrations.storage import delivery_logs
from tests.security.network import FakeNetwork

ROOT = Path(__file__).resolve().parents[1]
SEED: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "seed_examples.json").read_text())


def seed_catalog_as_decided() -> dict[str, Any]:
    """The seed's provider catalog with the one decision that changes it: Slack supports ``finding.new``, as the
    seed's own PATCH example requires (docs/decisions.md)."""
    catalog = copy.deepcopy(SEED["providers_response"])
    [slack] = [provider for provider in catalog["providers"] if provider["id"] == "slack"]
    events = slack["supportedEvents"]
    events.insert(events.index("scan.failed") + 1, "finding.new")
    return dict(catalog)


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Never reach real AWS, whatever the developer's shell holds.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    _clear_caches()
    yield
    _clear_caches()
    gc.unfreeze()  # SnapStart's before-snapshot hook freezes the heap (platform.snapstart): not a test process's


def _clear_caches() -> None:
    aws.reset()
    settings.load.cache_clear()
    for wired in (service, dispatch, fanout, delivery_logs, redelivery, recovery):
        wired.from_environment.cache_clear()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every line the functions log during the test (the JSON lines CloudWatch would receive)."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    """No real name lookups, nothing past loopback: names answer from a table (a public address by default)."""
    return FakeNetwork.install(monkeypatch)
