"""Discord against a local webhook that enforces Discord's message limits and its rate-limit bucket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.events import Event
from integrations.providers import messages
from integrations.providers.delivery import Outcome
from integrations.providers.discord import Discord, embed_characters, message
from tests.providers.fake_chat_apps import FakeDiscord, discord_problems
from tests.providers.fakes import Reply, make_delivery, scanner_event, send_context
from tests.providers.oversized import oversized_event

SUPPORTED = [
    "scan_started", "scan_completed", "scan_failed", "finding_new", "finding_critical", "finding_high", "report_ready"
]  # fmt: skip


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


def deliver(discord: FakeDiscord, event: Event | None = None) -> Outcome:
    return Discord.send(make_delivery(Discord, {"webhookUrl": discord.webhook_url}, event=event), send_context())


def assert_no_credential(outcome: Outcome) -> None:
    assert FakeDiscord.TOKEN not in (outcome.error or "")


def test_posts_one_embed_coloured_by_severity_that_mentions_nobody(discord: FakeDiscord) -> None:
    outcome = deliver(discord)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    request = discord.last
    assert request.path == discord.path + "?wait=true"
    body = request.json()
    assert body["allowed_mentions"] == {"parse": []}
    assert body["content"] == "Critical finding on https://app.example.com: SQL injection in /login"
    (embed,) = body["embeds"]
    assert embed["title"] == body["content"]
    assert embed["url"] == "https://apviso.com/findings/fnd_3K9"
    assert embed["color"] == 0xD32F2F
    assert {"name": "Severity", "value": "Critical", "inline": True} in embed["fields"]
    assert embed["footer"] == {"text": "Apviso · Security alerts"}
    assert embed["timestamp"] == "2026-04-10T10:45:20Z"
    assert discord_problems(body) == {}


# ISO 8601 forms intake keeps (each with a zone) that are not RFC 3339, all 2026-04-10T10:45:20Z.
PRODUCER_TIMES = ["2026-04-10T12:45:20+0200", "2026-04-10 10:45:20+00:00", "2026-W15-5T10:45:20Z", "20260410T104520Z"]


@pytest.mark.parametrize("occurred_at", PRODUCER_TIMES)
def test_the_timestamp_is_rfc_3339_in_utc_whatever_form_the_producer_used(
    discord: FakeDiscord, occurred_at: str
) -> None:
    raw = scanner_event("finding_critical").model_dump()
    raw["occurredAt"] = occurred_at
    event = Event.model_validate(raw)
    assert event.occurredAt == occurred_at  # kept as sent: the webhook provider passes it on

    assert deliver(discord, event).success  # the fake refuses a timestamp that is not RFC 3339
    assert discord.messages[0]["embeds"][0]["timestamp"] == "2026-04-10T10:45:20Z"


def test_the_fake_refuses_a_timestamp_discords_api_description_does_not_allow() -> None:
    embed = {"title": "t", "timestamp": "2026-04-10T10:45:20+0000"}
    assert discord_problems({"embeds": [embed]}) == {
        "embeds.0.timestamp": "Could not parse 2026-04-10T10:45:20+0000. Should be ISO8601."
    }
    assert discord_problems({"embeds": [{**embed, "timestamp": "2026-04-10T10:45:20.5+00:00"}]}) == {}


@pytest.mark.parametrize("url", ["https://apviso.com/" + "a" * 2030, "javascript:alert(1)"])
def test_the_fake_refuses_an_embed_url_discords_api_description_does_not_allow(url: str) -> None:
    assert list(discord_problems({"embeds": [{"title": "t", "url": url}]})) == ["embeds.0.url"]


@pytest.mark.parametrize("name", SUPPORTED)
def test_every_supported_event_is_accepted(discord: FakeDiscord, name: str) -> None:
    delivery = make_delivery(Discord, {"webhookUrl": discord.webhook_url}, event=scanner_event(name))

    assert Discord.send(delivery, send_context()).success
    assert discord.messages[0]["embeds"][0]["title"] == messages.headline(delivery)


@pytest.mark.parametrize("char", ["a", "Ω", "🙂"])
def test_long_text_stays_within_every_discord_limit(discord: FakeDiscord, char: str) -> None:
    delivery = make_delivery(Discord, {"webhookUrl": discord.webhook_url}, event=oversized_event(char=char))

    body = message(delivery)

    (embed,) = body["embeds"]
    assert discord_problems(body) == {}
    assert embed_characters(embed) <= 6000
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(body["content"]) <= 2000
    assert all(len(f["value"]) <= 1024 for f in embed["fields"]) and len(embed["fields"]) <= 25
    assert Discord.send(delivery, send_context()).success  # the fake answers 400 (50035) past any limit


def test_invalid_form_body_is_permanent_and_says_why(discord: FakeDiscord) -> None:
    discord.script(Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": {}}))

    outcome = deliver(discord)

    assert (outcome.response_code, outcome.retryable) == (400, False)
    assert outcome.error == "Provider returned HTTP 400: Bad Request (Invalid Form Body (code 50035))"


def test_a_deleted_webhook_or_wrong_token_is_permanent(discord: FakeDiscord) -> None:
    wrong = discord.webhook_url.replace(FakeDiscord.TOKEN, "x" * 68)
    outcome = Discord.send(make_delivery(Discord, {"webhookUrl": wrong}), send_context())
    assert (outcome.response_code, outcome.retryable) == (401, False)
    assert "Invalid Webhook Token (code 50027)" in (outcome.error or "")

    gone = wrong.replace(FakeDiscord.WEBHOOK_ID, "999")
    outcome = Discord.send(make_delivery(Discord, {"webhookUrl": gone}), send_context())
    assert (outcome.response_code, outcome.retryable) == (404, False)


def test_the_sixth_message_in_two_seconds_is_retried_after_discords_retry_after() -> None:
    with FakeDiscord(rate_limited=True) as discord:
        outcomes = [deliver(discord) for _ in range(6)]

    assert [o.success for o in outcomes] == [True] * 5 + [False]
    limited = outcomes[-1]
    assert (limited.response_code, limited.retryable) == (429, True)
    # The JSON body's fractional seconds win over the header's rounded Retry-After.
    assert limited.retry_after is not None and 0 < limited.retry_after <= 2.0


def test_a_429_without_a_json_body_falls_back_to_the_headers(discord: FakeDiscord) -> None:
    discord.script(Reply(429, "<html>slow down</html>", {"X-RateLimit-Reset-After": "3.25"}))
    assert deliver(discord).retry_after == 3.25
    discord.script(Reply(429, "", {"Retry-After": "7", "X-RateLimit-Reset-After": "3.25"}))
    assert deliver(discord).retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_and_scrubbed(discord: FakeDiscord, status: int) -> None:
    discord.script(Reply(status, f"upstream failed for {discord.webhook_url}"))

    outcome = deliver(discord)

    assert (outcome.response_code, outcome.retryable) == (status, True)
    assert_no_credential(outcome)
