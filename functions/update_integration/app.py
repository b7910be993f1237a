"""PATCH /v1/integrations/{id} — change the given fields of an integration."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import service
from integrations.api.resolver import account_id, build_app, error_responses, integration_id
from integrations.models.integrations import IntegrationResponse, UpdateIntegrationRequest
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer
from integrations.providers import registry

router = Router()


@router.patch(
    "/v1/integrations/<id>",
    summary="Update an integration",
    description="Only the fields given change; credentials merge key by key; config is replaced.",
    responses={200: {"description": "The updated integration"}, **error_responses(400, 404, 409, 413)},
    tags=["Integrations"],
)
def update_integration(id: str, request: UpdateIntegrationRequest) -> IntegrationResponse:  # noqa: A002 - the seed's name
    record = service.from_environment().update(account_id(router), integration_id(id), request)
    logger.info("Integration updated", extra={"integration_id": record.id, "fields": sorted(request.model_fields_set)})
    return record.to_response()


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    service.from_environment,
    registry.load_all,  # every provider a request may name
    snapstart.clients("dynamodb", "secretsmanager"),
    snapstart.missing_secret(lambda name: service.from_environment().vault.read(name, None)),
    # A change of credentials writes a version: refused too, the secret does not exist.
    snapstart.missing_secret(lambda name: service.from_environment().vault.add_version(name, {})),
    # The item's update, which the priming request (no such integration) does not reach.
    snapstart.update_changing_nothing(lambda: service.from_environment().store.table_name, "accountId"),
    snapstart.invoke(
        lambda_handler,
        snapstart.api_request("PATCH", f"/v1/integrations/{snapstart.PRIMING_ID}", {"name": "n"}),
        times=snapstart.REPEAT,
    ),
)
