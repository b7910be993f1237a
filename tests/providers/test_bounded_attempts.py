"""Every attempt is bounded: in time (one deadline for connect, send and the whole answer) and in memory
(at most ANSWER_LIMIT bytes of any answer are read), for every provider that speaks HTTP."""

from __future__ import annotations

import gc
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from integrations.platform import settings
from integrations.providers import http
from integrations.providers.delivery import Outcome
from integrations.providers.jira import Jira
from integrations.providers.pagerduty import PagerDuty
from integrations.providers.slack import Slack
from integrations.providers.webhook import Webhook
from tests.providers.fakes import FakeReceiver, FakeSlack, Reply, make_delivery, scanner_event, send_context
from tests.providers.hostile import DRIPPING_BODY, DRIPPING_HEAD, Answer, HostileReceiver, huge
from tests.security.network import FakeNetwork

DEADLINE = 1.0  # seconds: the drips below send a byte every 0.2 s, so no single socket read ever times out
SLACK = FakeSlack.PATH
FIFTY_MB = 50 * 1024 * 1024
MEMORY_BOUND = 8 * 1024 * 1024  # generous: a bounded read peaks near ANSWER_LIMIT; reading whole costs 50 MB+


def send_slack(url: str, *, test: bool = False) -> Outcome:
    delivery = make_delivery(Slack, {"webhookUrl": url + SLACK}, test=test)
    return (Slack.send_test if test else Slack.send)(delivery, send_context())


def send_webhook(url: str, *, test: bool = False) -> Outcome:
    credentials = {"url": url + "/hooks/apviso", "secret": "whsec_c2VjcmV0LXNpZ25pbmcta2V5"}
    delivery = make_delivery(Webhook, credentials, test=test)
    return (Webhook.send_test if test else Webhook.send)(delivery, send_context())


def send_pagerduty(url: str, *, test: bool = False) -> Outcome:
    delivery = make_delivery(PagerDuty, {"routingKey": "R0UT1NGKEY0123456789abcdefABCDEF"}, test=test)
    context = send_context(PAGERDUTY_EVENTS_URL=url + "/v2/enqueue")
    return (PagerDuty.send_test if test else PagerDuty.send)(delivery, context)


def send_jira(url: str, *, test: bool = False) -> Outcome:
    credentials = {"baseUrl": url, "email": "bot@example.com", "apiToken": "jira-token-0123456789"}
    event = None if test else scanner_event("finding_critical")
    delivery = make_delivery(Jira, credentials, {"projectKey": "SEC"}, event, test=test)
    return (Jira.send_test if test else Jira.send)(delivery, send_context())


# Every path by which an attempt reaches a provider over HTTP (email goes through SES or SMTP instead).
SENDERS: dict[str, Callable[..., Outcome]] = {
    "slack": send_slack,
    "webhook": send_webhook,
    "pagerduty": send_pagerduty,
    "jira": send_jira,
}
PATHS = [(name, test) for name in SENDERS for test in (False, True)]
PATH_IDS = [f"{name}-{'test' if test else 'send'}" for name, test in PATHS]


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(http, "ATTEMPT_DEADLINE", DEADLINE)
    return DEADLINE


def timed(call: Callable[[], Outcome]) -> tuple[Outcome, float]:
    started = time.monotonic()
    outcome = call()
    return outcome, time.monotonic() - started


@pytest.mark.parametrize("answer", [DRIPPING_BODY, DRIPPING_HEAD], ids=["body", "status-line-and-headers"])
def test_a_dripping_answer_ends_at_the_deadline_as_a_timeout(answer: Answer) -> None:
    with HostileReceiver(answer) as receiver:
        started = time.monotonic()
        with pytest.raises(http.TransportError) as raised:
            http.post(receiver.url + "/hook", json_body={}, deadline=http.attempt_deadline(DEADLINE))
        took = time.monotonic() - started

    assert DEADLINE <= took < DEADLINE + 1.5  # slack for a busy machine; without the deadline it drips for hours
    assert str(raised.value) == f"Timeout: no complete response within {DEADLINE:g} s"
    outcome = http.outcome_from_transport_error(raised.value)
    assert (outcome.success, outcome.retryable, outcome.response_code) == (False, True, None)
    assert DEADLINE * 1000 <= outcome.response_time_ms < (DEADLINE + 1.5) * 1000


@pytest.mark.parametrize(("provider", "test"), PATHS, ids=PATH_IDS)
def test_every_provider_path_times_a_dripping_receiver_out(provider: str, test: bool, short_deadline: float) -> None:
    with HostileReceiver(DRIPPING_BODY) as receiver:
        outcome, took = timed(lambda: SENDERS[provider](receiver.url, test=test))

    assert receiver.requests, "the attempt reached the receiver"
    assert short_deadline <= took < short_deadline + 1.5
    assert outcome.error == f"Timeout: no complete response within {short_deadline:g} s"
    assert (outcome.success, outcome.retryable) == (False, True)


