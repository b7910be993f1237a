"""The dispatcher's figures: parallel delivery (issue 5, target 1), its CPU overhead (target 5) and pacing.

Everything runs for real except AWS: the dispatcher function is loaded from template.yaml as the local stack
loads it and invoked with SQS batches; AWS is moto's server and the receivers are plain HTTP servers, each
in a process of its own. So the dispatcher's process pays what a Lambda pays — its own code, botocore's
client side of every AWS call (serialising, signing, HTTP, parsing), requests, logging — and neither moto's
nor the receivers' work lands in its CPU time (``time.process_time``, every thread of this process).

- Target 1: wall time of one batch of 10 jobs for 10 webhook integrations whose receivers answer after
  300 ms, over the wall time of a batch of one such job (median of several rounds each). Information since
  issue 13, which measures the parallelism at the receivers instead (``bench.spread``, goal ≤ 0.3).
- Target 5: CPU time of 1,000 signed webhook deliveries through the dispatcher (100 batches of 10), over the
  CPU time of 1,000 bare ``requests.post`` calls of the same body to the same receiver. Information since
  issue 13 (what users pay for is the cost per delivery on AWS).
- Pacing: 5 Slack jobs for one webhook, queued at once, all delivered, the last at least 4 s after they were
  queued (1 per second).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "acct_bench"
SLOW = 0.3  # seconds the slow receivers take to answer
SECRET = "whsec_" + "YmVuY2htYXJrLXNpZ25pbmcta2V5LTAxMjM0NTY3"

# A receiver in its own process: /slow/… answers 204 after SLOW seconds, /services/… as Slack does ("ok"),
# anything else 204 at once; GET /arrivals/<path> tells when each request to <path> arrived.
RECEIVER = f"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
arrivals, lock = {{}}, threading.Lock()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            arrivals.setdefault(self.path, []).append(time.time())
        if self.path.startswith("/slow/"):
            time.sleep({SLOW})
        body = b"ok" if self.path.startswith("/services/") else b""
        self.send_response(200 if body else 204)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        with lock:
            body = json.dumps(arrivals.get(self.path.removeprefix("/arrivals"), [])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("PORT", server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
"""

