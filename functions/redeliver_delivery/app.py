"""POST /v1/integrations/{id}/logs/{logId}/redeliver — send a logged delivery's event again (a new attempt)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import redelivery
from integrations.api.resolver import ERROR_CONTENT, account_id, build_app, error_responses, integration_id, log_id
from integrations.models.delivery_logs import RedeliveryResponse
from integrations.platform import clock, snapstart
from integrations.platform.observability import logger, tracer

router = Router()


@router.post(
    "/v1/integrations/<id>/logs/<logId>/redeliver",
    summary="Redeliver a logged delivery",
    description=(
        "Queues the event of a delivery log entry (kept 30 days) again for the same integration: same payload and "
        "delivery id (a webhook's webhook-id, so receivers can deduplicate), as a new attempt with its own log entry."
    ),
    responses={
        202: {
            "description": "The delivery is queued again",
            "content": {"application/json": {"model": RedeliveryResponse}},
        },
        **error_responses(400, 404),
        409: {"description": "The integration is disabled (conflict)", "content": ERROR_CONTENT},
    },
    tags=["Integrations"],
)
def redeliver_delivery(id: str, logId: str) -> Response[dict[str, Any]]:  # noqa: A002 - the route's names
    queued = redelivery.from_environment().redeliver(account_id(router), integration_id(id), log_id(logId))
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=queued.model_dump(mode="json"))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    redelivery.from_environment,
    clock.new_id,  # loads the id generator, which only a request that makes an id imports
    snapstart.clients("dynamodb", "sqs"),
    # The queueing of the job, which the priming request (an unknown integration) does not reach.
    snapstart.send_refused(lambda: redelivery.from_environment().deliveries_queue_url),
    snapstart.invoke(
        lambda_handler,
        snapstart.api_request("POST", f"/v1/integrations/{snapstart.PRIMING_ID}/logs/{snapstart.PRIMING_ID}/redeliver"),
        times=snapstart.REPEAT,
    ),
)
