"""Event types and severities: the vocabulary shared by the API, the providers and the event contract."""

from __future__ import annotations

from typing import Literal, get_args

EventType = Literal[
    "scan.started",
    "scan.completed",
    "scan.failed",
    "finding.new",
    "finding.critical",
    "finding.high",
    "report.ready",
    "schedule.triggered",
    "schedule.skipped",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

DeliveryStatus = Literal["success", "failed"]

# The registry's ids, in its order (integrations.providers.registry.PROVIDERS; a unit test keeps the two equal): the API
# models check a provider id against this list, so the routes that never validate credentials (list, delete,
# logs) need not import every provider's models.
PROVIDER_IDS = ("slack", "webhook", "jira", "pagerduty", "email", "teams", "discord", "google_chat", "github", "splunk")
