"""The five providers added after the seed, through the API: created, tested, delivered to, logged, and never
leaking a credential into an answer, a delivery log or a log line."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.providers.fake_chat_apps import FakeDiscord, FakeGoogleChat, FakeTeams
from tests.providers.fake_github import FakeGitHub
from tests.providers.fake_splunk import FakeSplunk
from tests.providers.fakes import FakeReceiver, Reply

pytestmark = pytest.mark.usefixtures("instant_local_delivery")

GITHUB_TOKEN = "github_pat_11LEAKCHECK_0123456789abcdef"
HEC_TOKEN = "5b0a7c9e-LEAK-CHECK-hec0-0123456789ab"


@dataclass
class Setup:
    provider: str
    fake: FakeReceiver
    credentials: dict[str, Any]
    config: dict[str, Any] | None
    secrets: list[str]

    def received(self) -> int:
        """Messages the fake accepted (issues opened, events indexed, cards and messages posted)."""
        fake: Any = self.fake
        for kept in ("cards", "messages", "issues", "events"):
            if hasattr(fake, kept):
                return len(getattr(fake, kept))
        raise AssertionError(self.provider)


@pytest.fixture
def setups() -> Iterator[list[Setup]]:
    with contextlib.ExitStack() as running:
        teams = running.enter_context(FakeTeams())
        discord = running.enter_context(FakeDiscord())
        chat = running.enter_context(FakeGoogleChat())
        github = running.enter_context(FakeGitHub(GITHUB_TOKEN))
        splunk = running.enter_context(FakeSplunk(HEC_TOKEN))
        yield [
            Setup("teams", teams, {"webhookUrl": teams.webhook_url}, None, [teams.webhook_url, FakeTeams.SIG]),
            Setup(
                "discord", discord, {"webhookUrl": discord.webhook_url}, None, [discord.webhook_url, FakeDiscord.TOKEN]
            ),
            Setup(
                "google_chat", chat, {"webhookUrl": chat.webhook_url}, None,
                [chat.webhook_url, FakeGoogleChat.KEY, FakeGoogleChat.TOKEN],
            ),
            Setup(
                "github", github, {"token": GITHUB_TOKEN, "apiUrl": github.url},
                {"repository": "acme/webapp", "labels": ["security"]}, [GITHUB_TOKEN],
            ),
            Setup("splunk", splunk, {"url": splunk.url, "token": HEC_TOKEN}, {"index": "security"}, [HEC_TOKEN]),
        ]  # fmt: skip


def test_each_new_provider_is_created_tested_delivered_and_logged(
    api: Api, setups: list[Setup], log_output: io.StringIO
) -> None:
    listed = api.request("GET", "/v1/integrations/providers").body["providers"]
    assert len(listed) == 10 and {s.provider for s in setups} <= {p["id"] for p in listed}
    ids = {}
    for setup in setups:
        body = {
            "provider": setup.provider,
            "name": f"New {setup.provider}",
            "credentials": setup.credentials,
            "enabledEvents": ["finding.critical"],
            **({"config": setup.config} if setup.config else {}),
        }
        created = api.request("POST", "/v1/integrations", body)
        assert created.status == 201, created.body
        ids[setup.provider] = created.body["id"]
        tested = api.request("POST", f"/v1/integrations/{created.body['id']}/test")
        assert tested.status == 200 and tested.body["success"], (setup.provider, tested.body)

    api.publish(event("finding.critical", severity="critical"))
    api.drain()

    for setup in setups:
        expected = 1 if setup.provider == "github" else 2  # GitHub's test reads the repository, opens nothing
        assert setup.received() == expected, setup.provider
        logs = api.request("GET", f"/v1/integrations/{ids[setup.provider]}/logs").body["data"]
        assert [(e["event"], e["status"]) for e in logs] == [
            ("finding.critical", "success"),
            ("integration.test", "success"),
        ], setup.provider

    # Each provider's refusal, quoting its credential back: a failed test, logged, scrubbed.
    for setup in setups:
        setup.fake.script(Reply(400, f"refused: {' '.join(setup.secrets)}"))
        tested = api.request("POST", f"/v1/integrations/{ids[setup.provider]}/test")
        assert tested.body["success"] is False and tested.body["responseCode"] == 400, setup.provider
        assert "[redacted]" in tested.body["error"], setup.provider
        logs = api.request("GET", f"/v1/integrations/{ids[setup.provider]}/logs").body["data"]
        assert logs[0]["status"] == "failed"

    everything = "\n".join([log_output.getvalue(), *(reply.raw for reply in api.replies)])
    assert "Delivery attempt" in everything
    for setup in setups:
        for secret in setup.secrets:
            assert secret not in everything, (setup.provider, secret)


def test_a_patch_is_validated_against_the_new_providers_rules(api: Api, setups: list[Setup]) -> None:
    github = next(s for s in setups if s.provider == "github")
    body = {
        "provider": "github",
        "name": "Issues",
        "credentials": github.credentials,
        "config": github.config,
        "enabledEvents": ["finding.new"],
    }
    created = api.request("POST", "/v1/integrations", body).body
    refused = api.request("PATCH", f"/v1/integrations/{created['id']}", {"config": {"repository": "not a repo"}})
    assert refused.status == 400
    assert refused.body["error"]["details"][0]["field"] == "config.repository"
    unsupported = api.request("PATCH", f"/v1/integrations/{created['id']}", {"enabledEvents": ["scan.completed"]})
    assert unsupported.status == 400
    accepted = api.request("PATCH", f"/v1/integrations/{created['id']}", {"config": {"repository": "acme/webapp"}})
    assert accepted.status == 200


def test_githubs_rate_limit_403_holds_the_tokens_other_deliveries(api: Api, setups: list[Setup]) -> None:
    from tests.integration.test_parallel_and_paced_delivery import dispatch_batch, queued

    github = next(s for s in setups if s.provider == "github")
    body = {
        "provider": "github",
        "name": "Issues",
        "credentials": github.credentials,
        "config": github.config,
        "enabledEvents": ["finding.new"],
    }
    assert api.request("POST", "/v1/integrations", body).status == 201
    limited = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    github.fake.script(Reply(403, limited, {"retry-after": "40"}))
    api.publish(event("finding.new", severity="high", event_id="evt_1"))
    while api.poller("FanoutFunction").poll_once():
        pass
    dispatch_batch(api)
    assert len(github.fake.requests) == 1  # refused: a failed, retryable attempt
    published = event("finding.new", severity="high", event_id="evt_2")
    published["data"]["finding"]["id"] = "f_2"
    api.publish(published)
    while api.poller("FanoutFunction").poll_once():
        pass
    dispatch_batch(api)

    assert len(github.fake.requests) == 1, "the other finding's delivery was held, not sent"
    waits = [m["wait"] for m in queued(api)]
    assert len(waits) == 2 and all(38 < wait <= 40 for wait in waits), "both wait out retry-after"
