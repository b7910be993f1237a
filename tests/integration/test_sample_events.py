"""The sample events in events/ (used with `sam local invoke`) drive their functions as documented."""

from __future__ import annotations

import json
from typing import Any

from devstack.functions import Function
from integrations.storage import apikeys
from tests.conftest import ROOT
from tests.integration.conftest import Api


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / "api" / f"{name}.json").read_text()))


def invoke(function: Function, event: dict[str, Any]) -> tuple[int, Any]:
    result = function.invoke(event)
    return result["statusCode"], json.loads(result["body"])


def test_each_route_sample_event_gets_its_documented_answer(api: Api) -> None:
    fn = api.functions
    assert invoke(fn["ListProvidersFunction"], sample("list_providers"))[0] == 200
    status, created = invoke(fn["CreateIntegrationFunction"], sample("create_integration"))
    assert status == 201 and created["name"] == "Security Team Slack"
    assert invoke(fn["ListIntegrationsFunction"], sample("list_integrations")) == (200, {"data": [created]})

    update = sample("update_integration")
    update["path"], update["pathParameters"] = f"/v1/integrations/{created['id']}", {"id": created["id"]}
    status, updated = invoke(fn["UpdateIntegrationFunction"], update)
    assert (status, updated["name"], updated["minimumSeverity"]) == (200, "Renamed", "medium")
    # The sample's own id belongs to nobody: 404, as for any unknown id.
    assert invoke(fn["UpdateIntegrationFunction"], sample("update_integration"))[0] == 404

    delete = sample("delete_integration")
    delete["path"], delete["pathParameters"] = f"/v1/integrations/{created['id']}", {"id": created["id"]}
    assert invoke(fn["DeleteIntegrationFunction"], delete) == (200, {"message": "Integration deleted successfully"})


def test_authorizer_sample_event_is_allowed_for_a_registered_key(api: Api) -> None:
    apikeys.issue_key(api.table("ApiKeysTable"), "acct_local", api.table("AccountUsagePlan"), "test", "apvk_local_dev")
    policy = api.functions["AuthorizerFunction"].invoke(sample("authorizer"))
    assert policy["principalId"] == "acct_local"
    assert policy["context"] == {"accountId": "acct_local"}
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*"]


def test_authorizer_denies_an_unknown_key_for_every_route(api: Api) -> None:
    event = sample("authorizer")
    event["headers"] = {"x-api-key": "apvk_unknown"}
    policy = api.functions["AuthorizerFunction"].invoke(event)
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and "context" not in policy
