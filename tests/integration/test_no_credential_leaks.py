"""A full run with known credential values: none of them in any log line, delivery log or API answer."""

from __future__ import annotations

import io
from typing import Any

import pytest

from integrations.delivery import retry
from integrations.platform import settings
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fake_jira import FakeJira
from tests.providers.fakes import FakePagerDuty, FakeSlack, FakeWebhookReceiver, Reply

JIRA_TOKEN = "jira-token-LEAKCHECK-7731"
ROUTING_KEY = "RkLEAKCHECK0123456789abcdefABCDE"
WEBHOOK_SECRET = "whsec_" + "bGVhay1jaGVjay1zaWduaW5nLWtleS0xMjM0"
HEADER_TOKEN = "Bearer hdr-LEAKCHECK-5521"
RECIPIENT = "leakcheck.recipient@customer.example"


def test_no_credential_appears_anywhere_in_a_full_run(
    api: Api, log_output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setattr(retry, "BACKOFF", (0,) * len(retry.BACKOFF))
    with (
        FakeSlack() as slack,
        FakePagerDuty() as pagerduty,
        FakeJira("bot@team.example", JIRA_TOKEN) as jira,
        FakeWebhookReceiver(WEBHOOK_SECRET) as hook,
    ):
        monkeypatch.setenv("PAGERDUTY_EVENTS_URL", pagerduty.events_url)
        settings.load.cache_clear()
        secrets = [slack.webhook_url, slack.PATH, JIRA_TOKEN, ROUTING_KEY, WEBHOOK_SECRET, HEADER_TOKEN, RECIPIENT]
        setups: list[dict[str, Any]] = [
            {"provider": "slack", "credentials": {"webhookUrl": slack.webhook_url}},
            {"provider": "pagerduty", "credentials": {"routingKey": ROUTING_KEY}},
            {
                "provider": "jira",
                "credentials": {"baseUrl": jira.url, "email": "bot@team.example", "apiToken": JIRA_TOKEN},
                "config": {"projectKey": "SEC"},
            },
            {
                "provider": "webhook",
                "credentials": {"url": hook.url, "secret": WEBHOOK_SECRET},
                "config": {"headers": {"Authorization": HEADER_TOKEN}},
            },
            {"provider": "email", "credentials": {"recipients": [RECIPIENT]}},
        ]
        ids = []
        for setup in setups:
            body = {"name": setup["provider"], "enabledEvents": ["finding.critical"], **setup}
            reply = api.request("POST", "/v1/integrations", body)
            assert reply.status == 201, reply.body
            ids.append(reply.body["id"])
        # Providers that quote what they were sent in their errors, then recover.
        slack.script(Reply(500, f"rollup_error for {slack.webhook_url}"))
        pagerduty.script(Reply(400, {"status": "invalid event", "errors": [f"bad key {ROUTING_KEY}"]}))
        jira.script(Reply(503, f"upstream said: token {JIRA_TOKEN} rejected"))
        hook.script(Reply(500, f"we got Authorization: {HEADER_TOKEN}"), "reset")
        api.publish(event("finding.critical", severity="critical"))
        api.drain()
        for integration_id in ids:
            api.request("POST", f"/v1/integrations/{integration_id}/test")
            api.request("GET", f"/v1/integrations/{integration_id}/logs")
        api.request("GET", "/v1/integrations")

    logs = log_output.getvalue()
    assert "Delivery attempt" in logs and "Fanned out event" in logs, "the run's log lines were captured"
    entries = [api.request("GET", f"/v1/integrations/{i}/logs").body for i in ids]
    assert any(e["status"] == "failed" for page in entries for e in page["data"]), "errors were logged"
    everything = "\n".join([logs, *(reply.raw for reply in api.replies)])
    assert "[redacted]" in everything, "the providers' echoes of credentials were there to scrub"
    for secret in secrets:
        assert secret not in everything
