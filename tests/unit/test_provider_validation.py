"""Credential, config and event validation against the catalog, provider by provider."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.api.service import validate_settings
from integrations.platform.errors import ValidationFailed
from integrations.providers.registry import PROVIDERS

SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"[:32]
TEAMS_URL = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0c5a3f1e2b7d/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbC123"
)
TEAMS_PP_URL = (
    "https://default0c5a3f1e.2b.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/"
    "0c5a3f1e/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbC123"
)
DISCORD_URL = "https://discord.com/api/webhooks/1234567890123456789/AbCdEf_-0123456789abcdefABCDEF"
CHAT_URL = "https://chat.googleapis.com/v1/spaces/AAAAabc/messages?key=AIzaSyKey&token=tok%3D"
GITHUB_TOKEN = "github_pat_11AAAA_0123456789"
HEC = {"url": "https://splunk.example.com:8088", "token": "7e1b1c55-4f2e-4a7b-9c1d-0a1b2c3d4e5f"}

VALID: list[tuple[str, dict[str, Any], dict[str, Any] | None, list[str]]] = [
    ("slack", {"webhookUrl": SLACK_URL}, {"channel": "#security-alerts"}, ["scan.completed", "finding.high"]),
    ("slack", {"webhookUrl": SLACK_URL}, None, ["report.ready"]),
    ("webhook", {"url": "https://example.com/hook"}, None, ["finding.new", "schedule.skipped"]),
    (
        "webhook",
        {"url": "https://example.com/hook", "secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        None,
        ["scan.started"],
    ),
    (
        "webhook",
        {"url": "https://example.com/h", "secret": "plain-secret"},
        {"headers": {"X-Team": "sec"}},
        ["scan.failed"],
    ),
    (
        "jira",
        {"baseUrl": "https://team.atlassian.net", "email": "a@b.io", "apiToken": "tok"},
        {"projectKey": "SEC"},
        ["finding.new"],
    ),
    (
        "jira",
        {"baseUrl": "https://team.atlassian.net", "email": "a@b.io", "apiToken": "t"},
        {"projectKey": "SEC_2", "issueType": "Task"},
        ["finding.high"],
    ),
    ("pagerduty", {"routingKey": ROUTING_KEY}, None, ["finding.critical", "scan.failed"]),
    ("email", {"recipients": ["sec@example.com", "ops@example.org"]}, {"digestMode": True}, ["scan.completed"]),
    ("teams", {"webhookUrl": TEAMS_URL}, None, ["finding.new", "scan.failed"]),
    ("teams", {"webhookUrl": TEAMS_PP_URL}, None, ["report.ready"]),
    ("discord", {"webhookUrl": DISCORD_URL}, None, ["finding.critical"]),
    (
        "discord",
        {"webhookUrl": DISCORD_URL.replace("discord.com/api", "discordapp.com/api/v10")},
        None,
        ["scan.started"],
    ),
    ("google_chat", {"webhookUrl": CHAT_URL}, None, ["scan.completed", "finding.high"]),
    (
        "github",
        {"token": GITHUB_TOKEN},
        {"repository": "acme/webapp", "labels": ["security", "bug bounty"]},
        ["finding.new"],
    ),
    (
        "github",
        {"token": GITHUB_TOKEN, "apiUrl": "https://ghe.corp.example/api/v3"},
        {"repository": "a/b.c"},
        ["finding.high"],
    ),
    (
        "github",
        {"token": GITHUB_TOKEN, "apiUrl": "https://api.acme.ghe.com"},
        {"repository": "acme/webapp"},
        ["finding.high"],
    ),
    ("splunk", HEC, None, ["schedule.skipped", "finding.new"]),
    (
        "splunk",
        {**HEC, "url": "https://http-inputs-acme.splunkcloud.com/services/collector/event"},
        {"index": "security", "sourcetype": "apviso:event", "skipTlsVerification": True},
        ["scan.started"],
    ),
]


@pytest.mark.parametrize(("provider", "credentials", "config", "events"), VALID)
def test_valid_settings_are_accepted(
    provider: str, credentials: dict[str, Any], config: Any, events: list[str]
) -> None:
    secret = validate_settings(PROVIDERS[provider], credentials, config, events, allow_local_destinations=False)  # type: ignore[arg-type]
    assert secret["credentials"] == credentials
    assert secret["config"] == (config or {})


INVALID: list[tuple[str, dict[str, Any], dict[str, Any] | None, list[str], str]] = [
    ("slack", {}, None, ["scan.completed"], "credentials.webhookUrl"),
    ("slack", {"webhookUrl": 42}, None, ["scan.completed"], "credentials.webhookUrl"),
    (
        "slack",
        {"webhookUrl": "http://hooks.slack.com/services/T/B/x"},
        None,
        ["scan.completed"],
        "credentials.webhookUrl",
    ),
    (
        "slack",
        {"webhookUrl": "https://evil.example.com/services/T/B/x"},
        None,
        ["scan.completed"],
        "credentials.webhookUrl",
    ),
    ("slack", {"webhookUrl": SLACK_URL, "token": "x"}, None, ["scan.completed"], "credentials.token"),
    ("slack", {"webhookUrl": SLACK_URL}, {"channel": 5}, ["scan.completed"], "config.channel"),
    ("slack", {"webhookUrl": SLACK_URL}, None, ["schedule.triggered"], "enabledEvents[0]"),
    ("webhook", {"url": "ftp://example.com/x"}, None, ["scan.started"], "credentials.url"),
    ("webhook", {"url": "https://"}, None, ["scan.started"], "credentials.url"),
    ("webhook", {"url": "https://user:pw@example.com/"}, None, ["scan.started"], "credentials.url"),
    (
        "webhook",
        {"url": "https://example.com/", "secret": "whsec_not base64!"},
        None,
        ["scan.started"],
        "credentials.secret",
    ),
    (
        "webhook",
        {"url": "https://example.com/"},
        {"headers": {"Content-Type": "text/plain"}},
        ["scan.started"],
        "config.headers",
    ),
    ("webhook", {"url": "https://example.com/"}, {"headers": {"webhook-id": "x"}}, ["scan.started"], "config.headers"),
    ("webhook", {"url": "https://example.com/"}, {"headers": {"X-A": "a\r\nB: c"}}, ["scan.started"], "config.headers"),
    ("webhook", {"url": "https://example.com/"}, {"headers": {"X-A": 1}}, ["scan.started"], "config.headers.X-A"),
    (
        "webhook",
        {"url": "https://example.com/"},
        {"headers": {f"X-{i}": "v" for i in range(21)}},
        ["scan.started"],
        "config.headers",
    ),
    (
        "jira",
        {"baseUrl": "https://t.atlassian.net", "email": "not-an-email", "apiToken": "t"},
        {"projectKey": "SEC"},
        ["finding.new"],
        "credentials.email",
    ),
    (
        "jira",
        {"baseUrl": "https://t.atlassian.net", "email": "a@b.io", "apiToken": "t"},
        {"projectKey": "sec"},
        ["finding.new"],
        "config.projectKey",
    ),
    (
        "jira",
        {"baseUrl": "https://t.atlassian.net", "email": "a@b.io", "apiToken": "t"},
        None,
        ["finding.new"],
        "config.projectKey",
    ),
    (
        "jira",
        {"baseUrl": "https://t.atlassian.net", "email": "a@b.io", "apiToken": ""},
        {"projectKey": "SEC"},
        ["finding.new"],
        "credentials.apiToken",
    ),
    ("pagerduty", {"routingKey": "short"}, None, ["scan.failed"], "credentials.routingKey"),
    ("pagerduty", {"routingKey": ROUTING_KEY + "X"}, None, ["scan.failed"], "credentials.routingKey"),
    ("pagerduty", {"routingKey": ROUTING_KEY}, {"anything": 1}, ["scan.failed"], "config.anything"),
    ("email", {"recipients": []}, None, ["scan.completed"], "credentials.recipients"),
    ("email", {"recipients": "a@b.io"}, None, ["scan.completed"], "credentials.recipients"),
    ("email", {"recipients": ["a@b.io", "nope"]}, None, ["scan.completed"], "credentials.recipients[1]"),
    (
        "email",
        {"recipients": [f"u{i}@example.com" for i in range(51)]},
        None,
        ["scan.completed"],
        "credentials.recipients",
    ),
    ("email", {"recipients": ["a@b.io", "A@b.io"]}, None, ["scan.completed"], "credentials.recipients"),
    ("email", {"recipients": ["a@b.io"]}, {"digestMode": "true"}, ["scan.completed"], "config.digestMode"),
    ("email", {"recipients": ["a@b.io"]}, {"digestMode": True}, ["finding.critical"], "config.digestMode"),
    (
        "teams",
        {"webhookUrl": "https://acme.webhook.office.com/webhookb2/x/IncomingWebhook/y/z"},
        None,
        ["scan.started"],
        "credentials.webhookUrl",
    ),
    (
        "teams",
        {"webhookUrl": "https://evil.example/workflows/x?sig=y"},
        None,
        ["scan.started"],
        "credentials.webhookUrl",
    ),
    ("teams", {"webhookUrl": TEAMS_URL.replace("https", "http", 1)}, None, ["scan.started"], "credentials.webhookUrl"),
    ("teams", {"webhookUrl": TEAMS_URL}, None, ["schedule.skipped"], "enabledEvents[0]"),
    (
        "discord",
        {"webhookUrl": "https://discord.com/api/webhooks/123"},
        None,
        ["scan.started"],
        "credentials.webhookUrl",
    ),
    (
        "discord",
        {"webhookUrl": DISCORD_URL.replace("discord.com", "discord.evil.example")},
        None,
        ["scan.started"],
        "credentials.webhookUrl",
    ),
    ("discord", {"webhookUrl": DISCORD_URL + "?wait=true"}, None, ["scan.started"], "credentials.webhookUrl"),
    (
        "google_chat",
        {"webhookUrl": CHAT_URL.replace("&token=tok%3D", "")},
        None,
        ["scan.started"],
        "credentials.webhookUrl",
    ),
    (
        "google_chat",
        {"webhookUrl": CHAT_URL.replace("chat.googleapis.com", "chat.evil.example")},
        None,
        ["scan.started"],
        "credentials.webhookUrl",
    ),
    ("github", {"token": GITHUB_TOKEN}, None, ["finding.new"], "config.repository"),
    ("github", {"token": GITHUB_TOKEN}, {"repository": "no-slash"}, ["finding.new"], "config.repository"),
    ("github", {"token": GITHUB_TOKEN}, {"repository": "acme/.."}, ["finding.new"], "config.repository"),
    ("github", {"token": "has space tok"}, {"repository": "a/b"}, ["finding.new"], "credentials.token"),
    (
        "github",
        {"token": GITHUB_TOKEN, "apiUrl": "https://ghe.corp.example/"},
        {"repository": "a/b"},
        ["finding.new"],
        "credentials.apiUrl",
    ),
    ("github", {"token": GITHUB_TOKEN}, {"repository": "a/b", "labels": ["x", "x"]}, ["finding.new"], "config.labels"),
    (
        "github",
        {"token": GITHUB_TOKEN},
        {"repository": "a/b", "labels": [" padded"]},
        ["finding.new"],
        "config.labels[0]",
    ),
    ("github", {"token": GITHUB_TOKEN}, {"repository": "a/b"}, ["scan.completed"], "enabledEvents[0]"),
    (
        "splunk",
        {**HEC, "url": "https://splunk.example.com:8088/services/other"},
        None,
        ["scan.started"],
        "credentials.url",
    ),
    ("splunk", {"url": HEC["url"]}, None, ["scan.started"], "credentials.token"),
    ("splunk", HEC, {"skipTlsVerification": "yes"}, ["scan.started"], "config.skipTlsVerification"),
    ("splunk", HEC, {"index": "no spaces allowed"}, ["scan.started"], "config.index"),
]


@pytest.mark.parametrize(("provider", "credentials", "config", "events", "field"), INVALID)
def test_invalid_settings_name_the_field_and_never_echo_the_value(
    provider: str, credentials: dict[str, Any], config: Any, events: list[str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_settings(PROVIDERS[provider], credentials, config, events, allow_local_destinations=False)  # type: ignore[arg-type]
    fields = [d.field for d in raised.value.details]
    assert field in fields
    text = str(raised.value) + " ".join(d.message for d in raised.value.details)
    for value in [*credentials.values(), *(config or {}).values()]:
        for secret in value if isinstance(value, list) else [value]:
            if isinstance(secret, str) and len(secret) > 3:
                assert secret not in text


def test_local_destinations_need_the_setting() -> None:
    local = {"url": "http://127.0.0.1:9000/hook"}
    with pytest.raises(ValidationFailed):
        validate_settings(PROVIDERS["webhook"], local, None, ["scan.started"], allow_local_destinations=False)
    assert validate_settings(PROVIDERS["webhook"], local, None, ["scan.started"], allow_local_destinations=True)
    slack_local = {"webhookUrl": "http://127.0.0.1:9000/services/T/B/x"}
    assert validate_settings(PROVIDERS["slack"], slack_local, None, ["scan.started"], allow_local_destinations=True)


LOCAL_FAKES: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("teams", {"webhookUrl": "http://127.0.0.1:9000/workflows/x/triggers/manual/paths/invoke?sig=s"}, None),
    ("discord", {"webhookUrl": "http://127.0.0.1:9000/api/webhooks/123/token"}, None),
    ("google_chat", {"webhookUrl": "http://127.0.0.1:9000/v1/spaces/AAAA/messages?key=k&token=t"}, None),
    ("github", {"token": "t", "apiUrl": "http://127.0.0.1:9000"}, {"repository": "a/b"}),
    ("splunk", {"url": "http://127.0.0.1:8088", "token": "t"}, None),
]


@pytest.mark.parametrize(("provider", "credentials", "config"), LOCAL_FAKES)
def test_new_providers_reach_local_fakes_only_with_the_setting(
    provider: str, credentials: dict[str, Any], config: dict[str, Any] | None
) -> None:
    events = [PROVIDERS[provider].supported_events[0]]
    with pytest.raises(ValidationFailed):
        validate_settings(PROVIDERS[provider], credentials, config, events, allow_local_destinations=False)
    assert validate_settings(PROVIDERS[provider], credentials, config, events, allow_local_destinations=True)
