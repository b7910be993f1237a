"""Issue 13 §2: the first invocation of each function after its SnapStart hooks ran, as a ratio of a warm one.

Each sample is a fresh interpreter that imports one function's handler, as Lambda's init does, and invokes it
in-process with requests of its own route or queue: AWS is moto's server and the receivers a server of their
own, each in its own process, seeded beforehand (``bench.dispatch.stack``). In the *primed* samples the
before-snapshot hooks run after the import and the after-restore hooks after them, as a copy restored from a
SnapStart snapshot has run both; in the *unprimed* ones neither runs (a cold start without SnapStart, after its
import). The figure is the CPU time (``time.process_time``, every thread of the function's process; moto's and the
receivers' work is not in it) of the first invocation over the median of the five warm invocations that follow,
median over the samples; goal ≤ 1.2 for the primed first invocation, the unprimed one printed beside it. An
invocation is timed as the runtime makes it: the event parsed from JSON, the handler, its answer written as JSON.

The dispatcher and the test route read an integration's credentials from Secrets Manager and keep them in memory for
a few minutes. Each of their invocations, the first and the warm ones, delivers to an integration of its own, as a
warm copy meets integrations it has not read yet: a restore cannot remove that read, so the figure compares like with
like. The same integration every time (warm ones reading from memory) is printed beside it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.dispatch import ACCOUNT, Stack, job, stack
from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[2]
GOAL = 1.2
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "5"))
WARM = 5  # warm invocations after the first, per sample
CREATE_ACCOUNT = "acct_bench_create"  # the create route's integrations stay out of the fanned-out account

# One function per process: import its handler (Lambda's init), optionally run the hooks, then time each invocation.
CHILD = """
import json, os, sys, time
config = json.loads(sys.stdin.read())
sys.path[:0] = [config["task"], config["layer"]]
sink = open(os.devnull, "w")
sys.stdout = sink  # the functions' log lines and metrics are written as in Lambda, then dropped

class Context:
    def __init__(self, n):
        self.function_name = config["name"]
        self.function_version = "1"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + config["name"] + ":live"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "firstcall-%d" % n
        self.log_group_name = "/aws/lambda/" + config["name"]
        self.log_stream_name = "firstcall"
        self._deadline = time.monotonic() + 60
    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)

import app
if config["primed"]:
    from integrations.platform import snapstart
    snapstart.before_snapshot()
    snapstart.after_restore()
# The harness's own steps, once untimed: in Lambda the runtime's code is not the function's first call.
json.dumps(json.loads(json.dumps(config["events"][0]))); Context(-1); time.process_time(); time.perf_counter()
cpu, wall, results = [], [], []
for n, raw in enumerate(json.dumps(event) for event in config["events"]):
    # As Lambda's runtime client: the event arrives as JSON, the answer leaves as JSON.
    started, started_wall = time.process_time(), time.perf_counter()
    result = app.lambda_handler(json.loads(raw), Context(n))
    json.dumps(result)
    cpu.append(time.process_time() - started)
    wall.append(time.perf_counter() - started_wall)
    results.append(result)
with open(config["out"], "w") as out:
    json.dump({"cpu": cpu, "wall": wall, "results": results}, out, default=str)
"""


def _api(method: str, resource: str, path: str, body: Any = None, account: str = ACCOUNT) -> dict[str, Any]:
    """An API Gateway proxy event as the authorizer lets it through (the sample in events/api, re-aimed)."""
    event: dict[str, Any] = json.loads((ROOT / "events" / "api" / "list_integrations.json").read_text())
    names = [part[1:-1] for part in resource.split("/") if part.startswith("{") and not part.endswith("+}")]
    values = [part for part, pattern in zip(path.split("/"), resource.split("/"), strict=False) if pattern[:1] == "{"]
    values = values[: len(names)]
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        pathParameters=dict(zip(names, values, strict=True)) or None,
        body=None if body is None else json.dumps(body),
    )
    context = event["requestContext"]
    context.update(resourcePath=resource, httpMethod=method, path=f"/dev{path}")
    context["authorizer"] = {"principalId": account, "accountId": account}
    return event


def _sqs(bodies: list[str], queue_arn: str) -> dict[str, Any]:
    from devstack.pollers import sqs_event

    messages = [
        {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": body, "Attributes": {"ApproximateReceiveCount": "1"}}
        for n, body in enumerate(bodies)
    ]
    return sqs_event(messages, queue_arn)


def _scanner_event(n: int) -> str:
    event = json.loads((ROOT / "events" / "scanner" / "scan_completed.json").read_text())
    event.update(id=f"evt_firstcall_{os.getpid()}_{n}", accountId=ACCOUNT)
    return json.dumps(event)


def an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def recovery_page(integration_id: str) -> dict[str, Any]:
    """One page of a recovery of the bench's integration (its one delivery succeeded: nothing to send again)."""
    return {
        "recoveryId": str(uuid.uuid4()),
        "accountId": ACCOUNT,
        "integrationId": integration_id,
        "since": an_hour_ago(),
        "position": 1,
    }


