"""DELETE /v1/integrations/{id} — delete an integration and its credentials."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import service
from integrations.api.resolver import account_id, build_app, error_responses, integration_id
from integrations.models.integrations import DeleteResponse
from integrations.platform import snapstart
from integrations.platform.observability import logger, tracer

router = Router()


@router.delete(
    "/v1/integrations/<id>",
    summary="Delete an integration",
    description="Stops deliveries at once and deletes the credentials; delivery logs stay readable for 30 days.",
    responses={200: {"description": "Confirmation"}, **error_responses(400, 404, 409)},
    tags=["Integrations"],
)
def delete_integration(id: str) -> DeleteResponse:  # noqa: A002 - the seed's name
    service.from_environment().delete(account_id(router), integration_id(id))
    logger.info("Integration deleted", extra={"integration_id": id})
    return DeleteResponse()


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    service.from_environment,
    snapstart.clients("dynamodb", "secretsmanager"),
    snapstart.missing_secret(lambda name: service.from_environment().vault.delete(name)),
    # The item's update (its tombstone), which the priming request (an unknown integration) does not reach.
    snapstart.update_changing_nothing(lambda: service.from_environment().store.table_name, "accountId"),
    snapstart.invoke(
        lambda_handler,
        snapstart.api_request("DELETE", f"/v1/integrations/{snapstart.PRIMING_ID}"),
        times=snapstart.REPEAT,
    ),
)
