"""Jira Cloud issues through REST API v3.

Decisions:
- One issue per (integration, finding), remembered a year under ``jira:{integration_id}:{finding_id}``, with
  concurrent deliveries of one finding creating one issue (``once_per_finding``: a conditional reservation).
  Jira's JQL search is eventually consistent, so it cannot tell whether an issue was just created.
  Left open: when Jira creates the issue but the attempt dies before remembering its key, the retry creates
  a second issue.
- Projects whose create screen lacks Priority answer 400 "Field 'priority' cannot be set": the same attempt
  sends the issue once more without priority.
- The summary is the headline on one line, cut to 255 UTF-16 code units (Jira counts as Java does) with an
  ellipsis; the description is an Atlassian Document Format doc, since REST v3 refuses plain strings, with its
  heading and each fact cut to 1000 characters and no link longer than 2048 (Jira takes 32,767 characters);
  a link that is not an http(s) URL is left out.
- A finding id longer than 128 characters is hashed into the keys above.
- Jira's own error texts (``errorMessages`` and ``errors``) go into Outcome.error, scrubbed of credentials.
- The test route checks the credentials and the project with GET /rest/api/3/project/{key}; it creates
  no issue.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from integrations.providers import messages
from integrations.providers.base import EmailAddress, Provider, ProviderModel, SendContext, check_destination_url
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.http import (
    AttemptDeadline,
    HttpResponse,
    TransportError,
    attempt_deadline,
    json_object,
    outcome_from_response,
    outcome_from_transport_error,
    post,
    request,
    scrub,
)
from integrations.providers.once_per_finding import create_once, record_key

# Jira's documented limits: a summary of 255 characters on one line, a description of 32,767. Event text is cut
# to them with an ellipsis: the description's heading and each fact to DESCRIPTION_TEXT_LIMIT, and a link longer
# than messages.MAX_LINK is left out (messages.web_link), which keeps the whole description far below Jira's limit.
SUMMARY_LIMIT = 255
DESCRIPTION_TEXT_LIMIT = 1000
DEFAULT_ISSUE_TYPE = "Bug"
PRIORITIES = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low", "info": "Lowest"}


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

    @classmethod
    def destination(cls, credentials: JiraCredentials) -> str:
        return credentials.baseUrl  # rate limits are per site and not a fixed figure; a 429 holds the site

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Create the finding's issue unless it has one or another delivery is creating it."""
        secrets = cls.secret_values(delivery.credentials, delivery.config)
        return create_once(
            delivery, context.state, issue_record_key(delivery), lambda: _create_issue(delivery, secrets)
        )

    @classmethod
    def send_test(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Read the configured project: proves the credentials and the project key without creating an issue."""
        credentials: JiraCredentials = delivery.credentials
        config: JiraConfig = delivery.config
        url = f"{_api(credentials)}/project/{config.projectKey}"
        try:
            response = request("GET", url, headers=_headers(credentials))
        except TransportError as error:
            return outcome_from_transport_error(error)
        return _outcome(response, cls.secret_values(credentials, config))


def issue_record_key(delivery: Delivery) -> str | None:
    """Where the finding's issue key is remembered; None for an event without a finding."""
    return record_key("jira", delivery)


def _create_issue(delivery: Delivery, secrets: list[str]) -> tuple[Outcome, dict[str, Any] | None]:
    """POST the issue (again without priority when the project refuses it); the outcome and, on success, the issue."""
    fields = issue_fields(delivery)
    deadline = attempt_deadline()  # one attempt, even when it takes a second request
    try:
        response = _post_issue(delivery.credentials, fields, deadline)
        if "priority" in fields and _refuses_priority(response):
            first_ms = response.elapsed_ms
            without_priority = {k: v for k, v in fields.items() if k != "priority"}
            response = _post_issue(delivery.credentials, without_priority, deadline)
            response = response._replace(elapsed_ms=first_ms + response.elapsed_ms)
    except TransportError as error:
        return outcome_from_transport_error(error), None
    outcome = _outcome(response, secrets)
    if not outcome.success:
        return outcome, None
    created = json_object(response.text)
    return outcome, {"issueKey": created.get("key"), "issueId": created.get("id")}


def _outcome(response: HttpResponse, secrets: list[str]) -> Outcome:
    # Scrubbed before outcome_from_response cuts the text, so that a cut cannot leave part of a secret behind.
    detail = scrub(jira_errors(response.text) or response.text, secrets)
    return outcome_from_response(response, secrets, detail=detail)


def _post_issue(credentials: JiraCredentials, fields: dict[str, Any], deadline: AttemptDeadline) -> HttpResponse:
    return post(
        f"{_api(credentials)}/issue", json_body={"fields": fields}, headers=_headers(credentials), deadline=deadline
    )


def _api(credentials: JiraCredentials) -> str:
    return f"{credentials.baseUrl.rstrip('/')}/rest/api/3"


def _headers(credentials: JiraCredentials) -> dict[str, str]:
    # Basic auth of the UTF-8 bytes (RFC 7617), built here: requests would encode the pair as Latin-1 and raise on
    # any other character, which an address or a token may hold.
    pair = base64.b64encode(f"{credentials.email}:{credentials.apiToken}".encode()).decode()
    return {"Accept": "application/json", "Authorization": f"Basic {pair}"}


def _refuses_priority(response: HttpResponse) -> bool:
    """Jira's answer when the project's create screen has no Priority field."""
    if response.status != 400:
        return False
    body = json_object(response.text)
    errors = body.get("errors")
    if isinstance(errors, dict) and "priority" in errors:
        return True
    return any("field 'priority'" in str(message).lower() for message in body.get("errorMessages") or [])


def jira_errors(text: str) -> str | None:
    """Jira's ``errorMessages`` and ``errors`` as one line, or None when the body holds neither."""
    body = json_object(text)
    parts = [str(message) for message in body.get("errorMessages") or []]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts += [f"{field}: {message}" for field, message in errors.items()]
    return "; ".join(parts) or None


def issue_fields(delivery: Delivery) -> dict[str, Any]:
    """The ``fields`` of the issue to create."""
    config: JiraConfig = delivery.config
    severity = delivery.event.severity
    fields: dict[str, Any] = {
        "project": {"key": config.projectKey},
        "issuetype": {"name": config.issueType or DEFAULT_ISSUE_TYPE},
        "summary": summary(messages.headline(delivery)),
        "description": description(delivery),
        "labels": ["apviso", "security"] + ([f"severity-{severity}"] if severity else []),
    }
    if severity:
        fields["priority"] = {"name": PRIORITIES[severity]}
    return fields


def summary(text: str) -> str:
    """``text`` on one line, cut to Jira's 255 characters (UTF-16 code units), with an ellipsis when cut."""
    line = " ".join(text.split())
    encoded = line.encode("utf-16-le")
    if len(encoded) <= SUMMARY_LIMIT * 2:
        return line
    # Cutting may split a surrogate pair; "ignore" drops the orphaned half.
    return encoded[: (SUMMARY_LIMIT - 1) * 2].decode("utf-16-le", errors="ignore") + messages.ELLIPSIS


def description(delivery: Delivery) -> dict[str, Any]:
    """The issue body as an Atlassian Document Format doc: headline, facts, link to Apviso."""
    facts = [
        {
            "type": "listItem",
            "content": [
                _paragraph(
                    _text(f"{label}: ", [{"type": "strong"}]), _text(messages.truncate(value, DESCRIPTION_TEXT_LIMIT))
                )
            ],
        }
        for label, value in messages.facts(delivery)
    ]
    heading = messages.truncate(messages.headline(delivery), DESCRIPTION_TEXT_LIMIT)
    content: list[dict[str, Any]] = [
        {"type": "heading", "attrs": {"level": 2}, "content": [_text(heading)]},
        {"type": "bulletList", "content": facts},
    ]
    url = messages.link(delivery)
    if url:
        content.append(_paragraph(_text("View in Apviso", [{"type": "link", "attrs": {"href": url}}])))
    content.append(_paragraph(_text(f"Created by Apviso for the integration “{delivery.integration_name}”.")))
    return {"type": "doc", "version": 1, "content": content}


def _paragraph(*texts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(texts)}


def _text(text: str, marks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "text", "text": text, **({"marks": marks} if marks else {})}
