"""Local Microsoft Teams (Workflows), Discord and Google Chat webhooks that check and answer as each documents.

- ``FakeTeams``: a Workflows "When a Teams webhook request is received" trigger. Refuses a card the Adaptive
  Cards 1.4 JSON schema rejects (400, even when a reply is scripted), a wrong ``sig`` (401), a message that is
  not one Adaptive Card attachment or past 28 KB (400); accepts with 202 and an empty body, as Workflows does.
- ``FakeDiscord``: a webhook ``/api/webhooks/{id}/{token}``. Checks the token (401, code 50027) and Discord's
  message limits and embed timestamps (400, code 50035 "Invalid Form Body" naming the field); answers 200 with
  the message when ``wait=true``, else 204, with ``X-RateLimit-*`` headers. With ``rate_limited`` set, a sixth
  message within 2 s answers 429 with JSON ``retry_after`` and ``global``, as Discord's webhook bucket does.
- ``FakeGoogleChat``: a space's incoming webhook. Checks ``key`` and ``token`` (401/403 with Google's error body),
  ``messageReplyOption``, the 32,000-byte limit and the card's shape (400 INVALID_ARGUMENT); keeps threads by
  ``threadKey`` and answers the created message. With ``rate_limited`` set, a second message within a second
  answers 429 RESOURCE_EXHAUSTED. Every message is first parsed as the Chat API parses it, into the
  ``google.chat.v1.Message`` protobuf of Google's own client (``google-apps-chat``): an unknown field, a wrong
  type or two kinds in one widget answer 400 "Invalid JSON payload received", even when a reply is scripted.
Scripted replies (``FakeReceiver.script``) come first, for 5xx, slow answers and resets.
"""

from __future__ import annotations

import json
import threading
import time
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import jsonschema_rs
from google.protobuf import json_format
from rfc3339_validator import validate_rfc3339

from tests.conftest import ROOT
from tests.providers.fakes import FakeReceiver, Recorded, Reply

if TYPE_CHECKING:
    from google.apps import chat_v1

ADAPTIVE_CARD_SCHEMA = ROOT / "tests" / "fixtures" / "adaptive-card-1.4.schema.json"


@cache
def adaptive_card_validator() -> jsonschema.protocols.Validator:
    """The Adaptive Cards 1.4 JSON schema (draft-06), as adaptivecards.io publishes it."""
    schema = json.loads(ADAPTIVE_CARD_SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def adaptive_card_problems(card: Any) -> list[str]:
    """Why the schema rejects ``card`` (empty when it is a valid Adaptive Card), its formats (``uri-reference``…)
    included, which ``jsonschema`` checks only with optional packages."""
    errors = adaptive_card_validator().iter_errors(card)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    return problems or [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in _formats().iter_errors(card)]


@cache
def _formats() -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads(ADAPTIVE_CARD_SCHEMA.read_text()), validate_formats=True)


class FakeTeams(FakeReceiver):
    """A Teams Workflows webhook trigger."""

    PATH = "/workflows/0c5a3f1e2b7d4e6f8a9b0c1d2e3f4a5b/triggers/manual/paths/invoke"
    SIG = "Zk3nQ0teams-sig-0123456789abcdefABCDEF"

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return f"{self.url}{self.PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.SIG}"

    def default_reply(self, request: Recorded) -> Reply:
        parts = urlsplit(request.path)
        if request.method != "POST" or parts.path != self.PATH:
            return Reply(404, {"error": {"code": "WorkflowNotFound", "message": "The workflow was not found."}})
        if parse_qs(parts.query).get("sig") != [self.SIG]:
            return Reply(401, {"error": {"code": "DirectApiInvalidAuthorizationSignature", "message": "bad sig"}})
        if len(request.body) > 28_000:
            return Reply(400, {"error": {"code": "MessageTooLarge", "message": "The message is larger than 28 KB."}})
        card = _the_card(request)
        if card is None:
            return Reply(400, {"error": {"code": "InvalidRequestContent", "message": "Not one Adaptive Card."}})
        self.cards.append(card)
        return Reply(202, b"")

    def refusal(self, request: Recorded) -> Reply | None:
        """Teams' answer to a card the Adaptive Cards schema rejects, before any scripted reply."""
        card = _the_card(request) if request.method == "POST" else None
        problems = adaptive_card_problems(card) if card is not None else []
        if not problems:
            return None
        return Reply(400, {"error": {"code": "InvalidCard", "message": "; ".join(problems)[:500]}})


def _the_card(request: Recorded) -> Any:
    """The one Adaptive Card a Workflows message carries, or None when it is not such a message."""
    try:
        message = request.json()
        (attachment,) = message["attachments"]
        assert message["type"] == "message"
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        return attachment["content"]
    except (ValueError, KeyError, TypeError, AssertionError):
        return None


