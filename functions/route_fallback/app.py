"""Answers requests API Gateway matched to no route: 405 for a wrong method on a known path, else 404."""

from __future__ import annotations

import json
from typing import Any

from integrations.platform import snapstart
from integrations.platform.errors import error_body

# The methods each resource serves (template.yaml's routes; tests/fuzz checks this against openapi.json):
# a 405 must name them in `Allow` (RFC 9110).
ALLOWED_METHODS = {
    "/v1/integrations": "GET, POST",
    "/v1/integrations/providers": "GET",
    "/v1/integrations/{id}": "PATCH, DELETE",
    "/v1/integrations/{id}/test": "POST",
    "/v1/integrations/{id}/logs": "GET",
    "/v1/integrations/{id}/logs/{logId}/redeliver": "POST",
    "/v1/integrations/{id}/recover": "POST",
}


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    allowed = ALLOWED_METHODS.get(event.get("resource") or "")
    if allowed is None:  # /{proxy+}
        status, body = 404, error_body("not_found", "Route not found")
    else:
        status = 405
        body = error_body("method_not_allowed", f"Method {event.get('httpMethod')} not allowed on this path")
        headers["Allow"] = allowed
    return {"statusCode": status, "headers": headers, "body": json.dumps(body)}


# SnapStart: the first request's work done before the snapshot (integrations.platform.snapstart).
snapstart.prepare(
    snapstart.invoke(
        lambda_handler, snapstart.api_request("GET", "/snapstart", resource="/{proxy+}"), times=snapstart.REPEAT
    )
)
