"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received").

What is sent: a JSON POST to the workflow's URL with ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <Adaptive Card>}]}``, the shape the
Workflows template "Post to a channel when a webhook request is received" posts as a card. The card (version 1.4,
which Teams renders on desktop, web and mobile) holds:
- a heading TextBlock: the headline, coloured by severity (critical/high ``Attention``, medium ``Warning``,
  low/info ``Accent``), at most MAX_HEADLINE characters;
- a FactSet of the facts (severity, target, scan, finding, schedule, event type, time), each value at most
  MAX_FACT characters;
- an ``Action.OpenUrl`` button to the finding, report or scan when the event has a link;
- ``fallbackText``: the headline, for clients that cannot render the card.
Teams refuses messages past about 28 KB: should the values (any length, as producers send them) still make the
card larger, they are cut shorter until it fits. Every cut ends with "…". Markdown link syntax in event text is
broken with a zero-width space, so a finding title cannot render a disguised link.

Office 365 connector URLs (``*.webhook.office.com``) are retired by Microsoft and refused: only Workflows URLs are
accepted, on ``*.logic.azure.com`` (Logic Apps hosts of older workflows) or ``*.powerplatform.com``
(``*.environment.api.powerplatform.com``, where Teams creates workflows now). The URL carries its own
authorization (``sig=``): it is the credential, never logged or shown.

Outcome: Workflows accepts with 202 (any 2xx is success). 429 (honouring Retry-After), 408 and 5xx are retried;
other answers (400 bad request, 401/403 signature refused, 404 workflow deleted) are permanent.
"""

from __future__ import annotations

import json
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

WORKFLOW_HOST_SUFFIXES = (".logic.azure.com", ".powerplatform.com")
CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 28_000  # Teams: a message, card included, at most about 28 KB
MAX_HEADLINE = 300
MAX_FACT = 1000
LINK_TEXT = "Open in Apviso"
COLOURS = {"critical": "Attention", "high": "Attention", "medium": "Warning", "low": "Accent", "info": "Accent"}


def _check_workflow_url(value: str, info: ValidationInfo) -> str:
    check_destination_url(value, info)
    host = urlsplit(value).hostname or ""
    if host.endswith(".webhook.office.com") or host == "outlook.office.com":
        raise ValueError("Office 365 connector webhooks are retired: create a Teams Workflows webhook instead")
    if not allows_local(info) and not host.endswith(WORKFLOW_HOST_SUFFIXES):
        raise ValueError("must be a Teams Workflows webhook URL (*.logic.azure.com or *.powerplatform.com)")
    return value


class TeamsCredentials(ProviderModel):
    webhookUrl: Annotated[str, AfterValidator(_check_workflow_url)] = Field(
        description="Teams Workflows webhook URL (workflow 'When a Teams webhook request is received'; host "
        "*.logic.azure.com or *.environment.api.powerplatform.com). Office 365 connector URLs "
        "(*.webhook.office.com) are retired and refused."
    )


class Teams(Provider):
    id = "teams"
    name = "Microsoft Teams"
    description = "Post scan notifications and finding alerts as Adaptive Cards to Microsoft Teams channels"
    credentials = TeamsCredentials
    supported_events = (
        "scan.started",
        "scan.completed",
        "scan.failed",
        "finding.new",
        "finding.critical",
        "finding.high",
        "report.ready",
    )

    @classmethod
    def destination(cls, credentials: TeamsCredentials) -> str:
        return credentials.webhookUrl  # no fixed documented rate; a 429 holds the workflow

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Post the card; any 2xx (Workflows answers 202) is success."""
        credentials: TeamsCredentials = delivery.credentials
        try:
            response = http.post(credentials.webhookUrl, json_body=message(delivery))
        except http.TransportError as error:
            return http.outcome_from_transport_error(error)
        return http.outcome_from_response(response, cls.secret_values(credentials, delivery.config))

    @classmethod
    def secret_values(cls, credentials: ProviderModel, config: ProviderModel) -> list[str]:
        """The URL, and its path and query alone: an error may quote either without the host."""
        return with_url_parts(super().secret_values(credentials, config))


def message(delivery: Delivery) -> dict[str, Any]:
    """The Workflows message: one Adaptive Card attachment, within Teams' message size."""
    body: dict[str, Any] = {}
    for headline_limit, fact_limit in ((MAX_HEADLINE, MAX_FACT), (200, 300), (150, 100), (100, 40)):
        content = card(delivery, headline_limit, fact_limit)
        attachment = {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": content}
        body = {"type": "message", "attachments": [attachment]}
        if len(json.dumps(body).encode()) <= MAX_MESSAGE_BYTES:
            break
    return body


def card(delivery: Delivery, headline_limit: int = MAX_HEADLINE, fact_limit: int = MAX_FACT) -> dict[str, Any]:
    """The Adaptive Card: headline, facts, and a button to the event's link."""
    severity = delivery.event.severity
    headline = messages.truncate(messages.unlinked(messages.headline(delivery)), headline_limit)
    heading: dict[str, Any] = {
        "type": "TextBlock",
        "text": headline,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    if severity:
        heading["color"] = COLOURS[severity]
    facts = [
        {"title": label, "value": messages.truncate(messages.unlinked(value), fact_limit)}
        for label, value in messages.facts(delivery)
    ]
    result: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": headline,
        "body": [heading, {"type": "FactSet", "facts": facts}],
    }
    url = messages.link(delivery)
    if url:
        result["actions"] = [{"type": "Action.OpenUrl", "title": LINK_TEXT, "url": url}]
    return result
