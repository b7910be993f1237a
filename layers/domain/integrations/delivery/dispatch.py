"""One delivery attempt: load the integration and its credentials, send, log, remember the outcome."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from botocore.exceptions import BotoCoreError, ClientError

from integrations.delivery import once, pacing, signing
from integrations.delivery.health import DEFAULT_DISABLE_AFTER, IntegrationHealth
from integrations.delivery.jobs import DeliveryJob
from integrations.events import Event
from integrations.platform import clock, settings
from integrations.platform.errors import ValidationFailed
from integrations.platform.observability import logger, record_attempt
from integrations.providers import http
from integrations.providers.base import SendContext, parse_settings
from integrations.providers.delivery import TEST_EVENT_TYPE, Delivery, Outcome
from integrations.providers.registry import PROVIDERS
from integrations.storage.delivery_logs import DeliveryLogStore
from integrations.storage.provider_state import DynamoProviderState
from integrations.storage.store import IntegrationRecord, IntegrationStore
from integrations.storage.vault import CredentialVault

# Seconds an attempt's own AWS calls usually take at most (claim, integration, credentials, log, state).
SERVICE_CALLS_ALLOWANCE = 5.0


def attempt_budget() -> float:
    """The seconds one attempt may take: its wait for a slot, its HTTP deadline, and the service's own calls."""
    return pacing.MAX_INLINE_WAIT + http.ATTEMPT_DEADLINE + SERVICE_CALLS_ALLOWANCE


