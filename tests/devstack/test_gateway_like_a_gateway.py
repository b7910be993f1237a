"""The local gateway behaves like API Gateway toward odd clients: any method gets the service's JSON error, a burst
of connections is queued and answered (never reset), and a restart on the same ports right after a stop works."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.__main__ import StartupError, _check_free
from devstack.gateway import Gateway
from devstack.testing import start_local_stack, stop_local_stack

from .conftest import AUTHORIZER, REPO_ROOT, TEMPLATE, write_stack
from .test_gateway import build_gateway

ROUTE_FALLBACK = (REPO_ROOT / "functions" / "route_fallback" / "app.py").read_text()
ODD_METHODS = ["TRACE", "CONNECT", "PROPFIND", "PURGE", "BREW"]
# The bursts below test connection handling, so one account may send them all (per-account limits have their own
# tests in test_throttling.py).
UNTHROTTLED = {"AccountRateLimit": "1000", "AccountBurstLimit": "1000"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Gateway]:
    """The real template's API with stand-in handlers, except the real route fallback (405 / 404)."""
    stack = write_stack(
        tmp_path / "stack",
        TEMPLATE.read_text(),
        {"functions/authorizer": AUTHORIZER, "functions/route_fallback": ROUTE_FALLBACK},
    )
    gateway = build_gateway(stack, UNTHROTTLED)
    gateway.start()
    yield gateway
    gateway.stop()


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one raw request (any method, any target) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(raw)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


@pytest.mark.parametrize("method", ODD_METHODS)
def test_any_method_on_a_known_path_is_the_services_405(served: Gateway, method: str) -> None:
    raw = f"{method} /v1/integrations HTTP/1.1\r\nHost: x\r\nX-API-Key: allow\r\nContent-Length: 0\r\n\r\n".encode()
    status, headers, body = exchange(served.port, raw)
    assert status == 405
    assert headers["content-type"] == "application/json"
    assert headers["allow"] == "GET, POST"
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "target"),
    [*((method, "/nowhere") for method in ODD_METHODS), ("CONNECT", "api.example.com:443")],
)
def test_any_method_elsewhere_is_the_services_404(served: Gateway, method: str, target: str) -> None:
    raw = f"{method} {target} HTTP/1.1\r\nHost: x\r\nX-API-Key: allow\r\nContent-Length: 0\r\n\r\n".encode()
    status, headers, body = exchange(served.port, raw)
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "not_found"


PATCH_BODY = b'{"enabled": false}'
PATCH = (
    b"PATCH /v1/integrations/019414e0-f1a2-7b3c-d4e5-6f7a8b9c0d1e HTTP/1.1\r\nHost: x\r\nX-API-Key: allow\r\n"
    b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
    % (len(PATCH_BODY), PATCH_BODY)
)


def burst(port: int, clients: int, connect_timeout: float) -> tuple[list[int], list[BaseException]]:
    """``clients`` PATCHes on as many connections opened at once; the statuses, and the failures (resets, timeouts)."""
    start = threading.Barrier(clients)
    statuses: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=connect_timeout) as connection:
                connection.settimeout(30)
                connection.sendall(PATCH)
                response = http.client.HTTPResponse(connection)
                response.begin()
                response.read()
        except OSError as error:
            with lock:
                failures.append(error)
        else:
            with lock:
                statuses.append(response.status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, failures


def test_fifty_simultaneous_connections_are_all_answered(served: Gateway) -> None:
    statuses, failures = burst(served.port, 50, connect_timeout=10)
    assert failures == []
    assert statuses == [200] * 50


def test_a_burst_the_gateway_cannot_accept_yet_waits_in_the_listen_queue(served: Gateway) -> None:
    # While the gateway accepts nobody (as when its accept loop is busy), the kernel completes handshakes only up
    # to the listen backlog; beyond it, connections get no answer. All fifty must be queued, then answered.
    server = served._server
    assert server is not None
    server.shutdown()  # the accept loop stops; the socket keeps listening
    results: list[tuple[list[int], list[BaseException]]] = []
    clients = threading.Thread(target=lambda: results.append(burst(served.port, 50, connect_timeout=1.0)))
    clients.start()
    clients.join(timeout=1.5)  # every connect either completed into the queue or timed out by now
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    clients.join()

    [(statuses, failures)] = results
    assert failures == []
    assert statuses == [200] * 50


def test_the_port_check_refuses_a_listening_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(StartupError, match="is not free"):
            _check_free(busy.getsockname()[1], "API_PORT")


def lingering_port() -> int:
    """A port whose listener is gone, leaving a connection it closed first in TIME-WAIT, as a stopped stack does."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server and werkzeug bind
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server's side closes first: its socket (on `port`) lingers in TIME-WAIT
            client.recv(1)
    return port


def test_the_port_check_accepts_a_port_that_only_lingers() -> None:
    _check_free(lingering_port(), "API_PORT")  # raises StartupError when it refuses


def test_a_restart_on_the_same_ports_right_after_a_stop_succeeds(tmp_path: Path) -> None:
    ports = {}
    for name in ("API_PORT", "AWS_PORT"):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports[name] = str(probe.getsockname()[1])
    process, api_url, _ = start_local_stack(ports, log_path=tmp_path / "first.log")
    try:
        for _ in range(5):  # answered with Connection: close, the gateway's side closes first and lingers
            reply = requests.get(
                f"{api_url}/v1/integrations/providers",
                headers={"X-API-Key": "apvk_local_dev", "Connection": "close"},
                timeout=30,  # the first one cold-starts the authorizer and the route, slowly on a busy machine
            )
            assert reply.status_code == 200
    finally:
        assert stop_local_stack(process) == 0

    process, again, _ = start_local_stack(ports, log_path=tmp_path / "second.log")
    try:
        assert again == api_url
        reply = requests.get(f"{again}/v1/integrations/providers", headers={"X-API-Key": "apvk_local_dev"}, timeout=30)
        assert reply.status_code == 200
    finally:
        assert stop_local_stack(process) == 0
