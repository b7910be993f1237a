"""The provider registry: the one explicit list of providers, in the catalog's order."""

from __future__ import annotations

from integrations.providers.base import Provider
from integrations.providers.email import Email
from integrations.providers.jira import Jira
from integrations.providers.pagerduty import PagerDuty
from integrations.providers.slack import Slack
from integrations.providers.webhook import Webhook

PROVIDERS: dict[str, type[Provider]] = {p.id: p for p in (Slack, Webhook, Jira, PagerDuty, Email)}

__all__ = ["PROVIDERS", "Provider"]
