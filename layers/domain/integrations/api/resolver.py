"""The HTTP glue shared by the route functions: one resolver per function, one error shape for every failure."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import CORSConfig, Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from integrations.models.errors import ErrorResponse
from integrations.platform import bounded_json
from integrations.platform.errors import (
    FieldError,
    PayloadTooLarge,
    ServiceError,
    ValidationFailed,
    error_body,
    field_path,
)
from integrations.platform.observability import logger

MAX_BODY_BYTES = 64 * 1024  # the largest valid request (50 recipients, 20 headers) is a few KB
REPLACEMENT_CHARACTER = "\ufffd".encode()
# The canonical 8-4-4-4-12 form only, as openapi.json documents (`format: uuid`); uuid.UUID() would also take
# braces, a urn: prefix or no hyphens, which are not ids this API hands out.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_ERROR_DESCRIPTIONS = {
    400: "Invalid input (validation_error), with one detail per invalid field",
    401: "Missing X-API-Key header (unauthorized)",
    403: "Unknown or revoked API key (forbidden)",
    404: "No such integration for this account (not_found)",
    409: "The integration changed concurrently (conflict), or the account has all the integrations it may have"
    " (limit_exceeded)",
    413: "Request body larger than 64 KB (payload_too_large)",
    429: "Too many requests (rate_limited)",
    500: "Unexpected server error (internal_error)",
}


ERROR_CONTENT: dict[str, Any] = {"application/json": {"model": ErrorResponse}}


def error_responses(*statuses: int) -> dict[int, Any]:
    """OpenAPI ``responses`` for the error statuses a route can answer (auth and 5xx always apply)."""
    return {
        status: {"description": _ERROR_DESCRIPTIONS[status], "content": ERROR_CONTENT}
        for status in sorted({*statuses, 401, 403, 429, 500})
    }


def _error(status: int, code: str, message: str, details: list[FieldError] | None = None) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=error_body(code, message, details)
    )


def _on_service_error(error: ServiceError) -> Response[Any]:
    return _error(error.status, error.code, error.message, error.details)


def _on_request_validation_error(error: RequestValidationError) -> Response[Any]:
    problems = error.errors()
    if any(p["type"] == "json_invalid" for p in problems):
        return _error(400, "validation_error", "Request body is not valid JSON", [FieldError("body", "invalid JSON")])
    details = []
    for problem in problems:
        loc = tuple(problem["loc"])
        # Powertools prefixes the location with where the value came from ("body", "path", "query").
        path = field_path(loc[1:]) or str(loc[0])
        details.append(FieldError(path, str(problem["msg"]).removeprefix("Value error, ")))
    return _error(400, "validation_error", "Invalid request", details)


def _on_route_not_found(_: NotFoundError) -> Response[Any]:
    return _error(404, "not_found", "Route not found")


def _on_unexpected(error: Exception) -> Response[Any]:
    logger.exception("Unhandled error", extra={"error_type": type(error).__name__})
    return _error(500, "internal_error", "Internal error")


def _refuse_body(event: Mapping[str, Any]) -> ServiceError | None:
    """Bodies refused before parsing: too large, not UTF-8, not JSON (a form body would be parsed field by field),
    or JSON beyond the parser's bounds (nesting, integer digits), which would otherwise cost a 500."""
    try:
        raw = _body_bytes(event)
    except ValueError:
        return ValidationFailed("Request body is not valid UTF-8", [FieldError("body", "not valid UTF-8")])
    if len(raw) > MAX_BODY_BYTES:
        return PayloadTooLarge(f"Request body must be at most {MAX_BODY_BYTES // 1024} KB")
    content_type = _header(event, "content-type")
    if raw and content_type.strip() and not _json_media_type(content_type):
        return ValidationFailed("Content-Type must be application/json", [FieldError("body", "not JSON")])
    if not raw.strip():
        return None
    if REPLACEMENT_CHARACTER in raw:
        # What bytes that were not UTF-8 become once decoded for a text body: the original bytes are gone.
        return ValidationFailed("Request body is not valid UTF-8", [FieldError("body", "not valid UTF-8")])
    try:
        bounded_json.loads(raw)
    except bounded_json.UnreadableJson as error:
        return ValidationFailed("Request body is not valid JSON", [FieldError("body", error.reason)])
    return None


