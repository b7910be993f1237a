"""Each function's before-snapshot hook (platform.snapstart) runs its code as far as AWS and changes nothing, and
makes the first call of each AWS operation its role allows (but those NOT_PRIMED names, with why).

The priming request of every function is sent by an account that owns nothing: nothing is created, sent, queued or
logged, and only fan-out and the dispatcher keep a claim (in the provider-state table, with its TTL).
"""

from __future__ import annotations

import io
import json
import logging
import threading
from typing import Any

import boto3
import pytest

from devstack.template import load_template
from integrations.platform import aws, snapstart
from tests.conftest import ROOT
from tests.integration.conftest import Api

# Every function of the template: a new one without its hook fails here.
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = sorted(TEMPLATE.of_type("AWS::Serverless::Function"))
WITHOUT_AWS = {"ListProvidersFunction", "RouteFallbackFunction"}
QUEUES = ["DeliveriesQueue", "DeliveriesDeadLetterQueue", "EventsDeadLetterQueue", "RecoveryQueue"]


def _state(api: Api) -> dict[str, Any]:
    """What a priming request must not change: tables but the provider state's, secrets, queues."""
    dynamodb = boto3.client("dynamodb")
    state: dict[str, Any] = {
        table: dynamodb.scan(TableName=api.table(table))["Items"]
        for table in ("IntegrationsTable", "DeliveryLogsTable", "ApiKeysTable")
    }
    state["secrets"] = boto3.client("secretsmanager").list_secrets()["SecretList"]
    sqs = boto3.client("sqs")
    for queue in QUEUES:
        attributes = sqs.get_queue_attributes(QueueUrl=api.resources.ref(queue), AttributeNames=["All"])["Attributes"]
        state[queue] = attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]
    return state


# The IAM prefix of each service the functions call, by the name botocore gives it in its events.
IAM_PREFIX = {"dynamodb": "dynamodb", "sqs": "sqs", "secrets-manager": "secretsmanager", "sesv2": "ses"}
# What a role grants that priming does not call, and why: no form of the call changes nothing, or it is off the success
# path (its first use is already a slow one). Any other action a role grants must be primed: the first call of an
# operation (its model, serializer and parser, the signing) costs a restored copy's first request milliseconds.
NOT_PRIMED = {
    "secretsmanager:TagResource": "what CreateSecret's tags need: no call of its own",
    "ses:SendEmail": "sends an email",
    "dynamodb:DeleteItem": "off the success path: a destination's pacing, a claim released after a failure",
    "sqs:ChangeMessageVisibility": "off the success path: a retry's delay",
}
NOT_PRIMED_IN = {
    "DispatcherFunction": {"sqs:SendMessage": "off the success path: a requeue, a dead letter"},
    "FanoutFunction": {"sqs:SendMessage": "off the success path: an unreadable event's dead letter"},
}


def _granted(logical_id: str) -> set[str]:
    """The actions the function's role allows, from its statements in the template."""
    actions: set[str] = set()
    for policy in TEMPLATE.properties(logical_id).get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    return actions


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_priming_reaches_aws_and_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, logical_id: str
) -> None:
    monkeypatch.setattr(snapstart, "_before", [])
    api.functions[logical_id]._load()  # Lambda's init: the import registers the function's hook
    assert len(snapstart._before) == 1
    calls: set[str] = set()
    counted = threading.Lock()

    def count(event_name: str, **_: Any) -> None:  # before-call.<service>.<Operation>
        _before_call, service, operation = event_name.split(".")
        with counted:
            calls.add(f"{IAM_PREFIX[service]}:{operation}")

    for service in ("dynamodb", "sqs", "secretsmanager", "sesv2"):
        aws.client(service).meta.events.register("before-call.*.*", count)
    before = _state(api)

    with caplog.at_level(logging.WARNING, logger=snapstart.__name__):
        snapstart.before_snapshot()

    assert _state(api) == before
    # Every step did what it is for: each write meant to change nothing was refused as expected, no call failed.
    assert [record.getMessage() for record in caplog.records if record.name == snapstart.__name__] == []
    if logical_id in WITHOUT_AWS:
        assert calls == set()
        return
    unprimed = _granted(logical_id) - NOT_PRIMED.keys() - NOT_PRIMED_IN.get(logical_id, {}).keys() - calls
    assert unprimed == set()


def test_the_dispatchers_priming_job_is_skipped_not_sent(
    api: Api, monkeypatch: pytest.MonkeyPatch, log_output: io.StringIO
) -> None:
    """The dispatcher's priming job names an integration that does not exist: it is read, found missing, skipped."""
    monkeypatch.setattr(snapstart, "_before", [])
    api.functions["DispatcherFunction"]._load()
    snapstart.before_snapshot()
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]
    skipped = [line for line in lines if line["message"] == "Skipped delivery: integration deleted or disabled"]
    assert [line["integration_id"] for line in skipped] == [snapstart.PRIMING_ID]
    assert not [line for line in lines if line["message"] == "Delivery attempt"]
