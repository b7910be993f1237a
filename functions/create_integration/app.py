"""POST /v1/integrations — create an integration."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import service
from integrations.api.resolver import account_id, build_app, error_responses
from integrations.models.integrations import CreateIntegrationRequest, IntegrationResponse
from integrations.platform import clock, snapstart
from integrations.platform.observability import logger, tracer
from integrations.providers import registry

router = Router()


@router.post(
    "/v1/integrations",
    status_code=201,
    summary="Create an integration",
    description=(
        "Configure a new integration. Credentials are never returned. Enabled by default. An account has at most"
        " MaxIntegrationsPerAccount live integrations (100 by default): past that, 409 limit_exceeded."
    ),
    responses={201: {"description": "The created integration"}, **error_responses(400, 409, 413)},
    tags=["Integrations"],
)
def create_integration(request: CreateIntegrationRequest) -> IntegrationResponse:
    record = service.from_environment().create(account_id(router), request)
    logger.info("Integration created", extra={"integration_id": record.id, "provider": record.provider})
    return record.to_response()


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# Refused whatever ALLOW_LOCAL_DESTINATIONS says (no credentials): the priming request creates nothing.
INVALID_REQUEST = {"provider": "webhook", "name": "priming", "credentials": {}, "enabledEvents": ["scan.completed"]}

# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    service.from_environment,
    registry.load_all,  # every provider a request may name
    clock.new_id,  # loads the id generator, which only a request that makes an id imports
    snapstart.clients("dynamodb", "secretsmanager"),
    # The secret a create writes: no form of CreateSecret changes nothing, so its answer is made here. First of this
    # client's calls: registering its handler empties the client's cache of which handlers each event has.
    snapstart.call_answered_here(
        "secretsmanager",
        "CreateSecret",
        lambda: service.from_environment().vault.create(snapstart.priming_secret(), {}, {"priming": "true"}),
        {"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:snapstart-priming", "VersionId": "v"},
    ),
    snapstart.missing_secret(lambda name: service.from_environment().vault.delete(name)),  # its undo; no read
    # The priming request is refused before any AWS call: a read primes the DynamoDB client's first call.
    lambda: service.from_environment().store.get(snapstart.PRIMING_ACCOUNT, snapstart.PRIMING_ID),
    # The count and the item a create writes.
    snapstart.update_changing_nothing(lambda: service.from_environment().store.table_name, "accountId"),
    snapstart.put_changing_nothing(lambda: service.from_environment().store.table_name, "accountId"),
    # The count of an account's integrations, which its first create starts.
    snapstart.query_nothing(lambda: service.from_environment().store.table_name, "accountId"),
    snapstart.invoke(
        lambda_handler, snapstart.api_request("POST", "/v1/integrations", INVALID_REQUEST), times=snapstart.REPEAT
    ),
)
