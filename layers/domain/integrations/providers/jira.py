"""Jira Cloud issues through REST API v3."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from integrations.providers.base import EmailAddress, Provider, ProviderModel, check_destination_url


class JiraCredentials(ProviderModel):
    baseUrl: Annotated[str, AfterValidator(check_destination_url)] = Field(
        description="Jira instance URL (e.g. https://yourteam.atlassian.net)"
    )
    email: EmailAddress = Field(description="Jira account email")
    apiToken: Annotated[str, StringConstraints(min_length=1, max_length=512)] = Field(description="Jira API token")


class JiraConfig(ProviderModel):
    # Jira project keys start with an upper-case letter, then upper-case letters, digits or underscores.
    projectKey: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{1,254}$")] = Field(
        description="Jira project key (e.g. SEC)"
    )
    issueType: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description='Issue type name (defaults to "Bug")'
    )


class Jira(Provider):
    id = "jira"
    name = "Jira"
    description = "Automatically create Jira issues for discovered vulnerabilities"
    credentials = JiraCredentials
    config = JiraConfig
    supported_events = ("finding.new", "finding.critical", "finding.high")
