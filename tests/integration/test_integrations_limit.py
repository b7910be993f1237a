"""The per-account cap on integrations (template parameter MaxIntegrationsPerAccount): each one holds a secret
billed monthly, so an abusive or buggy client cannot create them without end."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from devstack.__main__ import local_settings
from integrations.storage.store import COUNTER_ID, IntegrationStore
from tests.integration.conftest import KEY_A, KEY_B, Api
from tests.integration.test_concurrency import race

LIMIT = 3


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"MaxIntegrationsPerAccount": str(LIMIT)}


@pytest.fixture(autouse=True)
def _no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")  # about counting, not destinations


def create(api: Api, name: str = "hook", key: str = KEY_A) -> Any:
    body = {
        "provider": "webhook",
        "name": name,
        "credentials": {"url": "https://receiver.example.com/hook"},
        "enabledEvents": ["scan.completed"],
    }
    return api.request("POST", "/v1/integrations", body, key=key)


def count(api: Api, account: str = "acct_a") -> int | None:
    return IntegrationStore(api.table("IntegrationsTable")).get_counter(account)


def test_the_template_default_reaches_the_create_function(api: Api) -> None:
    variables = api.functions["CreateIntegrationFunction"].environment
    assert variables["MAX_INTEGRATIONS_PER_ACCOUNT"] == str(LIMIT)


def test_an_account_at_its_limit_gets_a_409_until_it_deletes_one(api: Api) -> None:
    created = [create(api, f"hook {i}") for i in range(LIMIT)]
    assert [reply.status for reply in created] == [201] * LIMIT

    refused = create(api, "one too many")
    assert refused.status == 409
    assert refused.body == {
        "error": {
            "code": "limit_exceeded",
            "message": f"This account has {LIMIT} integrations, the most it may have; delete one to create another",
            "details": [],
        }
    }
    assert create(api, "another account's", key=KEY_B).status == 201, "the limit is per account"
    listed = api.request("GET", "/v1/integrations").body["data"]
    assert sorted(i["name"] for i in listed) == [f"hook {i}" for i in range(LIMIT)], "the counter is no integration"

    assert api.request("DELETE", f"/v1/integrations/{created[0].body['id']}").status == 200
    assert create(api, "in the freed slot").status == 201
    assert create(api, "one too many again").status == 409
    assert count(api) == LIMIT


def test_an_invalid_or_failed_create_takes_no_slot(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert create(api).status == 201
    assert api.request("POST", "/v1/integrations", {"provider": "webhook"}).status == 400

    def broken_insert(self: IntegrationStore, record: Any) -> None:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(IntegrationStore, "insert", broken_insert)
    assert create(api).status == 500
    assert count(api) == 1


@pytest.mark.usefixtures("atomic_item_writes")
def test_two_creates_racing_for_the_last_slot_do_not_both_pass(api: Api) -> None:
    for i in range(LIMIT - 1):
        assert create(api, f"hook {i}").status == 201

    replies = race(lambda: create(api, "racer 1"), lambda: create(api, "racer 2"))

    assert sorted(reply.status for reply in replies) == [201, 409]
    assert len(api.request("GET", "/v1/integrations").body["data"]) == LIMIT


def test_an_account_from_before_the_counter_is_counted_on_its_next_create(api: Api) -> None:
    for i in range(LIMIT):
        assert create(api, f"hook {i}").status == 201
    table = api.table("IntegrationsTable")
    boto3.client("dynamodb").delete_item(TableName=table, Key={"accountId": {"S": "acct_a"}, "id": {"S": COUNTER_ID}})

    assert create(api, "one too many").status == 409, "the counter starts again from the live integrations"
    assert count(api) == LIMIT


def test_the_local_stack_takes_the_templates_default_unless_the_environment_sets_one() -> None:
    template = {"MAX_INTEGRATIONS_PER_ACCOUNT": "100"}
    assert local_settings(template, {})["MAX_INTEGRATIONS_PER_ACCOUNT"] == "100"
    assert local_settings(template, {"MAX_INTEGRATIONS_PER_ACCOUNT": "5"})["MAX_INTEGRATIONS_PER_ACCOUNT"] == "5"
