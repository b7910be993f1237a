"""SnapStart hooks (platform.snapstart): registered with the runtime's library, run in the runtime's order; after
a restore each copy draws its own random numbers, reads secrets again and opens new connections."""

from __future__ import annotations

import _abc
import collections
import gc
import json
import random
import socket
import threading
import traceback
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import snapshot_restore_py
from botocore.model import ShapeResolver
from moto import mock_aws

from integrations.platform import aws, snapstart
from integrations.providers import http
from integrations.storage.vault import CredentialVault


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registries of this test's own (the runtime's library and ours), the default after-restore hooks kept."""
    monkeypatch.setattr(snapstart, "_before", [])
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])


def test_the_runtime_library_gets_every_hook(hooks: None) -> None:
    calls: list[str] = []
    snapstart.prepare(lambda: calls.append("settings"), lambda: calls.append("clients"))
    [(registered, args, kwargs)] = snapshot_restore_py.get_before_snapshot()
    registered(*args, **kwargs)  # as the runtime calls it
    assert calls == ["settings", "clients"]  # the steps of one function in their order
    restored = [entry[0] for entry in snapshot_restore_py.get_after_restore()]
    assert snapstart.reseed_random in restored
    assert snapstart.forget_secrets_and_connections in restored


def test_before_snapshot_runs_the_last_registered_first_like_the_runtime(hooks: None) -> None:
    calls: list[str] = []
    snapstart.prepare(lambda: calls.append("first"))
    snapstart.prepare(lambda: calls.append("second"))
    snapstart.before_snapshot()
    assert calls == ["second", "first"]


def test_what_priming_made_is_out_of_the_collectors_reach(hooks: None) -> None:
    """After the steps, the heap is frozen: a restored copy's collections scan only what its requests allocate."""
    kept: list[object] = []
    snapstart.prepare(lambda: kept.append(object()))
    gc.unfreeze()
    snapstart.before_snapshot()
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(kept) and not any(kept is seen for seen in gc.get_objects())


def test_the_steps_create_the_clients_before_the_snapshot(hooks: None) -> None:
    snapstart.prepare(snapstart.clients("dynamodb", "sqs"))
    assert aws.client.cache_info().currsize == 0
    snapstart.before_snapshot()
    assert aws.client.cache_info().currsize == 2
    assert aws.client("sqs").meta.service_model.service_name == "sqs"


def test_restored_copies_draw_different_retry_jitter() -> None:
    """Two copies restored from one snapshot start from the same generator state; the hook reseeds each."""
    draws = []
    for _copy in range(2):
        random.seed(1234)  # the state the snapshot holds
        snapstart.after_restore()
        draws.append([random.random() for _ in range(4)])
    random.seed(1234)
    unseeded = [random.random() for _ in range(4)]
    assert draws[0] != unseeded
    assert draws[1] != unseeded
    assert draws[0] != draws[1]


def test_a_restored_copy_reads_secrets_again() -> None:
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name="p/acct/1", SecretString=json.dumps({"url": "https://old.example.com"}))
        vault = CredentialVault("p")
        assert vault.read_cached("p/acct/1", None)["url"] == "https://old.example.com"
        secrets.put_secret_value(SecretId="p/acct/1", SecretString=json.dumps({"url": "https://new.example.com"}))
        assert vault.read_cached("p/acct/1", None)["url"] == "https://old.example.com"  # cached, as designed
        snapstart.after_restore()
        assert vault.read_cached("p/acct/1", None)["url"] == "https://new.example.com"


class _KeepAliveServer:
    """A local HTTP/1.1 server that keeps connections open and counts them; answers ``{}`` (DynamoDB's empty
    GetItem) to POST and 204 to anything else."""

    def __init__(self) -> None:
        connections: set[int] = set()
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: bytes) -> None:
                with lock:
                    connections.add(self.client_address[1])
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._answer(200, b"{}")

            def do_GET(self) -> None:
                self._answer(204, b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.connections = connections
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keep_alive() -> Iterator[_KeepAliveServer]:
    server = _KeepAliveServer()
    yield server
    server.close()


def test_a_restored_copy_opens_new_aws_connections(
    keep_alive: _KeepAliveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", keep_alive.url)  # the endpoint is a server whose connections we count
    dynamodb = aws.client("dynamodb")
    for _ in range(2):
        assert "Item" not in dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})
    assert len(keep_alive.connections) == 1  # pooled: the second call reused the first connection
    snapstart.after_restore()
    assert aws.client("dynamodb") is dynamodb  # the client stays (made before the snapshot)
    dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})
    assert len(keep_alive.connections) == 2


