"""Slack against a faithful fake incoming webhook on loopback: the exact message, and every answer's Outcome."""

from __future__ import annotations

import time
from typing import Any

import pytest

from integrations.events import Event
from integrations.providers import http, messages
from integrations.providers import slack as slack_module
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.slack import Slack, clip
from tests.providers.fakes import (
    FakeSlack,
    Reply,
    make_delivery,
    scanner_event,
    send_context,
    slack_problems,
)

SUPPORTED = ["scan_started", "scan_completed", "scan_failed", "finding_critical", "finding_high", "report_ready"]


def deliver(slack: FakeSlack, event: Event | None = None, config: dict[str, Any] | None = None) -> Outcome:
    return Slack.send(delivery_to(slack, event, config), send_context())


def delivery_to(slack: FakeSlack, event: Event | None = None, config: dict[str, Any] | None = None) -> Delivery:
    return make_delivery(Slack, {"webhookUrl": slack.webhook_url}, config, event)


def assert_no_credential(outcome: Outcome, slack: FakeSlack) -> None:
    """Neither the webhook URL, nor its path, nor its token may reach an error."""
    for secret in (slack.webhook_url, slack.PATH, slack.PATH.rsplit("/", 1)[1]):
        assert secret not in (outcome.error or "")


def test_posts_a_block_kit_message_with_a_plain_text_fallback(slack: FakeSlack) -> None:
    outcome = deliver(slack, config={"channel": "#security-alerts"})

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    request = slack.last
    assert (request.method, request.path) == ("POST", FakeSlack.PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == http.USER_AGENT
    assert request.json() == {
        "text": "Critical finding on https://app.example.com: SQL injection in /login\nhttps://apviso.com/findings/fnd_3K9",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": ":red_circle: Critical finding on https://app.example.com: SQL injection in /login",
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Severity:* Critical\n*Target:* https://app.example.com\n*Scan:* scan_01J9ZQ5K2M\n"
                    "*Finding:* fnd_3K9\n*Event:* finding.critical\n*Occurred:* 2026-04-10T10:45:20Z",
                },
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Apviso"},
                        "url": "https://apviso.com/findings/fnd_3K9",
                    }
                ],
            },
        ],
        "channel": "#security-alerts",
    }


@pytest.mark.parametrize("name", SUPPORTED)
def test_every_supported_event_makes_a_message_slack_accepts(slack: FakeSlack, name: str) -> None:
    delivery = delivery_to(slack, scanner_event(name))

    assert Slack.send(delivery, send_context()).success
    message = slack.last.json()
    assert slack_problems(message) == [] and slack.refused == []  # Slack's SDK reads every block back unchanged
    assert "channel" not in message  # the webhook's own channel unless the integration overrides it
    assert message["text"].startswith(messages.headline(delivery))
    buttons = [b["elements"][0]["url"] for b in message["blocks"] if b["type"] == "actions"]
    assert buttons == [messages.link(delivery)]
    severity_emoji = message["blocks"][0]["text"]["text"].startswith(":")
    assert severity_emoji == name.startswith("finding_")


def test_the_test_delivery_is_marked_as_a_test(slack: FakeSlack) -> None:
    delivery = make_delivery(Slack, {"webhookUrl": slack.webhook_url}, test=True)

    assert Slack.send_test(delivery, send_context()).success
    message = slack.last.json()
    assert "[TEST] Apviso test event for Security alerts" in message["text"]
    assert "[TEST]" in message["blocks"][0]["text"]["text"]


def test_event_text_cannot_mention_channel_or_forge_links(slack: FakeSlack) -> None:
    title = "<!channel> XSS in <script> & <https://evil.example|your bank>"
    outcome = deliver(slack, scanner_event("finding_high", title=title))

    assert outcome.success
    message = slack.last.json()
    escaped = "&lt;!channel&gt; XSS in &lt;script&gt; &amp; &lt;https://evil.example|your bank&gt;"
    assert escaped in message["text"]
    assert "<" not in message["text"] + message["blocks"][1]["text"]["text"]
    assert title in message["blocks"][0]["text"]["text"]  # a header is plain text: Slack shows it verbatim


def test_long_text_is_clipped_to_block_kit_limits(slack: FakeSlack) -> None:
    raw = scanner_event("finding_critical", title="A" * 2000).model_dump()
    raw["data"]["scan"]["target"] = "https://app.example.com/?" + "a=1&" * 500  # each & grows 5-fold escaped
    event = Event.model_validate(raw)

    assert deliver(slack, event).success  # the fake refuses headers past 150 and sections past 3000
    header, section = (block["text"]["text"] for block in slack.last.json()["blocks"][:2])
    assert len(header) == 150 and header.endswith("…")
    target = next(line for line in section.splitlines() if line.startswith("*Target:*"))
    assert len(target.removeprefix("*Target:* ")) <= 500 and target.endswith("…")
    assert len(section) <= 3000 and "*Occurred:*" in section, "one long value does not push the others out"


