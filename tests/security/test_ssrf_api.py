"""The SSRF guard through the whole service: create and PATCH answer 400 naming the field, and a stored
destination that is (or has become) forbidden fails at delivery, logged, not retried, without a connection."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import boto3
import pytest

from devstack.template import load_template
from integrations.delivery import dispatch
from integrations.platform import settings
from integrations.providers import http
from tests.conftest import ROOT
from tests.integration.conftest import Api
from tests.integration.test_fanout import event
from tests.integration.test_pipeline import logs
from tests.security.destinations import FORBIDDEN
from tests.security.network import PUBLIC_V4, PUBLIC_V6, CountingListener, FakeNetwork

REFUSED = "must not point to a private, loopback or link-local address"
SLACK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def create(api: Api, provider: str, credentials: dict[str, Any], **extra: Any) -> Any:
    body = {"provider": provider, "name": "ssrf probe", "credentials": credentials, **extra}
    body.setdefault("enabledEvents", ["scan.completed"] if provider != "jira" else ["finding.critical"])
    return api.request("POST", "/v1/integrations", body)


def jira(base_url: str) -> dict[str, Any]:
    return {"baseUrl": base_url, "email": "bot@team.example", "apiToken": "jira-token-123"}


def field_errors(reply: Any) -> list[tuple[str, str]]:
    return [(d["field"], d["message"]) for d in reply.body["error"]["details"]]


def set_local_destinations(monkeypatch: pytest.MonkeyPatch, allowed: bool) -> None:
    """Flip ALLOW_LOCAL_DESTINATIONS for every function (as a redeploy would) and drop what was wired from it."""
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true" if allowed else "false")
    settings.load.cache_clear()
    dispatch.from_environment.cache_clear()
    http._session.cache_clear()


def test_create_and_patch_refuse_every_forbidden_destination_naming_the_field(
    api: Api, network: FakeNetwork, listener: CountingListener
) -> None:
    public = create(api, "webhook", {"url": "https://receiver.example.com/hook"})
    assert public.status == 201, public.body
    wrong: list[str] = []
    for destination in FORBIDDEN:
        destination.install(network)
        url = destination.url(listener.port)
        answers = {
            "webhook create": (create(api, "webhook", {"url": url}), "credentials.url"),
            "webhook patch": (
                api.request("PATCH", f"/v1/integrations/{public.body['id']}", {"credentials": {"url": url}}),
                "credentials.url",
            ),
            "jira create": (create(api, "jira", jira(url), config={"projectKey": "SEC"}), "credentials.baseUrl"),
        }
        for what, (reply, field) in answers.items():
            if reply.status != 400 or field_errors(reply) != [(field, REFUSED)]:
                wrong.append(f"{destination.id} {what}: {reply.status} {reply.raw}")
    assert wrong == []
    assert network.connects == [] and listener.accepted() == 0
    assert [i["id"] for i in api.request("GET", "/v1/integrations").body["data"]] == [public.body["id"]]


@pytest.mark.parametrize("answer", [("10.0.0.8",), ("127.0.0.1",), (PUBLIC_V4, "169.254.169.254")])
def test_a_slack_url_on_slacks_host_is_refused_when_the_name_resolves_inward(
    api: Api, network: FakeNetwork, answer: tuple[str, ...]
) -> None:
    network.add("hooks.slack.com", *answer)
    reply = create(api, "slack", {"webhookUrl": f"https://hooks.slack.com{SLACK_PATH}"})
    assert reply.status == 400
    assert field_errors(reply) == [("credentials.webhookUrl", REFUSED)]


def test_a_host_name_that_does_not_resolve_answers_400(api: Api, network: FakeNetwork) -> None:
    reply = create(api, "webhook", {"url": "https://no-such-host.invalid/hook"})
    assert reply.status == 400
    assert field_errors(reply) == [("credentials.url", "host name does not resolve")]
    reply = create(api, "jira", jira("https://team.invalid"), config={"projectKey": "SEC"})
    assert field_errors(reply) == [("credentials.baseUrl", "host name does not resolve")]
    assert network.connects == []


def test_public_destinations_are_accepted(api: Api, network: FakeNetwork) -> None:
    network.add("hooks.slack.com", PUBLIC_V4, PUBLIC_V6)
    network.add("team.atlassian.net", PUBLIC_V6)
    assert create(api, "slack", {"webhookUrl": f"https://hooks.slack.com{SLACK_PATH}"}).status == 201
    assert create(api, "webhook", {"url": "https://8.8.8.8/hook"}).status == 201
    assert create(api, "webhook", {"url": "https://[2606:4700:4700::1111]:8443/hook"}).status == 201
    reply = create(api, "jira", jira("https://team.atlassian.net"), config={"projectKey": "SEC"})
    assert reply.status == 201, reply.body
    assert sorted(network.lookups) == ["hooks.slack.com", "team.atlassian.net"]
    assert network.connects == [], "validation resolves, it never connects"


def test_a_host_is_read_as_delivery_connects_to_it(api: Api, network: FakeNetwork) -> None:
    # getaddrinfo's IDNA 2003 maps a fullwidth letter or an ideographic full stop; the HTTP client's IDNA 2008, which
    # delivery uses, refuses them: create refuses them too rather than keep an integration that can never deliver.
    for url in ("https://\uff45xample.com/hook", "https://example\u3002com/hook"):
        reply = create(api, "webhook", {"url": url})
        assert (reply.status, field_errors(reply)) == (400, [("credentials.url", "must be a valid URL")])
    network.add("xn--bcher-kva.example", PUBLIC_V4)
    assert create(api, "webhook", {"url": "https://B\u00dcCHER.example/hook"}).status == 201
    assert network.lookups == ["xn--bcher-kva.example"], "the name delivery looks up"


def test_allow_local_destinations_admits_local_hosts_without_a_lookup(
    api: Api, network: FakeNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_local_destinations(monkeypatch, allowed=True)
    for url in ("http://127.0.0.1:9/hook", "https://10.0.0.1/hook", "http://localhost:8080/", "https://a.invalid/"):
        reply = create(api, "webhook", {"url": url})
        assert reply.status == 201, (url, reply.body)
    assert network.lookups == []


def test_a_stored_destination_that_is_forbidden_fails_at_delivery_logged_and_not_retried(
    api: Api, network: FakeNetwork, listener: CountingListener, monkeypatch: pytest.MonkeyPatch, log_output: StringIO
) -> None:
    """Every destination of the matrix stored while local destinations were allowed, then delivered without."""
    set_local_destinations(monkeypatch, allowed=True)
    hooks = {}
    for destination in FORBIDDEN:
        destination.install(network)
        reply = create(api, "webhook", {"url": destination.url(listener.port)})
        assert reply.status == 201, (destination.id, reply.body)
        hooks[destination.id] = reply.body["id"]
    api.publish(event("scan.completed"))
    set_local_destinations(monkeypatch, allowed=False)
    api.drain()
    wrong = []
    for destination in FORBIDDEN:
        entries = logs(api, hooks[destination.id])
        expected = f"Destination address is not allowed ({destination.reason}"
        if len(entries) != 1 or entries[0]["status"] != "failed" or not entries[0]["error"].startswith(expected):
            wrong.append(f"{destination.id}: {entries}")
    assert wrong == []
    assert network.connects == [] and listener.accepted() == 0
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=api.resources.ref("DeliveriesQueue"), AttributeNames=["All"]
    )["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "0",
    ), "not retried"
    assert api.messages("DeliveriesDeadLetterQueue") == []
    refusals = [json.loads(line) for line in log_output.getvalue().splitlines() if "Refused outbound" in line]
    assert len(refusals) == len(FORBIDDEN)
    assert all(line["level"] == "WARNING" and line["reason"] and line["address"] for line in refusals)


def test_the_test_route_reports_a_refused_destination_without_connecting(
    api: Api, network: FakeNetwork, listener: CountingListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_local_destinations(monkeypatch, allowed=True)
    hook = create(api, "webhook", {"url": f"https://169.254.169.254:{listener.port}/latest/meta-data"}).body["id"]
    set_local_destinations(monkeypatch, allowed=False)
    reply = api.request("POST", f"/v1/integrations/{hook}/test")
    assert reply.status == 200
    assert reply.body["success"] is False and reply.body["responseCode"] is None
    assert reply.body["error"] == "Destination address is not allowed (cloud metadata service)"
    assert network.connects == [] and listener.accepted() == 0


def test_a_name_that_stops_resolving_is_retried_at_delivery(
    api: Api, network: FakeNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    network.add("flaky-dns.example", PUBLIC_V4)
    hook = create(api, "webhook", {"url": "https://flaky-dns.example/hook"}).body["id"]
    network.add("flaky-dns.example")  # the name no longer resolves (an outage, or a lapsed domain)
    api.publish(event("scan.completed"))
    api.drain()
    [entry] = logs(api, hook)
    assert (entry["status"], entry["error"]) == ("failed", "Provider host name could not be resolved")
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=api.resources.ref("DeliveriesQueue"), AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1", "waiting for its retry"
    assert network.connects == []


def test_template_turns_local_destinations_off_for_every_function() -> None:
    body = load_template(ROOT / "template.yaml").body
    assert body["Globals"]["Function"]["Environment"]["Variables"]["ALLOW_LOCAL_DESTINATIONS"] == "false"
    functions = {k: v for k, v in body["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions
    for name, resource in functions.items():
        variables = (resource.get("Properties", {}).get("Environment") or {}).get("Variables") or {}
        assert variables.get("ALLOW_LOCAL_DESTINATIONS", "false") == "false", name