class Dispatcher:
    """Performs attempts for the dispatcher function and the test route alike."""

    def __init__(
        self,
        store: IntegrationStore,
        vault: CredentialVault,
        logs: DeliveryLogStore,
        context: SendContext,
        claims: once.Claims,
        pacer: pacing.Pacer | None = None,
        *,
        disable_after: timedelta = DEFAULT_DISABLE_AFTER,
    ) -> None:
        self.store = store
        self.health = IntegrationHealth(store, disable_after)
        self.vault = vault
        self.logs = logs
        self.context = context
        self.pacer = pacer
        self.claims = claims
        self._read_ahead: dict[tuple[str, str], IntegrationRecord | None] = {}

    def read_ahead(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the integrations of a batch's jobs, (account, id) each, in one request before the batch's threads
        start: each integration's first job then sends after its claim alone. Its later jobs, which may wait for
        their turn (pacing), read their integration again, as every job did before."""
        try:
            self._read_ahead = self.store.get_many(keys)
        except (BotoCoreError, ClientError):  # throttled…: each job reads its own integration, as it can retry alone
            logger.warning("Reading the batch's integrations at once failed; each job reads its own", exc_info=True)
            self._read_ahead = {}

    def deliver(self, job: DeliveryJob, attempt: int, holder: str | None = None) -> Outcome | None:
        """One attempt of ``job`` by the SQS message ``holder`` (its message id), unless the delivery is claimed by
        another message or done (integrations.delivery.once): then None, and nothing is sent.

        None too when the integration was deleted or disabled since fan-out. Raises pacing.Deferred, having sent
        nothing, when the destination's rate allows no message before a while.
        """
        key, holder = job.redeliveryId or job.deliveryId, holder or clock.new_id()
        if not self.claims.claim(key, holder):
            logger.info("Skipped delivery: another message has it, or had it", extra={"delivery_id": job.deliveryId})
            return None
        try:
            outcome = self._deliver_job(job, attempt)
        except BaseException:
            self.claims.release(key, holder)  # nothing was sent (a deferral), or our side failed: let it run again
            raise
        if outcome is not None and not outcome.success and outcome.retryable:
            self.claims.release(key, holder)
        else:
            self.claims.finish(key, holder)
        return outcome

    def _deliver_job(self, delivery: DeliveryJob, attempt: int) -> Outcome | None:
        key = (delivery.accountId, delivery.integrationId)
        # One thread has all the jobs of an integration: nothing else takes this key between the test and the pop.
        record = self._read_ahead.pop(key) if key in self._read_ahead else self.store.get(*key)
        if record is None or record.deleted or not record.enabled:
            logger.info(
                "Skipped delivery: integration deleted or disabled", extra={"integration_id": delivery.integrationId}
            )
            return None
        return self._attempt(
            record,
            delivery.deliveryId,
            delivery.eventType,
            delivery.event,
            attempt,
            test=False,
            store_event=not delivery.eventStored,
        )

    def deliver_test(self, record: IntegrationRecord, event: Event) -> tuple[Outcome, datetime]:
        """The test route's synchronous attempt, logged as integration.test; returns it with its time."""
        started = clock.now()
        return self._attempt(record, clock.new_id(), TEST_EVENT_TYPE, event, 1, test=True, started=started), started

    def _attempt(
        self,
        record: IntegrationRecord,
        delivery_id: str,
        event_type: str,
        event: Event,
        attempt: int,
        *,
        test: bool,
        started: datetime | None = None,
        store_event: bool = False,
    ) -> Outcome:
        provider = PROVIDERS[record.provider]
        assert record.secretName is not None
        secret = self.vault.read_cached(record.secretName, record.secretVersion)
        started = started or clock.now()
        try:
            # Checked again at delivery: the rules (or ALLOW_LOCAL_DESTINATIONS) may be stricter than at creation.
            # Hosts are resolved and checked by the connection itself (integrations.providers.http): once, pinned,
            # and a DNS failure there is retried.
            credentials, config = parse_settings(
                provider, secret, self.context.settings.allow_local_destinations, check_destination_addresses=False
            )
        except ValidationFailed as error:
            fields = ", ".join(sorted({detail.field for detail in error.details}))
            outcome = Outcome(False, None, 0, f"Stored settings are no longer valid ({fields}); update the integration")
        else:
            # Test sends are not paced: the user waits for the answer, and one message stays within any rate.
            destination = None if test or self.pacer is None else provider.destination(credentials)
            pace_key = None if destination is None else pacing.destination_key(provider.id, destination)
            if pace_key is not None and self.pacer is not None:
                self.pacer.wait_for_slot(pace_key, provider.rate_interval)  # or Deferred: nothing sent, no attempt
                started = clock.now()  # the attempt starts when its slot comes
            delivery = Delivery(
                delivery_id=delivery_id,
                event_type=event_type,
                event=event,
                account_id=record.accountId,
                integration_id=record.id,
                integration_name=record.name,
                credentials=credentials,
                config=config,
                attempt=attempt,
                test=test,
                timestamp=started,
                previous_secret=signing.previous_secret(secret, started, self.context.settings.signing_grace),
            )
            send = provider.send_test if test else provider.send
            outcome = send(delivery, self.context)
            if pace_key is not None and (outcome.response_code == 429 or outcome.rate_limited):
                self._hold(provider.rate_interval is not None, pace_key, outcome)
        if not outcome.skipped:
            self._remember(record, delivery_id, event_type, outcome, attempt, started, event, store_event)
        record_attempt(provider.id, outcome)
        logger.info(
            "Delivery attempt",
            extra={
                "delivery_id": delivery_id,
                "integration_id": record.id,
                "provider": provider.id,
                "event_type": event_type,
                "attempt": attempt,
                "success": outcome.success,
                "skipped": outcome.skipped,
                "response_code": outcome.response_code,
                "response_time_ms": outcome.response_time_ms,
                "error": outcome.error,
            },
        )
        return outcome

    def _hold(self, shared: bool, key: str, outcome: Outcome) -> None:
        """After a 429, keep the destination's other jobs back until its Retry-After."""
        assert self.pacer is not None
        try:
            self.pacer.hold(key, outcome.retry_after, shared=shared)
        except Exception:
            logger.exception("Could not hold the rate-limited destination")  # this job still retries later

    def _remember(
        self,
        record: IntegrationRecord,
        delivery_id: str,
        event_type: str,
        outcome: Outcome,
        attempt: int,
        started: datetime,
        event: Event,
        store_event: bool,
    ) -> None:
        """Write the delivery log entry (with the event, for redelivery) and lastDelivery* (disabling the
        integration if it cannot be delivered to).

        The provider has answered by now: a failure here must not fail the attempt, or its retry would send
        the event a second time. The attempt is still in the function's log line.
        """
        try:
            self.logs.record(
                account_id=record.accountId,
                integration_id=record.id,
                delivery_id=delivery_id,
                event_type=event_type,
                outcome=outcome,
                attempt=attempt,
                delivered_at=started,
                event=event,
                store_event=store_event,
            )
        except Exception:
            logger.exception("Could not record the delivery attempt", extra={"delivery_id": delivery_id})
        try:  # apart: a failed log write must not also skip lastDelivery* and auto-disable
            self.health.record(record, outcome, started)  # lastDelivery*, and auto-disable (delivery.health)
        except Exception:
            logger.exception("Could not record the delivery's outcome", extra={"delivery_id": delivery_id})


@cache
def from_environment() -> Dispatcher:
    """The dispatcher wired to this function's tables, secrets and delivery settings."""
    api = settings.load(settings.ApiSettings)
    delivery = settings.load(settings.DeliverySettings)
    tables = settings.load(settings.DispatchSettings)
    return Dispatcher(
        IntegrationStore(api.integrations_table),
        CredentialVault(api.secrets_prefix),
        DeliveryLogStore(tables.delivery_logs_table),
        SendContext(delivery, DynamoProviderState(tables.provider_state_table)),
        once.Claims(tables.provider_state_table),
        pacing.Pacer(tables.provider_state_table),
        disable_after=timedelta(days=tables.auto_disable_after_days),
    )
