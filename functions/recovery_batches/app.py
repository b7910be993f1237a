"""SQS-triggered: each recovery batch queues the redeliveries of one page of the delivery log, then the next page."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import recovery
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    batch = recovery.RecoveryBatch.model_validate_json(record.body)
    logger.set_correlation_id(batch.recoveryId)
    recovery.from_environment().walk(batch)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


# Before a SnapStart snapshot: one page of a recovery of the priming account's integration, which does not exist
# (the walk stops at once, nothing queued) (integrations.platform.snapstart).
snapstart.prepare(
    recovery.from_environment,
    snapstart.clients("dynamodb", "sqs"),
    *recovery.priming_steps(),
    snapstart.invoke(lambda_handler, snapstart.queue_batch(snapstart.recovery_batch())),
)
