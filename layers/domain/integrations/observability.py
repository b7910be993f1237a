"""Logger and tracer shared by every function (service name and level come from the environment)."""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from integrations.delivery import Outcome
from integrations.redaction import RedactingFormatter

logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
# single_metric prints its EMF line with print(), whose text and newline are two writes: deliveries running in
# threads would interleave them into lines CloudWatch cannot read.
_metrics_lock = threading.Lock()


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


def record_disable(provider: str, cause: str) -> None:
    """EMF count of integrations the service disabled on its own, by provider and cause (gone, failing)."""
    with single_metric(name="IntegrationsAutoDisabled", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="provider", value=provider)
        metric.add_dimension(name="cause", value=cause)
