"""Redelivery: the event of a logged attempt goes back on the deliveries queue, as a new attempt of the same delivery.

The receiver sees the same delivery id (a webhook's ``webhook-id``), so it can deduplicate; the job carries its own
``redeliveryId``, which the dispatcher claims instead of the delivery id (delivery.once), so a delivery that
already finished is sent again rather than skipped. The job then follows the usual path: retries, delivery log, the
provider's own rules (Jira still creates one issue per finding; PagerDuty's dedup key still applies).
"""

from __future__ import annotations

from functools import cache

from integrations.api import service
from integrations.api.service import IntegrationService
from integrations.catalog import EVENT_TYPES
from integrations.delivery.jobs import DeliveryJob
from integrations.events import Event
from integrations.models.delivery_logs import RedeliveryResponse
from integrations.platform import aws, clock, settings
from integrations.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from integrations.platform.observability import logger
from integrations.storage import delivery_logs
from integrations.storage.delivery_logs import DeliveryLogStore, StoredEntry


def redelivery_job(entry: StoredEntry, integration_id: str, event: Event, redelivery_id: str) -> DeliveryJob:
    """The logged delivery's job again: its delivery id and event, with ``redelivery_id`` as the dispatcher's key."""
    return DeliveryJob(
        deliveryId=entry.delivery_id,
        accountId=entry.account_id,
        integrationId=integration_id,
        eventType=entry.event_type,  # a logged event type: callers leave out test deliveries
        event=event,
        redeliveryId=redelivery_id,
    )


class Redeliverer:
    def __init__(self, integrations: IntegrationService, logs: DeliveryLogStore, deliveries_queue_url: str) -> None:
        self.integrations = integrations
        self.logs = logs
        self.deliveries_queue_url = deliveries_queue_url

    def redeliver(self, account_id: str, integration_id: str, log_id: str) -> RedeliveryResponse:
        """Queue the logged attempt's event again; 404 for an unknown, expired or foreign entry."""
        record = self.integrations.get_live(account_id, integration_id)  # another account's answers 404 here
        entry = self.logs.get(integration_id, log_id)
        if entry is None or entry.account_id != account_id:
            raise NotFound("Delivery log entry not found (entries are kept 30 days)")
        if entry.event_type not in EVENT_TYPES:  # integration.test
            raise ValidationFailed(
                "A test delivery cannot be redelivered; send a new one with POST /v1/integrations/{id}/test",
                [FieldError("logId", "is the log entry of a test delivery")],
            )
        if not record.enabled:
            raise Conflict("The integration is disabled; enable it before redelivering")
        event = self.logs.payload(entry)
        if event is None:
            raise NotFound("Delivery log entry not found (entries are kept 30 days)")
        job = redelivery_job(entry, integration_id, event, clock.new_id())  # event type checked above
        aws.client("sqs").send_message(QueueUrl=self.deliveries_queue_url, MessageBody=job.model_dump_json())
        assert job.redeliveryId is not None
        logger.info(
            "Redelivery queued",
            extra={"delivery_id": job.deliveryId, "redelivery_id": job.redeliveryId, "log_id": log_id},
        )
        return RedeliveryResponse(
            deliveryId=job.deliveryId,
            logId=log_id,
            redeliveryId=job.redeliveryId,
            event=job.eventType,
            status="queued",
            queuedAt=clock.iso(clock.now()),
        )


@cache
def from_environment() -> Redeliverer:
    return Redeliverer(
        service.from_environment(),
        delivery_logs.from_environment(),
        settings.load(settings.QueueSettings).deliveries_queue_url,
    )
