"""SnapStart runtime hooks (docs/cold-starts.md): the work done once before Lambda snapshots a function, and what
each copy restored from that snapshot must not share with the others.

Before the snapshot each function does what its first request would otherwise do: import what requests need,
load its settings, create its boto3 clients and wiring, answer a priming request (see PRIMING_ACCOUNT) so that its
resolver, models and first AWS calls have run once, make the first call of each other AWS operation its requests
make, in a form that changes nothing (``call_changing_nothing``), and freeze the heap. After a restore, every copy
reseeds ``random`` (retry jitter: copies restored from one snapshot would otherwise draw the same delays and retry in
lockstep) and drops what it must not share or keep: cached secrets (read before the snapshot, possibly changed
since) and pooled connections (their sockets were open in another machine's past).

The hooks are registered with ``snapshot_restore_py``, which the Lambda runtime provides. Where it is missing
(local stack and tests need not have it) they are only kept here; ``before_snapshot()`` and ``after_restore()``
run them as the runtime does, for the benchmark and the tests. Without SnapStart the runtime runs no hook: the
work of ``prepare`` then happens on first use, as before.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
import random
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

try:
    import snapshot_restore_py as _runtime
except ImportError:  # outside Lambda, where nothing installed it: the hooks stay local
    _runtime = None

Step = Callable[[], Any]

_before: list[Step] = []
_after: list[Step] = []


def prepare(*steps: Step) -> None:
    """Run ``steps``, in this order, before Lambda snapshots the function."""

    def prepare_function() -> None:
        for step in steps:
            step()
        # What import and priming made lives as long as the copy: out of the collector's reach, a restored copy's
        # first collections scan only what its requests allocate. Left in, the first request that allocates much
        # (a page of the log) paid a full collection: the recover route's first call took 1.7 times a warm one.
        # No collection before: it hands freed memory back to the OS, which the first request then maps again (the
        # catalog's first call took 1.8 times a warm one); the little that priming left unreachable stays.
        gc.freeze()

    _before.append(prepare_function)
    if _runtime is not None:
        _runtime.register_before_snapshot(prepare_function)


def on_restore(step: Step) -> Step:
    """Run ``step`` in each copy of the function restored from the snapshot (usable as a decorator)."""
    _after.append(step)
    if _runtime is not None:
        _runtime.register_after_restore(step)
    return step


def clients(*services: str) -> Step:
    """A step creating the boto3 clients of ``services`` (botocore loads each service's model then), and resolving
    the shapes of the answers that carry data (ANSWERED)."""

    def create_clients() -> None:
        from integrations.platform import aws

        for service in services:
            model = aws.client(service).meta.service_model
            for operation in ANSWERED.get(service, ()):
                _resolve_shapes(model.operation_model(operation).output_shape, ())

    return create_clients


# The operations whose answers carry what requests read: an item's attributes, a secret's value. Priming calls find
# nothing (their answers are errors or empty), so botocore's parser never resolved those parts of the model, which it
# does the first time it meets them, shape by shape: a tenth of a millisecond per operation, in the first request.
ANSWERED = {"dynamodb": ("GetItem", "BatchGetItem", "Query", "UpdateItem"), "secretsmanager": ("GetSecretValue",)}


def _resolve_shapes(shape: Any, path: tuple[str, ...]) -> None:
    """Read what the parser reads of ``shape`` and the shapes within it, down to the third level of recursion (an
    attribute value in a map in a map: deeper, the first request to meet one resolves it)."""
    if shape is None or path.count(shape.name) == 3:
        return
    shape.serialization, shape.metadata  # noqa: B018  # botocore caches each on first reading
    if shape.type_name == "structure":
        shape.is_document_type, shape.is_tagged_union  # noqa: B018
        children = list(shape.members.values())
    else:
        children = [getattr(shape, part) for part in ("member", "key", "value") if hasattr(shape, part)]
    for child in children:
        _resolve_shapes(child, (*path, shape.name))


# Priming requests come from an account that owns nothing, for an integration that does not exist: each runs its
# function's code (validation, the first AWS call of each client, the error or empty answer) and changes nothing,
# but that fan-out and the dispatcher keep one claim each (integrations.delivery.once: a day, a week) per published
# version.
PRIMING_ACCOUNT = "acct_snapstart_priming"
PRIMING_ID = "00000000-0000-7000-8000-000000000000"
PRIMING_URL = "https://snapstart-priming.invalid/"  # a name that never resolves (RFC 2606): nothing is sent to it


class PrimingContext:
    """The Lambda context of a priming request: the function's own names, and all of the init phase's time."""

    def __init__(self) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "snapstart-priming")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = ""
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"))
        self.aws_request_id = f"snapstart-priming-{uuid.uuid4()}"
        self.log_group_name = ""
        self.log_stream_name = ""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000  # the longest init: the dispatcher must not defer the priming job for lack of time


# Python specialises the bytecode a function runs after its first few calls: a request primed once is still
# slower than a warm one. Idempotent priming requests (the routes', the authorizer's) run this many times.
REPEAT = 3


def invoke(handler: Callable[[Any, Any], Any], event: dict[str, Any], times: int = 1) -> Step:
    """A step invoking ``handler`` with ``event`` (a priming request) ``times`` times, as Lambda would."""

    def prime() -> None:
        try:
            for _ in range(times):
                handler(copy.deepcopy(event), PrimingContext())
        except Exception:
            # Priming only saves the first request some work: a failure (AWS throttling…) must not fail the deploy.
            logging.getLogger(__name__).warning("SnapStart priming request failed", exc_info=True)

    return prime


def priming_secret() -> str:
    """The name of the priming account's secret, which never exists."""
    return f"{os.environ.get('SECRETS_PREFIX', 'snapstart').rstrip('/')}/{PRIMING_ACCOUNT}/{PRIMING_ID}"


def missing_secret(call: Callable[[str], Any]) -> Step:
    """A step calling Secrets Manager (``call(name)``) about the priming account's secret, which cannot exist: the
    client's first call is made, nothing is read or changed (ResourceNotFoundException is the expected answer)."""
    return lambda: _attempt(lambda: call(priming_secret()), refused_with="ResourceNotFoundException")


def call_changing_nothing(
    service: str, method: str, params: Callable[[], dict[str, Any]], refused_with: str | None = None
) -> Step:
    """A step making one AWS call that changes nothing: refused with ``refused_with`` (a condition that cannot hold, a
    parameter AWS rejects), or a no-op (reading or deleting an item that cannot exist). The client's first call of
    that operation (its model and serializer loaded, the request signed and sent, the answer parsed) is then made
    before the snapshot, not by the first request that needs it: a priming request stops before its success path."""

    def call() -> None:
        from integrations.platform import aws

        getattr(aws.client(service), method)(**params())

    return lambda: _attempt(call, refused_with, must_be_refused=refused_with is not None)


def _attempt(call: Step, refused_with: str | None = None, must_be_refused: bool = False) -> None:
    """Make a priming call, best effort as the priming requests: an AWS error ``refused_with`` is an expected answer,
    and a success unless ``must_be_refused``; anything else is logged, never raised."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        # SQS names its errors "AWS.SimpleQueueService.<code>" where its JSON answers carry the query protocol's.
        if error.response["Error"]["Code"].rsplit(".", 1)[-1] != refused_with:
            logging.getLogger(__name__).warning("SnapStart priming call failed", exc_info=True)
    except Exception:
        logging.getLogger(__name__).warning("SnapStart priming call failed", exc_info=True)
    else:
        if must_be_refused:
            logging.getLogger(__name__).warning("SnapStart priming call was not refused (%s expected)", refused_with)


def call_answered_here(service: str, operation: str, call: Step, answer: dict[str, Any]) -> Step:
    """A step making ``call``, whose one call of ``operation`` never leaves this process: a handler of botocore's
    ``before-send`` event (its documented way to fulfil a request) answers it with ``answer``, as AWS answers a
    success. For an operation that has no form changing nothing (CreateSecret creates whatever it is asked to): the
    client's first call of it (parameters checked, serialized and signed, the answer parsed) is made before the
    snapshot, all but the network.

    The handler answers once and then stays, answering nothing: unregistering it would empty the client's cache of
    which handlers each event has, which the first requests would then fill again. It also aims the request at a
    name that never resolves, so that no handler after it (an in-process AWS emulator) can act on it.
    """

    def prime() -> None:
        from botocore.awsrequest import AWSResponse

        from integrations.platform import aws

        client = aws.client(service)
        pending = [json.dumps(answer).encode()]

        def answer_once(request: Any, **_: Any) -> Any:
            if not pending:
                return None
            request.url = PRIMING_URL
            return AWSResponse(request.url, 200, {"x-amzn-RequestId": PRIMING_ID}, _Body(pending.pop()))

        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-send.{service_id}.{operation}", answer_once)
        _attempt(call)
        pending.clear()  # unused if the call stopped before sending: no later call may get this answer

    return prime


class _Body:
    """An answer's body as botocore reads one from the network."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _priming_key(partition: str, sort: str | None) -> dict[str, dict[str, str]]:
    """The key of an item no request writes, in a table keyed by ``partition`` (and ``sort``)."""
    if sort is None:
        return {partition: {"S": f"#snapstart-priming#{PRIMING_ID}"}}
    return {partition: {"S": PRIMING_ID}, sort: {"S": "#snapstart-priming"}}


def _unless_missing(partition: str) -> dict[str, Any]:
    """The condition that the priming item exists, which it never does."""
    return {"ConditionExpression": "attribute_exists(#key)", "ExpressionAttributeNames": {"#key": partition}}


def query_nothing(table: Callable[[], str], partition: str) -> Step:
    """A Query of ``table``'s priming partition, where nothing is ever written."""
    return call_changing_nothing(
        "dynamodb",
        "query",
        lambda: {
            "TableName": table(),
            "KeyConditionExpression": "#key = :id",
            "ExpressionAttributeNames": {"#key": partition},
            "ExpressionAttributeValues": {":id": {"S": PRIMING_ID}},
        },
    )


def batch_get_nothing(table: Callable[[], str], partition: str, sort: str | None = "id") -> Step:
    """A BatchGetItem of ``table``'s priming item, which never exists."""
    keys = {"Keys": [_priming_key(partition, sort)]}
    return call_changing_nothing("dynamodb", "batch_get_item", lambda: {"RequestItems": {table(): keys}})


def batch_write_changing_nothing(table: Callable[[], str], partition: str, sort: str | None = "id") -> Step:
    """A BatchWriteItem deleting ``table``'s priming item, which never exists."""
    request = {"DeleteRequest": {"Key": _priming_key(partition, sort)}}
    return call_changing_nothing("dynamodb", "batch_write_item", lambda: {"RequestItems": {table(): [request]}})


def put_changing_nothing(table: Callable[[], str], partition: str, sort: str | None = "id") -> Step:
    """A PutItem of ``table``'s priming item, refused: it requires the item to exist, which it never does."""
    return call_changing_nothing(
        "dynamodb",
        "put_item",
        lambda: {"TableName": table(), "Item": _priming_key(partition, sort), **_unless_missing(partition)},
        refused_with="ConditionalCheckFailedException",
    )


def update_changing_nothing(table: Callable[[], str], partition: str, sort: str | None = "id") -> Step:
    """An UpdateItem of ``table``'s priming item, refused: the item it requires to exist never does."""
    return call_changing_nothing(
        "dynamodb",
        "update_item",
        lambda: {
            "TableName": table(),
            "Key": _priming_key(partition, sort),
            "UpdateExpression": "SET primed = :yes",
            "ExpressionAttributeValues": {":yes": {"BOOL": True}},
            **_unless_missing(partition),
        },
        refused_with="ConditionalCheckFailedException",
    )


def send_refused(queue_url: Callable[[], str]) -> Step:
    """A SendMessage to the queue, refused: SQS delays a message by at most 900 seconds."""
    return call_changing_nothing(
        "sqs",
        "send_message",
        lambda: {"QueueUrl": queue_url(), "MessageBody": "snapstart priming", "DelaySeconds": 901},
        refused_with="InvalidParameterValue",
    )


def send_batch_refused(queue_url: Callable[[], str]) -> Step:
    """A SendMessageBatch to the queue, refused as a whole: its two entries have the same id."""
    entry = {"Id": "priming", "MessageBody": "snapstart priming"}
    return call_changing_nothing(
        "sqs",
        "send_message_batch",
        lambda: {"QueueUrl": queue_url(), "Entries": [entry, entry]},
        refused_with="BatchEntryIdsNotDistinct",
    )


def api_request(method: str, path: str, body: Any = None, resource: str | None = None) -> dict[str, Any]:
    """An API Gateway proxy event of the priming account, as the authorizer lets it through."""
    context = {
        "resourcePath": resource or path,
        "httpMethod": method,
        "path": path,
        "stage": "snapstart",
        "requestId": "snapstart-priming",
        "identity": {"sourceIp": "127.0.0.1"},
        "authorizer": {"principalId": PRIMING_ACCOUNT, "accountId": PRIMING_ACCOUNT},
    }
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def scanner_event() -> dict[str, Any]:
    """A canonical scan.completed event of the priming account (no integration receives it)."""
    return {
        "id": f"evt_snapstart_priming_{uuid.uuid4()}",
        "type": "scan.completed",
        "accountId": PRIMING_ACCOUNT,
        "occurredAt": "2026-01-01T00:00:00Z",
        "data": {
            "scan": {"id": "snapstart-priming", "target": "https://priming.invalid", "url": "https://priming.invalid"}
        },
    }


def delivery_job() -> dict[str, Any]:
    """A delivery job of the priming account for an integration that does not exist: read, skipped, nothing sent."""
    return {
        "deliveryId": str(uuid.uuid4()),
        "accountId": PRIMING_ACCOUNT,
        "integrationId": PRIMING_ID,
        "eventType": "scan.completed",
        "event": scanner_event(),
    }


def an_hour_ago() -> str:
    """A time within any recovery window (a priming request must pass validation to reach AWS)."""
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def recovery_batch() -> dict[str, Any]:
    """A recovery page of the priming account's integration, which does not exist: read, stopped, nothing queued."""
    return {
        "recoveryId": PRIMING_ID,
        "accountId": PRIMING_ACCOUNT,
        "integrationId": PRIMING_ID,
        "since": an_hour_ago(),
        "position": 1,
    }


def authorizer_request() -> dict[str, Any]:
    """An authorizer request with a key no account has (a DynamoDB read, then a Deny)."""
    arn = "arn:aws:execute-api:us-east-1:000000000000:snapstart/priming/GET/v1/integrations"
    return {"type": "REQUEST", "methodArn": arn, "headers": {"X-API-Key": "apvk_snapstart_priming"}}


def queue_batch(body: dict[str, Any]) -> dict[str, Any]:
    """An SQS event of one message, as Lambda's event source mapping hands it over."""
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "snapstart-priming",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:snapstart-priming",
        "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
    }
    return {"Records": [record]}


def before_snapshot() -> None:
    """Run the before-snapshot hooks as the runtime does (last registered first)."""
    for step in reversed(_before):
        step()


def after_restore() -> None:
    """Run the after-restore hooks as the runtime does (in registration order)."""
    for step in _after:
        step()


@on_restore
def reseed_random() -> None:
    """A fresh seed from the OS: the snapshot's generator state is the same in every restored copy."""
    random.seed()


@on_restore
def forget_secrets_and_connections() -> None:
    """Cached secrets and pooled connections (AWS and providers) are dropped; the next use makes them anew.

    Only modules the function has loaded can hold any: the others are not imported here (restores are billed).
    """
    if vault := sys.modules.get("integrations.storage.vault"):
        vault.forget_cached_secrets()
    if aws := sys.modules.get("integrations.platform.aws"):
        aws.close_connections()
    if http := sys.modules.get("integrations.providers.http"):
        http.close_connections()
