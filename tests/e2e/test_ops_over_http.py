"""End to end over the local stack: signing-secret rotation, auto-disable on 410, and the operator command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from ops import local_outputs
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from devstack.testing import start_local_stack, stop_local_stack
from tests.conftest import ROOT
from tests.e2e.test_delivery_over_http import create_webhook, publish, wait_for
from tests.providers.fakes import FakeWebhookReceiver, Recorded, Reply

pytestmark = pytest.mark.e2e

KEY = "apvk_e2e_ops"
OLD = "whsec_" + "ZTJlLW9sZC1zaWduaW5nLWtleS0wMTIzNDU="
NEW = "whsec_" + "ZTJlLW5ldy1zaWduaW5nLWtleS0wMTIzNDU="
OPERATOR_COMMAND = str(Path(sys.executable).parent / "integrations-ops")  # installed into .venv by `make setup`


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    log = tmp_path_factory.mktemp("ops") / "output.log"
    process, api_url, aws_url = start_local_stack({"LOCAL_API_KEYS": f"{KEY}=acct_local"}, log_path=log)
    yield api_url, aws_url
    assert stop_local_stack(process) == 0


def ops(aws_url: str, *argv: str) -> tuple[int, str]:
    """`.venv/bin/integrations-ops --local …` as an operator runs it against the local stack: no PYTHONPATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run([OPERATOR_COMMAND, "--local", *argv], env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def verifies(secret: str, request: Recorded) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


def test_rotation_auto_disable_and_the_operator_command(stack: tuple[str, str], tmp_path: Path) -> None:
    api_url, aws_url = stack
    headers = {"X-API-Key": KEY}
    with FakeWebhookReceiver() as receiver:
        created = create_webhook(api_url, "Rotating receiver", receiver.url, OLD, ["finding.critical"], key=KEY)
        hook = f"{api_url}/v1/integrations/{created['id']}"
        patched = requests.patch(hook, json={"credentials": {"secret": NEW}}, headers=headers, timeout=10)
        assert patched.status_code == 200 and OLD not in patched.text and NEW not in patched.text

        publish(aws_url, ROOT / "events" / "scanner" / "finding_critical.json")
        wait_for(lambda: len(receiver.requests) == 1)
        assert verifies(NEW, receiver.last) and verifies(OLD, receiver.last)  # the grace period

        receiver.script(Reply(410, "this endpoint is gone"))
        tested = requests.post(f"{hook}/test", headers=headers, timeout=30).json()
        assert tested["success"] is False and tested["responseCode"] == 410
        [shown] = requests.get(f"{api_url}/v1/integrations", headers=headers, timeout=10).json()["data"]
        assert shown["enabled"] is False and shown["disabledReason"] == "The receiver answered 410 Gone"

        status, out = ops(aws_url, "integration", "enable", "--account", "acct_local", created["id"])
        assert status == 0, out
        assert json.loads(out)["enabled"] is True and "disabledReason" not in json.loads(out)
        status, out = ops(
            aws_url, "integration", "disable", "--account", "acct_local", created["id"], "--reason", "maintenance"
        )
        assert status == 0, out
        [shown] = requests.get(f"{api_url}/v1/integrations", headers=headers, timeout=10).json()["data"]
        assert shown["disabledReason"] == "Disabled by an operator: maintenance"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "evt_e2e_bad", "type": "scan.exploded", "accountId": "acct_local"}))
    publish(aws_url, bad)

    def parked() -> bool:
        return "events dead-letter queue: about 1 message(s)" in ops(aws_url, "dlq", "inspect")[1]

    wait_for(parked, timeout=20)
    status, out = ops(aws_url, "dlq", "inspect", "--queue", "events")
    assert status == 0 and "1  malformed event" in out and "evt_e2e_bad" in out
    status, out = ops(aws_url, "dlq", "redrive", "--queue", "events")
    assert (status, out.strip()) == (0, "events: moved 1 message(s) back to the source queue")
    wait_for(parked, timeout=20)  # still malformed: fan-out parks it again


def test_a_message_nested_ten_thousand_deep_is_parked_at_once_with_its_reason(stack: tuple[str, str]) -> None:
    """Sent straight to the events queue, as a producer may: fan-out classifies it on its first receive."""
    _, aws_url = stack
    sqs = boto3.client(
        "sqs", endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    name = local_outputs()["EventsQueueUrl"].rsplit("/", 1)[1]
    queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="[" * 10_000 + "]" * 10_000)

    def parked() -> bool:
        return "event is not JSON: recursion limit exceeded" in ops(aws_url, "dlq", "inspect", "--queue", "events")[1]

    wait_for(parked, timeout=20)  # the first receive: retried, it would take minutes and lose its reason
    assert "fan-out kept failing" not in ops(aws_url, "dlq", "inspect", "--queue", "events")[1]
