"""Slack incoming webhooks."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo

from integrations.providers.base import Provider, ProviderModel, allows_local, check_destination_url

# The webhook URL is a credential; outside the local stack it must be Slack's own host, so a
# "Slack" integration cannot be used to make us call arbitrary URLs.
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


def _check_slack_url(value: str, info: ValidationInfo) -> str:
    check_destination_url(value, info)
    if not allows_local(info) and urlsplit(value).hostname not in SLACK_HOSTS:
        raise ValueError("must be a Slack incoming webhook URL (https://hooks.slack.com/services/…)")
    return value


class SlackCredentials(ProviderModel):
    webhookUrl: Annotated[str, AfterValidator(_check_slack_url)] = Field(description="Slack Incoming Webhook URL")


class SlackConfig(ProviderModel):
    channel: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = Field(
        default=None, description="Override channel (uses webhook default if omitted)"
    )


class Slack(Provider):
    id = "slack"
    name = "Slack"
    description = "Send scan notifications and finding alerts to Slack channels"
    credentials = SlackCredentials
    config = SlackConfig
    supported_events = (
        "scan.started",
        "scan.completed",
        "scan.failed",
        "finding.critical",
        "finding.high",
        "report.ready",
    )