# moto's server in its own process. Note: its werkzeug server closes every connection, so each AWS call here
# also pays a TCP handshake that Lambda, keeping connections to DynamoDB open, mostly does not.
MOTO = """
import logging, sys
logging.disable(logging.CRITICAL)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("PORT", server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@contextlib.contextmanager
def _process(code: str) -> Iterator[int]:
    """Run ``code`` in its own Python process until the block ends; yields the port it printed."""
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = next(int(line.split()[1]) for line in process.stdout if line.startswith("PORT "))
        yield port
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the process ends when its stdin does
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _clear_caches() -> None:
    from integrations.api import service
    from integrations.delivery import dispatch, fanout
    from integrations.platform import aws, settings
    from integrations.storage import delivery_logs

    aws.reset()
    settings.load.cache_clear()
    for wired in (service, dispatch, fanout, delivery_logs):
        wired.from_environment.cache_clear()


@dataclass
class Stack:
    """moto, the provisioned template, the dispatcher function and a receiver."""

    function: Any  # devstack.functions.Function
    receiver: str  # http://127.0.0.1:port
    queue_url: str
    queue_arn: str

    def webhook(self, path: str, secret: str | None = None, account: str = ACCOUNT) -> str:
        credentials = {"url": f"{self.receiver}{path}", **({"secret": secret} if secret else {})}
        return self._create("webhook", credentials, account)

    def slack(self, path: str) -> str:
        return self._create("slack", {"webhookUrl": f"{self.receiver}{path}"})

    def _create(self, provider: str, credentials: dict[str, Any], account: str = ACCOUNT) -> str:
        from integrations.api import service
        from integrations.models.integrations import CreateIntegrationRequest

        request = CreateIntegrationRequest.model_validate(
            {"provider": provider, "name": "bench", "credentials": credentials, "enabledEvents": ["scan.completed"]}
        )
        return service.from_environment().create(account, request).id

    def invoke(self, bodies: list[str]) -> Any:
        """One dispatcher invocation with these job bodies as a first-receive SQS batch."""
        from devstack.pollers import sqs_event

        messages = [
            {
                "MessageId": f"m{n}",
                "ReceiptHandle": f"r{n}",
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
            }
            for n, body in enumerate(bodies)
        ]
        result = self.function.invoke(sqs_event(messages, self.queue_arn))
        assert result == {"batchItemFailures": []}, result
        return result

    def arrivals(self, path: str) -> list[float]:
        return list(requests.get(f"{self.receiver}/arrivals{path}", timeout=5).json())


_counter = iter(range(10**9))


def job(integration_id: str) -> str:
    """A new scan.completed job for the integration, as fan-out would enqueue it."""
    from integrations.delivery.jobs import DeliveryJob, delivery_id

    event_id = f"evt_bench_{next(_counter)}"
    event = {
        "id": event_id,
        "type": "scan.completed",
        "accountId": ACCOUNT,
        "occurredAt": "2026-04-10T10:45:20Z",
        "data": {"scan": {"id": "scan_1", "target": "https://app.example.com", "url": "https://apviso.com/s/1"}},
    }
    return DeliveryJob.model_validate(
        {
            "deliveryId": delivery_id(event_id, integration_id),
            "accountId": ACCOUNT,
            "integrationId": integration_id,
            "eventType": "scan.completed",
            "event": event,
        }
    ).model_dump_json()


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """The stack for the dispatcher's figures; the process's environment and caches are restored afterwards."""
    from devstack.functions import load_functions, merged_environment
    from devstack.provision import provision
    from devstack.template import load_template
    from integrations.platform.observability import logger

    saved = dict(os.environ)
    with _process(MOTO) as moto_port, _process(RECEIVER) as receiver_port, open(os.devnull, "w") as sink:
        try:
            os.environ.update(
                AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}",
                AWS_ACCESS_KEY_ID="bench",
                AWS_SECRET_ACCESS_KEY="bench",
                AWS_DEFAULT_REGION="us-east-1",
                AWS_REGION="us-east-1",
                POWERTOOLS_TRACE_DISABLED="true",
            )
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                os.environ.pop(name, None)
            _clear_caches()
            template = load_template(ROOT / "template.yaml")
            resources = provision(template)
            functions = load_functions(template, resources)
            os.environ.update(merged_environment(functions))
            os.environ["ALLOW_LOCAL_DESTINATIONS"] = "true"  # the receivers listen on loopback
            _clear_caches()
            # Log lines and metrics are formatted and written as in Lambda, to a sink instead of the console.
            handler = logger.registered_handler
            previous = handler.setStream(sink)  # type: ignore[attr-defined]
            queue = resources["DeliveriesQueue"]
            try:
                with contextlib.redirect_stdout(sink):
                    receiver = f"http://127.0.0.1:{receiver_port}"
                    yield Stack(functions["DispatcherFunction"], receiver, queue.ref, queue.arn)
            finally:
                handler.setStream(previous)  # type: ignore[attr-defined]
        finally:
            os.environ.clear()
            os.environ.update(saved)
            _clear_caches()


def parallel_delivery(bench: Stack, rounds: int = 5) -> Figure:
    """Target 1: a batch of 10 slow deliveries to 10 integrations over one such delivery."""
    hooks = [bench.webhook(f"/slow/{n}") for n in range(10)]
    bench.invoke([job(hook) for hook in hooks])  # warm: secrets cached, connections open
    singles, batches = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        bench.invoke([job(hooks[0])])
        singles.append(time.perf_counter() - started)
        started = time.perf_counter()
        bench.invoke([job(hook) for hook in hooks])
        batches.append(time.perf_counter() - started)
    single, batch = statistics.median(singles), statistics.median(batches)
    return Figure(
        "dispatcher: batch of 10 vs 1 delivery",
        batch / single,  # information since issue 13: bench.spread measures the parallelism at the receivers
        detail=f"10 receivers answering after {SLOW * 1000:.0f} ms: {batch * 1000:.0f} ms vs {single * 1000:.0f} ms",
    )


def dispatcher_overhead(bench: Stack, deliveries: int = 1000) -> list[Figure]:
    """Target 5: CPU per signed webhook delivery through the dispatcher over a bare requests.post of its body."""
    from integrations.providers import webhook

    hooks = [bench.webhook(f"/fast/{n}", SECRET) for n in range(10)]
    batches = [[job(hook) for hook in hooks] for _ in range(deliveries // len(hooks))]
    bench.invoke([job(hook) for hook in hooks])  # warm
    started = time.process_time()
    for bodies in batches:
        bench.invoke(bodies)
    dispatcher = (time.process_time() - started) / deliveries

    # The same bytes the webhook provider sends (its payload of one of these jobs), to the same receiver.
    sample = json.loads(batches[0][0])
    data = {**sample["event"]["data"], "event": {"id": sample["event"]["id"]}}
    body = webhook.encode({"type": "scan.completed", "timestamp": "2026-04-10T10:45:20Z", "data": data})
    headers = {"Content-Type": "application/json"}
    url = f"{bench.receiver}/fast/0"
    requests.post(url, data=body, headers=headers, timeout=10)  # warm
    started = time.process_time()
    for _ in range(deliveries):
        requests.post(url, data=body, headers=headers, timeout=10)
    bare = (time.process_time() - started) / deliveries
    with requests.Session() as session:
        started = time.process_time()
        for _ in range(deliveries):
            session.post(url, data=body, headers=headers, timeout=10)
        pooled = (time.process_time() - started) / deliveries
    calls = _aws_calls_per_delivery(bench, hooks)
    return [
        Figure(
            "dispatcher: CPU per delivery vs requests.post",
            dispatcher / bare,  # information since issue 13, beside the cost per delivery
            detail=(
                f"{dispatcher * 1000:.2f} ms vs {bare * 1000:.2f} ms over {deliveries} signed webhook deliveries; "
                f"{calls:.1f} AWS calls per delivery"
            ),
        ),
        Figure(
            "dispatcher: CPU vs a pooled session's post",
            dispatcher / pooled,
            detail=f"{dispatcher * 1000:.2f} ms vs {pooled * 1000:.2f} ms (requests.Session, connection kept)",
        ),
    ]


def _aws_calls_per_delivery(bench: Stack, hooks: list[str]) -> float:
    """botocore API calls the dispatcher makes per delivery, counted through botocore's event hooks."""
    from integrations.platform import aws

    counted = threading.Lock()
    calls = [0]

    def count(**_: Any) -> None:
        with counted:
            calls[0] += 1

    clients = [aws.client(name) for name in ("dynamodb", "secretsmanager", "sqs")]
    for client in clients:
        client.meta.events.register("before-call.*.*", count)
    try:
        bench.invoke([job(hook) for hook in hooks])
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.*.*", count)
    return calls[0] / len(hooks)


