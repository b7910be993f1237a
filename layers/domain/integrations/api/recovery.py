"""Recovery: every delivery of an integration whose latest attempt failed since a given time, sent again once.

The route checks the request and walks the first page of the delivery log itself, newest first, queuing the
redeliveries it finds, so its answer can say how many it queued; a longer walk continues as *recovery batches*, one
bounded page of the log per run of the recovery-batches function, each queuing the next. A backlog of any size thus
costs bounded work per Lambda run, and the answer's count is final when the first page was the whole walk.

The walk reads every attempt (the log's ``all`` view), not only the failed ones: a delivery's *latest* attempt
decides, and met newest first, a delivery's first entry is its latest attempt. A claim per (recovery, delivery) in
the provider-state table remembers, across pages, which deliveries were already met, so a delivery that failed
twice is sent once and one whose latest attempt succeeded not at all. Each redelivery is the redeliver route's job
(integrations.api.redelivery): the original delivery id and event, a redelivery id of its own.

A page may be walked twice (SQS hands a batch over twice; a client retries a request that timed out): its claims are
its own again (they name its position), and its redelivery ids are derived from (recovery, delivery), so the
dispatcher's claim on each (integrations.delivery.once) sends each recovered delivery once. A retried request is
the same recovery as long as the log has not moved: the recovery id is derived from (integration, since, the log's
newest position).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import cache

from pydantic import AwareDatetime, BaseModel, ConfigDict

from integrations.api import redelivery, service
from integrations.api.service import IntegrationService
from integrations.catalog import EVENT_TYPES
from integrations.delivery.jobs import DeliveryJob, enqueue
from integrations.models.delivery_logs import RecoveryResponse
from integrations.platform import aws, clock, settings, snapstart
from integrations.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from integrations.platform.observability import logger
from integrations.storage import delivery_logs
from integrations.storage.delivery_logs import ALL, RETENTION, DeliveryLogStore, LogPage, StoredEntry

PAGE_SIZE = 100  # log entries per page (the request's own, then one per batch): at most ~100 small DynamoDB calls
# Entries are in recording order, and an attempt is recorded after it started (deliveredAt) by at most its own
# duration (about a minute, delivery.dispatch.attempt_budget) plus the clock skew between functions. Once the walk
# meets an attempt that started this long before `since`, no older entry can have started at or after it.
RECORDING_LAG = timedelta(minutes=15)
CLAIM_SECONDS = 3 * 24 * 3600  # a recovery's claims outlive its batches (a batch may wait in its queue for retries)
_REDELIVERY_NAMESPACE = uuid.UUID("0b6f3d52-2f1e-4a8e-9d67-1c5a3e9b7f21")
_RECOVERY_NAMESPACE = uuid.UUID("5d1c7a0e-8f3b-4c62-a1e4-6b9d2f0c3e87")


class RecoveryBatch(BaseModel):
    """One page of a recovery's walk (the SQS message body of the recovery queue)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recoveryId: str
    accountId: str
    integrationId: str
    since: AwareDatetime
    position: int  # the newest position of the log's `all` view this batch reads


def parse_since(text: str, now: datetime) -> datetime:
    """``since`` as an aware time within the log's 30 days (and not in the future); 400 otherwise."""
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "Invalid since", [FieldError("since", "must be an ISO 8601 time, e.g. 2026-04-10T00:00:00Z")]
        ) from None
    if since.tzinfo is None:
        raise ValidationFailed("Invalid since", [FieldError("since", "must include a time zone, e.g. Z")])
    if since < now - RETENTION or since > now:  # compared first: near year 1 or 9999, a time has no UTC time
        raise ValidationFailed(
            "since must be within the delivery log's 30 days, and not in the future",
            [FieldError("since", f"must be within the last 30 days (from {clock.iso(now - RETENTION)}), not later")],
        )
    return since.astimezone(UTC)


def recovery_id(integration_id: str, since: datetime, newest: int) -> str:
    """The same for a request retried before the log moved, so the retry re-walks the same recovery's first page."""
    return str(uuid.uuid5(_RECOVERY_NAMESPACE, f"{integration_id}/{since.isoformat()}/{newest}"))


def redelivery_id(recovery_id: str, delivery_id: str) -> str:
    """The same for a delivery met twice by one recovery (a batch handed over twice), so it is sent once."""
    return str(uuid.uuid5(_REDELIVERY_NAMESPACE, f"{recovery_id}/{delivery_id}"))


