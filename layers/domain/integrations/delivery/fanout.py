"""Fan-out: one canonical event becomes one delivery job per matching integration of its account."""

from __future__ import annotations

import json
from functools import cache

from integrations.delivery import once, retry
from integrations.delivery.jobs import DeliveryJob, delivery_id, enqueue
from integrations.delivery.matching import delivery_type
from integrations.events import MAX_MESSAGE_BYTES, Event, parse_event
from integrations.platform import aws, bounded_json, clock, settings
from integrations.platform.errors import ValidationFailed
from integrations.platform.observability import logger
from integrations.storage import stored_events
from integrations.storage.store import IntegrationStore

REASON_OVERHEAD = 64  # the reason attribute's name and type, as SQS counts them (generously)


class FanOut:
    def __init__(
        self,
        store: IntegrationStore,
        deliveries_queue_url: str,
        events_dlq_url: str,
        claims: once.Claims,
        delivery_logs_table: str,
    ) -> None:
        self.store = store
        self.delivery_logs_table = delivery_logs_table
        self.deliveries_queue_url = deliveries_queue_url
        self.events_dlq_url = events_dlq_url
        self.claims = claims  # an event published twice (same id) fans out once

    def handle(self, body: str, holder: str | None = None) -> int:
        """Enqueue the event's jobs, once per event (``holder``: the SQS message's id); a malformed event goes to the
        dead-letter queue."""
        try:
            event = parse_event(body)
        except ValidationFailed as error:
            self.reject(body, error.message)
            return 0
        key, holder = json.dumps([event.accountId, event.id]), holder or clock.new_id()
        if not self.claims.claim(key, holder):
            logger.info("Skipped event: fanned out already, or being", extra={"event_id": event.id})
            return 0
        try:
            queued = self._fan_out(event)
        except BaseException:
            self.claims.release(key, holder)  # the message's retry fans it out
            raise
        self.claims.finish(key, holder)  # even a late copy of the event (any message id) fans out no more
        return queued

    def _fan_out(self, event: Event) -> int:
        jobs = self.jobs_for(event)
        if jobs:
            # Once for all its deliveries (redelivery reads it), before any of them can be logged.
            stored_events.store(self.delivery_logs_table, event.accountId, event)
        enqueue(self.deliveries_queue_url, jobs)  # EnqueueFailed: the event's message is retried
        logger.info(
            "Fanned out event",
            extra={"event_id": event.id, "event_type": event.type, "account_id": event.accountId, "jobs": len(jobs)},
        )
        return len(jobs)

    def jobs_for(self, event: Event) -> list[DeliveryJob]:
        """One job per enabled integration of the event's account that wants it."""
        jobs = []
        for integration in self.store.list_enabled(event.accountId):
            label = delivery_type(event, integration.enabledEvents, integration.minimumSeverity)
            if label is not None:
                jobs.append(
                    DeliveryJob(
                        deliveryId=delivery_id(event.id, integration.id),
                        accountId=event.accountId,
                        integrationId=integration.id,
                        eventType=label,
                        event=event,
                        eventStored=True,
                    )
                )
        return jobs

    def reject(self, body: str, reason: str) -> None:
        """Park an event that can never be delivered, with the reason beside it (never retried)."""
        logger.error("Rejected event", extra={"reason": reason})
        if len(body.encode("utf-8", "surrogatepass")) + len(reason.encode()) + REASON_OVERHEAD > MAX_MESSAGE_BYTES:
            # SQS counts attributes in a message's size: a body this close to the limit is parked alone (the log
            # line above has the reason), rather than failing to park until the redrive policy moves it.
            aws.client("sqs").send_message(QueueUrl=self.events_dlq_url, MessageBody=body)
            return
        retry.dead_letter(self.events_dlq_url, body, reason)


@cache
def from_environment() -> FanOut:
    queues = settings.load(settings.QueueSettings)
    return FanOut(
        IntegrationStore(settings.load(settings.ApiSettings).integrations_table),
        queues.deliveries_queue_url,
        queues.events_dlq_url,
        once.Claims(settings.load(settings.DispatchSettings).provider_state_table, "event", once.EVENT_RECORD_SECONDS),
        settings.load(settings.DispatchSettings).delivery_logs_table,
    )


def event_id_of(body: str) -> str | None:
    """The event id for log correlation, when the body has one (even if the event is otherwise malformed)."""
    try:
        raw = bounded_json.loads(body)  # any message, however deep: the standard parser would raise RecursionError
    except bounded_json.UnreadableJson:
        return None
    raw = raw.get("detail", raw) if isinstance(raw, dict) else {}
    return str(raw["id"])[:128] if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)) else None