def test_a_second_request_of_one_attempt_gets_only_what_is_left() -> None:
    # Jira's retry without priority shares its attempt's deadline: two slow answers cannot make two deadlines.
    with HostileReceiver(DRIPPING_BODY) as receiver:
        deadline = http.attempt_deadline(3.0)
        time.sleep(2.5)
        started = time.monotonic()
        with pytest.raises(http.TransportError):
            http.post(receiver.url, json_body={}, deadline=deadline)
    assert time.monotonic() - started < 0.5 + 1.5  # what was left, not a fresh 3 s


def peak_memory(call: Callable[[], object]) -> int:
    """The peak of Python allocations while ``call`` runs, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_answer_is_read_only_up_to_the_limit(chunked: bool) -> None:
    responses: list[http.HttpResponse] = []
    with HostileReceiver(huge(500, FIFTY_MB, chunked=chunked)) as receiver:
        peak = peak_memory(lambda: responses.append(http.post(receiver.url, json_body={})))

    assert peak < MEMORY_BOUND
    (response,) = responses
    assert response.status == 500
    assert response.truncated
    assert response.text == "x" * http.ANSWER_LIMIT


@pytest.mark.parametrize(("provider", "test"), PATHS, ids=PATH_IDS)
def test_every_provider_path_records_a_50_mb_error_answer_in_bounded_memory(provider: str, test: bool) -> None:
    outcomes: list[Outcome] = []
    with HostileReceiver(huge(503, FIFTY_MB)) as receiver:
        peak = peak_memory(lambda: outcomes.append(SENDERS[provider](receiver.url, test=test)))

    assert peak < MEMORY_BOUND
    (outcome,) = outcomes
    assert (outcome.success, outcome.response_code, outcome.retryable) == (False, 503, True)
    assert outcome.error is not None and outcome.error.startswith("Provider returned HTTP 503")
    assert len(outcome.error) < 300  # the log keeps a snippet, not the answer


def test_a_huge_success_answer_still_counts_as_delivered() -> None:
    outcomes: list[Outcome] = []
    with HostileReceiver(huge(200, FIFTY_MB)) as receiver:
        peak = peak_memory(lambda: outcomes.append(send_webhook(receiver.url)))
    assert peak < MEMORY_BOUND
    assert outcomes[0].success and outcomes[0].response_code == 200


@pytest.mark.parametrize(
    ("size", "truncated"), [(http.ANSWER_LIMIT, False), (http.ANSWER_LIMIT + 1, True)], ids=["at", "over"]
)
def test_an_answer_is_cut_only_past_the_limit(size: int, truncated: bool) -> None:
    with HostileReceiver(huge(400, size)) as receiver:
        response = http.post(receiver.url, json_body={})
    assert (len(response.text), response.truncated) == (http.ANSWER_LIMIT, truncated)


@pytest.fixture
def receiver_then() -> Iterator[FakeReceiver]:
    with FakeReceiver() as fake:
        yield fake


def test_connections_stay_usable_after_a_cut_answer_and_a_timeout(receiver_then: FakeReceiver) -> None:
    # A cut answer's connection is closed, not returned to the pool with unread bytes; a timed-out one too.
    too_long = Reply(500, "x" * (http.ANSWER_LIMIT * 2))
    receiver_then.script(too_long, Reply(201, "created"), Reply(200, delay=1), Reply(202))
    url = receiver_then.url
    first = http.post(url, json_body={})
    second = http.post(url, json_body={})
    with pytest.raises(http.TransportError):
        http.post(url, json_body={}, deadline=http.attempt_deadline(0.3))
    fourth = http.post(url, json_body={})
    assert (first.status, first.truncated) == (500, True)
    assert (second.status, second.text, second.truncated) == (201, "created", False)
    assert fourth.status == 202


def test_several_silent_addresses_cannot_add_up_past_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the SSRF guard on, the connection tries each checked address in turn, each with the connect timeout:
    # four blackholed addresses would take four connect timeouts, unless each gets only what is left.
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "false")
    settings.load.cache_clear()
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 0.6)
    network = FakeNetwork.install(monkeypatch)
    network.add("blackholed.example", *(f"93.184.215.{n}" for n in range(14, 18)))
    tried: list[float | None] = []

    def silent(sock: socket.socket, address: object) -> None:
        tried.append(sock.gettimeout())
        time.sleep(sock.gettimeout() or 0)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket.socket, "connect", silent)
    http._session.cache_clear()
    try:
        started = time.monotonic()
        with pytest.raises(http.TransportError) as raised:
            http.post("https://blackholed.example/hook", json_body={}, deadline=http.attempt_deadline(1.0))
        took = time.monotonic() - started
    finally:
        http._session.cache_clear()
        settings.load.cache_clear()

    assert str(raised.value).startswith("Timeout")
    assert len(tried) >= 2, "several addresses were tried"
    assert tried[0] == 0.6 and tried[1] is not None and tried[1] < 0.6, "the next address gets only what is left"
    assert took < 1.0 + 0.8  # not 4 connect timeouts of 0.6 s
