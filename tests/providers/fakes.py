"""Fake provider receivers: real HTTP servers on loopback that record every request and answer from a script.

``FakeReceiver`` is the reusable base: each request is recorded (method, path, headers, body bytes) and
answered by the next scripted ``Reply`` (status, headers, body, optional delay), or dropped with a TCP
reset when the script says ``"reset"``; with nothing scripted, ``default_reply`` answers, which is where
a provider's fake does what the real provider would. Before either, ``refusal`` lets a fake refuse what the
provider's own schema or SDK rejects, so that no test's message escapes that check (docs/providers.md).
Use it as a context manager (or through the fixtures in conftest.py): leaving it stops the server and every
handler thread, even one still delaying.

Also here, for every provider's tests: realistic deliveries built from the sample producer events
(``events/scanner/*.json``), the test route's own sample event, and an in-memory ``ProviderState``.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Literal, Self

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block
from standardwebhooks import Webhook, WebhookVerificationError

from integrations.api import test_event
from integrations.events import Event
from integrations.platform import clock
from integrations.platform.settings import DeliverySettings
from integrations.providers.base import Provider, SendContext
from integrations.providers.delivery import TEST_EVENT_TYPE, Delivery
from tests.conftest import ROOT
from tests.providers import webhook_contract

type Body = bytes | str | dict[str, Any] | list[Any]
type Script = Reply | Literal["reset"]
LOCAL = {"allow_local_destinations": True}  # validation context: loopback receivers are allowed


@dataclass(frozen=True)
class Reply:
    """One scripted answer; a dict or list body is sent as JSON."""

    status: int = 200
    body: Body = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow provider)

    def encoded(self) -> tuple[bytes, str]:
        """The body's bytes and its default content type."""
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Recorded:
    """One request as the receiver saw it."""

    method: str
    path: str
    header_items: tuple[tuple[str, str], ...]  # as sent: names in their case, repeats kept
    body: bytes
    received_at: float = field(default_factory=time.monotonic)  # when it arrived (paced deliveries)

    @property
    def headers(self) -> dict[str, str]:
        """Headers by lower-cased name."""
        return {name.lower(): value for name, value in self.header_items}

    def header_count(self, name: str) -> int:
        """How many times ``name`` was sent, in any case."""
        return sum(1 for sent, _ in self.header_items if sent.lower() == name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


class FakeReceiver:
    """An HTTP server on 127.0.0.1 (a free port) in its own thread, recording requests and answering a script."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Script] = deque()
        self._requests: list[Recorded] = []
        self.closing = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.closing.set()  # wakes delayed handlers so that closing does not wait for them
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        self._thread.join()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: append the path the provider's URL has."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Script) -> None:
        """Answer the next requests with these, in order, before falling back to ``default_reply``."""
        with self._lock:
            self._script.extend(replies)

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Recorded:
        """The latest request (fails the test when there is none)."""
        requests = self.requests
        assert requests, "the receiver got no request"
        return requests[-1]

    def default_reply(self, request: Recorded) -> Reply:
        """What the receiver answers when nothing is scripted; providers' fakes override it."""
        return Reply(200)

    def refusal(self, request: Recorded) -> Reply | None:
        """The provider's refusal when its own schema or SDK rejects ``request`` (None when they accept it).

        Checked before any scripted reply, so every message a test sends meets the provider's artefact, even in
        a test about 5xx or resets; providers' fakes that have such an artefact override it.
        """
        return None

    def answer(self, request: Recorded) -> Script:
        """Record ``request`` and choose its answer."""
        with self._lock:
            self._requests.append(request)
        refused = self.refusal(request)
        if refused is not None:
            return refused
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        return scripted if scripted is not None else self.default_reply(request)


class _Server(ThreadingHTTPServer):
    def __init__(self, receiver: FakeReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer would resolve its own name (getfqdn), which can take seconds on some hosts.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) or a connection we reset on purpose is the test, not a failure.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: tests assert on recorded requests, not on access logs."""

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        recorded = Recorded(self.command, self.path, tuple(self.headers.items()), body)
        reply = self.server.receiver.answer(recorded)
        if reply == "reset":
            self._reset()
            return
        if reply.delay and self.server.receiver.closing.wait(reply.delay):
            return  # the test is over
        payload, content_type = reply.encoded()
        self.send_response(reply.status)
        headers = {"Content-Type": content_type, **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        # Linger 0 makes close() send RST instead of FIN: the client sees "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


class FakeSlack(FakeReceiver):
    """Slack's incoming webhook: ``ok`` for a well-formed message, Slack's error strings otherwise.

    Every message is also checked by Slack's own SDK (``slack_problems``): a message it refuses is answered
    400 ``invalid_blocks``, as Slack does, even when the test scripted another answer.
    """

    PATH = "/services/T0APVISO1/B0APVISO1/slack-token-0123456789abcdef"

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[list[str]] = []  # slack_sdk's reasons, one list per refused message

    @property
    def webhook_url(self) -> str:
        return self.url + self.PATH

    def refusal(self, request: Recorded) -> Reply | None:
        if request.method != "POST" or request.path != self.PATH:
            return None
        try:
            message = request.json()
        except ValueError:
            return None  # default_reply answers invalid_payload
        problems = slack_problems(message) if isinstance(message, dict) else []
        if not problems:
            return None
        with self._lock:
            self.refused.append(problems)
        return Reply(400, "invalid_blocks")

    def default_reply(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != self.PATH:
            return Reply(404, "no_service")
        try:
            message = request.json()
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return Reply(400, "no_text")
        if not _valid_blocks(message.get("blocks", [])):
            return Reply(400, "invalid_blocks")
        return Reply(200, "ok", {"Content-Type": "text/html"})


def _valid_blocks(blocks: Any) -> bool:
    """Block Kit's rules that slack_sdk leaves to Slack: a header's text is plain, a section's is not empty."""
    for block in blocks:
        text = block.get("text", {})
        if block["type"] == "header" and text.get("type") != "plain_text":
            return False
        if block["type"] == "section" and "fields" not in block and not text.get("text"):
            return False
    return True


MAX_BLOCKS = 50  # Slack's limit for a message (slack_sdk checks each block, not how many a message has)


def slack_problems(message: dict[str, Any]) -> list[str]:
    """Why Slack's Python SDK refuses the message's ``blocks`` and ``attachments`` (empty when it accepts them).

    Each block is parsed with slack_sdk's Block Kit models and serialised back, which runs their validators
    (Block Kit's documented limits: header 150, section 3000, button text 75 and URL 3000 characters…). A block
    that does not come back identical used a type or a field the models do not know, which Slack refuses too.
    """
    blocks, attachments = message.get("blocks", []), message.get("attachments", [])
    if not isinstance(blocks, list) or not isinstance(attachments, list):
        return ["blocks and attachments must be arrays"]
    problems = [f"{len(blocks)} blocks: at most {MAX_BLOCKS}"] if len(blocks) > MAX_BLOCKS else []
    for i, block in enumerate(blocks):
        problems += [f"blocks[{i}]: {problem}" for problem in _sdk_problems(Block.parse, block)]
    for i, attachment in enumerate(attachments):
        problems += [f"attachments[{i}]: {problem}" for problem in _sdk_problems(_attachment, attachment)]
    return problems


def _attachment(raw: dict[str, Any]) -> Attachment:
    return Attachment(**raw)


def _sdk_problems(parse: Callable[[Any], JsonObject | None], raw: Any) -> list[str]:
    try:
        parsed = parse(raw) if isinstance(raw, dict) else None
        if parsed is None:
            return [f"not a known Block Kit object: {str(raw)[:80]}"]
        serialised = parsed.to_dict()  # runs the validators, nested objects' too
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as error:
        return [str(error)]
    differences = _differences(raw, serialised)
    return [f"fields slack_sdk does not know or reads differently: {differences}"] if differences else []


def _differences(sent: Any, understood: Any, path: str = "") -> list[str]:
    """The paths where what was sent and what the SDK understood differ."""
    if isinstance(sent, dict) and isinstance(understood, dict):
        keys = sorted(set(sent) | set(understood))
        return [d for key in keys for d in _differences(sent.get(key), understood.get(key), f"{path}.{key}")]
    if isinstance(sent, list) and isinstance(understood, list) and len(sent) == len(understood):
        return [
            d for i, pair in enumerate(zip(sent, understood, strict=True)) for d in _differences(*pair, f"{path}[{i}]")
        ]
    added_empty = sent is None and understood in ([], {})  # an empty default the SDK writes out (attachments)
    return [] if sent == understood or added_empty else [path or "."]


class FakePagerDuty(FakeReceiver):
    """The Events API v2: validates each event as PagerDuty does and keeps alerts open or resolved by dedup key."""

    PATH = "/v2/enqueue"

    def __init__(self) -> None:
        super().__init__()
        self.alerts: dict[str, str] = {}  # dedup_key → "triggered" | "resolved"

    @property
    def events_url(self) -> str:
        return self.url + self.PATH

    def default_reply(self, request: Recorded) -> Reply:
        if request.path != self.PATH:
            return Reply(404, {"status": "not found"})
        try:
            event = request.json()
        except ValueError:
            return _invalid("Event object is invalid", ["Malformed JSON"])
        problems = _event_problems(event) if isinstance(event, dict) else ["Event must be an object"]
        if len(request.body) > 512 * 1024:
            problems.append("Event is larger than 512 KB")
        if problems:
            return _invalid("Event object is invalid", problems)
        key = event.get("dedup_key") or f"generated-{len(self.requests)}"
        action = event["event_action"]
        if action == "trigger":
            self.alerts[key] = "triggered"
        elif self.alerts.get(key) == "triggered" and action == "resolve":
            self.alerts[key] = "resolved"
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})


