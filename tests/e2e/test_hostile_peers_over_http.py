"""End to end against the local stack: a receiver that drips its answer cannot hold the test route past the attempt
deadline; odd methods and bursts of clients get the gateway's answers, never an HTML page or a reset."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.testing import start_local_stack, stop_local_stack
from integrations.providers import http
from tests.providers.hostile import HostileReceiver, dripping

pytestmark = pytest.mark.e2e

KEY = "apvk_e2e_hostile"
HEADERS = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("hostile") / "output.log"
    process, url, _ = start_local_stack({"LOCAL_API_KEYS": f"{KEY}=acct_local"}, log_path=log)
    yield url
    assert stop_local_stack(process) == 0


def create_webhook(api_url: str, name: str, url: str) -> dict[str, Any]:
    # 60 s: the first create cold-starts the authorizer and the route, slowly on a busy machine.
    body: dict[str, Any] = {
        "provider": "webhook",
        "name": name,
        "credentials": {"url": url},
        "enabledEvents": ["scan.completed"],
    }
    created = requests.post(f"{api_url}/v1/integrations", json=body, headers=HEADERS, timeout=60)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def test_the_test_route_answers_at_the_deadline_when_the_receiver_drips(api_url: str) -> None:
    # The receiver: headers at once, then one byte every 2 s of a body that never completes.
    answer = dripping(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n", 2.0)
    with HostileReceiver(answer) as receiver:
        created = create_webhook(api_url, "Dripping receiver", receiver.url + "/hook")
        started = time.monotonic()
        reply = requests.post(f"{api_url}/v1/integrations/{created['id']}/test", headers=HEADERS, timeout=60)
        took = time.monotonic() - started

    assert reply.status_code == 200
    assert http.ATTEMPT_DEADLINE <= took < http.ATTEMPT_DEADLINE + 3, (
        "answered at the deadline, within the gateway's 29 s"
    )
    result = reply.json()
    assert result["success"] is False
    assert "Timeout" in str(result)
    logs = requests.get(f"{api_url}/v1/integrations/{created['id']}/logs", headers=HEADERS, timeout=10).json()
    [entry] = logs["data"]
    assert entry["event"] == "integration.test" and entry["status"] == "failed"
    assert entry["error"] == f"Timeout: no complete response within {http.ATTEMPT_DEADLINE:g} s"


@pytest.mark.parametrize(("method", "path", "status"), [("TRACE", "/v1/integrations", 405), ("BREW", "/coffee", 404)])
def test_an_odd_method_gets_the_services_json_error(api_url: str, method: str, path: str, status: int) -> None:
    reply = requests.request(method, api_url + path, headers=HEADERS, timeout=60)
    assert reply.status_code == status
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["error"]["code"] == {405: "method_not_allowed", 404: "not_found"}[status]


def test_fifty_concurrent_patches_are_all_answered(api_url: str) -> None:
    created = create_webhook(api_url, "Burst", "http://127.0.0.1:9/hook")
    url = f"{api_url}/v1/integrations/{created['id']}"
    start = threading.Barrier(50)
    statuses: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def patch(n: int) -> None:
        start.wait()
        try:
            reply = requests.patch(url, json={"name": f"Burst {n}"}, headers=HEADERS, timeout=60)
        except requests.RequestException as error:  # a reset or refused connection: no answer at all
            with lock:
                failures.append(error)
        else:
            with lock:
                statuses.append(reply.status_code)

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert statuses == [200] * 50