def _header(event: Mapping[str, Any], name: str) -> str:
    """A request header's value, its name (lower case) matched in any case; empty when the request has none."""
    return next((value for key, value in (event.get("headers") or {}).items() if key.lower() == name), "")


def _json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _as_application_json(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """``event`` with its JSON media type written ``application/json``: Powertools parses a body under that lower-case
    prefix only, and raises (a 500) for ``Application/JSON`` or ``application/merge-patch+json``, which are JSON too."""
    content_type = _header(event, "content-type")
    if content_type.strip().startswith("application/json") or not _json_media_type(content_type):
        return event
    return {
        **event,
        "headers": {**_without_content_type(event.get("headers")), "Content-Type": "application/json"},
        "multiValueHeaders": {
            **_without_content_type(event.get("multiValueHeaders")),
            "Content-Type": ["application/json"],
        },
    }


def _without_content_type(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: value for name, value in (headers or {}).items() if name.lower() != "content-type"}


def _body_bytes(event: Mapping[str, Any]) -> bytes:
    """The body's bytes; ValueError unless they are UTF-8 (bad base64, other bytes, or lone surrogates)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(body, validate=True)
        raw.decode("utf-8")
        return raw
    return str(body).encode("utf-8")


def console_cors() -> CORSConfig | None:
    """CORS for the hosted console's origin only (CONSOLE_ORIGIN); none where the console shares the API's origin.

    API Gateway answers the preflight (OPTIONS) itself; these headers let the browser read the actual answers.
    """
    origin = os.environ.get("CONSOLE_ORIGIN", "").strip().rstrip("/")
    return CORSConfig(allow_origin=origin, max_age=600) if origin else None


class _Resolver(APIGatewayRestResolver):
    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        # Checked before anything parses the body (Powertools validates ahead of any middleware).
        if refused := _refuse_body(event):
            body = json.dumps(error_body(refused.code, refused.message, refused.details))
            headers = {"Content-Type": "application/json"}
            if self._cors is not None:  # the console must be able to read this answer too
                headers.update(self._cors.to_dict(_header(event, "origin")))
            return {"statusCode": refused.status, "headers": headers, "body": body}
        return super().resolve(_as_application_json(event), context)


def build_app(router: Router) -> APIGatewayRestResolver:
    """A validating resolver serving ``router``'s routes, with the design's error body for every failure."""
    app = _Resolver(enable_validation=True, cors=console_cors())
    app.exception_handler(ServiceError)(_on_service_error)
    app.exception_handler(RequestValidationError)(_on_request_validation_error)
    app.not_found(_on_route_not_found)
    app.exception_handler(Exception)(_on_unexpected)
    app.include_router(router)
    return app


def account_id(router: Router) -> str:
    """The account the authorizer mapped the API key to."""
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    account = event.request_context.authorizer.get("accountId")
    if not account:  # API Gateway never routes without the authorizer's context
        raise RuntimeError("request reached a route without an authorizer context")
    return str(account)


def integration_id(value: str) -> str:
    """A path id; anything but a UUID is a client mistake, not an unknown integration."""
    if not _UUID.fullmatch(value):
        raise ValidationFailed("Invalid integration id", [FieldError("id", "must be a UUID")])
    return value.lower()


def log_id(value: str) -> str:
    """A path log id (a UUID, like integration ids)."""
    if not _UUID.fullmatch(value):
        raise ValidationFailed("Invalid log id", [FieldError("logId", "must be a UUID")])
    return value.lower()
