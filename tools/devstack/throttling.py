"""API Gateway's per-account limits: the usage plan's rate, burst and daily quota per usage key.

With ``ApiKeySourceType: AUTHORIZER`` and ``ApiKeyRequired``, API Gateway takes each request's API key from
the authorizer's ``usageIdentifierKey``: no key answers INVALID_API_KEY (403); over the plan's rate or burst,
THROTTLED (429); over its quota, QUOTA_EXCEEDED (429). Each key has its own token bucket (``burst`` tokens,
refilled at ``rate`` per second), so one account's burst never costs another account anything.
Locally the limits are those of the template's usage plan on the API's stage (template parameters, which
``DEVSTACK_PARAMETERS`` or ``--parameter`` override); a key moved to another plan is not followed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.resources import Resources
from devstack.template import Template, TemplateError

USAGE_PLAN = "AWS::ApiGateway::UsagePlan"


@dataclass(frozen=True)
class AccountLimits:
    """One usage plan's limits: requests per second, burst, and requests per UTC day (None: no quota)."""

    rate: float
    burst: int
    quota_per_day: int | None = None


def api_key_required(api_props: Mapping[str, Any]) -> bool:
    """Whether the Api takes each request's API key from its authorizer and requires one on every method."""
    auth = api_props.get("Auth") or {}
    return str(api_props.get("ApiKeySourceType", "HEADER")) == "AUTHORIZER" and bool(auth.get("ApiKeyRequired"))


def load_limits(template: Template, resources: Resources, api_logical_id: str) -> AccountLimits | None:
    """The limits of the usage plan bound to the Api's stage, resolved with the stack's parameters."""
    resolver = resources.resolver
    assert resolver is not None
    plans = []
    for logical_id, resource in template.of_type(USAGE_PLAN).items():
        if not resolver.is_enabled(logical_id):
            continue
        raw = resource.get("Properties") or {}
        stages = raw.get("ApiStages") or []
        if any(resources.logical_id_of(stage.get("ApiId"), logical_id) == api_logical_id for stage in stages):
            plans.append(resolver.resolve(raw))
    if not plans:
        return None
    if len(plans) > 1:
        raise TemplateError("the local stack emulates one usage plan per API stage")
    [plan] = plans
    throttle, quota = plan.get("Throttle") or {}, plan.get("Quota") or {}
    if quota and str(quota.get("Period")) != "DAY":
        raise TemplateError("the local stack emulates daily usage plan quotas only")
    return AccountLimits(
        rate=float(throttle.get("RateLimit", 10000)),
        burst=int(throttle.get("BurstLimit", 5000)),
        quota_per_day=int(quota["Limit"]) if quota else None,
    )


class UsageLimiter:
    """Admits or refuses requests by usage key: a token bucket each, and a count per UTC day for the quota."""

    def __init__(
        self,
        limits: AccountLimits,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat(),
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.today = today
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, when counted)
        self._used: dict[tuple[str, str], int] = {}  # (key, day) → requests admitted
        self._lock = threading.Lock()

    def admit(self, usage_key: str | None) -> str | None:
        """None when the request may proceed, else the gateway response type that refuses it."""
        if not usage_key:
            return "INVALID_API_KEY"
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(usage_key, (float(self.limits.burst), now))
            tokens = min(float(self.limits.burst), tokens + (now - then) * self.limits.rate)
            if tokens < 1:
                self._buckets[usage_key] = (tokens, now)
                return "THROTTLED"
            self._buckets[usage_key] = (tokens - 1, now)
            if self.limits.quota_per_day is not None:
                day = (usage_key, self.today())
                if self._used.get(day, 0) >= self.limits.quota_per_day:
                    return "QUOTA_EXCEEDED"
                self._used = {k: v for k, v in self._used.items() if k[1] == day[1]}  # forget earlier days
                self._used[day] = self._used.get(day, 0) + 1
            return None
