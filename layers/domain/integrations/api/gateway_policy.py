"""The REQUEST authorizer's answer to API Gateway: allow or deny every route of the stage.

Built here rather than with Powertools' APIGatewayAuthorizerResponse: importing Powertools' data classes
loads every event class it knows (about 0.07x a boto3 import), and the authorizer runs in front of every
uncached API key, so its cold start is the API's.
"""

from __future__ import annotations

from typing import Any


def stage_routes(method_arn: str) -> str:
    """Every method and path of the stage ``method_arn`` belongs to (arn:…:{api}/{stage}/{method}/{path})."""
    api, _, rest = method_arn.partition("/")
    stage, _, route = rest.partition("/")
    if not stage or not route or not api.startswith("arn:") or api.count(":") != 5:
        raise ValueError("not an execute-api method ARN")
    return f"{api}/{stage}/*/*"


def policy(method_arn: str, account: str | None, usage_key: str | None = None) -> dict[str, Any]:
    """Allow every route with the account in the context, or deny every route (API Gateway answers 403).

    One policy covers all routes because API Gateway caches it per key for all of them. ``usage_key`` is the
    account's API Gateway API key value: API Gateway applies its usage plan's per-account limits to it.
    """
    statement = {
        "Action": "execute-api:Invoke",
        "Effect": "Allow" if account else "Deny",
        "Resource": [stage_routes(method_arn)],
    }
    answer: dict[str, Any] = {
        "principalId": account or "anonymous",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
    if account:
        answer["context"] = {"accountId": account}
        if usage_key:
            answer["usageIdentifierKey"] = usage_key
    return answer
