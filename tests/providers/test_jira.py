"""Jira against a local Jira Cloud that checks requests as Jira does; provider state in moto's DynamoDB."""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from integrations.providers import jira as jira_module
from integrations.providers.base import SendContext
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.jira import Jira, issue_record_key
from integrations.providers.once_per_finding import reservation_key
from integrations.storage.provider_state import DynamoProviderState
from tests.providers.fake_jira import FakeJira, adf_problems
from tests.providers.fakes import Reply, make_delivery, scanner_event, send_context
from tests.providers.mocked_aws import mocked_aws

EMAIL = "security-bot@example.com"
TOKEN = "ATATT3xFfGF0jira-api-token-0123456789"
INTEGRATION_ID = "0190f3a0-0000-7000-8000-00000000a001"


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(EMAIL, TOKEN) as fake:
        yield fake


@pytest.fixture
def state() -> Iterator[DynamoProviderState]:
    with mocked_aws() as provider_state:
        yield provider_state


@pytest.fixture
def context(state: DynamoProviderState) -> SendContext:
    return SendContext(send_context().settings, state)


def delivery(
    jira: FakeJira,
    *,
    token: str = TOKEN,
    config: dict[str, Any] | None = None,
    name: str = "finding_critical",
    delivery_id: str = "delivery-1",
    **finding: Any,
) -> Delivery:
    """A delivery of a sample finding event to one fixed Jira integration."""
    made = make_delivery(
        Jira,
        {"baseUrl": jira.url, "email": EMAIL, "apiToken": token},
        {"projectKey": "SEC", **(config or {})},
        scanner_event(name, **finding),
    )
    return dataclasses.replace(made, delivery_id=delivery_id, integration_id=INTEGRATION_ID)


def assert_clean(outcome: Outcome, *secrets: str) -> None:
    """No credential in the error a delivery log will show."""
    for secret in (TOKEN, EMAIL, *secrets):
        assert secret not in (outcome.error or "")


def test_creates_the_issue_jira_documents(jira: FakeJira, context: SendContext, state: DynamoProviderState) -> None:
    sent = delivery(jira)
    outcome = Jira.send(sent, context)

    assert outcome == Outcome(True, 201, outcome.response_time_ms)
    request = jira.last
    assert (request.method, request.path) == ("POST", "/rest/api/3/issue")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("Apviso-Integrations/")
    assert request.json() == {
        "fields": {
            "project": {"key": "SEC"},
            "issuetype": {"name": "Bug"},
            "summary": "Critical finding on https://app.example.com: SQL injection in /login",
            "description": {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "heading",
                        "attrs": {"level": 2},
                        "content": [
                            {
                                "type": "text",
                                "text": "Critical finding on https://app.example.com: SQL injection in /login",
                            }
                        ],
                    },
                    {
                        "type": "bulletList",
                        "content": [
                            _fact("Severity", "Critical"),
                            _fact("Target", "https://app.example.com"),
                            _fact("Scan", "scan_01J9ZQ5K2M"),
                            _fact("Finding", "fnd_3K9"),
                            _fact("Event", "finding.critical"),
                            _fact("Occurred", "2026-04-10T10:45:20Z"),
                        ],
                    },
                    {
                        "type": "paragraph",
                        "content": [
                            {
                                "type": "text",
                                "text": "View in Apviso",
                                "marks": [{"type": "link", "attrs": {"href": "https://apviso.com/findings/fnd_3K9"}}],
                            }
                        ],
                    },
                    {
                        "type": "paragraph",
                        "content": [
                            {"type": "text", "text": "Created by Apviso for the integration “Security alerts”."}
                        ],
                    },
                ],
            },
            "labels": ["apviso", "security", "severity-critical"],
            "priority": {"name": "Highest"},
        }
    }
    assert jira.issues == [request.json()["fields"]]
    assert state.get(issue_record_key(sent) or "") == {"issueKey": "SEC-1", "issueId": "10001"}


def _fact(label: str, value: str) -> dict[str, Any]:
    strong = {"type": "text", "text": f"{label}: ", "marks": [{"type": "strong"}]}
    return {
        "type": "listItem",
        "content": [{"type": "paragraph", "content": [strong, {"type": "text", "text": value}]}],
    }


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("critical", "Highest"), ("high", "High"), ("medium", "Medium"), ("low", "Low"), ("info", "Lowest")],
)
def test_priority_and_labels_follow_the_severity(
    jira: FakeJira, context: SendContext, severity: str, priority: str
) -> None:
    assert Jira.send(delivery(jira, name="finding_new", severity=severity), context).success
    fields = jira.last.json()["fields"]
    assert fields["priority"] == {"name": priority}
    assert fields["labels"] == ["apviso", "security", f"severity-{severity}"]


@pytest.mark.parametrize(("configured", "sent"), [(None, "Bug"), ("Task", "Task")])
def test_issue_type_defaults_to_bug(jira: FakeJira, context: SendContext, configured: str | None, sent: str) -> None:
    assert Jira.send(delivery(jira, config={"issueType": configured}), context).success
    assert jira.last.json()["fields"]["issuetype"] == {"name": sent}


