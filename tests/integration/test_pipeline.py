"""The whole delivery pipeline in-process: EventBridge → fan-out → dispatcher → a real local receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from integrations.delivery import dispatch
from integrations.delivery.jobs import DeliveryJob, delivery_id
from integrations.events import Event
from integrations.platform import aws, settings
from tests.conftest import ROOT
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fake_jira import FakeJira
from tests.providers.fakes import FakePagerDuty, FakeReceiver, FakeSlack, FakeWebhookReceiver, Reply
from tests.providers.mocked_aws import sent_emails

SECRET = "whsec_" + "cGlwZWxpbmUtc2lnbmluZy1rZXktMTIzNDU2"


pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


def webhook(api: Api, url: str, events: list[str] | None = None) -> str:
    body = {
        "provider": "webhook",
        "name": "Local receiver",
        "credentials": {"url": url, "secret": SECRET},
        "enabledEvents": events or ["finding.critical", "scan.completed"],
    }
    reply = api.request("POST", "/v1/integrations", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def logs(api: Api, integration_id: str) -> list[dict[str, Any]]:
    return list(api.request("GET", f"/v1/integrations/{integration_id}/logs").body["data"])


def test_a_published_event_is_delivered_signed_and_logged(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("finding.critical", severity="critical"))
    api.drain()
    [request] = receiver.requests
    assert request.json()["type"] == "finding.critical"
    assert request.json()["data"]["finding"]["title"] == "XSS in /search"
    assert request.headers["webhook-signature"].startswith("v1,")  # verified by the receiver itself
    [entry] = logs(api, hook)
    assert (entry["event"], entry["status"], entry["responseCode"], entry["error"]) == (
        "finding.critical",
        "success",
        204,
        None,
    )
    listed = api.request("GET", "/v1/integrations").body["data"][0]
    assert listed["lastDeliveryStatus"] == "success" and listed["lastDeliveryAt"] == entry["deliveredAt"]


def test_a_receiver_failing_twice_gets_two_failed_entries_then_one_success(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(500, "boom"), Reply(503))
    api.publish(event("scan.completed"))
    api.drain()
    assert [e["status"] for e in logs(api, hook)] == ["success", "failed", "failed"]
    assert logs(api, hook)[2]["error"] == "Provider returned HTTP 500: Internal Server Error (boom)"
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1, "one delivery id across retries"
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("stack_parameters", [{"MaxDeliveryAttempts": "3"}])
def test_a_receiver_failing_forever_ends_in_the_dead_letter_queue(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(*[Reply(502)] * 10)
    api.publish(event("scan.completed"))
    api.drain()
    assert [e["status"] for e in logs(api, hook)] == ["failed"] * 3
    assert len(receiver.requests) == 3
    [parked] = api.messages("DeliveriesDeadLetterQueue")
    assert hook in parked["Body"]


def test_a_client_error_is_not_retried(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(422, {"error": "unexpected payload"}))
    api.publish(event("scan.completed"))
    api.drain()
    assert [e["status"] for e in logs(api, hook)] == ["failed"]
    assert len(receiver.requests) == 1
    assert api.messages("DeliveriesDeadLetterQueue") == []


def test_retry_after_hides_the_job_until_then(api: Api, receiver: FakeWebhookReceiver) -> None:
    webhook(api, receiver.url)
    receiver.script(Reply(429, headers={"Retry-After": "120"}))
    api.publish(event("scan.completed"))
    api.drain()
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=api.resources.ref("DeliveriesQueue"), AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1", "waiting out Retry-After"
    assert len(receiver.requests) == 1


def test_a_job_for_an_integration_deleted_after_fan_out_is_dropped(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.poller("FanoutFunction").poll_once()
    api.request("DELETE", f"/v1/integrations/{hook}")
    api.drain()
    assert receiver.requests == []
    assert logs(api, hook) == []


def test_settings_no_longer_valid_at_delivery_fail_without_a_connection(
    api: Api, receiver: FakeReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "false")  # as in production: loopback is refused
    settings.load.cache_clear()
    dispatch.from_environment.cache_clear()
    api.drain()
    assert receiver.requests == []
    [entry] = logs(api, hook)
    assert entry["status"] == "failed" and "credentials.url" in entry["error"]


def test_the_test_route_delivers_a_marked_test_event_and_logs_it(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    reply = api.request("POST", f"/v1/integrations/{hook}/test")
    assert reply.status == 200
    assert list(reply.body) == ["success", "message", "deliveredAt", "responseCode", "responseTime"]
    assert reply.body["success"] is True and reply.body["responseCode"] == 204
    body = receiver.last.json()
    assert body["type"] == "integration.test" and body["data"]["test"] is True
    [entry] = logs(api, hook)
    assert entry["event"] == "integration.test" and entry["deliveredAt"] == reply.body["deliveredAt"]


def test_a_failing_test_answers_success_false_with_the_error(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(500))
    reply = api.request("POST", f"/v1/integrations/{hook}/test")
    assert reply.status == 200
    assert reply.body["success"] is False and reply.body["responseCode"] == 500
    assert reply.body["error"] == "Provider returned HTTP 500: Internal Server Error"
    assert reply.body["message"] == "Test event delivery failed"


def test_every_sample_event_reaches_a_webhook_subscribed_to_everything(api: Api, receiver: FakeWebhookReceiver) -> None:
    every = [path.stem.replace("_", ".") for path in sorted((ROOT / "events" / "scanner").glob("*.json"))]
    hook = webhook(api, receiver.url, every)
    queue = api.resources.ref("EventsQueue")
    for path in sorted((ROOT / "events" / "scanner").glob("*.json")):
        body = path.read_text().replace("acct_local", "acct_a")
        boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
    api.drain()
    assert sorted(r.json()["type"] for r in receiver.requests) == sorted(every)
    assert len(logs(api, hook)) == len(every)


def test_every_provider_delivers_through_the_whole_pipeline(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """One critical finding to four more providers, each with its faithful local fake (or moto's SES)."""
    with FakeSlack() as slack, FakePagerDuty() as pagerduty, FakeJira("bot@team.example", "jira-token") as jira:
        monkeypatch.setenv("PAGERDUTY_EVENTS_URL", pagerduty.events_url)
        settings.load.cache_clear()
        boto3.client("ses").verify_email_identity(EmailAddress="alerts@apviso.com")
        setups: dict[str, dict[str, Any]] = {
            "slack": {"credentials": {"webhookUrl": slack.webhook_url}},
            "pagerduty": {"credentials": {"routingKey": "R" * 32}},
            "jira": {
                "credentials": {"baseUrl": jira.url, "email": "bot@team.example", "apiToken": "jira-token"},
                "config": {"projectKey": "SEC"},
            },
            "email": {"credentials": {"recipients": ["secops@customer.example"]}},
        }
        ids = {}
        for provider, setup in setups.items():
            body = {"provider": provider, "name": provider, "enabledEvents": ["finding.critical"], **setup}
            reply = api.request("POST", "/v1/integrations", body)
            assert reply.status == 201, reply.body
            ids[provider] = reply.body["id"]
        api.publish(event("finding.critical", severity="critical"))
        api.drain()
        assert "XSS in /search" in slack.last.json()["text"]
        assert pagerduty.last.json()["dedup_key"] == "apviso:finding:f_1"
        assert len(jira.issues) == 1 and "XSS in /search" in jira.issues[0]["summary"]
        [mail] = sent_emails()
        assert "XSS in /search" in str(mail.subject)
        for provider, integration_id in ids.items():
            [entry] = logs(api, integration_id)
            assert (entry["status"], entry["event"]) == ("success", "finding.critical"), (provider, entry)


def enqueue_job_twice(api: Api, integration_id: str) -> None:
    """The same delivery job twice in the deliveries queue, as SQS redelivery or a duplicated fan-out leaves it."""
    job = DeliveryJob(
        deliveryId=delivery_id("evt_dup", integration_id),
        accountId="acct_a",
        integrationId=integration_id,
        eventType="scan.completed",
        event=Event.model_validate(event("scan.completed", event_id="evt_dup")),
    )
    for _ in range(2):
        boto3.client("sqs").send_message(
            QueueUrl=api.resources.ref("DeliveriesQueue"), MessageBody=job.model_dump_json()
        )


def test_a_job_received_twice_calls_the_provider_once(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    enqueue_job_twice(api, hook)
    api.drain()
    assert len(receiver.requests) == 1
    assert [e["status"] for e in logs(api, hook)] == ["success"]


def test_a_job_redelivered_after_its_attempt_finished_is_not_sent_again(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    # As after a Lambda timeout that struck once the provider had answered: the message comes back later.
    hook = webhook(api, receiver.url)
    api.publish(event("scan.completed"))
    api.drain()
    api.publish(event("scan.completed"))  # …and a duplicated fan-out on top
    enqueue_job_twice(api, hook)
    api.drain()
    assert [r.json()["type"] for r in receiver.requests] == ["scan.completed", "scan.completed"]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {
        delivery_id("evt_1", hook),
        delivery_id("evt_dup", hook),
    }


def test_a_retried_failure_is_not_mistaken_for_a_duplicate(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(503))
    enqueue_job_twice(api, hook)
    api.drain()
    assert [e["status"] for e in logs(api, hook)] == ["success", "failed"]
    assert len(receiver.requests) == 2


def test_concurrent_receipts_of_one_job_send_once(api: Api, receiver: FakeWebhookReceiver) -> None:
    hook = webhook(api, receiver.url)
    receiver.script(Reply(200, delay=0.5))  # the first attempt is still running when the duplicate arrives
    enqueue_job_twice(api, hook)
    pollers = [api.poller("DispatcherFunction") for _ in range(2)]
    for poller in pollers:
        poller.source = replace(poller.source, batch_size=1)
    threads = [threading.Thread(target=poller.poll_once) for poller in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receiver.requests) == 1, "the duplicate found the attempt in progress and waits"
    boto3.client("sqs").purge_queue(QueueUrl=api.resources.ref("DeliveriesQueue"))


def test_a_batch_reads_its_integrations_in_one_request_and_later_jobs_read_again(
    api: Api, receiver: FakeWebhookReceiver
) -> None:
    hooks = [webhook(api, receiver.url), webhook(api, receiver.url)]
    reads: list[str] = []

    def count(event_name: str, params: dict[str, Any], **_: Any) -> None:  # the call's own parameters
        if api.table("IntegrationsTable") in str(params.get("TableName") or params.get("RequestItems")):
            reads.append(event_name.rsplit(".", 1)[-1])

    for operation in ("GetItem", "BatchGetItem"):
        aws.client("dynamodb").meta.events.register(f"before-parameter-build.dynamodb.{operation}", count)
    api.publish(event("scan.completed"))
    api.publish(event("finding.critical", severity="critical", event_id="evt_2"))
    api.poller("FanoutFunction").poll_once()
    reads.clear()  # fan-out's own reads
    api.drain()
    assert len(receiver.requests) == 4  # two events for each of the two integrations, in one batch
    # One read ahead for both integrations; each integration's second job, which may wait for its turn, reads again.
    assert sorted(reads) == ["BatchGetItem", "GetItem", "GetItem"]
    assert sorted(entry["status"] for hook in hooks for entry in logs(api, hook)) == ["success"] * 4


def test_a_failed_batch_read_leaves_each_job_to_read_its_own_integration(
    api: Api, receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = webhook(api, receiver.url)

    def throttled(*_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "BatchGetItem")

    monkeypatch.setattr(dispatch.from_environment().store, "get_many", throttled)
    api.publish(event("scan.completed"))
    api.drain()
    assert len(receiver.requests) == 1
    assert [entry["status"] for entry in logs(api, hook)] == ["success"]
