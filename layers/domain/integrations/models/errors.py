"""The one error body every failure answers with (its OpenAPI schema; platform.errors builds it)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="validation_error, unauthorized, forbidden, not_found, conflict, limit_exceeded, …")
    message: str
    details: list[ErrorDetail]


class ErrorResponse(BaseModel):
    error: ErrorInfo
