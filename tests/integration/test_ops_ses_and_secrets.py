"""The operator command's `ses status` (the sender's SES readiness) and `secrets list|delete` (a stack's
integration secrets, e.g. after deleting the stack), against moto."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import ops
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.integration.conftest import Api

TOKEN = "tok-SECRETVALUE-5521"
SIGNING_SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
STACK = "integrations-local"  # the stack name the api fixture provisions under


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = ops.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def stub_sesv2(monkeypatch: pytest.MonkeyPatch, account: dict[str, Any]) -> None:
    """SESv2 GetAccount answering ``account`` (moto does not implement it); every other client is moto's."""
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(service, *args, **kwargs)
        if service == "sesv2":
            stubber = Stubber(made)
            stubber.add_response("get_account", account)
            stubber.activate()
        return made

    monkeypatch.setattr(boto3, "client", client)


@pytest.mark.usefixtures("aws")
def test_ses_status_of_a_verified_sender_with_production_access(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("ses").verify_email_identity(EmailAddress="alerts@example.com")
    stub_sesv2(monkeypatch, {"ProductionAccessEnabled": True, "SendingEnabled": True})
    status, out = run(capsys, "ses", "status", "--sender", "alerts@example.com")
    assert status == 0, out
    assert "Sender alerts@example.com: verified (alerts@example.com: Success, example.com: not an identity)" in out
    assert "Production access: yes (out of the sandbox)" in out
    assert "Sending quota: 200 per 24 h (0 sent in the last 24 h), at most 1 per second" in out


@pytest.mark.usefixtures("aws")
def test_ses_status_counts_a_verified_domain_and_reports_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("ses").verify_domain_identity(Domain="example.com")
    stub_sesv2(monkeypatch, {"ProductionAccessEnabled": False})
    status, out = run(capsys, "ses", "status", "--sender", "alerts@example.com")
    assert status == 1, "in the sandbox, mail reaches verified addresses only"
    assert "Sender alerts@example.com: verified (alerts@example.com: not an identity, example.com: Success)" in out
    assert "Production access: NO: in the SES sandbox" in out


@pytest.mark.usefixtures("aws")
def test_ses_status_of_an_unverified_sender_read_from_the_stacks_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    template = {
        "Parameters": {"EmailSender": {"Type": "String"}},
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
    }
    boto3.client("cloudformation").create_stack(
        StackName="mail-stack",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "EmailSender", "ParameterValue": "nobody@unverified.example"}],
    )
    status, out = run(capsys, "--stack", "mail-stack", "ses", "status")  # moto's SESv2 has no GetAccount
    assert status == 1
    assert "Sender nobody@unverified.example: NOT verified" in out
    assert "Production access: unknown" in out and "GetAccount failed" in out


def make_secret(name: str) -> None:
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps({"token": TOKEN}))


@pytest.fixture
def stack_secrets(api: Api) -> list[str]:
    """The secrets of two integrations of this stack, and lookalikes of other stacks that must be left alone."""
    body = {
        "provider": "webhook",
        "name": "Receiver",
        "credentials": {"url": f"https://hooks.example.com/{TOKEN}", "secret": SIGNING_SECRET},
        "enabledEvents": ["scan.completed"],
    }
    created = [api.request("POST", "/v1/integrations", body).body["id"] for _ in range(2)]
    make_secret(f"other-stack/integrations/acct_a/{created[0]}")
    make_secret(f"INTEGRATIONS-LOCAL/integrations/acct_a/{created[0]}")  # the name filter ignores case
    make_secret(f"{STACK}-2/integrations/acct_a/x")
    return sorted(f"{STACK}/integrations/acct_a/{integration}" for integration in created)


def all_secrets() -> dict[str, bool]:
    """Every secret's name → whether it is scheduled for deletion."""
    listed = boto3.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    return {secret["Name"]: "DeletedDate" in secret for secret in listed}


def test_secrets_list_names_the_stacks_secrets_only_and_never_a_value(
    stack_secrets: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(capsys, "secrets", "list", "--stack", STACK)
    assert status == 0
    listed = [line.split()[0] for line in out.splitlines()[:-1]]
    assert listed == stack_secrets
    assert out.splitlines()[-1] == f"2 secret(s) under {STACK}/integrations/"
    assert TOKEN not in out and "whsec_" not in out
    assert run(capsys, "--stack", STACK, "secrets", "list")[1] == out, "--stack may also come first"


def test_secrets_delete_asks_first_and_schedules_a_recoverable_deletion(
    stack_secrets: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    others = {name for name in all_secrets() if name not in stack_secrets}
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    status, out = run(capsys, "secrets", "delete", "--stack", STACK)
    assert (status, "nothing deleted" in out) == (1, True)
    assert "Type 'delete' to confirm" in out and "restorable for 7 days" in out
    assert not any(all_secrets().values())

    monkeypatch.setattr("sys.stdin", io.StringIO("delete\n"))
    status, out = run(capsys, "secrets", "delete", "--stack", STACK)
    assert status == 0 and f"deleted 2 secret(s) under {STACK}/integrations/ (restorable for 7 days)" in out
    assert "WARNING" not in out, "the stack is already gone"
    assert {name for name, scheduled in all_secrets().items() if scheduled} == set(stack_secrets)
    assert not any(scheduled for name, scheduled in all_secrets().items() if name in others)
    status, out = run(capsys, "secrets", "list", "--stack", STACK)
    assert "0 secret(s) under" in out and "2 already scheduled for deletion" in out
    assert "scheduled for deletion since" in out
    assert TOKEN not in out


def test_secrets_delete_yes_without_recovery_removes_them_at_once_and_warns_while_the_stack_exists(
    stack_secrets: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    template = {"Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}}}
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    status, out = run(capsys, "secrets", "delete", "--stack", STACK, "--yes", "--without-recovery")
    assert status == 0 and "at once, unrecoverably" in out
    assert f"WARNING: stack {STACK} still exists" in out
    assert not set(stack_secrets) & set(all_secrets())
    assert len(all_secrets()) == 3, "the other stacks' secrets are untouched"
