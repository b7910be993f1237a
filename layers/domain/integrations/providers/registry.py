"""The provider registry: the one explicit list of providers, in the catalog's order."""

from __future__ import annotations

from integrations.providers.base import Provider
from integrations.providers.discord import Discord
from integrations.providers.email import Email
from integrations.providers.github import GitHub
from integrations.providers.google_chat import GoogleChat
from integrations.providers.jira import Jira
from integrations.providers.pagerduty import PagerDuty
from integrations.providers.slack import Slack
from integrations.providers.splunk import Splunk
from integrations.providers.teams import Teams
from integrations.providers.webhook import Webhook

# The seed's five first, in the seed's order; then the providers added since.
PROVIDERS: dict[str, type[Provider]] = {
    p.id: p for p in (Slack, Webhook, Jira, PagerDuty, Email, Teams, Discord, GoogleChat, GitHub, Splunk)
}

__all__ = ["PROVIDERS", "Provider"]
