"""Discord webhooks.

What is sent: a JSON POST to ``{webhook URL}?wait=true`` (so Discord answers 200 with the message, or its error,
instead of an empty 204) with one embed:
- ``title``: the headline (at most 256 characters), linking to the finding, report or scan (``url``);
- ``color``: by severity (critical red, high orange, medium yellow, low blue, info grey; Apviso blue otherwise);
- ``fields``: the facts, inline, each name at most 256 and value at most 1024 characters (7 of Discord's 25);
- ``footer``: "Apviso · <integration name>" (at most 2048), and ``timestamp``: the event's time (RFC 3339, UTC);
- ``content``: the headline again (at most 2000): notifications and screen readers show it;
- ``allowed_mentions: {"parse": []}``: no finding title can ping @everyone, a role or a user.
All of an embed's text together stays within Discord's 6,000 characters: should the values (any length, as
producers send them) still go past it, they are cut shorter until they fit. Every cut ends with "…".

The URL (``https://discord.com/api/webhooks/{id}/{token}``, also ``discordapp.com``, ``ptb.`` and ``canary.``)
holds the webhook's token: it is the credential, never logged or shown.

Outcome: 200 (204 without ``wait``) is success. 429 is retried after the ``retry_after`` seconds of its JSON body
(else its Retry-After or ``X-RateLimit-Reset-After`` header); 5xx are retried. Other 4xx are permanent: 400 with
Discord's code 50035 (invalid form body), 401/403 (bad token), 404 (``10015 Unknown Webhook``: deleted). Pacing:
Discord does not publish webhook rates; its answers' headers show about 5 requests per 2 seconds per webhook,
and ``rate_interval`` keeps below that.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo

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

DISCORD_HOSTS = frozenset(
    {
        "discord.com",
        "discordapp.com",
        "ptb.discord.com",
        "canary.discord.com",
        "ptb.discordapp.com",
        "canary.discordapp.com",
    }
)
_WEBHOOK_PATH = re.compile(r"^/api(?:/v\d{1,2})?/webhooks/\d{1,20}/[A-Za-z0-9_-]{1,100}$")
MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_EMBED_TOTAL = 6000  # title, description, field names and values, footer and author, over all embeds
COLOURS = {"critical": 0xD32F2F, "high": 0xF57C00, "medium": 0xFBC02D, "low": 0x1976D2, "info": 0x9E9E9E}
DEFAULT_COLOUR = 0x2F6FEB


def _check_discord_url(value: str, info: ValidationInfo) -> str:
    check_destination_url(value, info)
    parts = urlsplit(value)
    if (not allows_local(info) and parts.hostname not in DISCORD_HOSTS) or not _WEBHOOK_PATH.match(parts.path):
        raise ValueError("must be a Discord webhook URL (https://discord.com/api/webhooks/{id}/{token})")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment (the webhook URL as Discord shows it)")
    return value


class DiscordCredentials(ProviderModel):
    webhookUrl: Annotated[str, AfterValidator(_check_discord_url)] = Field(
        description="Discord webhook URL (https://discord.com/api/webhooks/{id}/{token}; "
        "Server Settings → Integrations → Webhooks)"
    )


class Discord(Provider):
    id = "discord"
    name = "Discord"
    description = "Post scan notifications and finding alerts as embeds to Discord channels"
    credentials = DiscordCredentials
    supported_events = (
        "scan.started",
        "scan.completed",
        "scan.failed",
        "finding.new",
        "finding.critical",
        "finding.high",
        "report.ready",
    )
    rate_interval = 0.5  # below the ~5 requests per 2 s per webhook that Discord's rate-limit headers show

    @classmethod
    def destination(cls, credentials: DiscordCredentials) -> str:
        return credentials.webhookUrl

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Post the embed; 200 (204) is success, and a 429 is retried after Discord's ``retry_after``."""
        credentials: DiscordCredentials = delivery.credentials
        try:
            response = http.post(f"{credentials.webhookUrl}?wait=true", json_body=message(delivery))
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        answer = http.json_object(response.text)
        outcome = http.outcome_from_response(
            response, cls.secret_values(credentials, delivery.config), detail=_detail(answer)
        )
        if response.status == 429:
            return _with_retry_after(outcome, answer, response.headers)
        return outcome

    @classmethod
    def secret_values(cls, credentials: ProviderModel, config: ProviderModel) -> list[str]:
        """The URL, and its path alone (an error may quote it without the host)."""
        return with_url_parts(super().secret_values(credentials, config))


def _with_retry_after(outcome: Outcome, answer: dict[str, Any], headers: Any) -> Outcome:
    """Discord's wait: the JSON ``retry_after`` (seconds, may be fractional), else the headers'."""

    seconds = answer.get("retry_after")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        return outcome._replace(retry_after=min(float(seconds), http.MAX_RETRY_AFTER))
    if outcome.retry_after is None:
        reset_after = headers.get("X-RateLimit-Reset-After")
        try:
            return outcome._replace(retry_after=min(max(float(reset_after), 0.0), http.MAX_RETRY_AFTER))
        except (TypeError, ValueError):
            pass
    return outcome


def _detail(answer: dict[str, Any]) -> str | None:
    """``<message> (code <code>)`` from Discord's error body."""
    text = answer.get("message")
    if not isinstance(text, str):
        return None
    code = answer.get("code")
    return f"{text} (code {code})" if isinstance(code, int) else text


def message(delivery: Delivery) -> dict[str, Any]:
    """The webhook body: the headline as content and one embed within Discord's limits."""
    body: dict[str, Any] = {}
    for value_limit in (MAX_FIELD_VALUE, 600, 300, 150, 60):
        embed = _embed(delivery, value_limit)
        body = {
            "content": messages.truncate(messages.unlinked(messages.headline(delivery)), MAX_CONTENT),
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        }
        if embed_characters(embed) <= MAX_EMBED_TOTAL:
            break
    return body


def _embed(delivery: Delivery, value_limit: int) -> dict[str, Any]:
    severity = delivery.event.severity
    embed: dict[str, Any] = {
        "title": messages.truncate(messages.headline(delivery), MAX_TITLE),
        "color": COLOURS[severity] if severity else DEFAULT_COLOUR,
        "fields": [
            {
                "name": messages.truncate(label, MAX_FIELD_NAME),
                "value": messages.truncate(messages.unlinked(value), value_limit),
                "inline": label not in ("Target", "Occurred"),
            }
            for label, value in messages.facts(delivery)
        ],
        "footer": {"text": messages.truncate(f"Apviso · {delivery.integration_name}", min(MAX_FOOTER, value_limit))},
        "timestamp": messages.occurred(delivery),
    }
    url = messages.link(delivery)
    if url:
        embed["url"] = url
    return embed


def embed_characters(embed: dict[str, Any]) -> int:
    """What Discord counts toward an embed's 6,000 characters: title, description, fields, footer, author."""
    texts = [embed.get("title", ""), embed.get("description", "")]
    texts += [part for field in embed.get("fields", []) for part in (field["name"], field["value"])]
    texts += [embed.get("footer", {}).get("text", ""), embed.get("author", {}).get("name", "")]
    return sum(len(text) for text in texts)
