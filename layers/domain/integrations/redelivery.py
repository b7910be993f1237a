"""Redelivery: the event of a logged attempt goes back on the deliveries queue, as a new attempt of the same delivery.

The receiver sees the same delivery id (a webhook's ``webhook-id``), so it can deduplicate; the job carries its own
``redeliveryId``, which the dispatcher claims instead of the delivery id (integrations.once), so a delivery that
already finished is sent again rather than skipped. The job then follows the usual path: retries, delivery log, the
provider's own rules (Jira still creates one issue per finding; PagerDuty's dedup key still applies).
"""

from __future__ import annotations

from functools import cache

from integrations import aws, clock, delivery_logs, service, settings
from integrations.catalog import EVENT_TYPES
from integrations.delivery_logs import DeliveryLogStore
from integrations.errors import Conflict, FieldError, NotFound, ValidationFailed
from integrations.jobs import DeliveryJob
from integrations.models import RedeliveryResponse
from integrations.observability import logger
from integrations.service import IntegrationService


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
        job = DeliveryJob(
            deliveryId=entry.delivery_id,
            accountId=account_id,
            integrationId=integration_id,
            eventType=entry.event_type,  # checked against EVENT_TYPES above
            event=event,
            redeliveryId=clock.new_id(),
        )
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
