"""The test route's sample event and its answer."""

from __future__ import annotations

from datetime import datetime

from integrations.events import Event
from integrations.models.testing import TestResult
from integrations.platform import clock
from integrations.providers.delivery import Outcome


def sample(account_id: str) -> Event:
    """A realistic event, clearly marked as a test in every field a person reads."""
    scan_id = "scan_test_" + clock.new_id()[-12:]
    return Event.model_validate(
        {
            "id": clock.new_id(),
            "type": "finding.critical",
            "accountId": account_id,
            "occurredAt": clock.iso(clock.now()),
            "data": {
                "test": True,
                "scan": {"id": scan_id, "target": "https://example.com", "url": "https://apviso.com/scans/test"},
                "finding": {
                    "id": "finding_test",
                    "title": "Test finding from Apviso (no action needed)",
                    "severity": "critical",
                    "url": "https://apviso.com/findings/test",
                },
            },
        }
    )


def result(outcome: Outcome, delivered_at: datetime) -> TestResult:
    """The seed's test answer; ``error`` only when the test failed."""
    message = "Test event delivered successfully" if outcome.success else "Test event delivery failed"
    return TestResult(
        success=outcome.success,
        message=message,
        deliveredAt=clock.iso(delivered_at),
        responseCode=outcome.response_code,
        responseTime=outcome.response_time_ms,
        error=None if outcome.success else outcome.error or "Delivery failed",
    )
