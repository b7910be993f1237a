"""GET /v1/integrations — the account's integrations, newest first."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import service
from integrations.api.resolver import account_id, build_app, error_responses
from integrations.models.integrations import IntegrationListResponse
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer

router = Router()


@router.get(
    "/v1/integrations",
    summary="List configured integrations",
    description="All integrations of the account, newest first, with their last delivery status.",
    responses={200: {"description": "The account's integrations"}, **error_responses()},
    tags=["Integrations"],
)
def list_integrations() -> IntegrationListResponse:
    records = service.from_environment().list(account_id(router))
    return IntegrationListResponse(data=[r.to_response() for r in records])


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    service.from_environment,
    snapstart.clients("dynamodb"),
    snapstart.invoke(lambda_handler, snapstart.api_request("GET", "/v1/integrations"), times=snapstart.REPEAT),
)
