"""Credentials never leak; the table and the secrets never disagree, even when a write fails."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from integrations.api import service
from integrations.models.integrations import UpdateIntegrationRequest
from integrations.platform.errors import Conflict
from integrations.storage.store import IntegrationStore
from integrations.storage.vault import CredentialVault
from tests.integration.conftest import Api
from tests.integration.test_management_api import assert_error

WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Ng=="
HEADER_TOKEN = "Bearer hdr-token-5f2a9c81d7"
JIRA_TOKEN = "ATATT3xFfGF0jira-token-8812"
SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/slackSecretPath99"
ROUTING_KEY = "Rk0123456789abcdefABCDEF01234567"
RECIPIENT = "secret.recipient@customer-corp.example"

INTEGRATIONS: list[dict[str, Any]] = [
    {"provider": "slack", "credentials": {"webhookUrl": SLACK_URL}, "enabledEvents": ["scan.completed"]},
    {
        "provider": "webhook",
        "credentials": {"url": "https://receiver.example.com/hook", "secret": WEBHOOK_SECRET},
        "config": {"headers": {"Authorization": HEADER_TOKEN}},
        "enabledEvents": ["finding.new"],
    },
    {
        "provider": "jira",
        "credentials": {"baseUrl": "https://team.atlassian.net", "email": "bot@team.example", "apiToken": JIRA_TOKEN},
        "config": {"projectKey": "SEC"},
        "enabledEvents": ["finding.high"],
    },
    {"provider": "pagerduty", "credentials": {"routingKey": ROUTING_KEY}, "enabledEvents": ["scan.failed"]},
    {"provider": "email", "credentials": {"recipients": [RECIPIENT]}, "enabledEvents": ["report.ready"]},
]
SECRET_VALUES = [WEBHOOK_SECRET, HEADER_TOKEN, JIRA_TOKEN, SLACK_URL, "slackSecretPath99", ROUTING_KEY, RECIPIENT]


def in_use(integration_id: str) -> dict[str, Any]:
    """The credentials and config the integration uses: the secret version its item names."""
    record = service.from_environment().store.get("acct_a", integration_id)
    assert record is not None and record.secretName is not None
    return CredentialVault("unused").read(record.secretName, record.secretVersion)


def secret_names() -> list[str]:
    return [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]


def test_no_response_or_log_line_contains_a_credential(api: Api, log_output: io.StringIO) -> None:
    ids = []
    for body in INTEGRATIONS:
        reply = api.request("POST", "/v1/integrations", {"name": body["provider"], **body})
        assert reply.status == 201, reply.body
        ids.append(reply.body["id"])
    # Invalid input that includes credential values must not echo them either.
    bad = {**INTEGRATIONS[1], "name": "bad", "credentials": {"url": f"ftp://{HEADER_TOKEN}", "secret": WEBHOOK_SECRET}}
    assert api.request("POST", "/v1/integrations", bad).status == 400
    api.request("PATCH", f"/v1/integrations/{ids[2]}", {"credentials": {"apiToken": JIRA_TOKEN, "email": RECIPIENT}})
    api.request("PATCH", f"/v1/integrations/{ids[4]}", {"credentials": {"recipients": [RECIPIENT, "bad address"]}})
    api.request("GET", "/v1/integrations")
    for integration_id in ids:
        api.request("DELETE", f"/v1/integrations/{integration_id}")
    logs = log_output.getvalue()
    everything = "\n".join([logs, *(r.raw for r in api.replies)])
    assert "Integration created" in logs and "Integration deleted" in logs, "the handlers' logs must have been captured"
    for value in SECRET_VALUES:
        assert value not in everything


def test_patch_merges_credentials_key_by_key_and_null_removes_one(api: Api) -> None:
    created = api.request("POST", "/v1/integrations", {"name": "hook", **INTEGRATIONS[1]}).body
    path = f"/v1/integrations/{created['id']}"
    assert api.request("PATCH", path, {"credentials": {"url": "https://other.example.com/in"}}).status == 200
    stored = in_use(created["id"])
    assert stored["credentials"] == {"url": "https://other.example.com/in", "secret": WEBHOOK_SECRET}
    assert stored["config"] == {"headers": {"Authorization": HEADER_TOKEN}}
    assert api.request("PATCH", path, {"credentials": {"secret": None}, "config": None}).status == 200
    assert in_use(created["id"]) == {"credentials": {"url": "https://other.example.com/in"}, "config": {}}


def test_a_merged_result_that_fails_validation_changes_nothing(api: Api) -> None:
    created = api.request("POST", "/v1/integrations", {"name": "jira", **INTEGRATIONS[2]}).body
    before = in_use(created["id"])
    reply = api.request(
        "PATCH", f"/v1/integrations/{created['id']}", {"credentials": {"baseUrl": "http://team.atlassian.net"}}
    )
    assert_error(reply, 400, "validation_error", "credentials.baseUrl")
    assert in_use(created["id"]) == before


def _fail(*_: Any, **__: Any) -> None:
    raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutItem")


def test_a_failed_table_write_on_create_leaves_no_orphan_secret(api: Api) -> None:
    with pytest.MonkeyPatch.context() as broken:
        broken.setattr(IntegrationStore, "insert", _fail)
        reply = api.request("POST", "/v1/integrations", {"name": "x", **INTEGRATIONS[0]})
    assert_error(reply, 500, "internal_error")
    assert secret_names() == []
    assert api.request("GET", "/v1/integrations").body == {"data": []}


def test_a_failed_secret_write_on_create_leaves_no_integration(api: Api) -> None:
    with pytest.MonkeyPatch.context() as broken:
        broken.setattr(CredentialVault, "create", _fail)
        assert_error(api.request("POST", "/v1/integrations", {"name": "x", **INTEGRATIONS[0]}), 500, "internal_error")
    assert api.request("GET", "/v1/integrations").body == {"data": []}


def test_a_failed_table_write_on_patch_keeps_the_previous_credentials_in_use(api: Api) -> None:
    created = api.request("POST", "/v1/integrations", {"name": "x", **INTEGRATIONS[3]}).body
    before = in_use(created["id"])
    with pytest.MonkeyPatch.context() as broken:
        broken.setattr(IntegrationStore, "update", _fail)
        reply = api.request("PATCH", f"/v1/integrations/{created['id']}", {"credentials": {"routingKey": "b" * 32}})
    assert_error(reply, 500, "internal_error")
    assert in_use(created["id"]) == before
    assert secret_names() == [f"{os.environ['SECRETS_PREFIX']}/acct_a/{created['id']}"], "still one secret"


def test_a_failed_secret_deletion_is_finished_by_a_retried_delete(api: Api) -> None:
    created = api.request("POST", "/v1/integrations", {"name": "x", **INTEGRATIONS[0]}).body
    path = f"/v1/integrations/{created['id']}"
    with pytest.MonkeyPatch.context() as broken:
        broken.setattr(CredentialVault, "delete", _fail)
        assert_error(api.request("DELETE", path), 500, "internal_error")
    assert api.request("GET", "/v1/integrations").body == {"data": []}, "deliveries stop at once"
    assert api.request("DELETE", path).status == 200
    assert secret_names() == []
    assert_error(api.request("DELETE", path), 404, "not_found")


def test_a_stale_write_is_refused_with_409(api: Api) -> None:
    created = api.request("POST", "/v1/integrations", {"name": "x", **INTEGRATIONS[0]}).body
    store = service.from_environment().store
    stale = store.get("acct_a", created["id"])
    assert stale is not None
    store.update(stale, {"name": "first writer"})
    with pytest.raises(Conflict):
        store.update(stale, {"name": "second writer"})
    assert api.request("GET", "/v1/integrations").body["data"][0]["name"] == "first writer"


def test_a_conflict_answers_409_in_the_error_body(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    created = api.request("POST", "/v1/integrations", {"name": "x", **INTEGRATIONS[0]}).body
    real_update = IntegrationStore.update

    def racing_update(self: IntegrationStore, record: Any, changes: dict[str, Any]) -> Any:
        real_update(self, record, {"name": "someone else"})  # another request wins the race
        return real_update(self, record, changes)

    monkeypatch.setattr(IntegrationStore, "update", racing_update)
    assert_error(api.request("PATCH", f"/v1/integrations/{created['id']}", {"name": "mine"}), 409, "conflict")


def test_update_request_rejects_nulls_for_required_fields() -> None:
    for field in ("name", "credentials", "enabledEvents", "enabled"):
        with pytest.raises(ValueError, match="cannot be null"):
            UpdateIntegrationRequest.model_validate({field: None})
    assert json.loads(UpdateIntegrationRequest.model_validate({"minimumSeverity": None}).model_dump_json()) == {
        "name": None,
        "credentials": None,
        "config": None,
        "enabledEvents": None,
        "minimumSeverity": None,
        "enabled": None,
    }


def test_a_patch_of_events_alone_is_checked_against_the_stored_config(api: Api) -> None:
    body = {
        "name": "digest",
        "provider": "email",
        "credentials": {"recipients": [RECIPIENT]},
        "config": {"digestMode": True},
        "enabledEvents": ["scan.completed", "finding.critical"],
    }
    created = api.request("POST", "/v1/integrations", body).body
    path = f"/v1/integrations/{created['id']}"
    # The digest is sent when the scan ends: dropping every scan-end event would make it never go out.
    assert_error(
        api.request("PATCH", path, {"enabledEvents": ["finding.critical"]}),
        400,
        "validation_error",
        "config.digestMode",
    )
    assert api.request("PATCH", path, {"enabledEvents": ["scan.failed", "finding.high"]}).status == 200
