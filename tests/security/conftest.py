"""Fixtures of the security tests: a fake network (no real DNS, nothing past loopback) and a counting listener."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import api, stack_parameters  # noqa: F401 - the in-process API, reused as is
from tests.security.network import CountingListener, FakeNetwork


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    """Names answer from the test's table (others: a public address; ``*.invalid``: nothing)."""
    return FakeNetwork.install(monkeypatch)


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    """A loopback port (127.0.0.1 and, where there is one, ::1) that counts every connection made to it."""
    counting = CountingListener()
    yield counting
    counting.close()