def _webhook_body(bench: Stack) -> dict[str, Any]:
    credentials = {"url": f"{bench.receiver}/fast/firstcall"}
    return {"provider": "webhook", "name": "bench", "credentials": credentials, "enabledEvents": ["scan.completed"]}


Events = Callable[[int], list[dict[str, Any]]]  # the events of one sample (first, then warm), by sample number


def _scenarios(bench: Stack) -> tuple[dict[str, tuple[Events, Callable[[Any], bool]]], dict[str, Events]]:
    """Per function: its events for a sample, and what a successful answer looks like; and for the functions whose
    invocations each go to an integration of their own, the events of one integration every time."""
    from integrations.storage import apikeys, delivery_logs

    hook = bench.webhook("/fast/firstcall")
    # The create route's account already has an integration, as a live account does: its first timed create does
    # the same work as the warm ones (an account's very first create also starts its integration count).
    bench.webhook("/fast/firstcall", account=CREATE_ACCOUNT)
    bench.invoke([job(hook)])  # one delivery, so the logs and redelivery routes have an entry
    [entry] = delivery_logs.logs_page(delivery_logs.from_environment(), hook, 1, 20).data
    api_key = apikeys.generate_key()
    apikeys.register_key(os.environ["API_KEYS_TABLE"], api_key, ACCOUNT)
    authorizer_event = json.loads((ROOT / "events" / "api" / "authorizer.json").read_text())
    authorizer_event["headers"] = {"X-API-Key": api_key}
    count = 1 + WARM
    item = "/v1/integrations/{id}"

    # One integration per invocation of a sample: a sample is a process of its own, whose memory holds no credentials.
    hooks = [bench.webhook("/fast/firstcall") for _ in range(count)]

    def tests(_sample: int) -> list[dict[str, Any]]:
        return [_api("POST", f"{item}/test", f"/v1/integrations/{each}/test") for each in hooks]

    def deliveries(_sample: int) -> list[dict[str, Any]]:
        return [_sqs([job(each)], bench.queue_arn) for each in hooks]

    def ok(status: int) -> Callable[[Any], bool]:
        return lambda result: isinstance(result, dict) and result.get("statusCode") == status

    def same(event: dict[str, Any]) -> Events:
        return lambda _sample: [event] * count

    def deletions(_sample: int) -> list[dict[str, Any]]:
        return [_api("DELETE", item, f"/v1/integrations/{bench.webhook('/fast/deleted')}") for _ in range(count)]

    allowed = lambda result: result["policyDocument"]["Statement"][0]["Effect"] == "Allow"  # noqa: E731
    no_failures = lambda result: result == {"batchItemFailures": []}  # noqa: E731
    one_integration = {
        "TestIntegrationFunction": same(_api("POST", f"{item}/test", f"/v1/integrations/{hook}/test")),
        "DispatcherFunction": lambda _sample: [_sqs([job(hook)], bench.queue_arn) for _ in range(count)],
    }
    return {
        "AuthorizerFunction": (same(authorizer_event), allowed),
        "ListProvidersFunction": (
            same(_api("GET", "/v1/integrations/providers", "/v1/integrations/providers")),
            ok(200),
        ),
        "CreateIntegrationFunction": (
            same(_api("POST", "/v1/integrations", "/v1/integrations", _webhook_body(bench), CREATE_ACCOUNT)),
            ok(201),
        ),
        "ListIntegrationsFunction": (same(_api("GET", "/v1/integrations", "/v1/integrations")), ok(200)),
        "UpdateIntegrationFunction": (
            same(_api("PATCH", item, f"/v1/integrations/{hook}", {"name": "renamed"})),
            ok(200),
        ),
        "DeleteIntegrationFunction": (deletions, ok(200)),
        "TestIntegrationFunction": (tests, ok(200)),
        "ListDeliveryLogsFunction": (same(_api("GET", f"{item}/logs", f"/v1/integrations/{hook}/logs")), ok(200)),
        "RedeliverDeliveryFunction": (
            same(
                _api(
                    "POST",
                    f"{item}/logs/{{logId}}/redeliver",
                    f"/v1/integrations/{hook}/logs/{entry.id}/redeliver",
                )
            ),
            ok(202),
        ),
        "RouteFallbackFunction": (same(_api("GET", "/{proxy+}", "/v2/nothing-here")), ok(404)),
        "FanoutFunction": (
            lambda sample: [
                _sqs([_scanner_event(sample * count + n)], "arn:aws:sqs:us-east-1:123456789012:events")
                for n in range(count)
            ],
            no_failures,
        ),
        "DispatcherFunction": (deliveries, no_failures),
        "RecoverDeliveriesFunction": (
            same(_api("POST", f"{item}/recover", f"/v1/integrations/{hook}/recover", {"since": an_hour_ago()})),
            ok(202),
        ),
        "RecoveryBatchesFunction": (
            same(_sqs([json.dumps(recovery_page(hook))], "arn:aws:sqs:us-east-1:123456789012:recovery")),
            no_failures,
        ),
    }, one_integration


