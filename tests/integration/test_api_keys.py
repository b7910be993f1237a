"""API keys: the operator command issues, lists and revokes them; only hashes are stored."""

from __future__ import annotations

import time

import apikeys as operator_command
import boto3
import pytest

from integrations import apikeys
from tests.integration.conftest import Api
from tests.integration.test_management_api import assert_error


@pytest.fixture
def table(api: Api) -> str:
    return api.table("ApiKeysTable")


def test_issue_prints_the_key_once_and_stores_only_its_hash(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert operator_command.main(["--table", table, "issue", "--account", "acct_new"]) == 0
    key = capsys.readouterr().out.splitlines()[-1]
    assert key.startswith("apvk_") and len(key) > 40
    assert apikeys.lookup_account(table, key) == "acct_new"
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert key not in str(items)
    assert apikeys.hash_key(key) in str(items)


def test_an_issued_key_opens_the_api_and_a_revoked_one_no_longer_does(
    api: Api, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    operator_command.main(["--table", table, "issue", "--account", "acct_c"])
    key = capsys.readouterr().out.splitlines()[-1]
    assert api.request("GET", "/v1/integrations", key=key).status == 200
    assert operator_command.main(["--table", table, "list", "--account", "acct_c"]) == 0
    [key_id] = capsys.readouterr().out.split()
    assert key_id == apikeys.key_id(key)
    assert operator_command.main(["--table", table, "revoke", "--account", "acct_c", "--key-id", key_id]) == 0
    assert apikeys.lookup_account(table, key) is None
    authorizer = api.gateway.authorizers["ApiKeyAuthorizer"]
    assert api.request("GET", "/v1/integrations", key=key).status == 200, "still cached, as in API Gateway"
    authorizer.clock = lambda: time.time() + 61  # the template caches authorizations for 60 s
    assert_error(api.request("GET", "/v1/integrations", key=key), 403, "forbidden")


def test_revoking_another_accounts_key_does_nothing(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    operator_command.main(["--table", table, "issue", "--account", "acct_c"])
    key = capsys.readouterr().out.splitlines()[-1]
    assert (
        operator_command.main(["--table", table, "revoke", "--account", "acct_d", "--key-id", apikeys.key_id(key)]) == 1
    )
    assert apikeys.lookup_account(table, key) == "acct_c"


def test_account_ids_are_checked(table: str) -> None:
    with pytest.raises(SystemExit):
        operator_command.main(["--table", table, "issue", "--account", "bad account!"])