class Recoverer:
    def __init__(
        self,
        integrations: IntegrationService,
        logs: DeliveryLogStore,
        deliveries_queue_url: str,
        recovery_queue_url: str,
        claims_table: str,
    ) -> None:
        self.integrations = integrations
        self.logs = logs
        self.deliveries_queue_url = deliveries_queue_url
        self.recovery_queue_url = recovery_queue_url
        self.claims_table = claims_table

    def start(self, account_id: str, integration_id: str, since_text: str) -> RecoveryResponse:
        """Queue the redeliveries of the log's first page, and a batch for the rest if there is more; how many were
        queued. 400 for a bad ``since``, 404 for a foreign id, 409 while disabled."""
        now = clock.now()
        since = parse_since(since_text, now)
        record = self.integrations.get_live(account_id, integration_id)  # another account's answers 404 here
        if not record.enabled:
            raise Conflict("The integration is disabled; enable it before recovering its deliveries")
        # The page starts at the log's newest position now: later attempts (the recovery's own) are never read.
        first = self.logs.page(integration_id, ALL, 1, PAGE_SIZE)
        batch = RecoveryBatch(
            recoveryId=recovery_id(integration_id, since, first.newest),
            accountId=account_id,
            integrationId=integration_id,
            since=since,
            position=first.newest,
        )
        queued, complete = self._walk_page(batch, first)
        logger.info(
            "Recovery accepted",
            extra={"recovery_id": batch.recoveryId, "since": clock.iso(since), "queued": queued, "complete": complete},
        )
        return RecoveryResponse(
            recoveryId=batch.recoveryId,
            status="accepted",
            queued=queued,
            complete=complete,
            since=clock.iso(since),
            until=clock.iso(now),
        )

    def walk(self, batch: RecoveryBatch) -> int:
        """Queue the redeliveries of one page of the log and the next page's batch; how many were queued."""
        try:
            record = self.integrations.get_live(batch.accountId, batch.integrationId)
        except NotFound:
            record = None
        if record is None or not record.enabled:  # its jobs would be skipped by the dispatcher anyway
            logger.info("Recovery stopped: integration deleted or disabled", extra={"recovery_id": batch.recoveryId})
            return 0
        found = self.logs.page(batch.integrationId, ALL, 1, PAGE_SIZE, position=batch.position)
        queued, _ = self._walk_page(batch, found)
        return queued

    def _walk_page(self, batch: RecoveryBatch, found: LogPage) -> tuple[int, bool]:
        """Queue the redeliveries of ``found`` (the page at ``batch.position``), then the next page's batch unless
        the walk is over; how many were queued, and whether the walk is over."""
        to_send: list[StoredEntry] = []
        met: set[str] = set()  # this page's deliveries (its claims would let it claim them again)
        reached_since = False
        for entry in found.stored:  # the items the page's Query read: nothing more is read per entry
            started = datetime.fromisoformat(entry.delivered_at)
            if started < batch.since - RECORDING_LAG:
                reached_since = True
                break
            if started < batch.since or entry.event_type not in EVENT_TYPES:  # too old, or a test delivery
                continue
            if entry.delivery_id in met or not self._claim(batch, entry.delivery_id):
                continue  # the delivery's latest attempt was met already
            met.add(entry.delivery_id)
            if entry.status == "failed":  # not when its latest attempt succeeded
                to_send.append(entry)
        jobs: list[DeliveryJob] = []
        for entry, event in zip(to_send, self.logs.payloads(to_send), strict=True):  # one read for the page's events
            if event is not None:  # None once it expired with its delivery's last entries
                rid = redelivery_id(batch.recoveryId, entry.delivery_id)
                jobs.append(redelivery.redelivery_job(entry, batch.integrationId, event, rid))
        # EnqueueFailed: the batch or the request is retried, and walks the page again with the same claims and ids
        enqueue(self.deliveries_queue_url, jobs)
        next_position = None if reached_since else found.next_position
        if next_position is not None:
            self._queue_batch(batch.model_copy(update={"position": next_position}))
        logger.info(
            "Recovery page done",
            extra={
                "recovery_id": batch.recoveryId,
                "position": batch.position,
                "queued": len(jobs),
                "last": next_position is None,
            },
        )
        return len(jobs), next_position is None

    def _claim(self, batch: RecoveryBatch, delivery_id: str) -> bool:
        """True the first time this recovery meets the delivery (or again on the page that first met it)."""
        dynamodb = aws.client("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self.claims_table,
                Item={
                    "key": {"S": f"recovery#{batch.recoveryId}#{delivery_id}"},
                    "position": {"N": str(batch.position)},
                    "expiresAt": {"N": str(int(clock.now().timestamp()) + CLAIM_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(#key) OR #position = :position",
                ExpressionAttributeNames={"#key": "key", "#position": "position"},
                ExpressionAttributeValues={":position": {"N": str(batch.position)}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _queue_batch(self, batch: RecoveryBatch) -> None:
        aws.client("sqs").send_message(QueueUrl=self.recovery_queue_url, MessageBody=batch.model_dump_json())


def priming_steps() -> list[snapstart.Step]:
    """SnapStart steps for the calls of a recovery that a priming request (an unknown integration) never reaches, each
    in a form that changes nothing: the page's Query, the batch read of its events, a claim, the queueing of the
    redeliveries and of the next batch."""
    logs_table, partition = lambda: from_environment().logs.table_name, "integrationId"
    return [
        snapstart.query_nothing(logs_table, partition),
        snapstart.batch_get_nothing(logs_table, partition),
        snapstart.put_changing_nothing(lambda: from_environment().claims_table, "key", sort=None),
        snapstart.send_batch_refused(lambda: from_environment().deliveries_queue_url),
        snapstart.send_refused(lambda: from_environment().recovery_queue_url),
    ]


@cache
def from_environment() -> Recoverer:
    return Recoverer(
        service.from_environment(),
        delivery_logs.from_environment(),
        settings.load(settings.QueueSettings).deliveries_queue_url,
        settings.load(settings.RecoverySettings).recovery_queue_url,
        settings.load(settings.DispatchSettings).provider_state_table,
    )