def _sample(function: Any, events: list[dict[str, Any]], primed: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-firstcall-") as scratch:
        out = Path(scratch) / "out.json"
        config = {
            "task": str(function.code_uri),
            "layer": str(ROOT / "layers" / "domain"),
            "name": function.name,
            "primed": primed,
            "events": events,
            "out": str(out),
        }
        env = {**os.environ, **function.environment, "ALLOW_LOCAL_DESTINATIONS": "true", "PYTHONPATH": ""}
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=json.dumps(config),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _ratio(times: list[float]) -> float:
    return times[0] / statistics.median(times[1:])


def _samples(function: Any, events_of: Events, succeeded: Callable[[Any], bool], primed: bool) -> list[list[float]]:
    """The CPU times of each sample's invocations (first, then warm); RuntimeError when an invocation failed."""
    times = []
    for sample in range(SAMPLES):
        measured = _sample(function, events_of(2 * sample + primed), primed)
        failed = [r for r in measured["results"] if not succeeded(r)]
        if failed:
            raise RuntimeError(f"an invocation failed: {str(failed[0])[:200]}")
        times.append(measured["cpu"])
    return times


def measure() -> list[Figure]:
    figures = []
    with stack() as bench:
        from devstack.functions import load_functions
        from devstack.provision import plan
        from devstack.template import load_template

        scenarios, one_integration = _scenarios(bench)
        template = load_template(ROOT / "template.yaml")
        functions = load_functions(template, plan(template))  # the names stack() provisioned them under
        for logical_id in sorted(scenarios):
            events_of, succeeded = scenarios[logical_id]
            function = functions[logical_id]
            try:
                primed_times = _samples(function, events_of, succeeded, primed=True)
                unprimed_times = _samples(function, events_of, succeeded, primed=False)
                cached = logical_id in one_integration
                cached_times = _samples(function, one_integration[logical_id], succeeded, True) if cached else []
            except RuntimeError as error:
                figures.append(Figure(f"first call: {logical_id}", float("inf"), GOAL, detail=str(error)))
                continue
            primed = statistics.median(_ratio(times) for times in primed_times)
            unprimed = statistics.median(_ratio(times) for times in unprimed_times)
            first = statistics.median(times[0] for times in primed_times) * 1000
            warm = statistics.median(statistics.median(times[1:]) for times in primed_times + unprimed_times) * 1000
            detail = (
                f"unprimed {unprimed:.1f}x; CPU ms: first {first:.2f} primed ({first - warm:+.2f} over warm), "
                f"{statistics.median(times[0] for times in unprimed_times) * 1000:.1f} unprimed, warm {warm:.2f}"
            )
            if cached_times:
                same = statistics.median(_ratio(times) for times in cached_times)
                detail += f"; one integration each time (warm ones read no credentials) {same:.2f}x"
            detail += f"; median of {SAMPLES}"
            figures.append(Figure(f"first call: {logical_id}", primed, GOAL, detail=detail))  # primed: the figure
    return figures


if __name__ == "__main__":  # PYTHONPATH=layers/domain:tools .venv/bin/python -m bench.firstcall
    for figure in measure():
        print(figure.line())
