"""Event content that no sample has, as each provider renders it: links that are not links, disguised links, times at
the ends of the calendar, control characters. Nothing fails to render (a failure would be retried for a day and then
parked, with no log entry saying why), and nothing is sent that the provider refuses."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.api.recovery import parse_since
from integrations.events import Event, parse_event
from integrations.platform import clock
from integrations.platform.errors import ValidationFailed
from integrations.providers import discord, email, github, google_chat, jira, messages, pagerduty, slack, splunk, teams
from integrations.providers.base import Provider
from integrations.providers.delivery import Delivery
from integrations.providers.discord import Discord
from integrations.providers.email import Email
from integrations.providers.github import GitHub
from integrations.providers.google_chat import GoogleChat
from integrations.providers.jira import Jira
from integrations.providers.pagerduty import PagerDuty
from integrations.providers.slack import Slack
from integrations.providers.splunk import Splunk
from integrations.providers.teams import Teams
from integrations.providers.webhook import Webhook, payload
from tests.conftest import ROOT
from tests.providers.fake_chat_apps import FakeDiscord, FakeTeams, adaptive_card_problems, discord_problems
from tests.providers.fakes import FakeSlack, make_delivery, send_context, slack_problems

SCAN_URL = "https://apviso.com/scans/scan_01J9ZQ5K2M"
NOT_LINKS = [
    "javascript:alert(1)",
    "/findings/fnd_3K9",
    "https://",
    "https://apviso.com/find ings/1",
    "https://[apviso.com/findings/1",
    "https://apviso.com/é",
    'https://apviso.com/"><img src=x>',
    "https://apviso.com/" + "a" * 2030,
]
CREDENTIALS: dict[type[Provider], dict[str, Any]] = {
    Slack: {"webhookUrl": "https://hooks.slack.com/services/T0/B0/x"},
    Teams: {"webhookUrl": "https://prod-00.westus.logic.azure.com/workflows/w/triggers/manual/paths/invoke?sig=s"},
    Discord: {"webhookUrl": "https://discord.com/api/webhooks/1/t"},
    GoogleChat: {"webhookUrl": "https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t"},
    PagerDuty: {"routingKey": "R0UT1NGKEY0123456789abcdefABCDEF"},
    Splunk: {"url": "https://splunk.example.com:8088", "token": "00000000-0000-0000-0000-000000000000"},
}
JIRA = {"baseUrl": "https://example.atlassian.net", "email": "bot@example.com", "apiToken": "t"}
GITHUB = {"token": "ghp_" + "a" * 36}
GITHUB_CONFIG = {"repository": "acme/security"}
EMAIL = {"recipients": ["sec@example.com"]}


def event(finding: dict[str, Any] | None = None, scan: dict[str, Any] | None = None, **top: Any) -> Event:
    """The sample critical finding with the given fields changed, through intake as the fan-out reads it."""
    raw = json.loads((ROOT / "events" / "scanner" / "finding_critical.json").read_text())
    raw["data"]["finding"].update(finding or {})
    raw["data"]["scan"].update(scan or {})
    return parse_event(json.dumps({**raw, **top}))


def delivery_of(provider: type[Provider], made: Event) -> Delivery:
    return make_delivery(provider, CREDENTIALS[provider], event=made)


def links_sent(made: Event) -> dict[str, list[str]]:
    """Where each provider put a link, for an event: every URL of its request that is a link (not text)."""
    card = teams.card(delivery_of(Teams, made))
    chat = google_chat.message(delivery_of(GoogleChat, made))
    jira_doc = jira.description(make_delivery(Jira, JIRA, {"projectKey": "SEC"}, made))
    github_body = github.markdown(make_delivery(GitHub, GITHUB, GITHUB_CONFIG, made))
    email_html = email.alert_message(make_delivery(Email, EMAIL, event=made)).html
    return {
        "slack": [e["url"] for b in slack.blocks(delivery_of(Slack, made)) for e in b.get("elements", [])],
        "teams": [action["url"] for action in card.get("actions", [])],
        "discord": [e["url"] for e in discord.message(delivery_of(Discord, made))["embeds"] if "url" in e],
        "google_chat": [
            button["onClick"]["openLink"]["url"]
            for section in chat["cardsV2"][0]["card"]["sections"]
            for widget in section["widgets"]
            for button in widget.get("buttonList", {}).get("buttons", [])
        ],
        "pagerduty": [
            link["href"] for link in pagerduty.trigger(delivery_of(PagerDuty, made), "k", "critical").get("links", [])
        ],
        "jira": [mark["attrs"]["href"] for mark in _marks(jira_doc) if mark["type"] == "link"],
        "github": [line for line in github_body.split("\n") if "View in Apviso" in line],
        "email": [
            html.unescape(part) for part in email_html.split('"') if part.startswith(("http", "/", "javascript"))
        ],
    }


def _marks(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return list(node.get("marks", [])) + [m for value in node.values() for m in _marks(value)]
    if isinstance(node, list):
        return [m for item in node for m in _marks(item)]
    return []


@pytest.mark.parametrize("url", NOT_LINKS)
def test_a_finding_link_that_is_no_web_link_is_sent_nowhere_and_the_scan_link_takes_its_place(url: str) -> None:
    sent = links_sent(event(finding={"url": url}))

    for provider, links in sent.items():
        assert links and all(SCAN_URL in link and "findings" not in link for link in links), provider


def test_a_usable_finding_link_is_sent_everywhere() -> None:
    url = "https://apviso.com/findings/fnd_3K9?tab=evidence&x=%C3%A9#proof"
    sent = links_sent(event(finding={"url": url}))

    assert all(links and all(url in link for link in links) for links in sent.values()), sent


def test_without_any_usable_link_no_provider_sends_one() -> None:
    sent = links_sent(event(finding={"url": "javascript:alert(1)"}, scan={"url": "https://"}))

    assert sent == {provider: [] for provider in sent}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://apviso.com/find ings/1", "https://apviso.com/é"])
def test_slack_teams_and_discord_accept_the_message_of_an_event_with_a_bad_link(url: str) -> None:
    made = event(finding={"url": url}, scan={"url": "https://"})
    with FakeSlack() as fake_slack, FakeTeams() as fake_teams, FakeDiscord() as fake_discord:
        for provider, fake in ((Slack, fake_slack), (Teams, fake_teams), (Discord, fake_discord)):
            delivery = make_delivery(provider, {"webhookUrl": fake.webhook_url}, event=made)
            assert provider.send(delivery, send_context()).success, provider
    assert slack_problems(slack.message(delivery_of(Slack, made))) == []
    assert adaptive_card_problems(teams.card(delivery_of(Teams, made))) == []
    assert discord_problems(discord.message(delivery_of(Discord, made))) == {}


def test_discord_shows_no_disguised_link_from_a_title_or_a_target() -> None:
    disguise = "[apviso.com/reset](https://evil.example/phish)"
    made = event(finding={"title": f"Rotate your credentials: {disguise}"}, scan={"target": disguise})

    body = discord.message(delivery_of(Discord, made))

    texts = [body["content"], *(field["value"] for field in body["embeds"][0]["fields"])]
    assert all("](" not in text for text in texts)
    assert "apviso.com/reset]\u200b(https://evil.example/phish)" in body["content"]


@pytest.mark.parametrize("occurred", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_with_no_utc_time_is_replaced_at_intake_by_the_time_received(occurred: str) -> None:
    before = clock.now()

    made = event(occurredAt=occurred)

    assert before <= datetime.fromisoformat(made.occurredAt) <= clock.now()


def test_year_one_is_kept_and_given_to_providers_with_four_digits_of_year() -> None:
    made = event(occurredAt="0001-01-01T00:00:00Z")  # what Go writes for a time never set

    assert made.occurredAt == "0001-01-01T00:00:00Z"
    assert messages.occurred(delivery_of(Discord, made)) == "0001-01-01T00:00:00Z"
    assert payload(make_delivery(Webhook, {"url": "https://example.com/hook"}, event=made))["timestamp"] == (
        "0001-01-01T00:00:00Z"
    )
    assert discord_problems(discord.message(delivery_of(Discord, made))) == {}
    assert clock.iso(datetime(2026, 4, 10, 12, 30, 22, 999, tzinfo=UTC)) == "2026-04-10T12:30:22Z"


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_recovery_refuses_a_since_with_no_utc_time_as_out_of_its_range(since: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_since(since, clock.now())

    assert [detail.field for detail in refused.value.details] == ["since"]


@pytest.mark.parametrize("target", ["https://[app.example.com", "https://a\u2100b.com", "app.example.com"])
def test_splunk_names_the_apviso_host_for_a_target_python_cannot_parse(target: str) -> None:
    made = event(scan={"target": target})

    assert splunk.hec_event(delivery_of(Splunk, made))["host"] == "apviso"


def test_an_email_subject_and_its_facts_carry_no_control_character() -> None:
    made = event(
        finding={"title": "SQLi\x00\x1b[31mRED\x7f\x85 in /login"}, scan={"target": "https://a.example\r\nBcc: x"}
    )

    message = email.alert_message(make_delivery(Email, EMAIL, event=made))

    assert "SQLi [31mRED in /login" in message.subject
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in message.subject)
    assert "Target: https://a.example Bcc: x" in message.text
    assert "\x00" not in message.text + message.html and "\x1b" not in message.text + message.html


def test_an_email_counts_findings_by_severity_and_ignores_what_is_no_number() -> None:
    made = event(type="scan.completed", scan={"findings": {"critical": 2, "high": True, "low": "3", "info": 0}})

    facts = dict(email._facts(make_delivery(Email, EMAIL, event=made)))

    assert facts["Findings"] == "2 critical, 0 info"
