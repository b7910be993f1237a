"""Target 4: fanning out one event reads the same DynamoDB items whatever other accounts hold.

Under moto in-process, with the tables provisioned from template.yaml, the fan-out function's own FanOut
handles one event for an account with 5 integrations, first alone in the table, then with 10,000
integrations of 1,000 other accounts added. Items read are counted from every DynamoDB answer (Query and
Scan ``ScannedCount``, GetItem's ``Item``, BatchGetItem's ``Responses``), not from wall time.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from bench.figures import Figure
from bench.reads import ItemsRead
from devstack.functions import load_functions, merged_environment
from devstack.provision import provision
from devstack.template import load_template
from integrations.delivery import fanout
from integrations.platform import aws, clock, settings
from integrations.platform.observability import logger
from integrations.storage.store import IntegrationRecord, IntegrationStore

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "acct_bench"
OWN_INTEGRATIONS = 5
OTHER_ACCOUNTS = 1_000
OTHER_INTEGRATIONS = 10_000


@contextlib.contextmanager
def moto_stack() -> Iterator[None]:
    """The template's resources in moto in-process, and the functions' environment set (restored after)."""
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    fake = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update({**fake, "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"})
    try:
        with mock_aws():
            template = load_template(ROOT / "template.yaml")
            os.environ.update(merged_environment(load_functions(template, provision(template))))
            aws.reset()
            settings.load.cache_clear()
            fanout.from_environment.cache_clear()
            yield
    finally:
        aws.reset()
        settings.load.cache_clear()
        fanout.from_environment.cache_clear()
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The function's INFO lines would drown the figures."""
    level = logger.log_level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _record(account: str, number: int) -> IntegrationRecord:
    now = clock.iso(clock.now())
    return IntegrationRecord(
        accountId=account,
        id=clock.new_id(),
        provider="webhook",
        name=f"hook {number}",
        enabled=True,
        enabledEvents=["finding.new", "scan.completed"],
        createdAt=now,
        updatedAt=now,
    )


def _fill_other_accounts(table: str) -> None:
    serializer = TypeSerializer()
    dynamodb = boto3.client("dynamodb")
    records = [_record(f"acct_other_{n % OTHER_ACCOUNTS}", n) for n in range(OTHER_INTEGRATIONS)]
    for start in range(0, len(records), 25):  # BatchWriteItem's limit
        requests = [
            {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in r.model_dump().items() if v is not None}}}
            for r in records[start : start + 25]
        ]
        dynamodb.batch_write_item(RequestItems={table: requests})


def _event(event_id: str) -> str:
    scan = {"id": "scan_1", "target": "https://app.example.com", "url": "https://apviso.com/scans/scan_1"}
    finding = {"id": "f_1", "title": "XSS in /search", "severity": "high"}
    data = {"scan": scan, "finding": finding}
    return json.dumps(
        {
            "id": event_id,
            "type": "finding.new",
            "accountId": ACCOUNT,
            "occurredAt": clock.iso(clock.now()),
            "data": data,
        }
    )


class _Context:
    """What the claims read of Lambda's context: the time left (the function's 30 s)."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _items_to_fan_out(event_id: str) -> tuple[int, int]:
    counter = ItemsRead()  # every table: the integrations and the event's claim
    function = fanout.from_environment()
    function.claims.register_lambda_context(cast(LambdaContext, _Context()))  # as functions/fanout does per invocation
    with counter.counting():
        jobs = function.handle(_event(event_id))
    return counter.count, jobs


def measure() -> list[Figure]:
    with moto_stack(), _quiet():
        table = os.environ["INTEGRATIONS_TABLE"]
        store = IntegrationStore(table)
        for number in range(OWN_INTEGRATIONS):
            store.insert(_record(ACCOUNT, number))
        alone, jobs_alone = _items_to_fan_out("evt_bench_alone")
        _fill_other_accounts(table)
        crowded, jobs_crowded = _items_to_fan_out("evt_bench_crowded")
    if jobs_alone != OWN_INTEGRATIONS or jobs_crowded != OWN_INTEGRATIONS:
        raise RuntimeError(f"expected {OWN_INTEGRATIONS} jobs each time, got {jobs_alone} and {jobs_crowded}")
    detail = f"{crowded} items read with {OTHER_INTEGRATIONS:,} other integrations vs {alone} without"
    return [Figure("fan-out: items read, crowded / alone", crowded / alone, 1.0, detail=detail)]
