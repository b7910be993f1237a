"""End to end: `python -m devstack` as a user starts it, spoken to over real HTTP."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.testing import start_local_stack, stop_local_stack
from tests.conftest import SEED, seed_catalog_as_decided

pytestmark = pytest.mark.e2e

KEY_A, KEY_B = "apvk_e2e_account_a", "apvk_e2e_account_b"
WEBHOOK_SECRET = "whsec_" + "ZTJlLXNpZ25pbmcta2V5LWFiY2RlZmdo"
HEADER_TOKEN = "e2e-header-token-93af01"


@dataclass
class Stack:
    url: str
    log: Path

    def call(self, method: str, path: str, body: Any = None, key: str | None = KEY_A) -> requests.Response:
        headers = {"X-API-Key": key} if key else {}
        return requests.request(method, self.url + path, json=body, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log = tmp_path_factory.mktemp("stack") / "output.log"
    env = {"LOCAL_API_KEYS": f"{KEY_A}=acct_a,{KEY_B}=acct_b"}
    process, api_url, _ = start_local_stack(env, log_path=log)
    yield Stack(api_url, log)
    assert stop_local_stack(process) == 0, "the stack must exit cleanly on SIGTERM"


def test_the_seed_examples_over_http(stack: Stack) -> None:
    providers = stack.call("GET", "/v1/integrations/providers")
    seed = seed_catalog_as_decided()["providers"]
    assert providers.status_code == 200 and providers.json()["providers"][: len(seed)] == seed
    assert len(providers.json()["providers"]) == 10  # the seed's five, then the five added since
    assert providers.headers["Content-Type"].startswith("application/json")

    created = stack.call("POST", "/v1/integrations", SEED["create_request"])
    assert created.status_code == 201
    integration = created.json()
    assert list(integration) == list(SEED["create_response"])

    listed = stack.call("GET", "/v1/integrations").json()
    assert integration in listed["data"]

    change = {"minimumSeverity": "medium", "enabledEvents": ["scan.completed", "scan.failed", "finding.critical"]}
    updated = stack.call("PATCH", f"/v1/integrations/{integration['id']}", change)
    assert updated.status_code == 200 and updated.json()["minimumSeverity"] == "medium"

    deleted = stack.call("DELETE", f"/v1/integrations/{integration['id']}")
    assert deleted.status_code == 200 and deleted.json() == SEED["delete_response"]
    assert integration["id"] not in [i["id"] for i in stack.call("GET", "/v1/integrations").json()["data"]]


@pytest.mark.parametrize(
    ("method", "path", "key", "status", "code"),
    [
        ("GET", "/v1/integrations", None, 401, "unauthorized"),
        ("GET", "/v1/integrations", "apvk_wrong", 403, "forbidden"),
        ("PUT", "/v1/integrations", KEY_A, 405, "method_not_allowed"),
        ("GET", "/v1/nowhere", KEY_A, 404, "not_found"),
        ("PATCH", "/v1/integrations/019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e", KEY_A, 404, "not_found"),
        ("DELETE", "/v1/integrations/not-an-id", KEY_A, 400, "validation_error"),
    ],
)
def test_errors_over_http_use_the_error_body(
    stack: Stack, method: str, path: str, key: str | None, status: int, code: str
) -> None:
    reply = stack.call(method, path, {"name": "x"} if method == "PATCH" else None, key=key)
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code


def test_malformed_json_over_http(stack: Stack) -> None:
    reply = requests.post(
        stack.url + "/v1/integrations",
        data=b'{"provider": "slack",',
        headers={"X-API-Key": KEY_A, "Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "validation_error"


def test_two_accounts_are_isolated_over_http(stack: Stack) -> None:
    mine = stack.call("POST", "/v1/integrations", SEED["create_request"], key=KEY_B).json()
    assert mine["id"] not in [i["id"] for i in stack.call("GET", "/v1/integrations").json()["data"]]
    assert stack.call("PATCH", f"/v1/integrations/{mine['id']}", {"name": "taken"}).status_code == 404
    assert stack.call("DELETE", f"/v1/integrations/{mine['id']}").status_code == 404
    assert stack.call("GET", "/v1/integrations", key=KEY_B).json()["data"][0]["name"] == SEED["create_request"]["name"]


def test_no_credential_reaches_a_response_or_the_stacks_output(stack: Stack) -> None:
    body = copy.deepcopy(SEED["create_request"])
    body.update(
        provider="webhook",
        credentials={"url": "http://127.0.0.1:9/receiver", "secret": WEBHOOK_SECRET},
        config={"headers": {"Authorization": HEADER_TOKEN}},
    )
    replies = [stack.call("POST", "/v1/integrations", body)]
    integration_id = replies[0].json()["id"]
    replies.append(
        stack.call("PATCH", f"/v1/integrations/{integration_id}", {"credentials": {"url": "ftp://" + HEADER_TOKEN}})
    )
    replies.append(stack.call("GET", "/v1/integrations"))
    replies.append(stack.call("DELETE", f"/v1/integrations/{integration_id}"))
    assert [r.status_code for r in replies] == [201, 400, 200, 200]
    output = stack.log.read_text()
    assert "Integration created" in output, "the handlers' log lines must be in the captured output"
    for text in [output, *(r.text for r in replies)]:
        assert WEBHOOK_SECRET not in text and HEADER_TOKEN not in text
