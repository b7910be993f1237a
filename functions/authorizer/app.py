"""API Gateway REQUEST authorizer: maps the X-API-Key header to the account it belongs to."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations import apikeys, settings
from integrations.observability import logger


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict[str, Any]:
    config = settings.load(settings.AuthorizerSettings)
    api_key = event.headers.get("x-api-key") or ""  # Powertools' headers are case-insensitive
    if not api_key:
        raise Exception("Unauthorized")  # API Gateway's convention for a 401
    arn = event.parsed_arn
    account = apikeys.lookup_account(config.api_keys_table, api_key)
    # The policy covers every route: API Gateway caches it per key for all of them.
    policy = APIGatewayAuthorizerResponse(
        principal_id=account or "anonymous",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"accountId": account} if account else None,
    )
    if account is None:
        logger.info("Rejected API key", extra={"key_id": apikeys.key_id(api_key)})
        policy.deny_all_routes()
    else:
        policy.allow_all_routes()
    return policy.asdict()
