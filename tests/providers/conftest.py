"""Fixtures of the provider tests: fake providers on loopback, and a read timeout short enough for fast tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.providers import http
from tests.providers.fakes import FakePagerDuty, FakeReceiver, FakeSlack

SHORT_READ_TIMEOUT = 0.25


@pytest.fixture(autouse=True)
def _local_destinations(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes listen on loopback: the SSRF guard is off, as in the local stack (it has tests of its own)."""
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setenv("EMAIL_SENDER", "alerts@apviso.test")


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    """A generic receiver: 200 with an empty body unless a test scripts otherwise."""
    with FakeReceiver() as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    """Senders rely on http.post's default attempt deadline; shorten it so a slow answer times out quickly."""
    monkeypatch.setattr(http, "ATTEMPT_DEADLINE", SHORT_READ_TIMEOUT)
    return SHORT_READ_TIMEOUT
