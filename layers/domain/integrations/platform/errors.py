"""Typed domain errors and the single error body every failure answers with."""

from __future__ import annotations

from typing import Any, NamedTuple


class FieldError(NamedTuple):
    """One invalid input field, named by its path in the request (e.g. ``credentials.url``)."""

    field: str
    message: str


class ServiceError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else []

    def __str__(self) -> str:
        return self.message


class ValidationFailed(ServiceError):
    status = 400
    code = "validation_error"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class LimitExceeded(ServiceError):
    """The account has as many integrations as it may: a 409 (the account's state, not the request, is at fault;
    deleting one resolves it, waiting does not), with a code of its own so clients tell it from a lost race."""

    status = 409
    code = "limit_exceeded"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


def error_body(code: str, message: str, details: list[FieldError] | None = None) -> dict[str, Any]:
    """The design's error body: ``{"error": {"code", "message", "details": [{"field", "message"}]}}``."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"field": d.field, "message": d.message} for d in details or []],
        }
    }


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """Render a pydantic location as ``credentials.url`` / ``enabledEvents[1]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
