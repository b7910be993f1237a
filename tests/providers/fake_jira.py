"""A local Jira Cloud (REST v3) that checks what Jira checks and answers as Jira documents.

It checks Basic auth, the project, the issue type, the fields' shapes (summary of one line within 255 UTF-16
code units, labels without spaces, a known priority, a description that is an Atlassian Document Format doc)
and answers 201 ``{id, key, self}`` or Jira's error body ``{"errorMessages": [...], "errors": {field: msg}}``.
A project may refuse ``priority`` as projects whose create screen lacks it do. Every description is validated
against Atlassian's own ADF JSON schema (``tests/fixtures/adf-schema-57.7.22.full.json``) before any scripted
reply, so none of the messages the tests send escapes it. Scripted replies (``FakeReceiver.script``) come next,
for 403, 429, 5xx, slow answers and resets.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from tests.providers import schemas
from tests.providers.fakes import FakeReceiver, Recorded, Reply

ISSUE_TYPES = ("Bug", "Task", "Story")
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
# Jira's limit for a text field such as the description (counted here on the document as JSON, which is stricter).
DESCRIPTION_LIMIT = 32_767
FIELDS = frozenset({"project", "issuetype", "summary", "description", "labels", "priority"})
ADF_SCHEMA = "adf-schema-57.7.22.full.json"
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


def adf_problems(document: Any) -> list[str]:
    """Why Atlassian's ADF JSON schema (``@atlaskit/adf-schema``) rejects ``document`` (empty when valid)."""
    return schemas.problems(ADF_SCHEMA, document)


class FakeJira(FakeReceiver):
    """Jira Cloud's issue and project endpoints for one account (email and API token) and its projects."""

    def __init__(
        self, email: str, api_token: str, projects: tuple[str, ...] = ("SEC",), *, priority_settable: bool = True
    ) -> None:
        super().__init__()
        self._authorization = "Basic " + base64.b64encode(f"{email}:{api_token}".encode()).decode()
        self.projects = projects
        self.priority_settable = priority_settable
        self.create_delay = 0.0  # seconds Jira takes to create an issue (to overlap concurrent deliveries)
        self.issues: list[dict[str, Any]] = []  # the fields of every issue created
        self.refused: list[list[str]] = []  # the ADF schema's reasons, one list per description it rejected
        self._issues_lock = threading.Lock()

    def refusal(self, request: Recorded) -> Reply | None:
        """Jira's answer to a new issue whose description Atlassian's ADF schema rejects."""
        if request.method != "POST" or request.path != "/rest/api/3/issue":
            return None
        try:
            description = request.json()["fields"]["description"]
        except (ValueError, KeyError, TypeError):
            return None  # default_reply says what is wrong
        problems = adf_problems(description)
        if not problems:
            return None
        with self._issues_lock:
            self.refused.append(problems)
        return _errors(400, [], {"description": NOT_ADF})

    def default_reply(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != self._authorization:
            return _errors(401, ["You are not authenticated. Authentication required to perform this operation."])
        if request.method == "GET" and request.path.startswith("/rest/api/3/project/"):
            return self._project(request.path.removeprefix("/rest/api/3/project/"))
        if request.method == "POST" and request.path == "/rest/api/3/issue":
            return self._create(request)
        return _errors(404, ["Not found"])

    def _project(self, key: str) -> Reply:
        if key not in self.projects:
            return _errors(404, [f"No project could be found with key '{key}'."])
        return Reply(200, {"id": "10000", "key": key, "name": f"{key} project", "projectTypeKey": "software"})

    def _create(self, request: Recorded) -> Reply:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return Reply(415, "Unsupported Media Type")
        try:
            fields = request.json()["fields"]
        except (ValueError, KeyError, TypeError):
            return _errors(400, ["Unexpected request body: expected an object with 'fields'."])
        problems = self.field_problems(fields)
        if problems:
            return _errors(400, [], problems)
        with self._issues_lock:
            self.issues.append(fields)
            number = len(self.issues)
        if self.create_delay and self.closing.wait(self.create_delay):
            return Reply(503)  # the test is over
        issue_id = str(10000 + number)
        key = f"{fields['project']['key']}-{number}"
        return Reply(201, {"id": issue_id, "key": key, "self": f"{self.url}/rest/api/3/issue/{issue_id}"})

    def field_problems(self, fields: Any) -> dict[str, str]:
        """Jira's per-field errors for an issue's ``fields`` (empty when it would create the issue)."""
        if not isinstance(fields, dict):
            return {"fields": "must be an object"}
        problems = {name: _cannot_be_set(name) for name in fields if name not in FIELDS}
        if not self.priority_settable and "priority" in fields:
            problems["priority"] = _cannot_be_set("priority")
        if (fields.get("project") or {}).get("key") not in self.projects:
            problems["project"] = "valid project is required"
        if (fields.get("issuetype") or {}).get("name") not in ISSUE_TYPES:
            problems["issuetype"] = "Specify a valid issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            problems["summary"] = "You must specify a summary of the issue."
        elif len(summary.encode("utf-16-le")) > 255 * 2:
            problems["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            problems["summary"] = "The summary is invalid because it contains newline characters."
        if "description" not in fields:  # the schema's check is the refusal, before any scripted reply
            problems["description"] = NOT_ADF
        elif len(json.dumps(fields["description"], ensure_ascii=False)) > DESCRIPTION_LIMIT:
            problems["description"] = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or any(not isinstance(label, str) or " " in label for label in labels):
            problems["labels"] = "The label contains spaces which is invalid."
        if "priority" in fields and (fields["priority"] or {}).get("name") not in PRIORITIES:
            problems.setdefault("priority", "Specify a valid priority")
        return problems


def _cannot_be_set(name: str) -> str:
    return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."


def _errors(status: int, messages: list[str], errors: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"errorMessages": messages, "errors": errors or {}})
