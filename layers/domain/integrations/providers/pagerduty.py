"""PagerDuty Events API v2."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from integrations.providers.base import Provider, ProviderModel


class PagerDutyCredentials(ProviderModel):
    routingKey: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{32}$")] = Field(
        description="PagerDuty Events API v2 routing key"
    )


class PagerDuty(Provider):
    id = "pagerduty"
    name = "PagerDuty"
    description = "Trigger PagerDuty incidents for critical and high severity findings"
    credentials = PagerDutyCredentials
    supported_events = ("finding.critical", "finding.high", "scan.failed")