def test_a_message_slacks_sdk_refuses_is_refused_as_slack_does(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_module, "MAX_HEADER", 400)  # a regression: headers no longer clipped to 150
    slack.script(Reply(500, "rollup_error"))  # the SDK's check comes before any scripted answer

    outcome = deliver(slack, scanner_event("finding_critical", title="A" * 300))

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 400, False)
    assert outcome.error == "Provider returned HTTP 400: Bad Request (invalid_blocks)"
    assert slack.refused == [["blocks[0]: text attribute cannot exceed 150 characters"]]


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        ([{"type": "banner", "text": "x"}], "blocks[0]: not a known Block Kit object"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}], "['.colour']"),
        ([{"type": "section"}], "blocks[0]: text or fields attribute must be specified"),
        (
            [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}]}],
            "blocks[0]: text attribute cannot exceed 75 characters",
        ),
        ([{"type": "divider"}] * 51, "51 blocks: at most 50"),
    ],
)
def test_slacks_sdk_names_what_it_refuses(blocks: list[dict[str, Any]], problem: str) -> None:
    (found,) = slack_problems({"text": "t", "blocks": blocks})
    assert problem in found


def test_attachments_are_checked_by_slacks_sdk_too() -> None:
    assert slack_problems({"text": "t", "attachments": [{"text": "x", "fallback": "x", "color": "#ff0000"}]}) == []
    (found,) = slack_problems({"text": "t", "attachments": [{"text": "x", "colour": "red"}]})
    assert "colour" in found


def test_clipping_never_leaves_half_an_escaped_entity() -> None:
    assert clip("abcdef &amp; more", 10) == "abcdef …"
    assert clip("short", 10) == "short"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, "invalid_payload", "Bad Request"),
        (403, "action_prohibited", "Forbidden"),
        (404, "channel_not_found", "Not Found"),
        (410, "channel_is_archived", "Gone"),
        (404, "no_service", "Not Found"),
        (403, "no_active_hooks", "Forbidden"),
        (408, "", "Request Timeout"),  # Slack's guidance: only 429 and 5xx are worth another try
    ],
)
def test_slack_errors_are_permanent(slack: FakeSlack, status: int, body: str, reason: str) -> None:
    slack.script(Reply(status, body))

    outcome = deliver(slack)

    detail = f" ({body})" if body else ""
    assert outcome == Outcome(
        False, status, outcome.response_time_ms, f"Provider returned HTTP {status}: {reason}{detail}"
    )
    assert outcome.retryable is False


@pytest.mark.parametrize(
    ("status", "body"), [(500, "rollup_error"), (502, ""), (503, "<html>Service Unavailable</html>")]
)
def test_server_errors_are_retried(slack: FakeSlack, status: int, body: str) -> None:
    slack.script(Reply(status, body))

    outcome = deliver(slack)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, True)
    assert body in (outcome.error or "")


def test_rate_limit_is_retried_after_what_slack_asks(slack: FakeSlack) -> None:
    slack.script(Reply(429, "rate_limited", {"Retry-After": "30"}))

    outcome = deliver(slack)

    assert (outcome.response_code, outcome.retryable, outcome.retry_after) == (429, True, 30.0)
    assert outcome.error == "Provider returned HTTP 429: Too Many Requests (rate_limited)"


def test_a_200_that_is_not_slacks_ok_is_a_failure(slack: FakeSlack) -> None:
    slack.script(Reply(200, "<html>Welcome to the captive portal</html>"))

    outcome = deliver(slack)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 200, False)


def test_an_error_page_quoting_the_url_is_scrubbed(slack: FakeSlack) -> None:
    slack.script(Reply(502, f"Bad gateway for {slack.webhook_url} (path {FakeSlack.PATH})"))

    outcome = deliver(slack)

    assert "[redacted]" in (outcome.error or "")
    assert_no_credential(outcome, slack)


def test_the_token_of_the_url_quoted_alone_is_scrubbed(slack: FakeSlack) -> None:
    token = FakeSlack.PATH.rsplit("/", 1)[-1]
    slack.script(Reply(404, f"no_service: token {token} is unknown"))

    outcome = deliver(slack)

    assert outcome.error is not None and "token [redacted] is unknown" in outcome.error


def test_an_answer_slower_than_the_timeout_is_retried(slack: FakeSlack, short_read_timeout: float) -> None:
    slack.script(Reply(200, "ok", delay=5))
    started = time.monotonic()

    outcome = deliver(slack)

    assert time.monotonic() - started < 1
    assert outcome == Outcome(
        False, None, outcome.response_time_ms, f"Timeout: no complete response within {short_read_timeout:g} s", True
    )
    assert_no_credential(outcome, slack)


def test_a_reset_connection_is_retried(slack: FakeSlack) -> None:
    slack.script("reset")

    outcome = deliver(slack)

    assert outcome == Outcome(False, None, outcome.response_time_ms, "Connection reset by the provider", True)


def test_a_redirect_is_not_followed(slack: FakeSlack) -> None:
    slack.script(Reply(302, "", {"Location": slack.url + "/elsewhere"}))

    outcome = deliver(slack)

    assert len(slack.requests) == 1
    assert not outcome.success
    assert_no_credential(outcome, slack)


def test_a_redirect_is_a_permanent_failure(slack: FakeSlack) -> None:
    slack.script(Reply(302, "", {"Location": slack.url + "/elsewhere"}))

    outcome = deliver(slack)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 302, False)
    assert "redirect" in (outcome.error or "")
