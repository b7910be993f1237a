"""Microsoft Teams against a local Workflows trigger that validates every card with the Adaptive Cards schema."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from integrations.events import Event
from integrations.providers import messages
from integrations.providers import teams as teams_module
from integrations.providers.delivery import Outcome
from integrations.providers.teams import Teams, message
from tests.providers.fake_chat_apps import FakeTeams, adaptive_card_problems
from tests.providers.fakes import Reply, make_delivery, scanner_event, send_context
from tests.providers.oversized import oversized_event

SUPPORTED = [
    "scan_started", "scan_completed", "scan_failed", "finding_new", "finding_critical", "finding_high", "report_ready"
]  # fmt: skip


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with FakeTeams() as fake:
        yield fake


def deliver(teams: FakeTeams, event: Event | None = None) -> Outcome:
    return Teams.send(make_delivery(Teams, {"webhookUrl": teams.webhook_url}, event=event), send_context())


def assert_no_credential(outcome: Outcome, teams: FakeTeams) -> None:
    for secret in (teams.webhook_url, FakeTeams.SIG, FakeTeams.PATH):
        assert secret not in (outcome.error or "")


def test_posts_one_adaptive_card_with_severity_target_and_link(teams: FakeTeams) -> None:
    outcome = deliver(teams)

    assert outcome == Outcome(True, 202, outcome.response_time_ms)
    request = teams.last
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert adaptive_card_problems(card) == []
    assert card["version"] == "1.4" and card["type"] == "AdaptiveCard"
    heading, facts = card["body"]
    assert heading["text"] == "Critical finding on https://app.example.com: SQL injection in /login"
    assert heading["color"] == "Attention" and heading["weight"] == "Bolder"
    assert {"title": "Severity", "value": "Critical"} in facts["facts"]
    assert {"title": "Target", "value": "https://app.example.com"} in facts["facts"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in Apviso", "url": "https://apviso.com/findings/fnd_3K9"}
    ]


@pytest.mark.parametrize("name", SUPPORTED)
def test_every_supported_event_makes_a_card_the_schema_and_teams_accept(teams: FakeTeams, name: str) -> None:
    delivery = make_delivery(Teams, {"webhookUrl": teams.webhook_url}, event=scanner_event(name))

    assert Teams.send(delivery, send_context()).success
    (card,) = teams.cards
    assert card["body"][0]["text"] == messages.headline(delivery)
    assert ("color" in card["body"][0]) == name.startswith("finding_")


def test_a_card_the_schema_rejects_is_refused_even_when_an_answer_is_scripted(
    teams: FakeTeams, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "weight": "Heavy"}]}
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    monkeypatch.setattr(teams_module, "message", lambda _: {"type": "message", "attachments": [attachment]})
    teams.script(Reply(500))

    outcome = deliver(teams)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 400, False)
    assert "InvalidCard" in (outcome.error or "")
    assert teams.cards == []


def test_the_test_delivery_is_marked_as_a_test(teams: FakeTeams) -> None:
    delivery = make_delivery(Teams, {"webhookUrl": teams.webhook_url}, test=True)

    assert Teams.send_test(delivery, send_context()).success
    assert teams.cards[0]["body"][0]["text"] == "[TEST] Apviso test event for Security alerts"


def test_long_text_is_cut_visibly_and_the_message_stays_within_28_kb(teams: FakeTeams) -> None:
    delivery = make_delivery(Teams, {"webhookUrl": teams.webhook_url}, event=oversized_event())

    body = message(delivery)

    assert len(json.dumps(body).encode()) <= 28_000
    card = body["attachments"][0]["content"]
    assert card["body"][0]["text"].endswith("…")
    assert any(fact["value"].endswith("…") for fact in card["body"][1]["facts"])
    assert adaptive_card_problems(card) == []
    assert Teams.send(delivery, send_context()).success  # the fake refuses past 28 KB and invalid cards


def test_markdown_links_in_event_text_are_broken(teams: FakeTeams) -> None:
    assert deliver(teams, scanner_event("finding_high", title="[Reset your password](https://evil.example)")).success
    assert "](" not in teams.cards[0]["body"][0]["text"]


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (408, True), (500, True), (502, True)],
)
def test_workflow_answers_map_to_retries(teams: FakeTeams, status: int, retryable: bool) -> None:
    teams.script(Reply(status, {"error": {"code": "X", "message": f"failed for {teams.webhook_url}"}}))

    outcome = deliver(teams)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, retryable)
    assert_no_credential(outcome, teams)


def test_a_wrong_signature_is_a_permanent_failure(teams: FakeTeams) -> None:
    url = teams.webhook_url.replace(FakeTeams.SIG, "forged-signature-000")
    outcome = Teams.send(make_delivery(Teams, {"webhookUrl": url}), send_context())

    assert (outcome.response_code, outcome.retryable) == (401, False)
    assert "forged-signature-000" not in (outcome.error or "")


def test_throttling_is_retried_after_retry_after(teams: FakeTeams) -> None:
    teams.script(Reply(429, {"error": {"code": "WorkflowTriggerIsThrottled"}}, {"Retry-After": "17"}))

    outcome = deliver(teams)

    assert (outcome.response_code, outcome.retryable, outcome.retry_after) == (429, True, 17.0)