def test_summary_is_one_line_of_at_most_255_characters(jira: FakeJira, context: SendContext) -> None:
    # Emoji count twice in Jira's limit (UTF-16): the cut must neither exceed it nor split one.
    title = "Stored XSS\nin the\tcomment form " + "🔥" * 300
    outcome = Jira.send(delivery(jira, title=title), context)

    assert outcome.success, outcome.error
    summary = jira.last.json()["fields"]["summary"]
    assert summary.startswith("Critical finding on https://app.example.com: Stored XSS in the comment form 🔥")
    assert summary.endswith("…")
    assert len(summary.encode("utf-16-le")) <= 255 * 2
    description = jira.last.json()["fields"]["description"]
    assert adf_problems(description) == [] and title.split()[0] in str(description)


@pytest.mark.parametrize("name", ["finding_new", "finding_critical", "finding_high"])
def test_every_description_is_a_document_atlassians_schema_accepts(
    jira: FakeJira, context: SendContext, name: str
) -> None:
    assert Jira.send(delivery(jira, name=name), context).success
    assert adf_problems(jira.issues[0]["description"]) == [] and jira.refused == []


def test_a_description_atlassians_schema_rejects_is_refused_as_jira_does(
    jira: FakeJira, context: SendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_text = {"type": "paragraph", "content": [{"type": "text", "text": ""}]}  # ADF refuses empty text nodes
    monkeypatch.setattr(jira_module, "description", lambda _: {"type": "doc", "version": 1, "content": [empty_text]})
    jira.script(Reply(503))  # the schema's check comes before any scripted answer

    outcome = Jira.send(delivery(jira), context)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 400, False)
    assert "description: Operation value must be an Atlassian Document" in (outcome.error or "")
    assert jira.refused == [['content/0/content/0/text: "" is shorter than 1 character']]
    assert jira.issues == []


def test_project_without_priority_gets_the_issue_without_it(context: SendContext) -> None:
    with FakeJira(EMAIL, TOKEN, priority_settable=False) as jira:
        outcome = Jira.send(delivery(jira), context)

        assert outcome == Outcome(True, 201, outcome.response_time_ms)
        first, second = jira.requests
        assert first.json()["fields"]["priority"] == {"name": "Highest"}
        assert "priority" not in second.json()["fields"]
        assert {k: v for k, v in first.json()["fields"].items() if k != "priority"} == second.json()["fields"]
        assert len(jira.issues) == 1


TOO_MANY = Reply(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, {"Retry-After": "30"})


@pytest.mark.parametrize(
    ("setup", "status", "retryable", "retry_after", "error"),
    [
        ("wrong token", 401, False, None, "HTTP 401: Unauthorized (You are not authenticated."),
        ("unknown project", 400, False, None, "HTTP 400: Bad Request (project: valid project is required)"),
        (
            Reply(
                403, {"errorMessages": ["You do not have permission to create issues in this project."], "errors": {}}
            ),
            403,
            False,
            None,
            "HTTP 403: Forbidden (You do not have permission to create issues in this project.)",
        ),
        (Reply(404, {"errorMessages": ["Issue does not exist"], "errors": {}}), 404, False, None, "(Issue does not"),
        (
            Reply(422, {"errorMessages": [], "errors": {"customfield_10010": "Team is required."}}),
            422,
            False,
            None,
            "(customfield_10010: Team is required.)",
        ),
        (TOO_MANY, 429, True, 30.0, "HTTP 429: Too Many Requests (Rate limit exceeded.)"),
        (Reply(500, {"errorMessages": ["Internal server error"], "errors": {}}), 500, True, None, "HTTP 500"),
        (Reply(503, "<html>Service Unavailable</html>"), 503, True, None, "(<html>Service Unavailable</html>)"),
        (
            Reply(302, headers={"Location": "https://id.atlassian.com/login"}),
            302,
            False,
            None,
            "Provider answered with a redirect (HTTP 302), which is not followed",
        ),
        (Reply(201, delay=5), None, True, None, "Timeout: no complete response within 0.25 s"),
        ("reset", None, True, None, "Connection reset by the provider"),
    ],
    ids=["401", "400-project", "403", "404", "422", "429", "500", "503-html", "302", "slow", "reset"],
)
@pytest.mark.usefixtures("short_read_timeout")
def test_failures_say_why_retry_only_when_worth_it_and_release_the_reservation(
    jira: FakeJira,
    context: SendContext,
    state: DynamoProviderState,
    setup: Reply | Literal["reset", "wrong token", "unknown project"],
    status: int | None,
    retryable: bool,
    retry_after: float | None,
    error: str,
) -> None:
    if setup == "wrong token":
        sent = delivery(jira, token="not-the-token")
    elif setup == "unknown project":
        sent = delivery(jira, config={"projectKey": "NOPE"})
    else:
        jira.script(setup)
        sent = delivery(jira)

    outcome = Jira.send(sent, context)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, retryable)
    assert outcome.retry_after == retry_after and not outcome.skipped
    assert error in (outcome.error or ""), outcome.error
    assert_clean(outcome, "not-the-token")
    assert len(jira.requests) == 1, "a refusal is not repeated within the attempt"
    record = issue_record_key(sent) or ""
    assert state.get(record) is None and state.get(reservation_key(record)) is None


