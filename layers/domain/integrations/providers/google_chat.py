"""Google Chat incoming webhooks.

What is sent: a JSON POST to the space's webhook URL (``https://chat.googleapis.com/v1/spaces/{space}/messages
?key=…&token=…``) with ``messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`` added to its query, and
- ``text``: the headline and the link, the plain-text fallback that notifications show;
- ``cardsV2``: one card, its header the headline (subtitle: the event type), a section of the facts
  (``decoratedText`` widgets, label on top) and, when the event has a link, a button to it;
- ``thread.threadKey``: ``apviso-scan-<scan id>`` for every event of a scan, so that a scan's messages form one
  thread (the first message starts it; the option above starts a new thread when the key's thread is gone).
  Events without a scan start a thread of their own.
Chat refuses messages past 32,000 bytes: values are cut (ending with "…") shorter and shorter until the
message fits, whatever the producer sent. Fact texts are HTML-escaped (Chat renders a subset of HTML there) and
``<`` in ``text`` is followed by a zero-width space (Chat's ``<url|label>`` syntax), so that a finding title
cannot render a link.

The URL's ``key`` and ``token`` are the credential: the URL is never logged or shown, nor its query. Pacing:
Chat allows about one message per second per space (429 past it), so the pace is per space, whichever webhook
of that space is used.

Outcome: any 2xx is success. 429 (RESOURCE_EXHAUSTED, honouring Retry-After) and 5xx are retried; 400
(INVALID_ARGUMENT), 401/403 (key or token refused) and 404 (space gone) are permanent. Chat's error
``message`` is kept, scrubbed of credentials.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

CHAT_HOST = "chat.googleapis.com"
_SPACE_PATH = re.compile(r"^/v1/(spaces/[A-Za-z0-9_-]{1,100})/messages$")
REPLY_OPTION = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
MAX_MESSAGE_BYTES = 32_000
MAX_THREAD_KEY_ID = 64
LINK_TEXT = "Open in Apviso"


def _check_chat_url(value: str, info: ValidationInfo) -> str:
    check_destination_url(value, info)
    parts = urlsplit(value)
    query = dict(parse_qsl(parts.query))
    if (
        (not allows_local(info) and parts.hostname != CHAT_HOST)
        or not _SPACE_PATH.match(parts.path)
        or not query.get("key")
        or not query.get("token")
    ):
        raise ValueError(
            "must be a Google Chat incoming webhook URL (https://chat.googleapis.com/v1/spaces/…/messages?key=…&token=…)"
        )
    return value


class GoogleChatCredentials(ProviderModel):
    webhookUrl: Annotated[str, AfterValidator(_check_chat_url)] = Field(
        description="Google Chat incoming webhook URL "
        "(https://chat.googleapis.com/v1/spaces/SPACE/messages?key=…&token=…; space menu → Apps & integrations)"
    )


class GoogleChat(Provider):
    id = "google_chat"
    name = "Google Chat"
    description = "Post scan notifications and finding alerts to Google Chat spaces, one thread per scan"
    credentials = GoogleChatCredentials
    supported_events = (
        "scan.started",
        "scan.completed",
        "scan.failed",
        "finding.new",
        "finding.critical",
        "finding.high",
        "report.ready",
    )
    rate_interval = 1.0  # Chat: about one message per second per space

    @classmethod
    def destination(cls, credentials: GoogleChatCredentials) -> str:
        match = _SPACE_PATH.match(urlsplit(credentials.webhookUrl).path)
        return match.group(1) if match else credentials.webhookUrl  # the space: its webhooks share its rate

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Post the message into the scan's thread; any 2xx is success."""
        credentials: GoogleChatCredentials = delivery.credentials
        try:
            response = http.post(threaded_url(credentials.webhookUrl), json_body=message(delivery))
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        status = http.json_object(response.text).get("error")
        detail = status.get("message") if isinstance(status, dict) and isinstance(status.get("message"), str) else None
        return http.outcome_from_response(response, cls.secret_values(credentials, delivery.config), detail=detail)

    @classmethod
    def secret_values(cls, credentials: ProviderModel, config: ProviderModel) -> list[str]:
        """The URL, its path and its query, and the key and the token alone."""
        return with_url_parts(super().secret_values(credentials, config))


def threaded_url(webhook_url: str) -> str:
    """The webhook URL with ``messageReplyOption`` set, so that a message joins its thread (or starts one)."""
    parts = urlsplit(webhook_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "messageReplyOption"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("messageReplyOption", REPLY_OPTION)])))


def thread_key(delivery: Delivery) -> str | None:
    """``apviso-scan-<scan id>`` (a long id hashed), or None for an event without a scan."""
    scan = delivery.event.data.scan
    if scan is None:
        return None
    readable = re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", scan.id)
    return f"apviso-scan-{scan.id if readable else hashlib.sha256(scan.id.encode()).hexdigest()}"


def plain(text: str) -> str:
    """Text with Chat's link syntax (``<url|label>``) broken by a zero-width space: no disguised links."""
    return text.replace("<", "<\u200b")


def message(delivery: Delivery) -> dict[str, Any]:
    """The webhook body: text fallback, one card and the scan's thread, within 32,000 bytes."""
    body: dict[str, Any] = {}
    for limit in (4000, 1000, 400, 150, 60):
        body = _message(delivery, limit)
        if len(json.dumps(body).encode()) <= MAX_MESSAGE_BYTES:
            break
    return body


def _message(delivery: Delivery, limit: int) -> dict[str, Any]:
    headline = messages.truncate(messages.headline(delivery), limit)
    url = messages.link(delivery)
    widgets: list[dict[str, Any]] = [
        {"decoratedText": {"topLabel": label, "text": html.escape(messages.truncate(value, limit)), "wrapText": True}}
        for label, value in messages.facts(delivery)
    ]
    sections: list[dict[str, Any]] = [{"widgets": widgets}]
    if url:
        button = {"text": LINK_TEXT, "onClick": {"openLink": {"url": url}}}
        sections.append({"widgets": [{"buttonList": {"buttons": [button]}}]})
    card = {
        "cardId": "apviso-event",
        "card": {
            "header": {"title": headline, "subtitle": delivery.event_type},
            "sections": sections,
        },
    }
    body: dict[str, Any] = {
        "text": plain(f"{headline}\n{url}" if url else headline),
        "cardsV2": [card],
    }
    key = thread_key(delivery)
    if key:
        body["thread"] = {"threadKey": key}
    return body
