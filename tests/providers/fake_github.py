"""A local GitHub REST API (issues of one repository) that checks and answers as GitHub documents.

It checks the bearer token (401 "Bad credentials"), ``X-GitHub-Api-Version`` (400 for an unsupported one), the
repository (404 "Not Found"), issues being enabled (410), and the issue's fields: a title of 1 to 256
characters, a body within 65,536, labels as strings (422 "Validation Failed" with ``errors``); it answers 201
with ``number`` and ``html_url``, and ``GET /repos/{owner}/{repo}`` with the repository. Every create-issue body
is validated first against the request-body schema of GitHub's own OpenAPI description (extracted by
``tools/github_schemas.py``), before any scripted reply: GitHub answers 422 "Invalid request" to what it rejects.
Scripted replies (``FakeReceiver.script``) come next, for secondary rate limits, 5xx and resets.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from tests.providers import schemas
from tests.providers.fakes import FakeReceiver, Recorded, Reply

API_VERSIONS = ("2022-11-28", "2026-03-10")
CREATE_ISSUE_SCHEMA = "github-issues-create.request.schema.json"  # from GitHub's OpenAPI description
CREATE_ISSUE_PATH = re.compile(r"/repos/[^/]+/[^/]+/issues")


def create_issue_problems(body: Any) -> list[str]:
    """Why the request-body schema of GitHub's ``issues/create`` rejects ``body`` (empty when it accepts it)."""
    return schemas.problems(CREATE_ISSUE_SCHEMA, body)


class FakeGitHub(FakeReceiver):
    """GitHub's issues endpoints for one token and its repositories."""

    def __init__(
        self, token: str, repositories: tuple[str, ...] = ("acme/webapp",), *, has_issues: bool = True
    ) -> None:
        super().__init__()
        self.token = token
        self.repositories = repositories
        self.has_issues = has_issues
        self.issues: list[dict[str, Any]] = []
        self.refused: list[list[str]] = []  # the OpenAPI schema's reasons, one list per body it rejected
        self._lock = threading.Lock()

    def refusal(self, request: Recorded) -> Reply | None:
        """GitHub's answer to a create-issue body its OpenAPI description's schema rejects."""
        if request.method != "POST" or not CREATE_ISSUE_PATH.fullmatch(request.path.split("?")[0]):
            return None
        try:
            body = request.json()
        except ValueError:
            return None  # default_reply answers "Problems parsing JSON"
        problems = create_issue_problems(body)
        if not problems:
            return None
        with self._lock:
            self.refused.append(problems)
        return _error(422, "Invalid request.\n\n" + "\n".join(problems))

    def default_reply(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Bad credentials")
        version = request.headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            return _error(400, f"Unsupported 'X-GitHub-Api-Version': {version}")
        path = request.path.split("?")[0]
        repository = path.removeprefix("/repos/").removesuffix("/issues")
        if not path.startswith("/repos/") or repository not in self.repositories:
            return _error(404, "Not Found")
        if request.method == "GET" and not path.endswith("/issues"):
            owner, name = repository.split("/")
            return Reply(
                200, {"full_name": repository, "name": name, "owner": {"login": owner}, "has_issues": self.has_issues}
            )
        if request.method != "POST" or not path.endswith("/issues"):
            return _error(404, "Not Found")
        if not self.has_issues:
            return _error(410, "Issues are disabled for this repo")
        try:
            issue = request.json()
        except ValueError:
            return _error(400, "Problems parsing JSON")
        errors = issue_problems(issue)
        if errors:
            return Reply(422, {"message": "Validation Failed", "errors": errors, "status": "422"})
        with self._lock:
            self.issues.append(issue)
            number = len(self.issues)
        url = f"https://github.example/{repository}/issues/{number}"
        return Reply(201, {"number": number, "html_url": url, "title": issue["title"], "state": "open"})


def _error(status: int, message: str) -> Reply:
    return Reply(
        status, {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
    )


def issue_problems(issue: Any) -> list[dict[str, str]]:
    """GitHub's validation errors for a create-issue body (empty when it would open the issue)."""
    if not isinstance(issue, dict):
        return [{"resource": "Issue", "code": "invalid", "field": "body"}]
    problems = []
    title = issue.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append({"resource": "Issue", "code": "missing_field", "field": "title"})
    elif len(title) > 256:
        problems.append(
            {
                "resource": "Issue",
                "code": "custom",
                "field": "title",
                "message": "title is too long (maximum is 256 characters)",
            }
        )
    body = issue.get("body")
    if body is not None and (not isinstance(body, str) or len(body) > 65_536):
        problems.append(
            {
                "resource": "Issue",
                "code": "custom",
                "field": "body",
                "message": "body is too long (maximum is 65536 characters)",
            }
        )
    labels = issue.get("labels", [])
    if not isinstance(labels, list) or any(not isinstance(label, str) or not label for label in labels):
        problems.append({"resource": "Issue", "code": "invalid", "field": "labels"})
    unknown = set(issue) - {"title", "body", "labels", "assignees", "milestone", "type"}
    problems += [{"resource": "Issue", "code": "invalid", "field": name} for name in sorted(unknown)]
    return problems
