"""Cost per delivery (issue 13 §1): every AWS request that successful webhook deliveries make, priced.

The whole path runs in-process against moto, with the resources provisioned from template.yaml: 20 events put
on the bus with PutEvents (as the scanner does; the rule forwards them to the events queue), fan-out and the
dispatcher fed by the local event-source-mapping pollers, each event reaching 5 signed webhook integrations
whose receiver answers 204 at once: 100 deliveries. Every botocore call of the run is metered (``Meter``),
ours, Powertools' and the pollers' alike, and billed by the services' rules:

- DynamoDB write and read units from the items' sizes (``bench.units``), looked up around each call with a
  client the meter does not count (an update by the larger of the item before and after it);
- SQS requests by 64 KB chunk; receives that returned messages are per-delivery work, empty ones (the poller
  waiting) are idle polling, shown apart and not priced per delivery. The rule's SendMessage to the events
  queue happens inside EventBridge, out of botocore's sight: it is added, one per event;
- Secrets Manager calls, EventBridge events; Lambda GB-seconds (each invocation's wall time times the function's
  MemorySize from the template; moto runs in the same process, so this is an upper bound) and invocations;
  CloudWatch Logs bytes (every log and metric line the functions write).

Prices: ``bench.prices``. Goal: ≤ 4.00 USD per million deliveries on DynamoDB, SQS, Secrets Manager and
EventBridge. Alone: ``PYTHONPATH=layers/domain:tools .venv/bin/python -m bench.cost``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto import mock_aws

from bench import prices, units
from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "acct_bench"
EVENTS = 20
INTEGRATIONS = 5
GOAL = 4.00  # USD per million deliveries, on DynamoDB + SQS + Secrets Manager + EventBridge
SECRET = "whsec_" + "YmVuY2htYXJrLXNpZ25pbmcta2V5LTAxMjM0NTY3"
RULE_DELIVERY = "SendMessage (EventBridge rule)"


@dataclass
class Meter:
    """What every botocore call of a run is billed, by (service, operation)."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    billed: Counter[tuple[str, str]] = field(default_factory=Counter)  # SQS requests, EventBridge events
    write_units: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    read_units: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    idle_receives: int = 0
    tables: dict[str, str] = field(default_factory=dict)  # physical table name → what to show (its logical id)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _lookup: threading.local = field(default_factory=threading.local)
    _keys: dict[str, list[str]] = field(default_factory=dict)

    # ---------------------------------------------------------------- wiring

    @contextlib.contextmanager
    def metering(self) -> Iterator[Meter]:
        """Meter every botocore call made while the block runs (any client, any thread)."""
        original: Callable[..., Any] = BaseClient._make_api_call
        lookups = boto3.client("dynamodb")

        def metered(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if getattr(self._lookup, "active", False):
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            if service != "dynamodb":
                answer = original(client, operation, params)
                self._count(service, operation, params, answer)
                return answer
            before = self._items(lookups, operation, params)
            try:
                answer = original(client, operation, params)
            except ClientError as error:
                self._count_dynamodb(operation, params, None, before, None, error.response["Error"]["Code"])
                raise
            updated = operation in ("UpdateItem", "TransactWriteItems")
            after = self._items(lookups, operation, params) if updated else None
            self._count_dynamodb(operation, params, answer, before, after, None)
            return answer

        BaseClient._make_api_call = metered
        try:
            yield self
        finally:
            BaseClient._make_api_call = original

    def _key(self, lookups: Any, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self._keys:
            description = lookups.describe_table(TableName=table)["Table"]
            self._keys[table] = [part["AttributeName"] for part in description["KeySchema"]]
        return {name: item[name] for name in self._keys[table]}

    def _items(self, lookups: Any, operation: str, params: dict[str, Any]) -> list[dict[str, Any] | None]:
        """The items a write touches, as they are now (uncounted GetItems), in the order of the request."""
        targets: list[tuple[str, dict[str, Any]]] = []
        if operation in ("UpdateItem", "DeleteItem"):
            targets = [(params["TableName"], params["Key"])]
        elif operation == "PutItem":
            targets = [(params["TableName"], params["Item"])]
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                    targets.append((table, put["Item"] if put else delete["Key"]))
        elif operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                [(_, spec)] = action.items()
                targets.append((spec["TableName"], spec.get("Key") or spec["Item"]))
        if not targets:
            return []
        self._lookup.active = True
        try:
            return [
                lookups.get_item(TableName=table, Key=self._key(lookups, table, item), ConsistentRead=True).get("Item")
                for table, item in targets
            ]
        finally:
            self._lookup.active = False

    # ---------------------------------------------------------------- billing rules

    def _count(self, service: str, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        with self._lock:
            self.calls[service, operation] += 1
            if service == "sqs":
                if operation == "ReceiveMessage" and not answer.get("Messages"):
                    self.idle_receives += 1
                    self.calls[service, operation] -= 1
                    return
                self.billed[service, operation] += _sqs_requests(operation, params, answer)
            elif service == "events" and operation == "PutEvents":
                for entry in params["Entries"]:
                    chunks = _chunks(len(json.dumps(entry).encode()), prices.EVENTBRIDGE_CHUNK_BYTES)
                    self.billed[service, operation] += chunks
                    # The rule's target: EventBridge sends the event to the events queue, a billed SQS request.
                    self.billed["sqs", RULE_DELIVERY] += _chunks(len(entry["Detail"].encode()), prices.SQS_CHUNK_BYTES)
                    self.calls["sqs", RULE_DELIVERY] += 1

    def _count_dynamodb(
        self,
        operation: str,
        params: dict[str, Any],
        answer: dict[str, Any] | None,
        before: list[dict[str, Any] | None],
        after: list[dict[str, Any] | None] | None,
        error: str | None,
    ) -> None:
        writes: float = 0
        reads: float = 0
        consistent = bool(params.get("ConsistentRead"))
        if error == "ConditionalCheckFailedException":
            writes = units.failed_condition_units(before[0])
        elif error == "TransactionCanceledException":  # billed like failed conditions, at the transactional rate
            writes = sum(2 * units.failed_condition_units(item) for item in before)
        elif error is not None or answer is None:
            pass  # throttled or rejected: not billed
        elif operation in ("PutItem", "UpdateItem"):
            new = params["Item"] if operation == "PutItem" else (after or [None])[0]
            writes = units.put_or_update_units(before[0], new)
        elif operation == "DeleteItem":
            writes = units.write_units(units.item_size(before[0]))
        elif operation == "BatchWriteItem":
            unprocessed = sum(len(requests) for requests in answer.get("UnprocessedItems", {}).values())
            assert not unprocessed, "the meter expects every batch item processed (moto always does)"
            requests = [request for batch in params["RequestItems"].values() for request in batch]
            for request, old in zip(requests, before, strict=True):
                put = request.get("PutRequest")
                writes += (
                    units.put_or_update_units(old, put["Item"]) if put else units.write_units(units.item_size(old))
                )
        elif operation == "TransactWriteItems":
            for old, new in zip(before, after or [], strict=True):
                writes += units.write_units(max(units.item_size(old), units.item_size(new)), transactional=True)
        elif operation == "GetItem":
            reads = units.read_units(units.item_size(answer.get("Item")), consistent=consistent)
        elif operation in ("Query", "Scan"):
            if "ProjectionExpression" in params or "Select" in params:
                raise NotImplementedError("the meter sizes the items a Query returns: whole items only")
            reads = units.read_units(self._examined_size(operation, params, answer), consistent=consistent)
        elif operation == "BatchGetItem":
            # DynamoDB bills each key as a GetItem of its own, found or not.
            assert not answer.get("UnprocessedKeys"), "the meter expects every key processed (moto always does)"
            for name, request in params["RequestItems"].items():
                found = [units.item_size(item) for item in answer.get("Responses", {}).get(name, [])]
                sizes = found + [0] * (len(request["Keys"]) - len(found))
                reads += sum(units.read_units(size, consistent=bool(request.get("ConsistentRead"))) for size in sizes)
        elif operation == "TransactGetItems":
            raise NotImplementedError(f"the meter does not bill {operation} yet")
        if "RequestItems" in params:
            tables = set(params["RequestItems"])
        elif "TransactItems" in params:
            tables = {spec["TableName"] for action in params["TransactItems"] for spec in action.values()}
        else:
            tables = {params.get("TableName", "")}
        key = "dynamodb", " ".join([operation, *sorted(self.tables.get(name, name) for name in tables)])
        with self._lock:
            self.calls[key] += 1
            self.write_units[key] += writes
            self.read_units[key] += reads

    def _examined_size(self, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> int:
        """A Query is billed for the items it examined, filtered out or not: the same request without its
        filter (and uncounted) returns exactly those, since Limit and pages apply before the filter."""
        if "FilterExpression" not in params:
            return sum(units.item_size(item) for item in answer.get("Items", []))
        unfiltered = {key: value for key, value in params.items() if key != "FilterExpression"}
        unfiltered["FilterExpression"] = f"({params['FilterExpression']}) OR attribute_exists(#meter_any)"
        table = params["TableName"]
        lookups = boto3.client("dynamodb")
        self._lookup.active = True
        try:
            partition_key = lookups.describe_table(TableName=table)["Table"]["KeySchema"][0]["AttributeName"]
            names = {**params.get("ExpressionAttributeNames", {}), "#meter_any": partition_key}
            unfiltered["ExpressionAttributeNames"] = names
            items = getattr(lookups, _snake(operation))(**unfiltered).get("Items", [])
        finally:
            self._lookup.active = False
        assert len(items) == answer.get("ScannedCount", len(items)), "the unfiltered request examined other items"
        return sum(units.item_size(item) for item in items)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _chunks(size: int, chunk: int) -> int:
    return max(1, math.ceil(size / chunk))


def _sqs_requests(operation: str, params: dict[str, Any], answer: dict[str, Any]) -> int:
    """SQS bills each 64 KB chunk of a request's payload as one request."""
    if operation == "SendMessage":
        size = len(params["MessageBody"].encode()) + _attributes_size(params.get("MessageAttributes"))
    elif operation == "SendMessageBatch":
        size = sum(
            len(entry["MessageBody"].encode()) + _attributes_size(entry.get("MessageAttributes"))
            for entry in params["Entries"]
        )
    elif operation == "ReceiveMessage":
        size = sum(
            len(message["Body"].encode()) + _attributes_size(message.get("MessageAttributes"))
            for message in answer.get("Messages", [])
        )
    else:
        size = 0
    return _chunks(size, prices.SQS_CHUNK_BYTES)


def _attributes_size(attributes: dict[str, Any] | None) -> int:
    return sum(
        len(name) + len(value.get("DataType", "")) + len(str(value.get("StringValue", "")))
        for name, value in (attributes or {}).items()
    )


# ---------------------------------------------------------------- the run


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Receiver.lock:
            _Receiver.received += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _CountingSink(io.TextIOBase):
    """Where the functions' log and metric lines go: counted, as CloudWatch Logs would ingest them."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


@dataclass
class Run:
    meter: Meter
    deliveries: int
    gb_seconds: float
    invocations: int
    log_bytes: int


def _event(number: int) -> dict[str, Any]:
    return {
        "id": f"evt_cost_{number}_{time.time_ns()}",
        "type": "scan.completed",
        "accountId": ACCOUNT,
        "occurredAt": "2026-12-03T10:45:20Z",
        "data": {
            "scan": {"id": f"scan_{number}", "target": "https://app.example.com", "url": "https://apviso.com/s/1"}
        },
    }


@contextlib.contextmanager
def _environment() -> Iterator[None]:
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _clear_caches()


def _clear_caches() -> None:
    from integrations.api import redelivery, service
    from integrations.delivery import dispatch, fanout
    from integrations.platform import aws, settings
    from integrations.storage import delivery_logs

    aws.reset()
    settings.load.cache_clear()
    for wired in (service, dispatch, fanout, delivery_logs, redelivery):
        wired.from_environment.cache_clear()


def run(events: int = EVENTS, integrations: int = INTEGRATIONS) -> Run:
    """Publish ``events`` to ``integrations`` webhooks and deliver them all, metered."""
    from devstack.functions import load_functions, merged_environment
    from devstack.pollers import SqsPoller
    from devstack.provision import provision
    from devstack.template import load_template
    from integrations.api import service
    from integrations.models.integrations import CreateIntegrationRequest
    from integrations.platform.observability import logger

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = 0
    with _environment(), mock_aws():
        template = load_template(ROOT / "template.yaml")
        resources = provision(template)
        functions = load_functions(template, resources)
        os.environ.update(merged_environment(functions))
        os.environ["ALLOW_LOCAL_DESTINATIONS"] = "true"  # the receiver listens on loopback
        _clear_caches()
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        for number in range(integrations):
            request = CreateIntegrationRequest.model_validate(
                {
                    "provider": "webhook",
                    "name": f"cost {number}",
                    "credentials": {"url": f"{url}/{number}", "secret": SECRET},
                    "enabledEvents": ["scan.completed"],
                }
            )
            service.from_environment().create(ACCOUNT, request)
        _clear_caches()  # the functions start cold: no cached clients or secrets

        sqs = boto3.client("sqs")
        pollers = []
        durations: list[float] = []
        for name in ("FanoutFunction", "DispatcherFunction"):
            function = functions[name]
            [source] = function.sqs_events
            queue = resources[source.queue]
            pollers.append(SqsPoller(function, source, queue.ref, queue.arn, sqs, threading.Event(), 0))
            invoke = function.invoke

            def timed(event: Any, *, request_id: str | None = None, _invoke: Any = invoke, _fn: Any = function) -> Any:
                started = time.perf_counter()
                try:
                    return _invoke(event, request_id=request_id)
                finally:
                    durations.append((time.perf_counter() - started) * _fn.memory_size / 1024)

            function.invoke = timed  # type: ignore[method-assign]

        sink = _CountingSink()
        handler = logger.registered_handler
        previous = handler.setStream(sink)  # type: ignore[attr-defined]
        meter = Meter(tables={resources.ref(name): name for name in template.of_type("AWS::DynamoDB::Table")})
        try:
            with meter.metering(), contextlib.redirect_stdout(sink):
                bus = boto3.client("events")
                for start in range(0, events, 10):  # PutEvents takes up to 10 entries
                    entries = [
                        {
                            "EventBusName": resources.ref("ScannerEventBus"),
                            "Source": "apviso.scanner",
                            "DetailType": "scan.completed",
                            "Detail": json.dumps(_event(number)),
                        }
                        for number in range(start, min(events, start + 10))
                    ]
                    assert bus.put_events(Entries=entries)["FailedEntryCount"] == 0
                deadline = time.monotonic() + 300
                while _Receiver.received < events * integrations and time.monotonic() < deadline:
                    for poller in pollers:
                        poller.poll_once()
        finally:
            handler.setStream(previous)  # type: ignore[attr-defined]
            server.shutdown()
    deliveries = _Receiver.received
    if deliveries != events * integrations:
        raise RuntimeError(f"{deliveries} of {events * integrations} deliveries reached the receiver")
    return Run(meter, deliveries, sum(durations), len(durations), sink.bytes)


# ---------------------------------------------------------------- the figures


def _dollars(meter: Meter) -> dict[str, float]:
    """Per service, what the metered run cost in USD (Lambda and logs apart)."""
    return {
        "DynamoDB": sum(meter.write_units.values()) * prices.DYNAMODB_WRITE_UNIT
        + sum(meter.read_units.values()) * prices.DYNAMODB_READ_UNIT,
        "SQS": sum(count for (service, _), count in meter.billed.items() if service == "sqs") * prices.SQS_REQUEST,
        "Secrets Manager": sum(c for (s, _), c in meter.calls.items() if s == "secretsmanager")
        * prices.SECRETS_MANAGER_CALL,
        "EventBridge": meter.billed["events", "PutEvents"] * prices.EVENTBRIDGE_EVENT,
    }


def report(result: Run) -> list[str]:
    """The per-delivery table: requests by service and operation, units, and dollars per million."""
    n = result.deliveries
    meter = result.meter
    lines = [f"per delivery ({n} deliveries: {EVENTS} events x {INTEGRATIONS} webhook integrations)"]
    lines.append(f"  {'service':<16}{'operation':<44}{'requests':>9}{'billed':>9}{'WRU':>8}{'RRU':>8}{'$/M':>8}")
    for (service, operation), calls in sorted(meter.calls.items()):
        key = service, operation
        wru, rru = meter.write_units[key] / n, meter.read_units[key] / n
        billed = meter.billed[key] / n if key in meter.billed else calls / n
        price = {
            "dynamodb": wru * prices.DYNAMODB_WRITE_UNIT + rru * prices.DYNAMODB_READ_UNIT,
            "sqs": billed * prices.SQS_REQUEST,
            "secretsmanager": billed * prices.SECRETS_MANAGER_CALL,
            "events": billed * prices.EVENTBRIDGE_EVENT,
        }.get(service, 0.0)
        lines.append(
            f"  {service:<16}{operation:<44}{calls / n:>9.3f}{billed:>9.3f}{wru:>8.2f}{rru:>8.2f}{price * 1e6:>8.3f}"
        )
    lines.append(
        f"  idle polling (empty ReceiveMessage, not per delivery): {meter.idle_receives} in this run; "
        f"prices from {prices.PRICES_DATE}, {prices.REGION} on demand"
    )
    return lines


def figures(result: Run) -> list[Figure]:
    n = result.deliveries
    meter = result.meter
    dollars = _dollars(meter)
    total = sum(dollars.values()) / n * 1e6
    lambda_cost = (result.gb_seconds * prices.LAMBDA_GB_SECOND + result.invocations * prices.LAMBDA_REQUEST) / n * 1e6
    logs_cost = result.log_bytes * prices.LOGS_INGESTED_BYTE / n * 1e6
    requests = sum(meter.calls.values()) / n
    by_service = ", ".join(f"{name} {value / n * 1e6:.2f}" for name, value in dollars.items())
    return [
        Figure(
            "cost: $ per million deliveries",
            total,
            goal=GOAL,
            unit=" $",
            detail=f"DynamoDB + SQS + Secrets Manager + EventBridge: {by_service}; prices of {prices.PRICES_DATE}",
        ),
        Figure(
            "cost: AWS requests per delivery",
            requests,
            unit="",
            detail=f"{meter.idle_receives} idle polls in the run apart",
        ),
        Figure("cost: DynamoDB write units per delivery", sum(meter.write_units.values()) / n, unit=" WRU"),
        Figure("cost: DynamoDB read units per delivery", sum(meter.read_units.values()) / n, unit=" RRU"),
        Figure(
            "cost: Lambda GB-milliseconds per delivery",
            result.gb_seconds / n * 1000,
            unit=" GB-ms",
            detail=(
                f"{lambda_cost:.2f} $ per million with {result.invocations} invocations; "
                "wall time with moto in-process: an upper bound"
            ),
        ),
        Figure(
            "cost: CloudWatch Logs bytes per delivery",
            result.log_bytes / n,
            unit=" B",
            detail=f"{logs_cost:.2f} $ per million",
        ),
    ]


def measure() -> list[Figure]:
    result = run()
    for line in report(result):
        print(line, flush=True)
    return figures(result)


if __name__ == "__main__":  # PYTHONPATH=layers/domain:tools .venv/bin/python -m bench.cost
    for figure in measure():
        print(figure.line())
