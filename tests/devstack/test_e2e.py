"""`python -m devstack` as `make run` starts it: ready line, HTTP, embedded AWS, clean exit on signals."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack import publish
from devstack.testing import start_local_stack, stop_local_stack

from .conftest import write_stack

pytestmark = pytest.mark.e2e


def request(url: str, key: str | None = None, method: str = "GET", payload: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key is not None else {})}
    data = json.dumps(payload).encode() if payload is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def aws(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def slack(url: str) -> dict[str, Any]:
    return {
        "provider": "slack",
        "name": "local",
        "credentials": {"webhookUrl": url},
        "enabledEvents": ["scan.completed"],
    }


def test_serves_the_template_api_with_its_authorizer_and_embedded_aws(local_stack: tuple[str, str]) -> None:
    api, aws_url = local_stack
    status, body = request(f"{api}/v1/integrations/providers")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = request(f"{api}/v1/integrations/providers", "apvk_not_a_key")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = request(f"{api}/v1/integrations/providers", "apvk_local_dev")
    assert status == 200
    assert body["providers"]
    status, body = request(f"{api}/v1/no/such/route", "apvk_local_dev")
    assert (status, body["error"]["code"]) == (404, "not_found")
    # ALLOW_LOCAL_DESTINATIONS defaults to true in the local stack: a loopback webhook is accepted.
    status, body = request(f"{api}/v1/integrations", "apvk_local_dev", "POST", slack("http://127.0.0.1:9/hook"))
    assert status == 201, body
    tables = aws(aws_url, "dynamodb").list_tables()["TableNames"]
    assert any(name.endswith("-IntegrationsTable") for name in tables)
    assert "alerts@apviso.com" in aws(aws_url, "ses").list_identities()["Identities"]  # template's EmailSender


def test_environment_wins_and_sigint_exits_cleanly(tmp_path: Path) -> None:
    env = {
        "LOCAL_API_KEYS": "apvk_one=acct_one, apvk_two=acct_two",
        "ALLOW_LOCAL_DESTINATIONS": "false",
        "EMAIL_SENDER": "Apviso <noreply@example.test>",
    }
    log = tmp_path / "stack.log"
    process, api, aws_url = start_local_stack(env, log_path=log)
    try:
        for key in ("apvk_one", "apvk_two"):
            assert request(f"{api}/v1/integrations", key)[0] == 200
        assert request(f"{api}/v1/integrations", "apvk_unknown")[0] == 403
        status, body = request(f"{api}/v1/integrations", "apvk_one", "POST", slack("http://127.0.0.1:9/hook"))
        assert status == 400, body
        assert "noreply@example.test" in aws(aws_url, "ses").list_identities()["Identities"]
        # Handlers' log lines reach the log while the stack runs (the authorizer logs rejected keys).
        deadline = time.monotonic() + 5
        while "Rejected API key" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Rejected API key" in log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    output = log.read_text()
    assert output.startswith("Integrations local stack ready: API http://127.0.0.1:")
    assert output.splitlines()[0].endswith(f" · console {api}/console/")  # `make run` announces the console
    assert "Traceback" not in output


def test_a_busy_port_fails_fast_with_a_message(tmp_path: Path) -> None:
    log = tmp_path / "stack.log"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(RuntimeError, match="did not start"):
            start_local_stack({"AWS_PORT": str(busy.getsockname()[1])}, log_path=log, timeout=30)
    assert "is not free" in log.read_text()


PIPELINE = """
Resources:
  Bus: {Type: AWS::Events::EventBus}
  Events: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}
  ToEvents:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [apviso.scanner]}
      Targets: [{Id: events, Arn: !GetAtt Events.Arn}]
  Fanout:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fanout/
      Handler: app.lambda_handler
      Environment: {Variables: {OUT_FILE: "@OUT@"}}
      Events:
        Events:
          Type: SQS
          Properties: {Queue: !GetAtt Events.Arn, BatchSize: 10, FunctionResponseTypes: [ReportBatchItemFailures]}
"""

# Appends each event's detail to OUT_FILE, read from the environment at import as a real cold start would.
FANOUT = """
import json, os
OUT_FILE = os.environ["OUT_FILE"]

def lambda_handler(event, context):
    with open(OUT_FILE, "a") as out:
        for record in event["Records"]:
            out.write(json.dumps(json.loads(record["body"])["detail"]) + "\\n")
    return {"batchItemFailures": []}
"""


def test_published_events_reach_sqs_functions_through_the_bus(tmp_path: Path) -> None:
    out = tmp_path / "received.jsonl"
    template = write_stack(tmp_path / "pipeline", PIPELINE.replace("@OUT@", str(out)), {"functions/fanout": FANOUT})
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"id": "e-1", "type": "scan.completed", "accountId": "acct_local", "data": {}}))
    process, _, aws_url = start_local_stack({"LOCAL_API_KEYS": ""}, template=template)
    try:
        assert publish.main([str(event), "--template", str(template), "--endpoint-url", aws_url]) == 0
        deadline = time.monotonic() + 15
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert json.loads(out.read_text()) == json.loads(event.read_text())
    finally:
        assert stop_local_stack(process) == 0
