"""Receivers verify our real signed deliveries with the official Standard Webhooks libraries: Node's
``standardwebhooks`` (verify.mjs, installed by `make node-deps` from the committed package-lock.json) and Python's
(the fake receiver), for a ``whsec_`` secret and for a plain one; a changed body or another secret fails."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from integrations.providers.webhook import Webhook
from tests.providers.fakes import FakeWebhookReceiver, Recorded, make_delivery, scanner_event, send_context

NODE_DIR = Path(__file__).resolve().parent
WHSEC = "whsec_" + base64.b64encode(b"node receiver test key, 32 byte").decode()
PLAIN = "a plain secret, ünïcödé included"  # keyed with its UTF-8 bytes


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver listens on loopback (as in tests/providers)."""
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setenv("EMAIL_SENDER", "alerts@apviso.test")


@pytest.fixture(scope="module")
def node() -> str:
    """Node, with verify.mjs's dependencies installed; the test is skipped, loudly, only when node is missing."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("NODE IS MISSING (install nodejs and npm): the Node Standard Webhooks receiver was NOT checked")
    if not (NODE_DIR / "node_modules" / "standardwebhooks").is_dir():
        pytest.fail("tests/node/node_modules is missing: run `make node-deps` (npm ci)")
    return found


def deliver(secret: str, *, test: bool = False, previous_secret: str | None = None) -> Recorded:
    """One real delivery by the webhook provider, verified on arrival with Python's standardwebhooks."""
    with FakeWebhookReceiver(secret) as receiver:
        credentials = {"url": receiver.url + "/hook", "secret": secret}
        event = None if test else scanner_event("finding_critical")
        delivery = make_delivery(Webhook, credentials, event=event, test=test)
        outcome = Webhook.send(dataclasses.replace(delivery, previous_secret=previous_secret), send_context())
        assert outcome.success, outcome.error
        assert receiver.verified == [receiver.last.json()], "Python's standardwebhooks verified it"
        return receiver.last


def as_node_input(name: str, secret: str, request: Recorded, body: bytes | None = None) -> dict[str, Any]:
    return {"name": name, "secret": secret, "body": (body or request.body).decode(), "headers": request.headers}


def verify_in_node(node: str, requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    run = subprocess.run(
        [node, "verify.mjs"], cwd=NODE_DIR, input=json.dumps(requests), capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return {result["name"]: result for result in json.loads(run.stdout)}


def test_node_verifies_deliveries_signed_with_a_whsec_or_a_plain_secret(node: str) -> None:
    requests = [
        as_node_input("whsec", WHSEC, deliver(WHSEC)),
        as_node_input("plain", PLAIN, deliver(PLAIN)),
        as_node_input("plain test delivery", PLAIN, deliver(PLAIN, test=True)),
    ]
    results = verify_in_node(node, requests)
    assert {name: (r["verified"], r["type"], r["error"]) for name, r in results.items()} == {
        "whsec": (True, "finding.critical", None),
        "plain": (True, "finding.critical", None),
        "plain test delivery": (True, "integration.test", None),
    }


def test_during_a_rotation_node_accepts_either_secret(node: str) -> None:
    request = deliver(WHSEC, previous_secret=PLAIN)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    results = verify_in_node(node, [as_node_input("new", WHSEC, request), as_node_input("previous", PLAIN, request)])
    assert [results["new"]["verified"], results["previous"]["verified"]] == [True, True]


def test_node_refuses_a_changed_body_and_another_secret(node: str) -> None:
    request = deliver(PLAIN)
    changed = request.body.replace(b"critical", b"low")
    results = verify_in_node(
        node,
        [as_node_input("changed body", PLAIN, request, changed), as_node_input("another secret", WHSEC, request)],
    )
    for result in results.values():
        assert (result["verified"], result["error"]) == (False, "No matching signature found")