def test_a_restored_copy_opens_new_provider_connections(
    keep_alive: _KeepAliveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setenv("EMAIL_SENDER", "alerts@example.com")
    http.prepare()
    session = http._session()
    for _ in range(2):
        assert session.get(keep_alive.url, timeout=5).status_code == 204
    assert len(keep_alive.connections) == 1
    snapstart.after_restore()
    assert session.get(keep_alive.url, timeout=5).status_code == 204
    assert len(keep_alive.connections) == 2


def test_preparing_provider_calls_sends_nothing_and_leaves_requests_type_checks_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests asks whether a bool or the values of a header dict are a Mapping; each first answer walks Mapping's
    hundred subclasses. The hook asks before the snapshot, without a name lookup or a connection."""
    network: list[Any] = []

    def no_network(*args: Any, **kwargs: Any) -> Any:
        network.append(args)
        raise OSError("no network while priming")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    Mapping._abc_caches_clear()  # type: ignore[attr-defined]  # ABCMeta's own, for tests
    http.prepare()
    assert network == []
    _registry, _found, not_mappings, _version = _abc._get_dump(Mapping)
    assert {bool, type(collections.OrderedDict().values())} <= {ref() for ref in not_mappings}


def test_a_call_answered_here_reaches_no_aws_and_only_the_first_call_is_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = {"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:snapstart-priming", "VersionId": "v1"}
    with mock_aws():  # the emulator handles every request sent after the priming handler: it must get none of it
        vault = CredentialVault("stack/integrations")
        versions: list[str] = []
        step = snapstart.call_answered_here(
            "secretsmanager", "CreateSecret", lambda: versions.append(vault.create("stack/x", {"a": "b"}, {})), answer
        )
        step()
        assert versions == ["v1"]  # the client parsed the answer made here
        secrets = boto3.client("secretsmanager")
        assert secrets.list_secrets()["SecretList"] == []
        assert vault.create("stack/y", {"a": "b"}, {}) != "v1"  # the next call goes to AWS
        assert [secret["Name"] for secret in secrets.list_secrets()["SecretList"]] == ["stack/y"]
        assert "priming call failed" not in caplog.text

        def stopped_before_sending() -> None:
            raise ValueError("no call made")

        snapstart.call_answered_here("secretsmanager", "CreateSecret", stopped_before_sending, answer)()
        assert "priming call failed" in caplog.text
        assert vault.create("stack/z", {"a": "b"}, {}) != "v1"  # the unused answer is not given to a real call
        assert len(secrets.list_secrets()["SecretList"]) == 2


def test_the_clients_step_resolves_the_shapes_of_a_found_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """Priming reads find nothing; the first request that finds an item must not resolve its model's shapes."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        key = [{"AttributeName": "id", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "id", "AttributeType": "S"}]
        dynamodb.create_table(
            TableName="t", KeySchema=key, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
        )
        # Values as deep as the service's items have them: a list in a map (a delivery's attempts, a config's labels).
        item = {"id": {"S": "1"}, "config": {"M": {"labels": {"L": [{"S": "security"}]}}}, "n": {"N": "1"}}
        dynamodb.put_item(TableName="t", Item=item)
        snapstart.clients("dynamodb")()
        assert "Item" not in aws.client("dynamodb").get_item(TableName="t", Key={"id": {"S": "none"}})  # as priming
        resolved: list[str] = []
        resolve = ShapeResolver.get_shape_by_name

        def spy(self: ShapeResolver, name: str, *args: Any) -> Any:
            if not any("/moto/" in frame.filename for frame in traceback.extract_stack()):  # moto's answer has its own
                resolved.append(name)
            return resolve(self, name, *args)

        monkeypatch.setattr(ShapeResolver, "get_shape_by_name", spy)
        assert aws.client("dynamodb").get_item(TableName="t", Key={"id": {"S": "1"}})["Item"] == item
        assert resolved == []


def test_a_failed_priming_request_does_not_fail_the_snapshot(hooks: None, caplog: pytest.LogCaptureFixture) -> None:
    """Priming only saves the first request some work: AWS throttling it must not fail the version's publication."""
    calls: list[str] = []

    def handler(event: dict[str, Any], context: snapstart.PrimingContext) -> None:
        calls.append(context.aws_request_id)
        raise RuntimeError("throttled")

    snapstart.prepare(snapstart.invoke(handler, {"Records": []}, times=3), lambda: calls.append("after"))
    snapstart.before_snapshot()
    assert len(calls) == 2 and calls[0].startswith("snapstart-priming-") and calls[1] == "after"
    assert "SnapStart priming request failed" in caplog.text


def test_the_secrets_priming_asks_for_the_priming_accounts_secret_which_cannot_exist(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SECRETS_PREFIX", "stack/integrations")
    with mock_aws():
        vault = CredentialVault("stack/integrations")
        asked: list[str] = []

        def read(name: str) -> Any:
            asked.append(name)
            return vault.read(name, None)  # Secrets Manager answers ResourceNotFoundException

        snapstart.missing_secret(read)()
        assert asked == [f"stack/integrations/{snapstart.PRIMING_ACCOUNT}/{snapstart.PRIMING_ID}"]
        assert "priming call failed" not in caplog.text  # the expected answer is not a failure
        snapstart.missing_secret(lambda name: boto3.client("secretsmanager").get_secret_value(SecretId=""))()
        assert "SnapStart priming call failed" in caplog.text  # any other answer is logged, and the snapshot goes on
