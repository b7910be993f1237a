"""GitHub Issues against a local GitHub REST API; provider state in moto's DynamoDB."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.providers import github as github_module
from integrations.providers.base import SendContext
from integrations.providers.delivery import Delivery, Outcome
from integrations.providers.github import GitHub
from integrations.providers.once_per_finding import record_key
from integrations.storage.provider_state import DynamoProviderState
from tests.providers.fake_github import FakeGitHub, create_issue_problems, issue_problems
from tests.providers.fakes import Reply, make_delivery, scanner_event, send_context
from tests.providers.mocked_aws import mocked_aws
from tests.providers.oversized import oversized_event

TOKEN = "github_pat_11APVISO0TEST_0123456789abcdefghijklmnopqrstuvwxyz"
INTEGRATION_ID = "0190f3a0-0000-7000-8000-00000000b001"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(TOKEN) as fake:
        yield fake


@pytest.fixture
def state() -> Iterator[DynamoProviderState]:
    with mocked_aws() as provider_state:
        yield provider_state


@pytest.fixture
def context(state: DynamoProviderState) -> SendContext:
    return SendContext(send_context().settings, state)


def delivery(
    github: FakeGitHub, *, config: dict[str, Any] | None = None, name: str = "finding_critical",
    delivery_id: str = "delivery-1", token: str = TOKEN, **finding: Any,
) -> Delivery:  # fmt: skip
    made = make_delivery(
        GitHub,
        {"token": token, "apiUrl": github.url},
        {"repository": "acme/webapp", **(config or {})},
        scanner_event(name, **finding),
    )
    return dataclasses.replace(made, delivery_id=delivery_id, integration_id=INTEGRATION_ID)


def test_opens_the_issue_github_documents(github: FakeGitHub, context: SendContext, state: DynamoProviderState) -> None:
    sent = delivery(github, config={"labels": ["security", "apviso"]})

    outcome = GitHub.send(sent, context)

    assert outcome == Outcome(True, 201, outcome.response_time_ms)
    request = github.last
    assert (request.method, request.path) == ("POST", "/repos/acme/webapp/issues")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    issue = request.json()
    assert issue_problems(issue) == [] and create_issue_problems(issue) == []
    assert issue["title"] == "Critical finding on https://app.example.com: SQL injection in /login"
    assert issue["labels"] == ["security", "apviso"]
    assert issue["body"].startswith("### Critical finding on https://app\\.example\\.com: SQL injection in /login")
    assert "- **Severity:** Critical" in issue["body"]
    assert "[View in Apviso](<https://apviso.com/findings/fnd_3K9>)" in issue["body"]
    assert state.get(record_key("github", sent) or "") == {
        "number": 1,
        "url": "https://github.example/acme/webapp/issues/1",
    }


def test_one_issue_per_finding_whatever_the_event_type(github: FakeGitHub, context: SendContext) -> None:
    first = GitHub.send(delivery(github, name="finding_new", delivery_id="d-1", id="fnd_3K9"), context)
    again = GitHub.send(delivery(github, name="finding_critical", delivery_id="d-2"), context)

    assert first.success and again == Outcome(True, None, 0, skipped=True)
    assert len(github.issues) == 1


def test_concurrent_deliveries_of_one_finding_open_one_issue(github: FakeGitHub, context: SendContext) -> None:
    outcomes: list[Outcome] = []
    threads = [
        threading.Thread(
            target=lambda i=i: outcomes.append(GitHub.send(delivery(github, delivery_id=f"d-{i}"), context))
        )
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(github.issues) == 1
    assert all(o.success for o in outcomes) and sum(not o.skipped for o in outcomes) == 1


def test_a_failed_creation_lets_the_retry_open_the_issue(github: FakeGitHub, context: SendContext) -> None:
    github.script(Reply(502, "Bad gateway"))
    failed = GitHub.send(delivery(github), context)
    retried = GitHub.send(delivery(github), context)

    assert (failed.success, failed.retryable) == (False, True)
    assert retried.success and len(github.issues) == 1


def test_long_titles_are_cut_to_256_and_text_cannot_mention_or_format(github: FakeGitHub, context: SendContext) -> None:
    long = dataclasses.replace(delivery(github), event=oversized_event())
    assert GitHub.send(long, context).success  # the fake answers 422 past 256 characters
    assert len(github.issues[0]["title"]) == 256 and github.issues[0]["title"].endswith("…")

    sneaky = delivery(github, delivery_id="d-2", id="fnd_other", title="@security-team **pwned** [x](https://evil)")
    assert GitHub.send(sneaky, context).success
    body = github.issues[1]["body"]
    assert "@security-team" not in body and "@\u200bsecurity\\-team" in body
    assert "**pwned**" not in body and "](https://evil)" not in body


@pytest.mark.parametrize("name", ["finding_new", "finding_critical", "finding_high"])
def test_every_issue_meets_githubs_openapi_request_schema(github: FakeGitHub, context: SendContext, name: str) -> None:
    assert GitHub.send(delivery(github, name=name, config={"labels": ["security"]}), context).success
    assert create_issue_problems(github.last.json()) == [] and github.refused == []


def test_a_body_githubs_openapi_schema_rejects_is_refused_as_github_does(
    github: FakeGitHub, context: SendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A regression: no title (the schema requires one) and a label that is neither a name nor a label object.
    monkeypatch.setattr(github_module, "issue", lambda _: {"body": "text", "labels": [7]})
    github.script(Reply(503))  # the schema's check comes before any scripted answer

    outcome = GitHub.send(delivery(github), context)

    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 422, False)
    assert "Invalid request." in (outcome.error or "")
    (problems,) = github.refused
    assert '.: "title" is a required property' in problems
    assert any(problem.startswith("labels/0: ") for problem in problems)
    assert github.issues == []


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "Bad credentials"), (403, "Resource not accessible by personal access token"), (404, "Not Found"),
     (410, "Issues are disabled for this repo"), (422, "Validation Failed")],
)  # fmt: skip
def test_github_refusals_are_permanent(github: FakeGitHub, context: SendContext, status: int, message: str) -> None:
    github.script(Reply(status, {"message": message, "documentation_url": "https://docs.github.com/rest"}))

    outcome = GitHub.send(delivery(github), context)

    assert (outcome.response_code, outcome.retryable) == (status, False)
    assert message in (outcome.error or "")


def test_a_wrong_token_is_refused_and_never_shown(github: FakeGitHub, context: SendContext) -> None:
    outcome = GitHub.send(delivery(github, token="github_pat_wrong_0000000000"), context)

    assert (outcome.response_code, outcome.retryable) == (401, False)
    assert "github_pat_wrong_0000000000" not in (outcome.error or "") and TOKEN not in (outcome.error or "")


def test_secondary_rate_limits_are_retried_when_github_says(github: FakeGitHub, context: SendContext) -> None:
    limited = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    reset = int(time.time()) + 120
    github.script(
        Reply(403, limited, {"retry-after": "42"}),
        Reply(429, limited, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}),
        Reply(
            403, {"message": "API rate limit exceeded"}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
        ),
        Reply(403, limited),
    )

    outcomes = [GitHub.send(delivery(github, delivery_id=f"d-{i}"), context) for i in range(4)]

    assert all(o.retryable and not o.success for o in outcomes)
    assert outcomes[0].retry_after == 42.0
    assert outcomes[1].retry_after is not None and 110 <= outcomes[1].retry_after <= 120
    assert outcomes[2].retry_after is not None and 110 <= outcomes[2].retry_after <= 120
    assert outcomes[3].retry_after == 60.0  # neither header: at least a minute, as GitHub asks
    assert github.issues == []


def test_the_test_route_reads_the_repository_and_opens_nothing(github: FakeGitHub, context: SendContext) -> None:
    test = make_delivery(GitHub, {"token": TOKEN, "apiUrl": github.url}, {"repository": "acme/webapp"}, test=True)

    outcome = GitHub.send_test(test, context)

    assert outcome == Outcome(True, 200, outcome.response_time_ms)
    assert (github.last.method, github.last.path) == ("GET", "/repos/acme/webapp") and github.issues == []
    missing = make_delivery(GitHub, {"token": TOKEN, "apiUrl": github.url}, {"repository": "acme/nope"}, test=True)
    assert GitHub.send_test(missing, context).response_code == 404


def test_the_test_route_fails_when_issues_are_disabled(context: SendContext) -> None:
    with FakeGitHub(TOKEN, has_issues=False) as github:
        test = make_delivery(GitHub, {"token": TOKEN, "apiUrl": github.url}, {"repository": "acme/webapp"}, test=True)
        outcome = GitHub.send_test(test, context)

    assert (outcome.success, outcome.error) == (False, "Issues are disabled in this repository")
