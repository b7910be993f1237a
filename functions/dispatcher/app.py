"""SQS-triggered: one delivery attempt per job; a retryable failure stays queued until its next attempt."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations import dispatch, retry, settings
from integrations.jobs import DeliveryJob
from integrations.observability import logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    job = DeliveryJob.model_validate_json(record.body)
    logger.set_correlation_id(job.deliveryId)
    attempt = int(record.attributes.approximate_receive_count)
    try:
        outcome = dispatch.from_environment().deliver(job, attempt)
    except Exception:
        # Our side failed (DynamoDB throttling, Secrets Manager…): retry on the same schedule as a provider fault.
        logger.exception("Delivery attempt failed inside the service", extra={"attempt": attempt})
        retry_later(record, attempt, None)
        raise
    if outcome is None or outcome.success or not outcome.retryable:
        return  # done: delivered, skipped, or failed for good (logged either way)
    retry_later(record, attempt, outcome.retry_after)
    raise retry.RetryScheduled(f"attempt {attempt} failed")


def retry_later(record: SQSRecord, attempt: int, retry_after: float | None) -> None:
    """Hide the message until its next attempt; after the last one, let it go to the dead-letter queue."""
    queues = settings.load(settings.QueueSettings)
    delay = retry.next_delay(attempt, queues.max_delivery_attempts, retry_after)
    if delay is None:
        logger.warning("Last attempt failed; the job goes to the dead-letter queue", extra={"attempt": attempt})
        delay = 0
    retry.schedule_retry(queues.deliveries_queue_url, record.receipt_handle, delay)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # An attempt cut short by the Lambda timeout frees its idempotency record when this invocation's time is up.
    dispatch.from_environment().idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
