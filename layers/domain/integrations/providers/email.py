"""Email through SES (or SMTP locally)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from integrations.providers.base import EmailAddress, Provider, ProviderModel

MAX_RECIPIENTS = 50  # SES's limit per message


def _unique(recipients: list[str]) -> list[str]:
    if len({r.lower() for r in recipients}) != len(recipients):
        raise ValueError("must not repeat an address")
    return recipients


class EmailCredentials(ProviderModel):
    recipients: Annotated[
        list[EmailAddress], Field(min_length=1, max_length=MAX_RECIPIENTS), AfterValidator(_unique)
    ] = Field(description="List of email addresses")


class EmailConfig(ProviderModel):
    digestMode: bool | None = Field(
        default=None, description="Send a single digest email per scan instead of individual alerts"
    )


class Email(Provider):
    id = "email"
    name = "Email"
    description = "Send scan summaries and alerts to email addresses"
    credentials = EmailCredentials
    config = EmailConfig
    supported_events = ("scan.completed", "scan.failed", "finding.critical", "finding.high", "report.ready")
