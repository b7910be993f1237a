"""lastDelivery* and the failure streak are written when they change, and otherwise at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from integrations.delivery import dispatch
from integrations.delivery.jobs import DeliveryJob, delivery_id
from integrations.events import Event
from tests.integration.conftest import Api, Clock
from tests.integration.test_fanout import event
from tests.integration.test_pipeline import SECRET, webhook
from tests.providers.fakes import FakeWebhookReceiver, Reply

pytestmark = pytest.mark.usefixtures("instant_local_delivery")


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


def _attempt(api: Api, clock: Clock, integration_id: str, seconds: int) -> None:
    clock.set(timedelta(seconds=seconds))
    event_id = f"evt_{seconds}"
    job = DeliveryJob(
        deliveryId=delivery_id(event_id, integration_id),
        accountId="acct_a",
        integrationId=integration_id,
        eventType="scan.completed",
        event=Event.model_validate(event("scan.completed", event_id=event_id)),
    )
    assert dispatch.from_environment().deliver(job, 1) is not None


def _shown(api: Api, integration_id: str) -> tuple[str, str, str | None]:
    stored = dispatch.from_environment().store.get("acct_a", integration_id)
    assert stored is not None and stored.lastDeliveryAt and stored.lastDeliveryStatus
    return stored.lastDeliveryAt, stored.lastDeliveryStatus, stored.failingSince


def test_the_status_is_written_when_it_changes_the_time_at_most_once_a_minute(
    api: Api, receiver: FakeWebhookReceiver, fixed_clock: Clock
) -> None:
    hook = webhook(api, receiver.url)
    _attempt(api, fixed_clock, hook, 0)
    assert _shown(api, hook) == ("2026-05-01T12:00:00Z", "success", None)
    _attempt(api, fixed_clock, hook, 30)  # same status within the minute: no write
    assert _shown(api, hook) == ("2026-05-01T12:00:00Z", "success", None)

    receiver.script(Reply(500), Reply(500), Reply(500))
    _attempt(api, fixed_clock, hook, 40)  # a change: written at once, the streak starts
    assert _shown(api, hook) == ("2026-05-01T12:00:40Z", "failed", "2026-05-01T12:00:40Z")
    _attempt(api, fixed_clock, hook, 50)
    assert _shown(api, hook) == ("2026-05-01T12:00:40Z", "failed", "2026-05-01T12:00:40Z")
    _attempt(api, fixed_clock, hook, 100)  # a minute after the last write: the time moves, the streak stays
    assert _shown(api, hook) == ("2026-05-01T12:01:40Z", "failed", "2026-05-01T12:00:40Z")

    _attempt(api, fixed_clock, hook, 105)  # a success ends the streak at once
    assert _shown(api, hook) == ("2026-05-01T12:01:45Z", "success", None)
    assert len(receiver.requests) == 6
