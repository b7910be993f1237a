"""A client generated from openapi.json with openapi-python-client works against the local stack: its methods are
named after the operationIds (create_integration, …), and the seed's flows run through it, every answer parsed
into the generated models.

The generator and the client's dependencies (httpx, attrs) live in the tools virtualenv (requirements/tools.in), so
the client is generated and run there; this test starts the local stack and a webhook receiver, and checks what
the client saw.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.testing import start_local_stack, stop_local_stack
from tests.conftest import ROOT, SEED
from tests.providers.fakes import FakeWebhookReceiver

pytestmark = pytest.mark.e2e

TOOLS_BIN = ROOT / ".venv-tools" / "bin"
KEY = "apvk_generated_client"
SECRET = "whsec_" + "Z2VuZXJhdGVkLWNsaWVudC1rZXktMDEyMzQ1"


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client, generated from the committed openapi.json into a fresh folder."""
    generator = TOOLS_BIN / "openapi-python-client"
    if not generator.exists():
        pytest.fail("openapi-python-client is not in .venv-tools: run `make setup`")
    folder = tmp_path_factory.mktemp("client")
    run = subprocess.run(
        [
            generator,
            "generate",
            "--path",
            ROOT / "openapi.json",
            "--meta",
            "none",
            "--output-path",
            folder / "apviso_client",
        ],
        env={**os.environ, "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"},  # its ruff formats the code
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0 and "Warning" not in run.stdout, run.stdout + run.stderr
    return folder


@pytest.fixture(scope="module")
def stack_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("stack") / "output.log"
    process, api_url, _ = start_local_stack({"LOCAL_API_KEYS": f"{KEY}=acct_client"}, log_path=log)
    yield api_url
    assert stop_local_stack(process) == 0


def run_flows(client_dir: Path, url: str, receiver_url: str) -> list[dict[str, Any]]:
    given = {
        "client_dir": str(client_dir),
        "url": url,
        "key": KEY,
        "receiver_url": receiver_url,
        "webhook_secret": SECRET,
        "create_request": SEED["create_request"],
        "update_request": SEED["update_request"],
    }
    run = subprocess.run(
        [TOOLS_BIN / "python", Path(__file__).with_name("seed_flows.py")],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    transcript: list[dict[str, Any]] = json.loads(run.stdout)
    return transcript


def test_the_seeds_flows_through_a_generated_client(client_dir: Path, stack_url: str) -> None:
    methods = sorted(path.stem for path in (client_dir / "apviso_client" / "api" / "integrations").glob("[!_]*.py"))
    assert {
        "list_providers",
        "create_integration",
        "list_integrations",
        "update_integration",
        "delete_integration",
        "test_integration",
        "list_delivery_logs",
        "redeliver_delivery",
    } <= set(methods)

    with FakeWebhookReceiver(SECRET) as receiver:  # verifies the signature and openapi.json's webhooks
        steps = {s["step"]: s for s in run_flows(client_dir, stack_url, receiver.url + "/hook")}
        assert receiver.verified and receiver.verified[0]["type"] == "integration.test"

    answered = {name: (s["status"], s["model"]) for name, s in steps.items()}
    assert answered == {
        "list providers": (200, "ProvidersResponse"),
        "create the seed's Slack integration": (201, "IntegrationResponse"),
        "create a webhook integration": (201, "IntegrationResponse"),
        "list": (200, "IntegrationListResponse"),
        "update with the seed's PATCH": (200, "IntegrationResponse"),
        "test the webhook": (200, "TestResult"),
        "its logs": (200, "DeliveryLogsResponse"),
        "delete the Slack integration": (200, "DeleteResponse"),
        "delete the webhook integration": (200, "DeleteResponse"),
        "list again": (200, "IntegrationListResponse"),
    }
    assert len(steps["list providers"]["body"]["providers"]) == 10
    slack = steps["create the seed's Slack integration"]["body"]
    assert {k: slack[k] for k in ("provider", "name", "enabledEvents", "minimumSeverity", "enabled")} == {
        k: SEED["create_response"][k] for k in ("provider", "name", "enabledEvents", "minimumSeverity", "enabled")
    }
    webhook_id = steps["create a webhook integration"]["body"]["id"]
    assert [i["id"] for i in steps["list"]["body"]["data"]] == [webhook_id, slack["id"]], "newest first"
    updated = steps["update with the seed's PATCH"]["body"]
    assert (updated["enabledEvents"], updated["minimumSeverity"]) == (SEED["update_request"]["enabledEvents"], "medium")
    tested = steps["test the webhook"]["body"]
    assert (tested["success"], tested["responseCode"]) == (True, 204)
    [entry] = steps["its logs"]["body"]["data"]
    assert (entry["event"], entry["status"]) == ("integration.test", "success")
    assert steps["delete the Slack integration"]["body"] == SEED["delete_response"]
    assert steps["list again"]["body"] == {"data": []}
