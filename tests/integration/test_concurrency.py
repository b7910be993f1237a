"""No lost updates under real concurrency: racing PATCHes, and deliveries racing a PATCH."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from integrations.api import service
from integrations.models.integrations import UpdateIntegrationRequest
from integrations.platform.errors import Conflict
from integrations.storage.store import IntegrationStore
from tests.integration.conftest import Api
from tests.integration.test_credentials_and_consistency import in_use

pytestmark = pytest.mark.usefixtures("atomic_item_writes")


@pytest.fixture
def hook(api: Api, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")  # about races, not destinations: no name lookups
    body = {
        "provider": "webhook",
        "name": "original",
        "credentials": {"url": "https://receiver.example.com/original"},
        "enabledEvents": ["scan.completed"],
    }
    reply = api.request("POST", "/v1/integrations", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at the same moment in threads; their results in order."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        start.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


PATCHES: list[dict[str, Any]] = [
    {"name": "renamed"},
    {"enabledEvents": ["scan.completed", "scan.failed"]},
    {"minimumSeverity": "high"},
    {"enabled": False},
    {"credentials": {"url": "https://receiver.example.com/rotated"}},
    {"config": {"headers": {"X-Team": "blue"}}},
]


def patch_as_a_lambda_would(hook: str, patch: dict[str, Any]) -> int:
    """One PATCH through the service, as a separate Lambda container runs it; its HTTP status."""
    try:
        service.from_environment().update("acct_a", hook, UpdateIntegrationRequest.model_validate(patch))
    except Conflict:
        return 409
    return 200


def test_patches_that_read_the_same_version_apply_once_and_the_rest_answer_409(
    api: Api, hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every racer reads the integration before any of them writes: the worst interleaving, made certain.
    everyone_has_read = threading.Barrier(len(PATCHES))
    read = IntegrationStore.get

    def read_then_wait(self: IntegrationStore, account_id: str, integration_id: str) -> Any:
        record = read(self, account_id, integration_id)
        everyone_has_read.wait(timeout=10)
        return record

    monkeypatch.setattr(IntegrationStore, "get", read_then_wait)
    statuses = race(*[lambda patch=patch: patch_as_a_lambda_would(hook, patch) for patch in PATCHES])
    monkeypatch.setattr(IntegrationStore, "get", read)
    assert sorted(statuses) == [200] + [409] * (len(PATCHES) - 1)
    assert_only_the_winners_applied(api, hook, statuses)


def assert_only_the_winners_applied(api: Api, hook: str, statuses: list[int]) -> None:
    final = api.request("GET", "/v1/integrations").body["data"][0]
    secret = in_use(hook)
    applied = {
        "name": final["name"] == "renamed",
        "enabledEvents": final["enabledEvents"] == ["scan.completed", "scan.failed"],
        "minimumSeverity": final["minimumSeverity"] == "high",
        "enabled": final["enabled"] is False,
        "credentials": secret["credentials"]["url"].endswith("/rotated"),
        "config": secret["config"] == {"headers": {"X-Team": "blue"}},
    }
    for patch, status in zip(PATCHES, statuses, strict=True):
        [field] = patch
        assert applied[field] is (status == 200), (field, status)


def test_delivery_outcomes_never_overwrite_a_users_patch(api: Api, hook: str) -> None:
    store = service.from_environment().store
    record_updates = [
        lambda i=i: store.set_last_delivery("acct_a", hook, f"2026-04-10T10:00:{i:02d}Z", "success") for i in range(8)
    ]
    patches = [lambda n=n: api.request("PATCH", f"/v1/integrations/{hook}", {"name": f"name {n}"}) for n in range(4)]
    replies = race(*record_updates, *patches)[len(record_updates) :]
    winners = [f"name {n}" for n, reply in enumerate(replies) if reply.status == 200]
    final = api.request("GET", "/v1/integrations").body["data"][0]
    assert final["name"] in winners, "a successful PATCH is never undone by a delivery's update"
    assert final["lastDeliveryAt"] == "2026-04-10T10:00:07Z", "the newest attempt wins, whatever the order"
    assert final["lastDeliveryStatus"] == "success"
