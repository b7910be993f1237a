"""Signing-secret rotation: for a grace period after a webhook's secret changes, deliveries are signed with
both the new and the previous secret (verified with the standardwebhooks library), then with the new one only."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.platform import clock
from tests.integration.conftest import START, Api, Clock
from tests.integration.test_fanout import event
from tests.providers.fakes import FakeWebhookReceiver, Recorded

OLD = "whsec_" + "b2xkLXNpZ25pbmcta2V5LTAxMjM0NTY3ODk="
NEW = "whsec_" + "bmV3LXNpZ25pbmcta2V5LTAxMjM0NTY3ODk="
PLAIN = "a plain signing secret"


pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver() as fake:  # accepts everything; the tests verify each request themselves
        yield fake


def verifies(secret: str, request: Recorded) -> bool:
    verifier = Webhook(secret if secret.startswith("whsec_") else secret.encode())
    try:
        verifier.verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


def webhook(api: Api, url: str, secret: str = OLD) -> str:
    body = {
        "provider": "webhook",
        "name": "Receiver",
        "credentials": {"url": url, "secret": secret},
        "enabledEvents": ["scan.completed"],
    }
    reply = api.request("POST", "/v1/integrations", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def patch(api: Api, integration_id: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.request("PATCH", f"/v1/integrations/{integration_id}", body)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def delivered(api: Api, receiver: FakeWebhookReceiver, event_id: str) -> Recorded:
    api.publish(event("scan.completed", event_id=event_id))
    api.drain()
    return receiver.last


def test_during_the_grace_period_either_secret_verifies_then_only_the_new_one(
    api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
) -> None:
    hook = webhook(api, receiver.url)
    request = delivered(api, receiver, "evt_before")
    assert verifies(OLD, request) and not verifies(NEW, request)
    assert len(request.headers["webhook-signature"].split(" ")) == 1

    patch(api, hook, {"credentials": {"secret": NEW}})
    fixed_clock.set(timedelta(hours=23, minutes=59, seconds=59))
    request = delivered(api, receiver, "evt_during")
    assert verifies(NEW, request) and verifies(OLD, request)
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)

    fixed_clock.set(timedelta(hours=24))
    request = delivered(api, receiver, "evt_after")
    assert verifies(NEW, request) and not verifies(OLD, request)
    assert len(request.headers["webhook-signature"].split(" ")) == 1


def test_the_test_route_signs_with_both_too(api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock) -> None:
    hook = webhook(api, receiver.url, PLAIN)
    patch(api, hook, {"credentials": {"secret": NEW}})
    assert api.request("POST", f"/v1/integrations/{hook}/test").body["success"] is True
    assert verifies(NEW, receiver.last) and verifies(PLAIN, receiver.last)


def test_changing_other_fields_keeps_the_grace_period_and_a_second_rotation_keeps_the_newest_two(
    api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
) -> None:
    hook = webhook(api, receiver.url)
    patch(api, hook, {"credentials": {"secret": NEW}})
    fixed_clock.set(timedelta(hours=1))
    patch(api, hook, {"credentials": {"url": receiver.url + "/moved"}, "config": {"headers": {"X-Team": "sec"}}})
    request = delivered(api, receiver, "evt_1")
    assert request.path == "/moved" and verifies(OLD, request) and verifies(NEW, request)

    patch(api, hook, {"credentials": {"secret": PLAIN}})  # rotated again within the grace period
    request = delivered(api, receiver, "evt_2")
    assert verifies(PLAIN, request) and verifies(NEW, request) and not verifies(OLD, request)
    fixed_clock.set(timedelta(hours=25))  # 24 h after the second rotation
    request = delivered(api, receiver, "evt_3")
    assert verifies(PLAIN, request) and not verifies(NEW, request)


def test_removing_the_secret_stops_signing(api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock) -> None:
    hook = webhook(api, receiver.url)
    patch(api, hook, {"credentials": {"secret": NEW}})
    patch(api, hook, {"credentials": {"secret": None}})
    request = delivered(api, receiver, "evt_1")
    assert "webhook-signature" not in request.headers


def test_the_previous_secret_lives_in_the_secret_only_never_in_answers_or_logs(
    api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock, log_output: io.StringIO
) -> None:
    hook = webhook(api, receiver.url, PLAIN)
    patch(api, hook, {"credentials": {"secret": NEW}})
    delivered(api, receiver, "evt_1")
    api.request("POST", f"/v1/integrations/{hook}/test")
    api.request("GET", f"/v1/integrations/{hook}/logs")
    [secret] = [
        s
        for s in boto3.client("secretsmanager").list_secrets()["SecretList"]
        if {"Key": "integrationId", "Value": hook} in s.get("Tags", [])
    ]
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret["ARN"])["SecretString"])
    assert stored["signingRotation"] == {"previousSecret": PLAIN, "rotatedAt": clock.iso(START)}
    assert stored["credentials"]["secret"] == NEW
    dynamodb = boto3.client("dynamodb")
    tables = [api.table(name) for name in ("IntegrationsTable", "DeliveryLogsTable", "ProviderStateTable")]
    stored_items = [json.dumps(dynamodb.scan(TableName=table)["Items"]) for table in tables]
    queued = [json.dumps(api.messages(queue)) for queue in ("DeliveriesQueue", "DeliveriesDeadLetterQueue")]
    everything = "\n".join([*(reply.raw for reply in api.replies), log_output.getvalue(), *stored_items, *queued])
    for value in (PLAIN, NEW, NEW.removeprefix("whsec_")):
        assert value not in everything


class TestConfigurable:
    @pytest.fixture
    def stack_parameters(self) -> dict[str, str]:
        return {"SigningSecretGraceHours": "1"}

    def test_the_template_parameter_sets_the_grace_period(
        self, api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
    ) -> None:
        hook = webhook(api, receiver.url)
        patch(api, hook, {"credentials": {"secret": NEW}})
        fixed_clock.set(timedelta(minutes=59))
        assert verifies(OLD, delivered(api, receiver, "evt_1"))
        fixed_clock.set(timedelta(hours=1))
        assert not verifies(OLD, delivered(api, receiver, "evt_2"))