class FakeDiscord(FakeReceiver):
    """A Discord channel webhook."""

    WEBHOOK_ID = "1234567890123456789"
    TOKEN = "dIsCoRd-webhook-token_0123456789abcdefABCDEF0123456789abcdefABCDEF012345"
    BUCKET_SIZE, BUCKET_SECONDS = 5, 2.0

    def __init__(self, *, rate_limited: bool = False) -> None:
        super().__init__()
        self.rate_limited = rate_limited
        self.messages: list[dict[str, Any]] = []
        self._sent_at: list[float] = []
        self._bucket_lock = threading.Lock()

    @property
    def path(self) -> str:
        return f"/api/webhooks/{self.WEBHOOK_ID}/{self.TOKEN}"

    @property
    def webhook_url(self) -> str:
        return self.url + self.path

    def default_reply(self, request: Recorded) -> Reply:
        parts = urlsplit(request.path)
        if not parts.path.startswith(f"/api/webhooks/{self.WEBHOOK_ID}/"):
            return Reply(404, {"message": "Unknown Webhook", "code": 10015})
        if parts.path != self.path:
            return Reply(401, {"message": "Invalid Webhook Token", "code": 50027})
        limited = self._take()
        if limited is not None:
            return limited
        try:
            message = request.json()
        except ValueError:
            return Reply(400, {"message": "Cannot send an empty message", "code": 50006})
        errors = discord_problems(message)
        if errors:
            return Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": errors})
        self.messages.append(message)
        headers = self._headers()
        if parse_qs(parts.query).get("wait") == ["true"]:
            return Reply(200, {"id": str(1000 + len(self.messages)), "type": 0, **message}, headers)
        return Reply(204, b"", headers)

    def _take(self) -> Reply | None:
        with self._bucket_lock:
            now = time.monotonic()
            self._sent_at = [t for t in self._sent_at if now - t < self.BUCKET_SECONDS]
            if self.rate_limited and len(self._sent_at) >= self.BUCKET_SIZE:
                wait = round(self.BUCKET_SECONDS - (now - self._sent_at[0]), 3)
                headers = {**self._headers(), "Retry-After": str(max(1, round(wait))), "X-RateLimit-Scope": "user"}
                return Reply(
                    429, {"message": "You are being rate limited.", "retry_after": wait, "global": False}, headers
                )
            self._sent_at.append(now)
            return None

    def _headers(self) -> dict[str, str]:
        remaining = max(0, self.BUCKET_SIZE - len(self._sent_at))
        return {
            "X-RateLimit-Limit": str(self.BUCKET_SIZE),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": f"{self.BUCKET_SECONDS:.3f}",
            "X-RateLimit-Bucket": "apviso-fake-bucket",
        }


def discord_problems(message: Any) -> dict[str, str]:
    """Discord's documented limits for an execute-webhook body, as {field: error} (empty when within them)."""
    if not isinstance(message, dict) or not (message.get("content") or message.get("embeds")):
        return {"content": "Cannot send an empty message"}
    problems: dict[str, str] = {}
    if len(message.get("content") or "") > 2000:
        problems["content"] = "Must be 2000 or fewer in length."
    embeds = message.get("embeds") or []
    if len(embeds) > 10:
        problems["embeds"] = "Must be 10 or fewer in length."
    total = 0
    for i, embed in enumerate(embeds):
        limits = {"title": 256, "description": 4096}
        for name, limit in limits.items():
            if len(embed.get(name) or "") > limit:
                problems[f"embeds.{i}.{name}"] = f"Must be {limit} or fewer in length."
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems[f"embeds.{i}.fields"] = "Must be 25 or fewer in length."
        for j, field in enumerate(fields):
            if not field.get("name") or len(field["name"]) > 256:
                problems[f"embeds.{i}.fields.{j}.name"] = "Must be between 1 and 256 in length."
            if not field.get("value") or len(field["value"]) > 1024:
                problems[f"embeds.{i}.fields.{j}.value"] = "Must be between 1 and 1024 in length."
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            problems[f"embeds.{i}.footer.text"] = "Must be 2048 or fewer in length."
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > 256:
            problems[f"embeds.{i}.author.name"] = "Must be 256 or fewer in length."
        if not isinstance(embed.get("color", 0), int) or not 0 <= embed.get("color", 0) <= 0xFFFFFF:
            problems[f"embeds.{i}.color"] = "Int value should be between 0 and 16777215."
        # Discord's API description: the url is an http(s) URL of at most 2048 characters, the timestamp an
        # RFC 3339 date-time (format: date-time).
        url = embed.get("url")
        if url is not None and not (
            isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 2048
        ):
            problems[f"embeds.{i}.url"] = "Not a well formed URL, or longer than 2048."
        timestamp = embed.get("timestamp")
        if timestamp is not None and not (isinstance(timestamp, str) and validate_rfc3339(timestamp)):
            problems[f"embeds.{i}.timestamp"] = f"Could not parse {timestamp}. Should be ISO8601."
        total += len(embed.get("title") or "") + len(embed.get("description") or "") + len(footer) + len(author)
        total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
    if total > 6000:
        problems["embeds"] = "Embed size exceeds maximum size of 6000"
    return problems


@cache
def chat_message_type() -> type[chat_v1.Message]:
    """The Chat API's ``Message`` type from Google's client (a few seconds to import: never inside a request)."""
    from google.apps import chat_v1  # here, not at the top: only the Google Chat tests pay for the import

    return chat_v1.Message


