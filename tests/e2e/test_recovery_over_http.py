"""End to end over the local stack: a receiver is down, the integration is auto-disabled; the customer fixes the
receiver, re-enables the integration and recovers, and every failed delivery arrives exactly once."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from ops import local_outputs

from devstack.testing import UNTHROTTLED, start_local_stack, stop_local_stack
from integrations.api.recovery import PAGE_SIZE
from tests.e2e.test_delivery_over_http import create_webhook, wait_for
from tests.providers.fakes import FakeWebhookReceiver, Recorded, Reply

pytestmark = pytest.mark.e2e

KEY = "apvk_e2e_recovery"
SECRET = "whsec_" + "ZTJlLXJlY292ZXJ5LXNpZ25pbmcta2V5LTAx"
EVENTS = 3


class DownReceiver(FakeWebhookReceiver):
    """A customer's endpoint that answers 503 while it is down, and verifies signatures once it is back."""

    down = True

    def default_reply(self, request: Recorded) -> Reply:
        return Reply(503, "down for maintenance") if self.down else super().default_reply(request)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    log = tmp_path_factory.mktemp("recovery") / "output.log"
    # Two attempts per delivery (the second 5 s after the first), and auto-disable after a day of failures.
    parameters = f"{UNTHROTTLED},MaxDeliveryAttempts=2,AutoDisableAfterDays=1"
    env = {"LOCAL_API_KEYS": f"{KEY}=acct_local", "DEVSTACK_PARAMETERS": parameters}
    process, api_url, aws_url = start_local_stack(env, log_path=log)
    yield api_url, aws_url
    assert stop_local_stack(process) == 0


