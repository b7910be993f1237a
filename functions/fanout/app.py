"""SQS-triggered: turns each scanner event into one delivery job per matching integration."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.delivery import fanout
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(fanout.event_id_of(record.body))
    fanout.from_environment().handle(record.body, holder=record.message_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    fanout.from_environment().claims.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    fanout.from_environment,
    snapstart.clients("dynamodb", "sqs"),
    # The queueing of the jobs: the priming event's account has no integration, so it queues none.
    snapstart.send_batch_refused(lambda: fanout.from_environment().deliveries_queue_url),
    snapstart.invoke(lambda_handler, snapstart.queue_batch(snapstart.scanner_event())),
)
