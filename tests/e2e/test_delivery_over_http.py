"""End to end: a newcomer's first delivery — create a webhook, publish like the scanner, see it arrive and logged."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devstack.provision import DEFAULT_STACK_NAME
from devstack.publish import SOURCE, bus_name
from devstack.testing import start_local_stack, stop_local_stack
from tests.conftest import ROOT
from tests.providers.fakes import FakeSlack, FakeWebhookReceiver, Reply

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


def create_webhook(
    api_url: str, name: str, url: str, secret: str | None, events: list[str], key: str = KEY
) -> dict[str, Any]:
    """POST a webhook integration, as a user would; its answer."""
    credentials = {"url": url} if secret is None else {"url": url, "secret": secret}
    body: dict[str, Any] = {"provider": "webhook", "name": name, "credentials": credentials, "enabledEvents": events}
    created = requests.post(f"{api_url}/v1/integrations", json=body, headers={"X-API-Key": key}, timeout=10)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def test_publish_delivers_a_signed_webhook_and_logs_it(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    headers = {"X-API-Key": KEY}
    with FakeWebhookReceiver(SECRET) as receiver:
        created = create_webhook(api_url, "My receiver", receiver.url, SECRET, ["finding.critical"])
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
        created = create_webhook(api_url, "Redelivery receiver", receiver.url, SECRET, ["scan.completed"])
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


def test_logs_are_filtered_and_walked_by_cursor(stack: tuple[str, str]) -> None:
    api_url, _ = stack
    headers = {"X-API-Key": KEY}
    with FakeWebhookReceiver(SECRET) as receiver:
        created = create_webhook(api_url, "Logged receiver", receiver.url, SECRET, ["scan.completed"])
        logs_url = f"{api_url}/v1/integrations/{created['id']}/logs"
        receiver.script(Reply(500), Reply(200), Reply(500))
        results = [
            requests.post(f"{api_url}/v1/integrations/{created['id']}/test", headers=headers, timeout=10).json()
            for _ in range(5)
        ]
        assert [r["success"] for r in results] == [False, True, False, True, True]

    every = requests.get(f"{logs_url}?limit=20", headers=headers, timeout=10).json()
    assert every["pagination"]["total"] == 5 and every["nextCursor"] is None
    failed = requests.get(f"{logs_url}?status=failed", headers=headers, timeout=10).json()
    assert failed["pagination"]["total"] == 2 and {e["status"] for e in failed["data"]} == {"failed"}
    tests = requests.get(f"{logs_url}?event=integration.test&status=success", headers=headers, timeout=10).json()
    assert tests["pagination"]["total"] == 3

    walked: list[str] = []
    page = requests.get(f"{logs_url}?limit=2", headers=headers, timeout=10).json()
    while True:
        walked += [entry["id"] for entry in page["data"]]
        if page["nextCursor"] is None:
            break
        page = requests.get(logs_url, params={"limit": 2, "cursor": page["nextCursor"]}, headers=headers, timeout=10)
        page = page.json()
    assert walked == [entry["id"] for entry in every["data"]]  # newest first, each once
    refused = requests.get(logs_url, params={"cursor": "not-a-cursor"}, headers=headers, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["field"] == "cursor"


def test_slack_messages_to_one_webhook_are_paced_not_dropped(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    headers = {"X-API-Key": KEY}
    sample = json.loads((ROOT / "events" / "scanner" / "scan_completed.json").read_text())
    with FakeSlack() as slack:
        created = requests.post(
            f"{api_url}/v1/integrations",
            json={
                "provider": "slack",
                "name": "Paced channel",
                "credentials": {"webhookUrl": slack.webhook_url},
                "enabledEvents": ["scan.completed"],
            },
            headers=headers,
            timeout=10,
        ).json()
        # A test send first (not paced): the stack's first delivery loads its HTTP stack, which would delay
        # the first paced message and shorten the first gap.
        test = requests.post(f"{api_url}/v1/integrations/{created['id']}/test", headers=headers, timeout=10)
        assert test.json()["success"] is True
        # Three scans ending at once, in one PutEvents: three messages for one webhook.
        events = boto3.client(
            "events", endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        bus = bus_name(ROOT / "template.yaml", DEFAULT_STACK_NAME, None)
        scans = [{**sample, "id": f"019414e5-0000-7000-8000-00000000010{n}"} for n in range(3)]
        entries = [
            {"Source": SOURCE, "DetailType": scan["type"], "Detail": json.dumps(scan), "EventBusName": bus}
            for scan in scans
        ]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
        wait_for(lambda: len(slack.requests) == 4, timeout=30)
        arrivals = [request.received_at for request in slack.requests[1:]]
    # Two intervals of about a second (a little less allowed for the sends' own jitter).
    assert arrivals[-1] - arrivals[0] >= 1.7, f"Slack allows about one message a second per webhook: {arrivals}"
