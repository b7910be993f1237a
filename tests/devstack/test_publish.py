"""`python -m devstack.publish`: a canonical event onto the template's bus, through a real moto server."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devstack import publish
from devstack.provision import provision

Fragment = Callable[..., Path]

EVENT = {
    "id": "0192b5d0-0000-7000-8000-000000000001",
    "type": "finding.new",
    "accountId": "acct_123",
    "occurredAt": "2026-04-10T10:45:20Z",
    "data": {"finding": {"id": "f1", "title": "SQL injection in /login", "severity": "critical", "url": "u"}},
}

BUS = """
    Resources:
      Bus: {Type: AWS::Events::EventBus}
      Events: {Type: AWS::SQS::Queue}
      ScannerEvents:
        Type: AWS::Events::Rule
        Properties:
          EventBusName: !Ref Bus
          EventPattern: {source: [apviso.scanner]}
          Targets: [{Id: events, Arn: !GetAtt Events.Arn}]
"""


@pytest.fixture
def event_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT))
    return path


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield "http://{}:{}".format(*server.get_host_and_port())
    server.stop()


def test_publishes_to_the_local_bus_and_the_rule_delivers(
    fragment: Fragment, event_file: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = fragment(BUS)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    session = boto3.session.Session(region_name="us-east-1")
    resources = provision(template, session, "st")
    argv = [str(event_file), "--template", str(template), "--stack-name", "st", "--endpoint-url", moto_url]
    assert publish.main(argv) == 0
    messages = session.client("sqs").receive_message(QueueUrl=resources.ref("Events"))["Messages"]
    delivered = json.loads(messages[0]["Body"])
    assert (delivered["source"], delivered["detail-type"]) == ("apviso.scanner", "finding.new")
    assert delivered["detail"] == EVENT


def test_a_template_without_a_bus_exits_2(
    fragment: Fragment, event_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = fragment("Resources:\n  Table: {Type: AWS::SQS::Queue}\n")
    assert publish.main([str(event_file), "--template", str(template)]) == 2
    assert "declares no AWS::Events::EventBus" in capsys.readouterr().err


def test_bad_event_exits_2(fragment: Fragment, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x"}')
    assert publish.main([str(bad), "--template", str(fragment(BUS))]) == 2
    assert 'needs a string "type"' in capsys.readouterr().err


def test_no_local_stack_exits_1(fragment: Fragment, event_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [str(event_file), "--template", str(fragment(BUS)), "--endpoint-url", f"http://127.0.0.1:{port}"]
    assert publish.main(argv) == 1
    assert "is the local stack running" in capsys.readouterr().err
