"""A local Splunk HTTP Event Collector that checks and answers as HEC documents.

``POST /services/collector/event`` with ``Authorization: Splunk <token>``: no header → 401 code 2 "Token is
required"; another scheme → 401 code 3 "Invalid authorization"; a wrong token → 403 code 4 "Invalid token"; a
body that is not JSON events → 400 code 6 "Invalid data format"; an event without ``event`` → 400 code 12, a
blank one → 400 code 13; ``time`` not a number → 400 code 6; an index the token may not write → 400 code 7
"Incorrect index"; ``busy`` set → 503 code 9 "Server is busy". Success: 200 ``{"text": "Success", "code": 0}``.
Scripted replies (``FakeReceiver.script``) come first.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from tests.providers import webhook_contract
from tests.providers.fakes import FakeReceiver, Recorded, Reply

EVENT_PATH = "/services/collector/event"
FIELDS = frozenset({"time", "host", "source", "sourcetype", "index", "event", "fields"})


class FakeSplunk(FakeReceiver):
    """One HEC token and the indexes it may write."""

    def __init__(self, token: str, indexes: tuple[str, ...] = ("main", "security")) -> None:
        super().__init__()
        self.token = token
        self.indexes = indexes
        self.busy = False
        self.events: list[dict[str, Any]] = []
        # Each event's `event` is the webhook body: checked against openapi.json's webhooks (HEC itself would take
        # any JSON there, so this fails the test on leaving the fake rather than changing HEC's answer).
        self.contract_violations: list[list[str]] = []

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        super().__exit__(kind, error, tb)
        if error is None and self.contract_violations:
            raise AssertionError(f"HEC events that openapi.json's webhooks do not describe: {self.contract_violations}")

    def default_reply(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path.split("?")[0] != EVENT_PATH:
            return Reply(404, {"text": "The requested URL was not found on this server.", "code": 404})
        authorization = request.headers.get("authorization")
        if not authorization:
            return _hec(401, "Token is required", 2)
        scheme, _, token = authorization.partition(" ")
        if scheme != "Splunk" or not token:
            return _hec(401, "Invalid authorization", 3)
        if token != self.token:
            return _hec(403, "Invalid token", 4)
        if self.busy:
            return _hec(503, "Server is busy", 9)
        try:
            events = list(_json_events(request.body.decode()))
        except ValueError:
            return _hec(400, "Invalid data format", 6)
        if not events:
            return _hec(400, "No data", 5)
        for number, event in enumerate(events):
            problem = self.event_problem(event)
            if problem:
                text, code = problem
                return Reply(400, {"text": text, "code": code, "invalid-event-number": number})
        self.events += events
        self.contract_violations += filter(None, (webhook_contract.body_problems(event["event"]) for event in events))
        return _hec(200, "Success", 0)

    def event_problem(self, event: Any) -> tuple[str, int] | None:
        """HEC's refusal of one event, or None."""
        if not isinstance(event, dict) or set(event) - FIELDS:
            return "Invalid data format", 6
        if "event" not in event:
            return "Event field is required", 12
        if event["event"] in ("", None, {}):
            return "Event field cannot be blank", 13
        if "time" in event and (isinstance(event["time"], bool) or not isinstance(event["time"], int | float)):
            return "Invalid data format", 6
        if "index" in event and event["index"] not in self.indexes:
            return "Incorrect index", 7
        for name in ("host", "source", "sourcetype"):
            if name in event and not isinstance(event[name], str):
                return "Invalid data format", 6
        return None


def _hec(status: int, text: str, code: int) -> Reply:
    return Reply(status, {"text": text, "code": code})


def _json_events(text: str) -> Any:
    """HEC takes one or more JSON objects, one after the other."""
    decoder = json.JSONDecoder()
    position = 0
    text = text.strip()
    while position < len(text):
        event, position = decoder.raw_decode(text, position)
        yield event
        while position < len(text) and text[position].isspace():
            position += 1
