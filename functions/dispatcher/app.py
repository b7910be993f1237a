"""SQS-triggered: one delivery attempt per job; a retryable failure stays queued until its next attempt.

The jobs of a batch are delivered concurrently, one thread per integration, each integration's jobs in order
(integrations.delivery.batch). A job whose destination's rate allows no message for a while goes back to the queue
with that delay, without counting as an attempt (integrations.delivery.pacing). So does a job that this invocation has
no longer the time to attempt: every attempt is bounded (dispatch.attempt_budget), and the batch must end
before the function's timeout cuts an attempt short.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.delivery import batch, dispatch, pacing, retry
from integrations.delivery.jobs import DeliveryJob
from integrations.platform import settings, snapstart
from integrations.platform.observability import logger, record_service_failure, tracer
from integrations.providers import http, registry

processor = batch.ConcurrentBatchProcessor(event_type=EventType.SQS, group_of=batch.integration_of)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    job = DeliveryJob.model_validate_json(record.body)
    carried = record.message_attributes[retry.ATTEMPTS_MADE]  # None when absent
    attempt = retry.attempt_number(
        int(record.attributes.approximate_receive_count), carried.string_value if carried else None
    )
    # Context-local, not the logger's shared keys: other threads deliver other jobs meanwhile.
    logger.thread_safe_append_keys(correlation_id=job.deliveryId)
    try:
        deliver(record, job, attempt, lambda_context.get_remaining_time_in_millis() / 1000)
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])


def deliver(record: SQSRecord, job: DeliveryJob, attempt: int, seconds_left: float) -> None:
    queues = settings.load(settings.QueueSettings)
    if attempt > queues.max_delivery_attempts:  # a re-queued job whose last attempt died before parking it
        retry.dead_letter(queues.deliveries_dlq_url, record.body, f"{attempt - 1} attempts made")
        return
    if seconds_left < dispatch.attempt_budget():
        # The jobs of one integration run one after another: late in a slow batch, the next might not finish
        # before the timeout. Queued anew at once, without counting an attempt, for another invocation.
        logger.info("Delivery deferred: not enough time left", extra={"attempt": attempt, "seconds_left": seconds_left})
        retry.requeue(queues.deliveries_queue_url, record.body, 0, attempts_made=attempt - 1)
        return
    try:
        outcome = dispatch.from_environment().deliver(job, attempt, holder=record.message_id)
    except pacing.Deferred as deferred:
        # Nothing was sent: the job is queued anew with the delay and the attempts made so far, and this
        # message is acknowledged, so the wait costs no attempt (failing it would count a receive).
        logger.info("Delivery deferred: rate limit", extra={"attempt": attempt, "delay_s": deferred.delay_seconds})
        retry.requeue(queues.deliveries_queue_url, record.body, deferred.delay_seconds, attempts_made=attempt - 1)
        return
    except Exception:
        # Our side failed (DynamoDB throttling, Secrets Manager…): retry on the same schedule as a provider fault.
        logger.exception("Delivery attempt failed inside the service", extra={"attempt": attempt})
        record_service_failure()
        if retry_later(record, attempt, None, "the service failed"):
            raise
        return
    if outcome is None or outcome.success or not outcome.retryable:
        return  # done: delivered, skipped, or failed for good (logged either way)
    if retry_later(record, attempt, outcome.retry_after, outcome.error or "failed"):
        raise retry.RetryScheduled(f"attempt {attempt} failed")


def retry_later(record: SQSRecord, attempt: int, retry_after: float | None, error: str) -> bool:
    """Hide the message until its next attempt (True: its handler fails it), or park it after the last one.

    The dispatcher parks the job itself rather than letting the queue's maxReceiveCount do it: a re-queued job's
    receive count lags its attempts. maxReceiveCount stays as the safety net for invocations that die.
    """
    queues = settings.load(settings.QueueSettings)
    delay = retry.next_delay(attempt, queues.max_delivery_attempts, retry_after)
    if delay is None:
        logger.warning("Last attempt failed; the job goes to the dead-letter queue", extra={"attempt": attempt})
        retry.dead_letter(queues.deliveries_dlq_url, record.body, f"{attempt} attempts failed; last: {error}")
        return False
    retry.schedule_retry(queues.deliveries_queue_url, record.receipt_handle, delay)
    return True


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A claim taken by an attempt that the Lambda timeout cuts short runs out with this invocation's time, so the
    # message's retry may take it again (registered before the batch's threads start; they only read it).
    dispatcher = dispatch.from_environment()
    dispatcher.claims.register_lambda_context(context)
    dispatcher.read_ahead(batch.integrations_of(event.get("Records") or []))
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    lambda: settings.load(settings.QueueSettings),
    dispatch.from_environment,
    registry.load_all,  # every provider a request may name
    http.prepare,
    snapstart.clients("dynamodb", "secretsmanager", "sqs", "sesv2"),
    # What the first delivery does and the priming job (skipped: no such integration) does not: read a secret,
    # write its log entry; and the read of an integration's later jobs in a batch (the first ones are read ahead).
    snapstart.missing_secret(lambda name: dispatch.from_environment().vault.read(name, None)),
    lambda: dispatch.from_environment().store.get(snapstart.PRIMING_ACCOUNT, snapstart.PRIMING_ID),
    snapstart.batch_write_changing_nothing(lambda: dispatch.from_environment().logs.table_name, "integrationId"),
    snapstart.invoke(lambda_handler, snapstart.queue_batch(snapstart.delivery_job())),
)
