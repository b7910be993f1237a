"""POST /v1/integrations/{id}/recover — send again every delivery whose latest attempt failed since a given time."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import recovery
from integrations.api.resolver import ERROR_CONTENT, account_id, build_app, error_responses, integration_id
from integrations.models.delivery_logs import RecoveryRequest, RecoveryResponse
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer

router = Router()


@router.post(
    "/v1/integrations/<id>/recover",
    summary="Recover failed deliveries",
    description=(
        "Sends again, once each, every delivery of the integration whose latest attempt failed at or after `since` "
        "(within the log's 30 days): same payload and delivery id (a webhook's webhook-id), as the redeliver route "
        "does. The request walks the log's first page itself (100 attempts, newest first) and answers how many "
        "deliveries it queued; a longer log is walked in the background, a page at a time (`complete` is then false). "
        "The redeliveries appear in the delivery log as they are attempted."
    ),
    responses={
        202: {
            "description": "The recovery is accepted: how many deliveries were queued, and whether that is all",
            "content": {"application/json": {"model": RecoveryResponse}},
        },
        **error_responses(400, 404, 413),
        409: {"description": "The integration is disabled (conflict)", "content": ERROR_CONTENT},
    },
    tags=["Integrations"],
)
def recover_deliveries(id: str, request: RecoveryRequest) -> Response[dict[str, Any]]:  # noqa: A002 - the route's name
    accepted = recovery.from_environment().start(account_id(router), integration_id(id), request.since)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump(mode="json"))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# Before a SnapStart snapshot: a recovery asked by the priming account, which owns no integration (404, nothing
# read beyond that or queued) (integrations.platform.snapstart).
snapstart.prepare(
    recovery.from_environment,
    snapstart.clients("dynamodb", "sqs"),
    *recovery.priming_steps(),
    snapstart.invoke(
        lambda_handler,
        snapstart.api_request(
            "POST", f"/v1/integrations/{snapstart.PRIMING_ID}/recover", {"since": snapstart.an_hour_ago()}
        ),
        times=snapstart.REPEAT,
    ),
)