def pacing(bench: Stack, deliveries: int = 5) -> Figure:
    """5 Slack jobs for one webhook, queued at once: delivered one per second, none lost."""
    from devstack.pollers import SqsPoller

    path = "/services/T0BENCH/B0BENCH/pacing"
    hook = bench.slack(path)
    sqs = boto3.client("sqs")
    queued_at = time.time()
    for _ in range(deliveries):
        sqs.send_message(QueueUrl=bench.queue_url, MessageBody=job(hook))
    [source] = bench.function.sqs_events
    poller = SqsPoller(bench.function, source, bench.queue_url, bench.queue_arn, sqs, threading.Event(), 1)
    deadline = time.monotonic() + 60
    while len(bench.arrivals(path)) < deliveries and time.monotonic() < deadline:
        poller.poll_once()  # deferred jobs come back after their delay
    arrivals = sorted(bench.arrivals(path))
    # The pace itself: the shortest gap between two arrivals (Slack allows about one message a second), and
    # every message delivered (a missing one counts as no gap at all).
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    shortest = min(gaps) if len(arrivals) == deliveries and gaps else 0.0
    span = arrivals[-1] - queued_at if arrivals else 0.0
    return Figure(
        "pacing: shortest gap, 5 Slack messages",
        shortest,
        goal=0.9,
        unit="s",
        higher_is_better=True,
        detail=f"{len(arrivals)} of {deliveries} delivered, the last {span:.2f} s after queueing",
    )


def measure() -> list[Figure]:
    with stack() as bench:
        figures = [parallel_delivery(bench), *dispatcher_overhead(bench), pacing(bench)]
    return figures


if __name__ == "__main__":  # PYTHONPATH=layers/domain:tools .venv/bin/python -m bench.dispatch
    for figure in measure():
        print(figure.line())
