"""Lenient intake, as each provider sees it: an event whose strings are far past every provider's limits is
delivered everywhere, cut visibly where a provider's documented limits require, and whole to webhooks.

Each fake refuses what its provider refuses (Slack's Block Kit lengths, PagerDuty's summary, dedup key and body
size, Jira's summary and description), so a success here means the real provider would have taken it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.events import Event, parse_event
from integrations.providers.base import Provider, SendContext
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.email import Email
from integrations.providers.jira import Jira
from integrations.providers.pagerduty import PagerDuty
from integrations.providers.slack import Slack
from integrations.providers.webhook import Webhook
from integrations.storage.provider_state import DynamoProviderState
from tests.conftest import ROOT
from tests.providers.fake_jira import FakeJira
from tests.providers.fake_smtp import FakeSmtp, parts
from tests.providers.fakes import FakePagerDuty, FakeSlack, FakeWebhookReceiver, make_delivery, send_context
from tests.providers.mocked_aws import mocked_aws

TITLE = "SQL injection in /login " + "A" * 10_000  # 10,024 characters, past every provider's limit
SENDER = "alerts@apviso.test"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def long_event() -> Event:
    """The sample finding.new with a 10,000-character title, a long target, a long id and an extra field."""
    raw = json.loads((ROOT / "events" / "scanner" / "finding_new.json").read_text())
    raw["data"]["finding"].update(title=TITLE, id="fnd_" + "9" * 400, cvss={"score": 9.8, "vector": None})
    raw["data"]["scan"]["target"] = "https://app.example.com/" + "path/" * 2_000
    raw["data"]["producerNote"] = "kept for webhooks"
    return parse_event(json.dumps(raw))


def deliver(provider: type[Provider], credentials: dict[str, Any], context: SendContext, **config: Any) -> Outcome:
    made = make_delivery(provider, credentials, config or None, long_event())
    delivery: Delivery = dataclasses.replace(made, event_type="finding.new")
    return provider.send(delivery, context)


@pytest.fixture
def state() -> Iterator[DynamoProviderState]:
    with mocked_aws(verified_sender=SENDER) as provider_state:
        yield provider_state


def test_a_webhook_receives_the_event_as_sent() -> None:
    with FakeWebhookReceiver() as receiver:
        outcome = deliver(Webhook, {"url": receiver.url + "/hook"}, send_context())
        body = receiver.last.json()

    assert outcome.success
    sent = json.loads((ROOT / "events" / "scanner" / "finding_new.json").read_text())["data"]
    assert body["data"]["finding"]["title"] == TITLE, "not cut: the receiver decides what it keeps"
    assert body["data"]["finding"]["cvss"] == {"score": 9.8, "vector": None}, "extra fields and nulls kept"
    assert body["data"]["producerNote"] == "kept for webhooks"
    assert set(body["data"]) == {*sent, "producerNote", "event"}


def test_slack_cuts_to_block_kit_limits() -> None:
    with FakeSlack() as slack:
        outcome = deliver(Slack, {"webhookUrl": slack.webhook_url}, send_context())
        message = slack.last.json()

    assert outcome.success, outcome.error  # the fake refuses headers past 150, sections past 3000
    header = message["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    assert len(message["text"]) <= 40_000 and "SQL injection in /login" in message["text"]


def test_pagerduty_cuts_the_summary_and_keeps_one_short_dedup_key() -> None:
    with FakePagerDuty() as pagerduty:
        context = send_context(PAGERDUTY_EVENTS_URL=pagerduty.events_url)
        outcome = deliver(PagerDuty, {"routingKey": ROUTING_KEY}, context)
        again = deliver(PagerDuty, {"routingKey": ROUTING_KEY}, context)
        first, second = (request.json() for request in pagerduty.requests)

    assert outcome.success and again.success, outcome.error  # the fake refuses summaries past 1024, keys past 255
    summary = first["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")
    assert len(first["dedup_key"]) <= 255
    assert first["dedup_key"] == second["dedup_key"], "the long finding id still keys one alert"


def test_jira_cuts_the_summary_and_the_description() -> None:
    with FakeJira("bot@example.com", "jira-token") as jira, mocked_aws() as state:
        context = SendContext(send_context().settings, state)
        credentials = {"baseUrl": jira.url, "email": "bot@example.com", "apiToken": "jira-token"}
        outcome = deliver(Jira, credentials, context, projectKey="SEC")
        fields = jira.last.json()["fields"]

    assert outcome.success, outcome.error  # the fake refuses summaries past 255 and descriptions past 32,767
    assert len(fields["summary"]) == 255 and fields["summary"].endswith("…")
    assert "\n" not in fields["summary"]


def test_email_cuts_the_subject(state: DynamoProviderState) -> None:
    with FakeSmtp() as server:
        context = SendContext(send_context(EMAIL_SENDER=SENDER, EMAIL_TRANSPORT=server.transport).settings, state)
        outcome = deliver(Email, {"recipients": ["secops@example.com"]}, context)
        [received] = server.received

    assert outcome.success, outcome.error
    subject = str(received.message["Subject"])
    assert len(subject) == 255 and subject.endswith("…")
    assert "SQL injection in /login" in parts(received.message)["text/plain"]
