"""End to end: a newcomer's first delivery — create a webhook, publish like the scanner, see it arrive and logged."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.testing import start_local_stack, stop_local_stack
from tests.conftest import ROOT
from tests.providers.fakes import FakeWebhookReceiver

pytestmark = pytest.mark.e2e

KEY = "apvk_e2e_delivery"
SECRET = "whsec_" + "ZTJlLWRlbGl2ZXJ5LXNpZ25pbmcta2V5"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    log = tmp_path_factory.mktemp("delivery") / "output.log"
    process, api_url, aws_url = start_local_stack({"LOCAL_API_KEYS": f"{KEY}=acct_local"}, log_path=log)
    yield api_url, aws_url
    assert stop_local_stack(process) == 0


def publish(aws_url: str, event: Path) -> None:
    """`make publish EVENT=…`, as a newcomer runs it."""
    subprocess.run(
        [sys.executable, "-m", "devstack.publish", str(event), "--endpoint-url", aws_url],
        check=True,
        capture_output=True,
        env={"PYTHONPATH": f"{ROOT / 'tools'}:{ROOT / 'layers' / 'domain'}", "PATH": "/usr/bin:/bin"},
    )


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_publish_delivers_a_signed_webhook_and_logs_it(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    headers = {"X-API-Key": KEY}
    with FakeWebhookReceiver(SECRET) as receiver:
        created = requests.post(
            f"{api_url}/v1/integrations",
            json={
                "provider": "webhook",
                "name": "My receiver",
                "credentials": {"url": receiver.url, "secret": SECRET},
                "enabledEvents": ["finding.critical"],
            },
            headers=headers,
            timeout=10,
        ).json()
        publish(aws_url, ROOT / "events" / "scanner" / "finding_critical.json")
        wait_for(lambda: len(receiver.requests) == 1)
        delivered = receiver.last.json()
        sample = json.loads((ROOT / "events" / "scanner" / "finding_critical.json").read_text())
        assert delivered["type"] == "finding.critical"
        assert delivered["data"]["finding"]["id"] == sample["data"]["finding"]["id"]

        def logged() -> bool:
            reply = requests.get(f"{api_url}/v1/integrations/{created['id']}/logs", headers=headers, timeout=10)
            return bool(reply.json()["data"])

        wait_for(logged)
        logs = requests.get(f"{api_url}/v1/integrations/{created['id']}/logs", headers=headers, timeout=10).json()
        assert logs["data"][0]["status"] == "success" and logs["data"][0]["event"] == "finding.critical"
        assert logs["pagination"]["total"] == 1

        tested = requests.post(f"{api_url}/v1/integrations/{created['id']}/test", headers=headers, timeout=30).json()
        assert tested["success"] is True and tested["message"] == "Test event delivered successfully"
        assert receiver.last.json()["type"] == "integration.test"


def test_a_logged_delivery_is_redelivered_with_the_same_webhook_id(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    headers = {"X-API-Key": KEY}
    with FakeWebhookReceiver(SECRET) as receiver:
        created = requests.post(
            f"{api_url}/v1/integrations",
            json={
                "provider": "webhook",
                "name": "Redelivery receiver",
                "credentials": {"url": receiver.url, "secret": SECRET},
                "enabledEvents": ["scan.completed"],
            },
            headers=headers,
            timeout=10,
        ).json()
        logs_url = f"{api_url}/v1/integrations/{created['id']}/logs"
        publish(aws_url, ROOT / "events" / "scanner" / "scan_completed.json")
        wait_for(lambda: bool(requests.get(logs_url, headers=headers, timeout=10).json()["data"]))
        [entry] = requests.get(logs_url, headers=headers, timeout=10).json()["data"]
        reply = requests.post(f"{logs_url}/{entry['id']}/redeliver", headers=headers, timeout=10)
        assert reply.status_code == 202 and reply.json()["status"] == "queued"
        assert reply.json()["deliveryId"] == receiver.requests[0].headers["webhook-id"]
        wait_for(lambda: len(receiver.requests) == 2)
        assert receiver.requests[1].headers["webhook-id"] == receiver.requests[0].headers["webhook-id"]
        assert receiver.requests[1].json() == receiver.requests[0].json()
        wait_for(lambda: requests.get(logs_url, headers=headers, timeout=10).json()["pagination"]["total"] == 2)
        failed = requests.get(f"{logs_url}?status=failed", headers=headers, timeout=10).json()
        assert failed == {
            "data": [],
            "pagination": {"page": 1, "limit": 20, "total": 0, "totalPages": 0},
            "nextCursor": None,
        }