def _invalid(message: str, errors: list[str]) -> Reply:
    return Reply(400, {"status": "invalid event", "message": message, "errors": errors})


def _event_problems(event: dict[str, Any]) -> list[str]:
    """PagerDuty's documented rules for an alert event."""
    problems = []
    if not isinstance(event.get("routing_key"), str) or len(event["routing_key"]) != 32:
        problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        problems.append(
            "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"
        )
    if len(event.get("dedup_key") or "") > 255:
        problems.append("'dedup_key' is too long (maximum is 255 characters)")
    if event.get("event_action") == "trigger":
        payload = event.get("payload") or {}
        if not payload.get("summary") or len(payload["summary"]) > 1024:
            problems.append("'payload.summary' is missing or longer than 1024 characters")
        if not payload.get("source"):
            problems.append("'payload.source' is missing or blank")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append("'payload.severity' must be one of critical, error, warning or info")
    if any(not isinstance(link, dict) or not link.get("href") for link in event.get("links", [])):
        problems.append("'links' items need an 'href'")
    return problems


class FakeWebhookReceiver(FakeReceiver):
    """A customer's endpoint that verifies Standard Webhooks signatures with the ``standardwebhooks`` library.

    Every request is also checked against openapi.json's ``webhooks`` entry for its ``type`` (body and headers,
    tests/providers/webhook_contract.py), before any scripted answer: one that differs is refused with 400 and
    kept in ``contract_violations``, and leaving the receiver fails the test if any is there.
    """

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        # What we tell customers: a whsec_ secret as is, a plain one as its UTF-8 bytes.
        self._verifier = Webhook(secret if secret.startswith("whsec_") else secret.encode()) if secret else None
        self.verified: list[Any] = []  # payloads whose signature checked out
        self.contract_violations: list[list[str]] = []  # per refused request, how it differs from openapi.json

    def refusal(self, request: Recorded) -> Reply | None:
        problems = webhook_contract.problems(request.body, request.headers)
        if not problems:
            return None
        with self._lock:
            self.contract_violations.append(problems)
        return Reply(400, {"error": "the request does not match openapi.json's webhooks", "problems": problems})

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        super().__exit__(kind, error, tb)
        if error is None and self.contract_violations:
            raise AssertionError(f"webhook requests that openapi.json does not describe: {self.contract_violations}")

    def default_reply(self, request: Recorded) -> Reply:
        if self._verifier is None:
            return Reply(204)
        try:
            self.verified.append(self._verifier.verify(request.body, request.headers))
        except WebhookVerificationError as error:
            return Reply(401, f"signature rejected: {error}")
        return Reply(204)


