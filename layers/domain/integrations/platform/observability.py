"""Logger and tracer shared by every function (service name and level come from the environment)."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from integrations.platform.redaction import RedactingFormatter

if TYPE_CHECKING:
    from integrations.providers.delivery import Outcome

logger = Logger(logger_formatter=RedactingFormatter())
# single_metric prints its EMF line with print(), whose text and newline are two writes: deliveries running in
# threads would interleave them into lines CloudWatch cannot read.
_metrics_lock = threading.Lock()


# What the functions call: patch_all would also import and patch requests, sqlite3, psycopg2 hooks and more.
# requests stays unpatched: X-Ray would record provider URLs (a Slack webhook's path is its secret).
TRACED_LIBRARIES = ("botocore",)


@cache
def _tracer() -> Tracer:
    return Tracer(patch_modules=TRACED_LIBRARIES)


def __getattr__(name: str) -> Tracer:
    # `tracer` is built on first import of the name: Tracer() loads the X-Ray SDK and patches botocore (about
    # a third of a boto3 import, `make bench`), which the functions that never trace (the authorizer) skip.
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def record_attempt(provider: str, outcome: Outcome) -> None:
    """EMF metrics of one delivery attempt: a count by provider and outcome, and its latency.

    single_metric flushes at once, so attempts of different providers in one batch keep their dimensions.
    """
    result = "skipped" if outcome.skipped else "success" if outcome.success else "failed"
    with _metrics_lock, single_metric(name="DeliveryAttempts", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="provider", value=provider)
        metric.add_dimension(name="outcome", value=result)
    latency = outcome.response_time_ms
    with _metrics_lock, single_metric(name="DeliveryLatency", unit=MetricUnit.Milliseconds, value=latency) as metric:
        metric.add_dimension(name="provider", value=provider)


def record_service_failure() -> None:
    """EMF count of delivery attempts that failed on our side (DynamoDB, Secrets Manager…), not the provider's."""
    with _metrics_lock, single_metric(name="DeliveryServiceFailures", unit=MetricUnit.Count, value=1):
        pass  # the service dimension Powertools adds is the only one


def record_disable(provider: str, cause: str) -> None:
    """EMF count of integrations the service disabled on its own, by provider and cause (gone, failing)."""
    with _metrics_lock, single_metric(name="IntegrationsAutoDisabled", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="provider", value=provider)
        metric.add_dimension(name="cause", value=cause)
