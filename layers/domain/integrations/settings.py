"""Each function's settings, read from its environment once and validated at cold start."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AuthorizerSettings(_Settings):
    api_keys_table: str = Field(alias="API_KEYS_TABLE", min_length=1)


class ApiSettings(_Settings):
    integrations_table: str = Field(alias="INTEGRATIONS_TABLE", min_length=1)
    secrets_prefix: str = Field(alias="SECRETS_PREFIX", min_length=1)
    # Local stack and tests only: lets providers reach http:// and private/loopback destinations.
    allow_local_destinations: bool = Field(alias="ALLOW_LOCAL_DESTINATIONS")


@cache
def load[S: _Settings](model: type[S]) -> S:
    """Validate the settings ``model`` from the environment; a missing variable fails loudly."""
    return model.model_validate(dict(os.environ))


class DeliverySettings(_Settings):
    """What the providers' senders need (dispatcher and the test route)."""

    allow_local_destinations: bool = Field(alias="ALLOW_LOCAL_DESTINATIONS")
    pagerduty_events_url: str = Field(alias="PAGERDUTY_EVENTS_URL", default="https://events.pagerduty.com/v2/enqueue")
    email_sender: str = Field(alias="EMAIL_SENDER", min_length=3)
    # "ses", or "smtp://host:port" for a self-hosted relay or the local stack.
    email_transport: str = Field(alias="EMAIL_TRANSPORT", default="ses", pattern=r"^(ses|smtp://[^/\s:]+:\d{1,5})$")
    # After a webhook's secret changes, deliveries are also signed with the previous one for this long
    # (template: SigningSecretGraceHours).
    signing_secret_grace_hours: float = Field(alias="SIGNING_SECRET_GRACE_HOURS", default=24, ge=0, le=720)

    @property
    def signing_grace(self) -> timedelta:
        return timedelta(hours=self.signing_secret_grace_hours)


class DispatchSettings(_Settings):
    """Tables the dispatcher and the test and logs routes write or read."""

    delivery_logs_table: str = Field(alias="DELIVERY_LOGS_TABLE", min_length=1)
    provider_state_table: str = Field(alias="PROVIDER_STATE_TABLE", min_length=1)
    # An integration whose every attempt failed for this many days is disabled (template: AutoDisableAfterDays).
    auto_disable_after_days: int = Field(alias="AUTO_DISABLE_AFTER_DAYS", default=5, ge=1, le=30)


class QueueSettings(_Settings):
    """Fan-out's and the dispatcher's queues."""

    deliveries_queue_url: str = Field(alias="DELIVERIES_QUEUE_URL", min_length=1)
    events_dlq_url: str = Field(alias="EVENTS_DLQ_URL", min_length=1)
    deliveries_dlq_url: str = Field(alias="DELIVERIES_DLQ_URL", min_length=1)
    max_delivery_attempts: int = Field(alias="MAX_DELIVERY_ATTEMPTS", ge=1, le=20)
