"""Fan-out: events in (EventBridge or SQS), one job per matching integration out; bad events to the DLQ."""

from __future__ import annotations

import json
from typing import Any

import boto3

from integrations.delivery.jobs import delivery_id
from tests.integration.conftest import KEY_A, KEY_B, Api

SCAN = {"id": "scan_9", "target": "https://app.example.com", "url": "https://apviso.com/scans/scan_9"}


def integration(api: Api, events: list[str], severity: str | None = None, key: str = KEY_A) -> str:
    body = {
        "provider": "webhook",
        "name": "hook",
        "credentials": {"url": "https://receiver.example.com/hook"},
        "enabledEvents": events,
        "minimumSeverity": severity,
    }
    reply = api.request("POST", "/v1/integrations", body, key=key)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def event(kind: str, account: str = "acct_a", severity: str | None = None, event_id: str = "evt_1") -> dict[str, Any]:
    data: dict[str, Any] = {"scan": SCAN}
    if severity:
        data["finding"] = {"id": "f_1", "title": "XSS in /search", "severity": severity}
    return {"id": event_id, "type": kind, "accountId": account, "occurredAt": "2026-04-10T10:45:20Z", "data": data}


def jobs(api: Api) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in api.messages("DeliveriesQueue")]


def test_a_published_event_becomes_one_job_per_matching_integration_of_its_account(api: Api) -> None:
    wants_new = integration(api, ["finding.new"])
    wants_critical = integration(api, ["finding.new", "finding.critical"])
    integration(api, ["finding.new"], severity="critical")  # filtered out: the finding is high
    integration(api, ["scan.completed"])  # not subscribed
    integration(api, ["finding.new"], key=KEY_B)  # another account
    disabled = integration(api, ["finding.new"])
    api.request("PATCH", f"/v1/integrations/{disabled}", {"enabled": False})
    deleted = integration(api, ["finding.new"])
    api.request("DELETE", f"/v1/integrations/{deleted}")

    api.publish(event("finding.new", severity="high"))
    assert api.poller("FanoutFunction").poll_once() == 1
    found = {job["integrationId"]: job for job in jobs(api)}
    assert set(found) == {wants_new, wants_critical}
    assert found[wants_new]["eventType"] == "finding.new"
    assert found[wants_critical]["eventType"] == "finding.new", "high is not critical"
    assert all(job["event"]["id"] == "evt_1" and job["accountId"] == "acct_a" for job in found.values())


def test_an_event_published_twice_fans_out_once_with_a_stable_delivery_id(api: Api) -> None:
    hook = integration(api, ["scan.completed"])
    queue_url = api.resources.ref("EventsQueue")
    for _ in range(2):
        boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(event("scan.completed")))
    api.poller("FanoutFunction").poll_once()
    [job] = jobs(api)
    assert job["deliveryId"] == delivery_id("evt_1", hook)
    assert api.messages("EventsQueue") == []


def test_the_same_event_id_from_two_accounts_fans_out_for_each(api: Api) -> None:
    # Event ids are the producer's, unique within an account: an event claims (account, id), one write.
    mine, theirs = integration(api, ["scan.completed"]), integration(api, ["scan.completed"], key=KEY_B)
    api.publish(event("scan.completed", account="acct_a"))
    api.publish(event("scan.completed", account="acct_b"))
    while api.poller("FanoutFunction").poll_once():
        pass
    assert {job["integrationId"] for job in jobs(api)} == {mine, theirs}
    claims = boto3.client("dynamodb").scan(TableName=api.table("ProviderStateTable"))["Items"]
    assert sorted(item["key"]["S"] for item in claims) == [
        'event#["acct_a", "evt_1"]',
        'event#["acct_b", "evt_1"]',
    ]


def test_malformed_events_go_to_the_dead_letter_queue_with_their_reason(api: Api) -> None:
    integration(api, ["finding.new"])
    queue_url = api.resources.ref("EventsQueue")
    bad = [
        "{not json",
        json.dumps({k: v for k, v in event("finding.new").items() if k != "accountId"}),  # cannot be routed
        json.dumps({**event("scan.completed"), "type": "scan.exploded"}),
    ]
    for body in bad:
        boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)
    api.poller("FanoutFunction").poll_once()
    assert jobs(api) == []
    parked = api.messages("EventsDeadLetterQueue")
    assert sorted(m["Body"] for m in parked) == sorted(bad)
    assert all(m["MessageAttributes"]["reason"]["StringValue"] for m in parked)
    assert api.messages("EventsQueue") == [], "never retried"
