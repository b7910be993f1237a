"""API Gateway REQUEST authorizer: maps the X-API-Key header to its account (and the account's usage key)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from integrations.api import gateway_policy
from integrations.platform import settings, snapstart
from integrations.platform.observability import logger
from integrations.storage import apikeys


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings.load(settings.AuthorizerSettings)
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    api_key = headers.get("x-api-key") or ""
    if not api_key:
        raise Exception("Unauthorized")  # API Gateway's convention for a 401
    owner = apikeys.lookup(config.api_keys_table, api_key)
    if owner is None:
        logger.info("Rejected API key", extra={"key_id": apikeys.key_id(api_key)})
        return gateway_policy.policy(event["methodArn"], None)
    # The usage key lets API Gateway apply the account's own rate limits (the API's key source is the authorizer).
    return gateway_policy.policy(event["methodArn"], owner.account_id, owner.usage_key)


# SnapStart: done before the snapshot instead of at the first request, ending with a priming request
# (integrations.platform.snapstart).
snapstart.prepare(
    lambda: settings.load(settings.AuthorizerSettings),
    snapstart.clients("dynamodb"),
    snapstart.invoke(lambda_handler, snapstart.authorizer_request(), times=snapstart.REPEAT),
)
