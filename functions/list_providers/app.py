"""GET /v1/integrations/providers — the provider catalog."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api.provider_catalog import provider_catalog
from integrations.api.resolver import build_app, error_responses
from integrations.models.providers import ProvidersResponse
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer

router = Router()


@router.get(
    "/v1/integrations/providers",
    summary="List available providers",
    description="The supported providers with their credential and config fields and supported events.",
    responses={200: {"description": "The provider catalog"}, **error_responses()},
    tags=["Integrations"],
)
def list_providers() -> ProvidersResponse:
    return provider_catalog()


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    provider_catalog,
    snapstart.invoke(
        lambda_handler, snapstart.api_request("GET", "/v1/integrations/providers"), times=snapstart.REPEAT
    ),
)
