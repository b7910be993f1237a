"""A local Jira Cloud (REST v3) that checks what Jira checks and answers as Jira documents.

It checks Basic auth, the project, the issue type, the fields' shapes (summary of one line within 255 UTF-16
code units, labels without spaces, a known priority, a description that is an Atlassian Document Format doc)
and answers 201 ``{id, key, self}`` or Jira's error body ``{"errorMessages": [...], "errors": {field: msg}}``.
A project may refuse ``priority`` as projects whose create screen lacks it do. Scripted replies
(``FakeReceiver.script``) come first, for 403, 429, 5xx, slow answers and resets.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from tests.providers.fakes import FakeReceiver, Recorded, Reply

ISSUE_TYPES = ("Bug", "Task", "Story")
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
# Jira's limit for a text field such as the description (counted here on the document as JSON, which is stricter).
DESCRIPTION_LIMIT = 32_767
FIELDS = frozenset({"project", "issuetype", "summary", "description", "labels", "priority"})
INLINE_MARKS = frozenset({"strong", "em", "code", "link"})


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
        self._issues_lock = threading.Lock()

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
        if not is_adf_doc(fields.get("description")):
            problems["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
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


def is_adf_doc(node: Any) -> bool:
    """Whether ``node`` is an ADF doc made of the nodes our issues use (headings, paragraphs, bullet lists)."""
    return (
        isinstance(node, dict)
        and node.get("type") == "doc"
        and node.get("version") == 1
        and isinstance(node.get("content"), list)
        and all(_is_block(child) for child in node["content"])
    )


def _is_block(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    kind, content = node.get("type"), node.get("content", [])
    if kind == "paragraph":
        return isinstance(content, list) and all(_is_inline(child) for child in content)
    if kind == "heading":
        level_ok = (node.get("attrs") or {}).get("level") in range(1, 7)
        return level_ok and isinstance(content, list) and all(_is_inline(child) for child in content)
    if kind == "bulletList":
        return isinstance(content, list) and bool(content) and all(_is_list_item(child) for child in content)
    return False


def _is_list_item(node: Any) -> bool:
    content = node.get("content") if isinstance(node, dict) else None
    return (
        isinstance(node, dict)
        and node.get("type") == "listItem"
        and isinstance(content, list)
        and bool(content)
        and all(_is_block(child) for child in content)
    )


def _is_inline(node: Any) -> bool:
    if not isinstance(node, dict) or node.get("type") != "text":
        return False
    text, marks = node.get("text"), node.get("marks", [])
    # ADF refuses empty text nodes.
    return isinstance(text, str) and bool(text) and isinstance(marks, list) and all(_is_mark(m) for m in marks)


def _is_mark(mark: Any) -> bool:
    if not isinstance(mark, dict) or mark.get("type") not in INLINE_MARKS:
        return False
    return mark["type"] != "link" or isinstance((mark.get("attrs") or {}).get("href"), str)