def chat_api_problem(message: Any) -> str | None:
    """Why the Chat API's own ``Message`` protobuf cannot parse ``message`` (None when it can)."""
    try:
        chat_message_type().from_json(json.dumps(message), ignore_unknown_fields=False)
    except json_format.ParseError as error:
        return str(error).split("\n")[0][:500]
    return None


class FakeGoogleChat(FakeReceiver):
    """A Google Chat space's incoming webhook."""

    SPACE = "AAAAapviso1"
    KEY = "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"
    TOKEN = "chat-token-0123456789abcdefABCDEF_-0123456789abc%3D"

    def __init__(self, *, rate_limited: bool = False) -> None:
        super().__init__()
        self.rate_limited = rate_limited
        self.messages: list[dict[str, Any]] = []
        self.threads: dict[str, str] = {}  # threadKey → thread name
        self.refused: list[str] = []  # why the Chat API's Message type could not parse a message
        self._last_at = 0.0
        self._chat_lock = threading.Lock()
        chat_message_type()  # imported now, so that the first request is answered as fast as the others

    @property
    def path(self) -> str:
        return f"/v1/spaces/{self.SPACE}/messages"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}{self.path}?key={self.KEY}&token={self.TOKEN}"

    def refusal(self, request: Recorded) -> Reply | None:
        """Chat's answer to a message its API's ``Message`` type cannot parse."""
        if request.method != "POST" or urlsplit(request.path).path != self.path:
            return None
        try:
            message = request.json()
        except ValueError:
            return None  # default_reply answers "Invalid JSON payload received."
        problem = chat_api_problem(message)
        if problem is None:
            return None
        with self._chat_lock:
            self.refused.append(problem)
        return _google_error(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {problem}")

    def default_reply(self, request: Recorded) -> Reply:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if request.method != "POST" or parts.path != self.path:
            return _google_error(404, "NOT_FOUND", "Requested entity was not found.")
        if query.get("key") != [self.KEY]:
            return _google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        if query.get("token") != [self.TOKEN.replace("%3D", "=")]:
            return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        option = query.get("messageReplyOption", ["MESSAGE_REPLY_OPTION_UNSPECIFIED"])[0]
        if option not in (
            "MESSAGE_REPLY_OPTION_UNSPECIFIED",
            "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
            "REPLY_MESSAGE_OR_FAIL",
        ):
            return _google_error(400, "INVALID_ARGUMENT", f"Invalid value at 'message_reply_option' ({option})")
        if len(request.body) > 32_000:
            return _google_error(400, "INVALID_ARGUMENT", "Message too large: at most 32,000 bytes.")
        try:
            message = request.json()
        except ValueError:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        problem = chat_problem(message)
        if problem:
            return _google_error(400, "INVALID_ARGUMENT", problem)
        with self._chat_lock:
            now = time.monotonic()
            if self.rate_limited and now - self._last_at < 1.0:
                return _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Write requests'.")
            self._last_at = now
            self.messages.append(message)
            number = len(self.messages)
            key = (message.get("thread") or {}).get("threadKey")
            if key and option != "MESSAGE_REPLY_OPTION_UNSPECIFIED":
                thread = self.threads.setdefault(key, f"spaces/{self.SPACE}/threads/t{len(self.threads) + 1}")
            else:
                thread = f"spaces/{self.SPACE}/threads/n{number}"
        name = f"spaces/{self.SPACE}/messages/m{number}"
        return Reply(200, {"name": name, "text": message.get("text", ""), "thread": {"name": thread}})


def _google_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": code}})


def chat_problem(message: Any) -> str | None:
    """Why Chat would refuse ``message`` (the parts of its Message resource that we use), or None."""
    if not isinstance(message, dict) or not (message.get("text") or message.get("cardsV2")):
        return "Message cannot be empty: set text or cardsV2."
    unknown = set(message) - {"text", "cardsV2", "thread", "fallbackText"}
    if unknown:
        return f"Unknown name {sorted(unknown)[0]!r}: Cannot find field."
    for card in message.get("cardsV2") or []:
        body = card.get("card") if isinstance(card, dict) else None
        if not isinstance(body, dict) or not card.get("cardId"):
            return "cardsV2 items need cardId and card."
        for section in body.get("sections") or []:
            for widget in section.get("widgets") or []:
                kinds = set(widget) & {"decoratedText", "textParagraph", "buttonList", "divider"}
                if len(kinds) != 1:
                    return "Each widget must be exactly one of the known kinds."
                if "decoratedText" in widget and not widget["decoratedText"].get("text"):
                    return "decoratedText.text is required."
                for button in (widget.get("buttonList") or {}).get("buttons") or []:
                    if not str(button.get("onClick", {}).get("openLink", {}).get("url", "")).startswith("http"):
                        return "A button's openLink needs an http(s) url."
    thread = message.get("thread")
    if thread is not None and (not isinstance(thread, dict) or len(str(thread.get("threadKey", ""))) > 4000):
        return "thread.threadKey must be a string of at most 4000 characters."
    return None
