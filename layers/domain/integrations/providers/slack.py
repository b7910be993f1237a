"""Slack incoming webhooks.

What is sent: a JSON POST to the integration's webhook URL with
- ``text``: the headline and the link, the plain-text fallback that notifications and screen readers show
  (at most 40,000 characters);
- ``blocks``: a header (severity emoji for findings, at most 150 characters), a section with the facts
  (severity, target, scan, finding, schedule, event type, time; each value at most 500 characters, the section
  at most 3000) and, when the event has a link (``messages.web_link``: http(s), at most 2048 characters), a
  button to it;
- ``channel`` when the integration sets one. Only legacy webhooks honour it: webhooks created by a Slack
  app post to the channel chosen at install time and silently ignore the override.

Event text is escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so a finding title cannot mention
@channel or render a disguised link. Success is a 200 whose body is ``ok``; any other answer is a
failure carrying Slack's error string (``channel_not_found``, ``invalid_payload``…). Only 429 (with its
Retry-After) and 5xx are retried: Slack's other errors do not heal by themselves. The webhook URL is the
credential: neither it nor its path ever appears in an error.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo

from integrations.providers import http, messages
from integrations.providers.base import (
    Provider,
    ProviderModel,
    SendContext,
    allows_local,
    check_destination_url,
    with_url_parts,
)
from integrations.providers.delivery import Delivery, Outcome

# The webhook URL is a credential; outside the local stack it must be Slack's own host, so a
# "Slack" integration cannot be used to make us call arbitrary URLs.
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
# Slack's documented limits; event text is cut to them with an ellipsis (events may carry strings of any length).
MAX_HEADER = 150  # Block Kit's limit for a header's text
MAX_SECTION = 3000  # ... and for a section's text
MAX_TEXT = 40_000  # the top-level ``text``, which Slack would cut itself past this
MAX_FACT = 500  # each fact's value, so that one long value cannot push the others out of the section
LINK_TEXT = "Open in Apviso"


def _check_slack_url(value: str, info: ValidationInfo) -> str:
    check_destination_url(value, info)
    if not allows_local(info) and urlsplit(value).hostname not in SLACK_HOSTS:
        raise ValueError("must be a Slack incoming webhook URL (https://hooks.slack.com/services/…)")
    return value


class SlackCredentials(ProviderModel):
    webhookUrl: Annotated[str, AfterValidator(_check_slack_url)] = Field(description="Slack Incoming Webhook URL")


class SlackConfig(ProviderModel):
    channel: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = Field(
        default=None, description="Override channel (uses webhook default if omitted)"
    )


class Slack(Provider):
    id = "slack"
    name = "Slack"
    description = "Send scan notifications and finding alerts to Slack channels"
    credentials = SlackCredentials
    config = SlackConfig
    supported_events = (
        "scan.started",
        "scan.completed",
        "scan.failed",
        # Not in the seed's catalog, but its own PATCH example subscribes a Slack integration to it; the example
        # wins (docs/decisions.md), and the message formats findings anyway.
        "finding.new",
        "finding.critical",
        "finding.high",
        "report.ready",
    )
    rate_interval = 1.0  # Slack: about one message per second per webhook

    @classmethod
    def destination(cls, credentials: SlackCredentials) -> str:
        return credentials.webhookUrl

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Post the message; Slack's success is a 200 whose body is ``ok``."""
        credentials: SlackCredentials = delivery.credentials
        try:
            response = http.post(credentials.webhookUrl, json_body=message(delivery))
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        accepted = response.status == 200 and response.text.strip() == "ok"
        outcome = http.outcome_from_response(
            response, cls.secret_values(delivery.credentials, delivery.config), success=accepted
        )
        # Slack's errors are permanent strings; only rate limiting and its own failures deserve another try.
        return outcome._replace(retryable=not accepted and (response.status == 429 or response.status >= 500))

    @classmethod
    def secret_values(cls, credentials: ProviderModel, config: ProviderModel) -> list[str]:
        """The webhook URL, and its path and its last segment (the token) alone: an error may quote them."""
        return with_url_parts(super().secret_values(credentials, config))


def message(delivery: Delivery) -> dict[str, Any]:
    """The webhook body: the plain-text fallback, the Block Kit message, and the channel override if any."""
    body: dict[str, Any] = {"text": clip(escape(fallback_text(delivery)), MAX_TEXT), "blocks": blocks(delivery)}
    config: SlackConfig = delivery.config
    if config.channel:
        body["channel"] = config.channel
    return body


def fallback_text(delivery: Delivery) -> str:
    """What notifications and screen readers show: the headline, then the link."""
    url = messages.link(delivery)
    return f"{messages.headline(delivery)}\n{url}" if url else messages.headline(delivery)


def blocks(delivery: Delivery) -> list[dict[str, Any]]:
    """Header, facts and (when there is a link) a button; far below Slack's 50 blocks."""
    severity = delivery.event.severity
    emoji = f"{messages.SEVERITY_EMOJI[severity]} " if severity else ""
    facts = "\n".join(f"*{label}:* {clip(escape(value), MAX_FACT)}" for label, value in messages.facts(delivery))
    result: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(emoji + messages.headline(delivery), MAX_HEADER),
                "emoji": True,
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(facts, MAX_SECTION)}},
    ]
    url = messages.link(delivery)
    if url:
        button = {"type": "button", "text": {"type": "plain_text", "text": LINK_TEXT}, "url": url}
        result.append({"type": "actions", "elements": [button]})
    return result


def escape(text: str) -> str:
    """Slack's mrkdwn escaping, so a finding title cannot form a link or an @channel mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, an ellipsis marking the cut, never half an escaped entity."""
    if len(text) <= limit:
        return text
    cut = messages.truncate(text, limit)
    return re.sub(r"&[a-z]{0,3}$", "", cut.removesuffix(messages.ELLIPSIS)) + messages.ELLIPSIS
