"""GitHub Issues through the REST API.

Decisions:
- One issue per (integration, finding): ``POST {apiUrl}/repos/{owner}/{repo}/issues`` with
  ``{title, body, labels}``; the issue's number and URL are remembered a year under
  ``github:{integration_id}:{finding_id}``, and concurrent deliveries of one finding create one issue
  (``once_per_finding``: a conditional reservation). GitHub's search is eventually consistent, so it cannot
  tell whether an issue was just created. Left open, as for Jira: when GitHub creates the issue but the attempt
  dies before remembering it, the retry creates a second issue.
- Headers: ``Authorization: Bearer <token>`` (a fine-grained personal access token with Issues read and write
  on the repository), ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``.
- The title is the headline on one line, at most 256 characters (cut with "…"); the body is Markdown: the
  headline, the facts, the link, and who created the issue. Event text in the body is Markdown-escaped and an
  ``@`` is followed by a zero-width space, so a finding title can neither format the issue nor notify anyone.
  Labels are the configured ones (GitHub creates a missing label when the token may, and silently drops labels
  the token may not set).
- ``apiUrl``: ``https://api.github.com`` by default; GitHub Enterprise Server is ``https://HOST/api/v3`` and
  GitHub Enterprise Cloud with data residency ``https://api.SUBDOMAIN.ghe.com``.
- Errors: 201 is success. 401 (bad credentials), 403 (no permission), 404 (no such repository, or the token
  cannot see it), 410 (issues disabled) and 422 (validation failed) are permanent, with GitHub's ``message`` and
  ``errors``. GitHub's secondary rate limits answer 403 or 429: a 429, or a 403 with ``retry-after``, with
  ``x-ratelimit-remaining: 0`` or whose message says "rate limit", is retried after ``retry-after`` seconds,
  else at ``x-ratelimit-reset`` (epoch seconds), else after a minute, as GitHub asks. 5xx are retried.
- Pacing: GitHub allows at most 80 content-creating requests per minute (and 500 per hour) per token:
  ``rate_interval`` keeps to the first; past the second GitHub's answers hold the deliveries back.
- The test route reads the repository (``GET /repos/{owner}/{repo}``): it proves the token and the repository,
  and that issues are enabled, without creating an issue.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo

from integrations.providers import http, messages
from integrations.providers.base import Provider, ProviderModel, SendContext, allows_local, check_destination_url
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.once_per_finding import create_once, record_key

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_TITLE = 256
MAX_BODY = 65_536  # GitHub's limit for an issue body, in characters
MAX_VALUE = 2000
DEFAULT_WAIT = 60.0  # GitHub: without retry-after or a reset time, wait at least a minute
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def _check_api_url(value: str, info: ValidationInfo) -> str:
    check_destination_url(value, info)
    parts = urlsplit(value)
    host, path = parts.hostname or "", parts.path.rstrip("/")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    if allows_local(info):
        return value
    github_com = host == "api.github.com" and not path
    data_residency = re.fullmatch(r"api\.[a-z0-9-]+\.ghe\.com", host) is not None and not path
    if not (github_com or data_residency or path == "/api/v3"):
        raise ValueError("must be https://api.github.com or a GitHub Enterprise Server API URL (https://HOST/api/v3)")
    return value


def _check_repository(value: str) -> str:
    name = value.split("/", 1)[1]
    if name in (".", ".."):
        raise ValueError("must name a repository as owner/name")
    return value


def _check_labels(labels: list[str]) -> list[str]:
    if len(set(labels)) != len(labels):
        raise ValueError("must not repeat a label")
    return labels


# Letters, digits, spaces and common punctuation, no space at either end: ASCII, so that every regex engine (ours,
# the OpenAPI document's readers) agrees on it.
LABEL_PATTERN = r"^[A-Za-z0-9_.:/+()#&-](?:[A-Za-z0-9 _.:/+()#&-]{0,48}[A-Za-z0-9_.:/+()#&-])?$"
MAX_LABELS = 20
Label = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=LABEL_PATTERN)]


class GitHubCredentials(ProviderModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")] = Field(
        description="GitHub fine-grained personal access token with Issues read and write on the repository"
    )
    apiUrl: Annotated[str, AfterValidator(_check_api_url)] | None = Field(
        default=None,
        description="GitHub API URL: https://api.github.com (default); GitHub Enterprise Server: https://HOST/api/v3",
    )


class GitHubConfig(ProviderModel):
    repository: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"),
        AfterValidator(_check_repository),
    ] = Field(description="Repository to open issues in, as owner/name (e.g. acme/webapp)")
    labels: Annotated[list[Label], Field(max_length=MAX_LABELS), AfterValidator(_check_labels)] | None = Field(
        default=None,
        description="Labels to put on each issue (e.g. security), one per line: letters, digits, spaces, _.:/+()#&-",
    )


class GitHub(Provider):
    id = "github"
    name = "GitHub Issues"
    description = "Open a GitHub issue for each discovered vulnerability"
    credentials = GitHubCredentials
    config = GitHubConfig
    supported_events = ("finding.new", "finding.critical", "finding.high")
    rate_interval = 0.75  # GitHub: at most 80 content-creating requests per minute per token

    @classmethod
    def destination(cls, credentials: GitHubCredentials) -> str:
        return f"{api_url(credentials)}\n{credentials.token}"  # GitHub's limits are per token

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Open the finding's issue unless it has one or another delivery is opening it."""
        record = record_key("github", delivery)
        return create_once(delivery, context.state, record, lambda: _create_issue(delivery))

    @classmethod
    def send_test(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Read the repository: proves the token and the repository without opening an issue."""
        credentials: GitHubCredentials = delivery.credentials
        config: GitHubConfig = delivery.config
        try:
            response = http.request("GET", repository_url(credentials, config), headers=headers(credentials))
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        outcome = _outcome(response, cls.secret_values(credentials, config))
        if outcome.success and http.json_object(response.text).get("has_issues") is False:
            return Outcome(False, response.status, response.elapsed_ms, "Issues are disabled in this repository")
        return outcome


def api_url(credentials: GitHubCredentials) -> str:
    return (credentials.apiUrl or DEFAULT_API_URL).rstrip("/")


def repository_url(credentials: GitHubCredentials, config: GitHubConfig) -> str:
    return f"{api_url(credentials)}/repos/{config.repository}"


def headers(credentials: GitHubCredentials) -> dict[str, str]:
    return {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {credentials.token}",
        "X-GitHub-Api-Version": API_VERSION,
    }


def _create_issue(delivery: Delivery) -> tuple[Outcome, dict[str, Any] | None]:
    credentials: GitHubCredentials = delivery.credentials
    config: GitHubConfig = delivery.config
    try:
        response = http.post(
            f"{repository_url(credentials, config)}/issues", json_body=issue(delivery), headers=headers(credentials)
        )
    except http.TransportError as error:
        return http.outcome_from_transport_error(error), None
    outcome = _outcome(response, GitHub.secret_values(credentials, config))
    if not outcome.success:
        return outcome, None
    created = http.json_object(response.text)
    return outcome, {"number": created.get("number"), "url": created.get("html_url")}


def _outcome(response: http.HttpResponse, secrets: list[str]) -> Outcome:
    answer = http.json_object(response.text)
    outcome = http.outcome_from_response(response, secrets, detail=github_errors(answer))
    if response.status in (403, 429) and (response.status == 429 or _secondary_limit(response, answer)):
        limited = response.status == 403  # a 429 holds the token's other deliveries anyway
        return outcome._replace(retryable=True, retry_after=rate_limit_wait(response.headers), rate_limited=limited)
    return outcome


def _secondary_limit(response: http.HttpResponse, answer: dict[str, Any]) -> bool:
    """Whether a 403 is GitHub's rate limit rather than a missing permission."""
    message = answer.get("message")
    return (
        response.headers.get("retry-after") is not None
        or response.headers.get("x-ratelimit-remaining") == "0"
        or (isinstance(message, str) and "rate limit" in message.lower())
    )


def rate_limit_wait(headers: Any) -> float:
    """Seconds to wait, as GitHub documents: retry-after, else until x-ratelimit-reset, else a minute."""
    retry_after = http.retry_after_seconds(headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.strip().isdigit():
        return float(min(max(int(reset) - time.time(), 0.0), http.MAX_RETRY_AFTER))
    return DEFAULT_WAIT


def github_errors(answer: dict[str, Any]) -> str | None:
    """GitHub's ``message`` and each of its ``errors`` as one line, or None."""
    parts = [answer["message"]] if isinstance(answer.get("message"), str) else []
    for error in answer.get("errors") or []:
        if isinstance(error, dict):
            parts.append(
                str(error.get("message") or " ".join(str(error.get(k, "")) for k in ("field", "code")).strip())
            )
        elif isinstance(error, str):
            parts.append(error)
    return "; ".join(part for part in parts if part) or None


def issue(delivery: Delivery) -> dict[str, Any]:
    """The issue to open: title, Markdown body, configured labels."""
    config: GitHubConfig = delivery.config
    body: dict[str, Any] = {"title": title(messages.headline(delivery)), "body": markdown(delivery)}
    if config.labels:
        body["labels"] = list(config.labels)
    return body


def title(text: str) -> str:
    """``text`` on one line, at most 256 characters, an ellipsis marking a cut."""
    return messages.truncate(" ".join(text.split()), MAX_TITLE)


def escape(text: str) -> str:
    """Markdown-escaped event text in which an ``@`` cannot mention anyone."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split())).replace("@", "@\u200b")


def markdown(delivery: Delivery) -> str:
    """The issue body: the headline, the facts, the link, and where the issue came from."""
    lines = [f"### {escape(messages.truncate(messages.headline(delivery), MAX_VALUE))}", ""]
    lines += [
        f"- **{label}:** {escape(messages.truncate(value, MAX_VALUE))}" for label, value in messages.facts(delivery)
    ]
    url = messages.link(delivery)
    if url:
        lines += ["", f"[View in Apviso](<{url}>)"]
    lines += ["", f"_Opened by Apviso for the integration “{escape(delivery.integration_name)}”._"]
    return messages.truncate("\n".join(lines), MAX_BODY)