def scanner_event(name: str, **finding: Any) -> Event:
    """A sample producer event from ``events/scanner/<name>.json``, its finding's fields overridden if given."""
    raw = json.loads((ROOT / "events" / "scanner" / f"{name}.json").read_text())
    if finding:
        raw["data"]["finding"].update(finding)
    return Event.model_validate(raw)


def make_delivery(
    provider: type[Provider],
    credentials: dict[str, Any],
    config: dict[str, Any] | None = None,
    event: Event | None = None,
    *,
    test: bool = False,
) -> Delivery:
    """A delivery as the dispatcher builds it (credentials validated with local destinations allowed)."""
    event = event or (test_event.sample("acct_local") if test else scanner_event("finding_critical"))
    return Delivery(
        delivery_id=clock.new_id(),
        event_type=TEST_EVENT_TYPE if test else event.type,
        event=event,
        account_id=event.accountId,
        integration_id=clock.new_id(),
        integration_name="Security alerts",
        credentials=provider.credentials.model_validate(credentials, context=LOCAL),
        config=provider.config.model_validate(config or {}, context=LOCAL),
        test=test,
        timestamp=clock.now(),
    )


def send_context(**environment: Any) -> SendContext:
    """Delivery settings as the dispatcher's environment would give them, and an empty provider state."""
    settings = DeliverySettings.model_validate(
        {"ALLOW_LOCAL_DESTINATIONS": True, "EMAIL_SENDER": "alerts@apviso.test", **environment}
    )
    return SendContext(settings, MemoryState())


class MemoryState:
    """``ProviderState`` in a dict (TTLs ignored: a test outlives none)."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        value = self.items.get(key)
        return value if isinstance(value, dict) else None

    def put_if_absent(self, key: str, value: dict[str, Any], ttl_seconds: int) -> bool:
        if key in self.items:
            return False
        self.items[key] = value
        return True

    def append(self, key: str, item: dict[str, Any], ttl_seconds: int) -> None:
        self.items.setdefault(key, []).append(item)

    def pop_all(self, key: str) -> list[dict[str, Any]]:
        value = self.items.pop(key, [])
        return value if isinstance(value, list) else []

    def delete(self, key: str) -> None:
        self.items.pop(key, None)
