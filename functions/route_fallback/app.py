"""Answers requests API Gateway matched to no route: 405 for a wrong method on a known path, else 404."""

from __future__ import annotations

import json
from typing import Any

from integrations.errors import error_body

UNKNOWN_PATH = "/{proxy+}"


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    if event.get("resource") == UNKNOWN_PATH:
        status, body = 404, error_body("not_found", "Route not found")
    else:
        status, body = (
            405,
            error_body("method_not_allowed", f"Method {event.get('httpMethod')} not allowed on this path"),
        )
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