def test_refused_connection_is_retryable(context: SendContext) -> None:
    with FakeJira(EMAIL, TOKEN) as jira:
        sent = delivery(jira)
    outcome = Jira.send(sent, context)  # the fake has stopped listening
    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, None, True)
    assert outcome.error == "Could not connect to the provider"


def test_a_retry_after_a_failure_creates_the_issue(jira: FakeJira, context: SendContext) -> None:
    jira.script(Reply(502))
    failed = Jira.send(delivery(jira), context)
    retried = Jira.send(dataclasses.replace(delivery(jira), attempt=2), context)

    assert (failed.success, failed.retryable) == (False, True)
    assert (retried.success, retried.response_code, retried.skipped) == (True, 201, False)
    assert len(jira.issues) == 1


def test_one_issue_per_finding(jira: FakeJira, context: SendContext) -> None:
    # The producer sent both finding.new and finding.critical for one finding: two deliveries, one issue.
    first = Jira.send(delivery(jira, name="finding_new", delivery_id="d-new", id="fnd_3K9"), context)
    second = Jira.send(delivery(jira, delivery_id="d-critical"), context)

    assert (first.success, first.skipped) == (True, False)
    assert second == Outcome(True, None, 0, skipped=True)
    assert len(jira.requests) == 1
    other_finding = Jira.send(delivery(jira, delivery_id="d-other", id="fnd_OTHER"), context)
    assert (other_finding.success, other_finding.skipped, len(jira.issues)) == (True, False, 2)


def test_concurrent_deliveries_of_one_finding_create_one_issue(jira: FakeJira, state: DynamoProviderState) -> None:
    # Moto's in-process DynamoDB does not serialise requests as DynamoDB does; a lock stands in for that.
    context = SendContext(send_context().settings, _SerialisedConditionalWrites(state.table_name))
    jira.create_delay = 0.3  # every delivery starts while the first is still creating
    deliveries = [delivery(jira, delivery_id=f"d-{n}") for n in range(6)]
    start = threading.Barrier(len(deliveries))
    outcomes: list[Outcome] = []

    def deliver(sent: Delivery) -> None:
        start.wait()
        outcomes.append(Jira.send(sent, context))

    threads = [threading.Thread(target=deliver, args=(sent,)) for sent in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(jira.issues) == 1
    assert (
        sorted((o.success, o.skipped, o.response_code) for o in outcomes)
        == [(True, False, 201)] + [(True, True, None)] * 5
    )


class _SerialisedConditionalWrites(DynamoProviderState):
    _lock = threading.Lock()

    def put_if_absent(self, key: str, value: dict[str, Any], ttl_seconds: int) -> bool:
        with self._lock:
            return super().put_if_absent(key, value, ttl_seconds)


def test_a_retry_of_the_reserving_delivery_takes_its_reservation_back(
    jira: FakeJira, context: SendContext, state: DynamoProviderState
) -> None:
    # The first attempt reserved and then died (Lambda timeout) without creating or releasing.
    sent = delivery(jira, delivery_id="d-1")
    assert state.put_if_absent(reservation_key(issue_record_key(sent) or ""), {"deliveryId": "d-1"}, 900)

    other = Jira.send(delivery(jira, delivery_id="d-2"), context)
    retry = Jira.send(dataclasses.replace(sent, attempt=2), context)

    assert (other.success, other.skipped) == (True, True)
    assert (retry.success, retry.skipped, retry.response_code) == (True, False, 201)
    assert len(jira.issues) == 1


def test_test_delivery_reads_the_project_and_creates_nothing(
    jira: FakeJira, context: SendContext, state: DynamoProviderState
) -> None:
    sent = delivery(jira)
    outcome = Jira.send_test(dataclasses.replace(sent, test=True, event_type="integration.test"), context)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    assert (jira.last.method, jira.last.path) == ("GET", "/rest/api/3/project/SEC")
    assert jira.last.headers["authorization"].startswith("Basic ")
    assert jira.issues == [] and state.get(issue_record_key(sent) or "") is None


@pytest.mark.parametrize(
    ("token", "project", "status", "error"),
    [
        (TOKEN, "NOPE", 404, "HTTP 404: Not Found (No project could be found with key 'NOPE'.)"),
        ("not-the-token", "SEC", 401, "HTTP 401: Unauthorized (You are not authenticated."),
    ],
)
def test_test_delivery_reports_a_wrong_project_or_token(
    jira: FakeJira, context: SendContext, token: str, project: str, status: int, error: str
) -> None:
    outcome = Jira.send_test(delivery(jira, token=token, config={"projectKey": project}), context)
    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, status, False)
    assert error in (outcome.error or "")
    assert_clean(outcome, "not-the-token")