def aws(aws_url: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def publish(aws_url: str, event_id: str, account: str = "acct_local") -> None:
    """As the scanner does: PutEvents of a scan.completed event on the local stack's bus."""
    event = {
        "id": event_id,
        "type": "scan.completed",
        "accountId": account,
        "occurredAt": "2026-04-10T10:45:20Z",
        "data": {"scan": {"id": f"scan_{event_id}", "target": "https://app.example.com"}},
    }
    entry = {"Source": "apviso.scanner", "DetailType": event["type"], "Detail": json.dumps(event)}
    answer = aws(aws_url, "events").put_events(Entries=[{**entry, "EventBusName": local_outputs()["EventBusName"]}])
    assert answer["FailedEntryCount"] == 0


def logs(api_url: str, hook: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{api_url}/v1/integrations/{hook}/logs?limit=100", headers={"X-API-Key": KEY}, timeout=30)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def logged(api_url: str, hook: str) -> int:
    """How many entries the integration's log holds."""
    answer = requests.get(f"{api_url}/v1/integrations/{hook}/logs?limit=1", headers={"X-API-Key": KEY}, timeout=30)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["pagination"]["total"])


def integration(api_url: str, hook: str) -> dict[str, Any]:
    listed = requests.get(f"{api_url}/v1/integrations", headers={"X-API-Key": KEY}, timeout=30).json()["data"]
    [found] = [i for i in listed if i["id"] == hook]
    return dict(found)


def deliveries_queue_empty(aws_url: str) -> bool:
    attributes = aws(aws_url, "sqs").get_queue_attributes(
        QueueUrl=local_outputs()["DeliveriesQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(value == "0" for value in attributes.values())


def test_down_auto_disabled_re_enabled_recovered_every_failed_delivery_arrives_once(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    headers = {"X-API-Key": KEY}
    started = datetime.now(UTC).replace(microsecond=0)
    with DownReceiver(SECRET) as receiver:
        hook = create_webhook(api_url, "Down receiver", receiver.url, SECRET, ["scan.completed"], key=KEY)["id"]
        # The receiver is down: each delivery fails twice (the retry comes 5 s later) and is given up on.
        for n in range(EVENTS):
            publish(aws_url, f"evt_recovery_{n}")
        wait_for(lambda: len(logs(api_url, hook)) == 2 * EVENTS, timeout=60)
        assert {e["status"] for e in logs(api_url, hook)} == {"failed"}
        assert sorted(e["attempt"] for e in logs(api_url, hook)) == [1] * EVENTS + [2] * EVENTS

        # It stays down for a day (the integration's failingSince is moved back by a day, as time would), and the
        # next failure disables the integration.
        aws(aws_url, "dynamodb").update_item(
            TableName=local_outputs()["IntegrationsTableName"],
            Key={"accountId": {"S": "acct_local"}, "id": {"S": hook}},
            UpdateExpression="SET failingSince = :day_ago",
            ExpressionAttributeValues={":day_ago": {"S": (started - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}},
        )
        publish(aws_url, "evt_recovery_last")
        wait_for(lambda: integration(api_url, hook)["enabled"] is False, timeout=30)
        shown = integration(api_url, hook)
        assert shown["disabledReason"] == "Every delivery failed for 1 day"
        # Its retry finds the integration disabled and ends without an attempt.
        wait_for(lambda: deliveries_queue_empty(aws_url), timeout=30)
        failed = receiver.requests
        originals = {r.headers["webhook-id"]: r.json() for r in failed}
        assert len(originals) == EVENTS + 1 and len(failed) == 2 * EVENTS + 1

        recover = f"{api_url}/v1/integrations/{hook}/recover"
        since = {"since": started.strftime("%Y-%m-%dT%H:%M:%SZ")}
        refused = requests.post(recover, json=since, headers=headers, timeout=30)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"

        # The customer fixes the receiver, re-enables the integration and recovers.
        receiver.down = False
        enabled = requests.patch(
            f"{api_url}/v1/integrations/{hook}", json={"enabled": True}, headers=headers, timeout=30
        )
        assert enabled.status_code == 200 and enabled.json()["enabled"] is True
        accepted = requests.post(recover, json=since, headers=headers, timeout=30)
        assert accepted.status_code == 202, accepted.text
        answer = accepted.json()
        assert answer["status"] == "accepted" and answer["since"] == since["since"]
        # Seven entries: the request walked them all, and its count is what arrives.
        assert (answer["queued"], answer["complete"]) == (EVENTS + 1, True)

        wait_for(lambda: len(receiver.requests) == len(failed) + answer["queued"], timeout=60)
        wait_for(lambda: deliveries_queue_empty(aws_url), timeout=30)
        time.sleep(2)  # anything sent twice would have arrived by now
        recovered = receiver.requests[len(failed) :]
        assert len(recovered) == answer["queued"]
        assert Counter(r.headers["webhook-id"] for r in recovered) == dict.fromkeys(originals, 1), "each once"
        for request in recovered:
            assert request.json() == originals[request.headers["webhook-id"]], "the original payload"
        assert len(receiver.verified) == EVENTS + 1, "every recovered delivery's signature verifies"
        entries = logs(api_url, hook)
        assert [e["status"] for e in entries[: EVENTS + 1]] == ["success"] * (EVENTS + 1)
        assert integration(api_url, hook)["lastDeliveryStatus"] == "success"


class RejectingReceiver(FakeWebhookReceiver):
    """A customer's endpoint that rejects every delivery (400: one attempt each) until it is fixed."""

    broken = True

    def default_reply(self, request: Recorded) -> Reply:
        return Reply(400, "rejected") if self.broken else super().default_reply(request)


def test_a_backlog_beyond_one_page_answers_the_first_pages_count_and_the_rest_arrives(stack: tuple[str, str]) -> None:
    api_url, aws_url = stack
    events = PAGE_SIZE + 5
    started = datetime.now(UTC).replace(microsecond=0)
    with RejectingReceiver(SECRET) as receiver:
        hook = create_webhook(api_url, "Rejecting receiver", receiver.url, SECRET, ["scan.completed"], key=KEY)["id"]
        for n in range(events):
            publish(aws_url, f"evt_backlog_{n}")
        wait_for(lambda: logged(api_url, hook) == events, timeout=120)  # every attempt logged before recovering
        originals = {r.headers["webhook-id"]: r.json() for r in receiver.requests}
        assert len(originals) == events

        receiver.broken = False
        accepted = requests.post(
            f"{api_url}/v1/integrations/{hook}/recover",
            json={"since": started.strftime("%Y-%m-%dT%H:%M:%SZ")},
            headers={"X-API-Key": KEY},
            timeout=30,
        )
        assert accepted.status_code == 202, accepted.text
        # One attempt per delivery: the request's page is PAGE_SIZE deliveries, the walker queues the other five.
        assert (accepted.json()["queued"], accepted.json()["complete"]) == (PAGE_SIZE, False)

        wait_for(lambda: len(receiver.requests) == 2 * events, timeout=120)
        wait_for(lambda: deliveries_queue_empty(aws_url), timeout=30)
        time.sleep(2)  # anything sent twice would have arrived by now
        recovered = receiver.requests[events:]
        assert Counter(r.headers["webhook-id"] for r in recovered) == dict.fromkeys(originals, 1), "each once"
        assert all(request.json() == originals[request.headers["webhook-id"]] for request in recovered)


def test_the_recover_route_refuses_bad_input_over_http(stack: tuple[str, str]) -> None:
    api_url, _ = stack
    with FakeWebhookReceiver(SECRET) as receiver:
        hook = create_webhook(api_url, "Receiver", receiver.url, SECRET, ["scan.completed"], key=KEY)["id"]
        recover = f"{api_url}/v1/integrations/{hook}/recover"
        for body, status in [({"since": "2020-01-01T00:00:00Z"}, 400), ({"since": "soon"}, 400), ({}, 400)]:
            answer = requests.post(recover, json=body, headers={"X-API-Key": KEY}, timeout=30)
            assert answer.status_code == status and answer.json()["error"]["code"] == "validation_error"
        assert requests.post(recover, json={}, timeout=30).status_code == 401
        assert requests.get(recover, headers={"X-API-Key": KEY}, timeout=30).status_code == 405
