"""Google Chat against a local space webhook that checks the message as Chat does and keeps threads by key."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.events import Event
from integrations.providers import google_chat
from integrations.providers.delivery import Outcome
from integrations.providers.google_chat import GoogleChat, message
from tests.providers.fake_chat_apps import FakeGoogleChat, chat_api_problem, chat_problem
from tests.providers.fakes import Reply, make_delivery, scanner_event, send_context
from tests.providers.oversized import oversized_event

SUPPORTED = [
    "scan_started", "scan_completed", "scan_failed", "finding_new", "finding_critical", "finding_high", "report_ready"
]  # fmt: skip


@pytest.fixture
def chat() -> Iterator[FakeGoogleChat]:
    with FakeGoogleChat() as fake:
        yield fake


def deliver(chat: FakeGoogleChat, event: Event | None = None) -> Outcome:
    return GoogleChat.send(make_delivery(GoogleChat, {"webhookUrl": chat.webhook_url}, event=event), send_context())


def assert_no_credential(outcome: Outcome) -> None:
    for secret in (FakeGoogleChat.KEY, FakeGoogleChat.TOKEN, FakeGoogleChat.TOKEN.replace("%3D", "=")):
        assert secret not in (outcome.error or "")


def test_posts_a_card_with_a_text_fallback_in_the_scans_thread(chat: FakeGoogleChat) -> None:
    outcome = deliver(chat)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    request = chat.last
    query = parse_qs(urlsplit(request.path).query)
    assert query["messageReplyOption"] == ["REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"]
    assert query["key"] == [FakeGoogleChat.KEY]
    body = request.json()
    assert body["text"] == (
        "Critical finding on https://app.example.com: SQL injection in /login\nhttps://apviso.com/findings/fnd_3K9"
    )
    assert body["thread"] == {"threadKey": "apviso-scan-scan_01J9ZQ5K2M"}
    (card,) = body["cardsV2"]
    assert card["card"]["header"]["title"] == "Critical finding on https://app.example.com: SQL injection in /login"
    facts, buttons = card["card"]["sections"]
    assert {"decoratedText": {"topLabel": "Severity", "text": "Critical", "wrapText": True}} in facts["widgets"]
    button = buttons["widgets"][0]["buttonList"]["buttons"][0]
    assert button["onClick"]["openLink"]["url"] == "https://apviso.com/findings/fnd_3K9"
    assert chat_problem(body) is None and chat_api_problem(body) is None


def test_the_events_of_one_scan_share_one_thread(chat: FakeGoogleChat) -> None:
    for name in ("scan_started", "finding_critical", "finding_high", "scan_completed"):
        assert deliver(chat, scanner_event(name)).success
    other = scanner_event("scan_started").model_dump()
    other["data"]["scan"]["id"] = "scan_other"
    assert deliver(chat, Event.model_validate(other)).success

    keys = [m["thread"]["threadKey"] for m in chat.messages]
    assert keys[:4] == ["apviso-scan-scan_01J9ZQ5K2M"] * 4
    assert keys[4] == "apviso-scan-scan_other"
    assert len(chat.threads) == 2


@pytest.mark.parametrize("name", SUPPORTED)
def test_every_supported_event_is_accepted(chat: FakeGoogleChat, name: str) -> None:
    assert deliver(chat, scanner_event(name)).success
    assert chat_api_problem(chat.last.json()) is None and chat.refused == []  # Google's Message type parses it


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        ({"text": "x", "colour": "red"}, 'Message type "google.chat.v1.Message" has no field named "colour"'),
        (
            {"cardsV2": [{"cardId": "c", "card": {"sections": [{"widgets": [{"divider": {}, "textParagraph": {}}]}]}}]},
            'should not have multiple "data" oneof fields',
        ),
        ({"text": "x", "thread": {"threadKey": 7}}, "Failed to parse threadKey field"),
    ],
)
def test_a_message_the_chat_apis_own_type_cannot_parse_is_refused_as_chat_does(
    chat: FakeGoogleChat, monkeypatch: pytest.MonkeyPatch, sent: dict[str, object], problem: str
) -> None:
    monkeypatch.setattr(google_chat, "message", lambda _: sent)
    chat.script(Reply(503))  # the check comes before any scripted answer

    outcome = deliver(chat)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 400, False)
    assert "Invalid JSON payload received." in (outcome.error or "")
    (refused,) = chat.refused
    assert problem in refused
    assert chat.messages == []


@pytest.mark.parametrize("char", ["a", "Ω", "🙂"])
def test_long_text_is_cut_visibly_within_32000_bytes(chat: FakeGoogleChat, char: str) -> None:
    delivery = make_delivery(GoogleChat, {"webhookUrl": chat.webhook_url}, event=oversized_event(char=char))

    body = message(delivery)

    assert len(json.dumps(body).encode()) <= 32_000
    assert body["cardsV2"][0]["card"]["header"]["title"].endswith("…")
    assert GoogleChat.send(delivery, send_context()).success  # the fake refuses past 32,000 bytes


def test_event_text_cannot_form_links_or_html(chat: FakeGoogleChat) -> None:
    title = "<https://evil.example|Reset password> <a href='https://evil.example'>x</a>"
    assert deliver(chat, scanner_event("finding_high", title=title)).success

    body = chat.messages[0]
    assert "<https://evil" not in body["text"]
    widgets = body["cardsV2"][0]["card"]["sections"][0]["widgets"]
    assert all("<a " not in w["decoratedText"]["text"] for w in widgets)


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (403, False), (404, False), (500, True)])
def test_chat_errors_keep_googles_message_and_map_to_retries(
    chat: FakeGoogleChat, status: int, retryable: bool
) -> None:
    chat.script(
        Reply(status, {"error": {"code": status, "message": f"bad request to {chat.webhook_url}", "status": "X"}})
    )

    outcome = deliver(chat)

    assert (outcome.response_code, outcome.retryable) == (status, retryable)
    assert "bad request to [redacted]" in (outcome.error or "")
    assert_no_credential(outcome)


def test_a_wrong_token_is_permanent(chat: FakeGoogleChat) -> None:
    url = chat.webhook_url.replace(FakeGoogleChat.TOKEN, "wrong-token-1234")
    outcome = GoogleChat.send(make_delivery(GoogleChat, {"webhookUrl": url}), send_context())

    assert (outcome.response_code, outcome.retryable) == (401, False)
    assert "wrong-token-1234" not in (outcome.error or "")


def test_writing_a_space_too_fast_is_retried() -> None:
    with FakeGoogleChat(rate_limited=True) as chat:
        first, second = deliver(chat), deliver(chat)

    assert first.success
    assert (second.response_code, second.retryable) == (429, True)
    assert "Quota exceeded" in (second.error or "")


def test_the_pace_is_per_space_whichever_webhook_of_it() -> None:
    base = "https://chat.googleapis.com/v1/spaces/AAAAspace/messages?key=k1&token="
    first = make_delivery(GoogleChat, {"webhookUrl": base + "t1"}).credentials
    second = make_delivery(GoogleChat, {"webhookUrl": base + "t2"}).credentials
    other = make_delivery(GoogleChat, {"webhookUrl": base.replace("AAAAspace", "BBBBspace") + "t1"}).credentials

    assert GoogleChat.destination(first) == GoogleChat.destination(second) == "spaces/AAAAspace"
    assert GoogleChat.destination(other) != GoogleChat.destination(first)
    assert GoogleChat.rate_interval == 1.0


def test_an_event_without_a_scan_starts_its_own_thread(chat: FakeGoogleChat) -> None:
    delivery = make_delivery(GoogleChat, {"webhookUrl": chat.webhook_url}, test=True)
    delivery = dataclasses.replace(
        delivery,
        event=delivery.event.model_copy(update={"data": delivery.event.data.model_copy(update={"scan": None})}),
    )

    assert GoogleChat.send(delivery, send_context()).success
    assert "thread" not in chat.messages[0]
