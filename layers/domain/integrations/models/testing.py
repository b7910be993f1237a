"""The test route's answer: apart from the integrations' models, which that route does not need."""

from __future__ import annotations

from pydantic import Field

from integrations.models.base import OmitsNull, not_null


class TestResult(OmitsNull):
    """The test route's answer; ``error`` appears only when the test failed."""

    success: bool
    message: str
    deliveredAt: str
    responseCode: int | None
    responseTime: int
    error: str | None = Field(default=None, description="Present when success is false", json_schema_extra=not_null)

    omitted_when_null = ("error",)
