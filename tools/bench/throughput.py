"""End-to-end throughput of the local stack: events published per second that end delivered.

Starts `python -m devstack` (moto server, pollers, the real functions), creates webhook integrations through
the API pointing at a local receiver that answers 204 at once, publishes events on the bus with PutEvents
as the scanner does, and waits until every (event, integration) delivery has arrived. Reported without a
goal: it measures the local emulation (one process, polling queues), not Lambda's concurrency.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.figures import Figure
from devstack.provision import DEFAULT_STACK_NAME, plan
from devstack.template import REGION, load_template
from devstack.testing import start_local_stack, stop_local_stack

ROOT = Path(__file__).resolve().parents[2]
KEY = "apvk_bench_throughput"
ACCOUNT = "acct_bench"
EVENTS = int(os.environ.get("BENCH_EVENTS", "200"))
INTEGRATIONS = 5
TIMEOUT = 600.0


class Receiver(ThreadingHTTPServer):
    """Answers 204 to every POST and remembers each delivery id (webhook-id) it received."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delivery_ids: set[str] = set()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def received(self) -> int:
        with self.lock:
            return len(self.delivery_ids)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.delivery_ids.add(self.headers.get("webhook-id") or "")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass


def _event(number: int) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / "scanner" / "finding_critical.json").read_text())
    event["id"] = f"evt_bench_{number:05d}"
    event["accountId"] = ACCOUNT
    event["data"]["finding"]["id"] = f"fnd_bench_{number:05d}"
    return dict(event)


def _publish(aws_url: str, bus: str) -> None:
    events = boto3.client(
        "events", endpoint_url=aws_url, region_name=REGION, aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    for start in range(0, EVENTS, 10):  # PutEvents takes 10 entries at a time
        entries = [
            {"Source": "apviso.scanner", "DetailType": e["type"], "Detail": json.dumps(e), "EventBusName": bus}
            for e in map(_event, range(start, min(start + 10, EVENTS)))
        ]
        answer = events.put_events(Entries=entries)
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents refused entries: {answer['Entries']}")


def measure() -> list[Figure]:
    bus = plan(load_template(ROOT / "template.yaml"), DEFAULT_STACK_NAME)["ScannerEventBus"].name
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as scratch, Receiver() as receiver:
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        env = {"LOCAL_API_KEYS": f"{KEY}={ACCOUNT}", "ALLOW_LOCAL_DESTINATIONS": "true"}
        process, api_url, aws_url = start_local_stack(env, log_path=Path(scratch) / "stack.log")
        try:
            for number in range(INTEGRATIONS):
                created = requests.post(
                    f"{api_url}/v1/integrations",
                    json={
                        "provider": "webhook",
                        "name": f"bench receiver {number}",
                        "credentials": {"url": receiver.url},
                        "enabledEvents": ["finding.critical"],
                    },
                    headers={"X-API-Key": KEY},
                    timeout=30,
                )
                created.raise_for_status()
            expected = EVENTS * INTEGRATIONS
            started = time.monotonic()
            _publish(aws_url, bus)
            deadline = started + TIMEOUT
            while receiver.received() < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            took = time.monotonic() - started
        finally:
            stop_local_stack(process)
            receiver.shutdown()
        arrived = receiver.received()
    if arrived < expected:
        raise RuntimeError(f"only {arrived} of {expected} deliveries arrived within {TIMEOUT:.0f} s")
    return [
        Figure(
            "throughput: local stack, events/s",
            EVENTS / took,
            unit=" /s",
            higher_is_better=True,
            detail=f"{EVENTS} events x {INTEGRATIONS} webhooks = {expected} deliveries in {took:.1f} s",
        )
    ]
