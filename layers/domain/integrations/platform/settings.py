"""Each function's settings, read from its environment once and validated at cold start.

Plain dataclasses rather than pydantic models: the authorizer, which runs before every uncached API key,
needs nothing else from pydantic, and importing it (with one model) costs over a third of a boto3 import
(`make bench`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from typing import Any, Self

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def env(
    name: str,
    *,
    default: Any = dataclasses.MISSING,
    min_length: int = 1,
    pattern: str | None = None,
    ge: int | None = None,
    le: int | None = None,
) -> Any:
    """A setting read from the environment variable ``name``, with the rules its value must follow."""
    rules = {"env": name, "min_length": min_length, "pattern": pattern, "ge": ge, "le": le}
    return dataclasses.field(default=default, metadata=rules)


def _convert(kind: str, value: Any, rules: Mapping[str, Any]) -> Any:
    name = rules["env"]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(f"{name} must be true or false")
        return text in _TRUE
    if kind == "int":
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer") from None
        if (rules["ge"] is not None and number < rules["ge"]) or (rules["le"] is not None and number > rules["le"]):
            raise ValueError(f"{name} must be between {rules['ge']} and {rules['le']}")
        return number
    text = str(value)
    if len(text) < rules["min_length"]:
        raise ValueError(f"{name} must have at least {rules['min_length']} characters")
    if rules["pattern"] and not re.fullmatch(rules["pattern"], text):
        raise ValueError(f"{name} does not match {rules['pattern']}")
    return text


# Dataclasses for their fields only: every method a dataclass generates (__init__, __repr__, __eq__…) is compiled
# anew at each import, about 1 M instructions per settings class at every cold start (`make bench`). Settings are
# built by model_validate alone, read, and never compared.
@dataclasses.dataclass(init=False, repr=False, eq=False)
class _Settings:
    def __init__(self, **values: Any) -> None:
        vars(self).update(values)  # a setting left out keeps its default, the class attribute

    @classmethod
    def model_validate(cls, values: Mapping[str, Any]) -> Self:
        """The settings from ``values`` (variable name → value); a missing or invalid value raises ValueError.

        Named as pydantic names it, which these settings were until the benchmark measured them.
        """
        parsed: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            name = item.metadata["env"]
            if name in values:
                parsed[item.name] = _convert(str(item.type), values[name], item.metadata)
            elif item.default is dataclasses.MISSING:
                raise ValueError(f"{name} is not set")
        return cls(**parsed)


@cache
def load[S: _Settings](model: type[S]) -> S:
    """Validate the settings ``model`` from the environment; a missing variable fails loudly."""
    return model.model_validate(dict(os.environ))


@dataclasses.dataclass(init=False, repr=False, eq=False)
class AuthorizerSettings(_Settings):
    api_keys_table: str = env("API_KEYS_TABLE")


@dataclasses.dataclass(init=False, repr=False, eq=False)
class ApiSettings(_Settings):
    integrations_table: str = env("INTEGRATIONS_TABLE")
    secrets_prefix: str = env("SECRETS_PREFIX")
    # Local stack and tests only: lets providers reach http:// and private/loopback destinations.
    allow_local_destinations: bool = env("ALLOW_LOCAL_DESTINATIONS")
    # Live integrations one account may have: each holds a secret billed monthly (template: MaxIntegrationsPerAccount).
    max_integrations_per_account: int = env("MAX_INTEGRATIONS_PER_ACCOUNT", default=100, ge=1, le=10_000)


@dataclasses.dataclass(init=False, repr=False, eq=False)
class DeliverySettings(_Settings):
    """What the providers' senders need (dispatcher and the test route)."""

    allow_local_destinations: bool = env("ALLOW_LOCAL_DESTINATIONS")
    pagerduty_events_url: str = env("PAGERDUTY_EVENTS_URL", default="https://events.pagerduty.com/v2/enqueue")
    email_sender: str = env("EMAIL_SENDER", min_length=3)
    # "ses", or "smtp://host:port" for a self-hosted relay or the local stack.
    email_transport: str = env("EMAIL_TRANSPORT", default="ses", pattern=r"^(ses|smtp://[^/\s:]+:\d{1,5})$")
    # After a webhook's secret changes, deliveries are also signed with the previous one for this long
    # (template: SigningSecretGraceHours).
    signing_secret_grace_hours: int = env("SIGNING_SECRET_GRACE_HOURS", default=24, ge=0, le=720)

    @property
    def signing_grace(self) -> timedelta:
        return timedelta(hours=self.signing_secret_grace_hours)


@dataclasses.dataclass(init=False, repr=False, eq=False)
class DispatchSettings(_Settings):
    """Tables the dispatcher and the test and logs routes write or read."""

    delivery_logs_table: str = env("DELIVERY_LOGS_TABLE")
    provider_state_table: str = env("PROVIDER_STATE_TABLE")
    # An integration whose every attempt failed for this many days is disabled (template: AutoDisableAfterDays).
    auto_disable_after_days: int = env("AUTO_DISABLE_AFTER_DAYS", default=5, ge=1, le=30)


@dataclasses.dataclass(init=False, repr=False, eq=False)
class QueueSettings(_Settings):
    """Fan-out's and the dispatcher's queues."""

    deliveries_queue_url: str = env("DELIVERIES_QUEUE_URL")
    events_dlq_url: str = env("EVENTS_DLQ_URL")
    deliveries_dlq_url: str = env("DELIVERIES_DLQ_URL")
    max_delivery_attempts: int = env("MAX_DELIVERY_ATTEMPTS", ge=1, le=20)


@dataclasses.dataclass(init=False, repr=False, eq=False)
class RecoverySettings(_Settings):
    """The queue of recovery batches (the recover route and the recovery-batches function)."""

    recovery_queue_url: str = env("RECOVERY_QUEUE_URL")
