"""Fixtures for the local stack's tests: template copies with throwaway handlers, and the running stack."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devstack.template import load_template
from devstack.testing import start_local_stack, stop_local_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

# A stand-in authorizer whose answer is chosen by the key itself, so every branch can be reached.
AUTHORIZER = textwrap.dedent("""
    def _policy(effect, resource, context=None, usage_key="usage-key-1"):
        answer = {"principalId": "user-1", "context": context or {},
                  "policyDocument": {"Version": "2012-10-17",
                                     "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                                                    "Resource": resource}]}}
        if usage_key:
            answer["usageIdentifierKey"] = usage_key
        return answer

    def lambda_handler(event, context):
        key = {k.lower(): v for k, v in event["headers"].items()}["x-api-key"]
        base = event["methodArn"].split("/", 1)[0]
        if key == "allow":
            return _policy("Allow", base + "/*", {"accountId": "acct_1", "count": 2, "admin": True})
        if key == "allow-b":
            return _policy("Allow", base + "/*", {"accountId": "acct_2"}, usage_key="usage-key-2")
        if key == "no-usage-key":
            return _policy("Allow", base + "/*", {"accountId": "acct_3"}, usage_key=None)
        if key == "get-only":
            return _policy("Allow", base + "/*/GET/*")
        if key == "deny":
            return _policy("Deny", base + "/*")
        if key == "elsewhere":
            return _policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:other/*")
        if key == "unauthorized":
            raise Exception("Unauthorized")
        if key == "malformed":
            return {"principalId": "x"}
        raise RuntimeError("authorizer crashed")
""")

# A stand-in route handler that echoes what it received; query flags choose odd answers.
ECHO = textwrap.dedent("""
    import base64, json

    def lambda_handler(event, context):
        flags = event.get("queryStringParameters") or {}
        if "raise" in flags:
            raise ValueError("handler crashed")
        if "malformed" in flags:
            return "not a proxy response"
        if "binary" in flags:
            return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                    "body": base64.b64encode(b"\\x00\\x01").decode(), "isBase64Encoded": True}
        return {"statusCode": 200,
                "headers": {"Content-Type": "application/json", "X-Function": context.function_name},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
                "body": json.dumps({"function": context.function_name, "event": event})}
""")


def write_stack(root: Path, template_text: str, handlers: dict[str, str] | None = None) -> Path:
    """Write a template and a handler for each of its functions (ECHO unless handlers names its CodeUri)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "template.yaml"
    path.write_text(template_text)
    template = load_template(path)
    for logical_id in template.of_type("AWS::Serverless::Function"):
        code_uri = str(template.properties(logical_id)["CodeUri"]).strip("/")
        folder = root / code_uri
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "app.py").write_text((handlers or {}).get(code_uri, ECHO))
    return path


@pytest.fixture
def stand_in_stack(tmp_path: Path) -> Path:
    """A copy of the real template.yaml whose functions are the stand-ins above."""
    return write_stack(tmp_path / "stack", TEMPLATE.read_text(), {"functions/authorizer": AUTHORIZER})


@pytest.fixture
def aws() -> Iterator[boto3.session.Session]:
    """An in-process moto and a session bound to it."""
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def local_stack() -> Iterator[tuple[str, str]]:
    """The real stack (template.yaml and its handlers) as a subprocess: yields (api_url, aws_url)."""
    process, api_url, aws_url = start_local_stack()
    yield api_url, aws_url
    assert stop_local_stack(process) == 0


@pytest.fixture
def fragment(tmp_path: Path) -> Callable[..., Path]:
    """Write a small template (plus handlers) into tmp_path: fragment(text, {code_uri: source})."""

    def write(text: str, handlers: dict[str, str] | None = None) -> Path:
        return write_stack(tmp_path / "fragment", textwrap.dedent(text), handlers)

    return write


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing here may reach AWS: dummy credentials and no endpoint inherited from a developer's shell.
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
