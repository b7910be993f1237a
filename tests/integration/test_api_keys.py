"""API keys: the operator command issues, lists and revokes them (with each account's API Gateway usage key in
the usage plan); only hashes are stored."""

from __future__ import annotations

import time

import boto3
import ops
import pytest

from integrations.storage import apikeys
from tests.integration.conftest import Api
from tests.integration.test_management_api import assert_error


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"AccountRateLimit": "10", "AccountBurstLimit": "20"}  # the template's defaults


@pytest.fixture
def table(api: Api) -> str:
    return api.table("ApiKeysTable")


@pytest.fixture
def where(api: Api, table: str) -> list[str]:
    """The options naming the keys table and the usage plan (what --stack reads from the stack's outputs)."""
    return ["--table", table, "--usage-plan", api.table("AccountUsagePlan")]


def gateway_keys(api: Api) -> dict[str, list[str]]:
    """API Gateway's API keys (id → the usage plans each is in)."""
    apigateway = boto3.client("apigateway")
    return {
        key["id"]: [plan["id"] for plan in apigateway.get_usage_plans(keyId=key["id"])["items"]]
        for key in apigateway.get_api_keys()["items"]
    }


def test_issue_prints_the_key_once_and_stores_only_its_hash(
    table: str, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert ops.main([*where, "keys", "issue", "--account", "acct_new"]) == 0
    key = capsys.readouterr().out.splitlines()[-1]
    assert key.startswith("apvk_") and len(key) > 40
    assert apikeys.lookup_account(table, key) == "acct_new"
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert key not in str(items)
    assert apikeys.hash_key(key) in str(items)


def test_an_issued_key_opens_the_api_and_a_revoked_one_no_longer_does(
    api: Api, table: str, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ops.main([*where, "keys", "issue", "--account", "acct_c"])
    key = capsys.readouterr().out.splitlines()[-1]
    assert api.request("GET", "/v1/integrations", key=key).status == 200
    assert ops.main(["--table", table, "keys", "list", "--account", "acct_c"]) == 0
    [key_id] = capsys.readouterr().out.split()
    assert key_id == apikeys.key_id(key)
    assert ops.main(["--table", table, "keys", "revoke", "--account", "acct_c", "--key-id", key_id]) == 0
    assert apikeys.lookup_account(table, key) is None
    authorizer = api.gateway.authorizers["ApiKeyAuthorizer"]
    assert api.request("GET", "/v1/integrations", key=key).status == 200, "still cached, as in API Gateway"
    authorizer.clock = lambda: time.time() + 61  # the template caches authorizations for 60 s
    assert_error(api.request("GET", "/v1/integrations", key=key), 403, "forbidden")


def test_revoking_another_accounts_key_does_nothing(
    table: str, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ops.main([*where, "keys", "issue", "--account", "acct_c"])
    key = capsys.readouterr().out.splitlines()[-1]
    assert ops.main(["--table", table, "keys", "revoke", "--account", "acct_d", "--key-id", apikeys.key_id(key)]) == 1
    assert apikeys.lookup_account(table, key) == "acct_c"


def test_account_ids_are_checked(table: str) -> None:
    with pytest.raises(SystemExit):
        ops.main(["--table", table, "keys", "issue", "--account", "bad account!"])


def test_an_accounts_keys_share_one_usage_key_in_the_plan_deleted_with_the_last_key(
    api: Api, table: str, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    plan = api.table("AccountUsagePlan")
    before = gateway_keys(api)  # acct_a's and acct_b's, made by the fixture
    assert ops.main([*where, "keys", "issue", "--account", "acct_n"]) == 0
    first = capsys.readouterr().out
    assert ops.main([*where, "keys", "issue", "--account", "acct_n"]) == 0
    second = capsys.readouterr().out
    [usage_key_id] = set(gateway_keys(api)) - set(before)
    assert gateway_keys(api)[usage_key_id] == [plan], "one API Gateway key for the account, in the stack's plan"
    value = boto3.client("apigateway").get_api_key(apiKey=usage_key_id, includeValue=True)["value"]
    keys = [first.splitlines()[-1], second.splitlines()[-1]]
    for key in keys:
        owner = apikeys.lookup(table, key)
        assert owner == apikeys.KeyOwner("acct_n", value), "the authorizer returns it as usageIdentifierKey"
    assert value not in first + second, "the usage key is never printed"

    assert ops.main([*where, "keys", "revoke", "--account", "acct_n", "--key-id", apikeys.key_id(keys[0])]) == 0
    assert "last key" not in capsys.readouterr().out
    assert usage_key_id in gateway_keys(api), "the account still has a key"
    assert ops.main([*where, "keys", "revoke", "--account", "acct_n", "--key-id", apikeys.key_id(keys[1])]) == 0
    assert "its usage key is deleted" in capsys.readouterr().out
    assert gateway_keys(api) == before


def test_a_key_issued_through_the_command_is_served_with_its_accounts_usage_key(
    api: Api, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert ops.main([*where, "keys", "issue", "--account", "acct_u"]) == 0
    key = capsys.readouterr().out.splitlines()[-1]
    authorizer = api.gateway.authorizers["ApiKeyAuthorizer"]
    assert api.request("GET", "/v1/integrations", key=key).status == 200
    [(_, policy)] = [entry for identity, entry in authorizer._cache.items() if identity == (key,)]
    usage_key_id = apikeys.account_usage_key(api.table("ApiKeysTable"), "acct_u")
    assert usage_key_id is not None and policy.usage_identifier_key == usage_key_id.value


def test_without_a_usage_plan_no_key_is_issued(table: str) -> None:
    with pytest.raises(SystemExit, match="no usage plan"):
        ops.main(["--table", table, "keys", "issue", "--account", "acct_x"])
    assert apikeys.list_key_ids(table, "acct_x") == []


def test_an_account_moves_to_a_larger_plan_and_back(
    api: Api, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    apigateway = boto3.client("apigateway")
    larger = apigateway.create_usage_plan(
        name="larger",
        apiStages=[{"apiId": "local", "stage": "dev"}],
        throttle={"rateLimit": 100.0, "burstLimit": 200},
        quota={"limit": 1000000, "period": "DAY"},
    )["id"]
    usage_key = apikeys.account_usage_key(api.table("ApiKeysTable"), "acct_a")
    assert usage_key is not None

    assert ops.main([*where, "keys", "plan", "--account", "acct_a", "--to", larger]) == 0
    out = capsys.readouterr().out
    assert f"acct_a moved to usage plan {larger}" in out
    assert f"usage plan {larger} (larger): 100.0 requests/s, burst 200, quota 1000000 per day" in out
    assert apikeys.usage_plans_of(usage_key.id) == [larger], "in one plan of the stage at a time"

    assert ops.main([*where, "keys", "plan", "--account", "acct_a", "--to", "default"]) == 0
    assert apikeys.usage_plans_of(usage_key.id) == [api.table("AccountUsagePlan")]
    assert "10.0 requests/s, burst 20, no quota" in capsys.readouterr().out
    assert ops.main([*where, "keys", "plan", "--account", "acct_nobody"]) == 1
    assert ops.main([*where, "keys", "plan", "--account", "acct_a", "--to", "no-such-plan"]) == 1
    assert apikeys.usage_plans_of(usage_key.id) == [api.table("AccountUsagePlan")], "nothing changed"
