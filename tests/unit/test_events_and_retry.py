"""The producer contract's parsing, and the retry schedule."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from integrations.catalog import EVENT_TYPES
from integrations.delivery import retry
from integrations.events import MAX_EVENT_BYTES, parse_event
from integrations.platform.errors import ValidationFailed
from tests.conftest import ROOT

EVENT = {
    "id": "evt_42",
    "type": "finding.new",
    "accountId": "acct_123",
    "occurredAt": "2026-04-10T10:45:20Z",
    "data": {
        "scan": {"id": "s1", "target": "https://app.example.com", "url": "https://apviso.com/s/1"},
        "finding": {"id": "f1", "title": "SQL injection in /login", "severity": "critical", "extra": 1},
    },
}


def test_a_direct_event_and_its_eventbridge_envelope_parse_alike() -> None:
    direct = parse_event(json.dumps(EVENT))
    envelope = {"version": "0", "source": "apviso.scanner", "detail-type": "finding.new", "detail": EVENT}
    assert parse_event(json.dumps(envelope)) == direct
    assert direct.severity == "critical"
    assert direct.data.finding is not None and direct.data.finding.model_extra == {"extra": 1}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([EVENT]),
        json.dumps({**EVENT, "type": "scan.exploded"}),
        json.dumps({**EVENT, "id": ""}),
        json.dumps({k: v for k, v in EVENT.items() if k != "accountId"}),
        json.dumps({"source": "someone.else", "detail-type": "finding.new", "detail": EVENT}),
        json.dumps({**EVENT, "data": {"blob": "x" * 300_000}}),
        json.dumps({**EVENT, "data": {"blob": "x" * MAX_EVENT_BYTES}}),
        '{"id": "e", "type": "scan.started", "accountId": "a", "data": ' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"id": "e", "type": "scan.started", "accountId": "a", "n": ' + "9" * 4301 + "}",
        '{"id": "e", "type": "scan.started", "accountId": "a", "n": NaN}',
    ],
    ids=[
        "not json",
        "array",
        "unknown type",
        "empty id",
        "no account",
        "foreign source",
        "larger than SQS takes",
        "no room for the delivery job",
        "nested 10,000 deep",
        "integer of 4,301 digits",
        "NaN",
    ],
)
def test_events_that_cannot_be_routed_are_refused_with_a_reason(body: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_event(body)
    assert raised.value.message


def test_a_routable_event_is_accepted_whatever_else_it_holds() -> None:
    event = {
        **EVENT,
        "occurredAt": "yesterday",
        "producerField": {"kept": "and ignored"},
        "data": {
            "finding": {"id": "f1", "title": "t" * 10_000, "severity": "catastrophic", "url": 42, "cvss": 9.8},
            "scan": {"target": "https://app.example.com"},  # no id: not readable as a scan, still sent on
            "blob": "x" * 70_000,
            "nothing": None,
            "deep": json.loads("[" * 190 + "]" * 190),
        },
    }
    parsed = parse_event(json.dumps(event))
    assert parsed.data.finding is not None
    assert parsed.data.finding.title == "t" * 10_000, "long strings are kept whole"
    assert parsed.data.finding.severity is None and parsed.data.finding.url is None, "wrong types are left out"
    assert parsed.data.scan is None
    assert parsed.data.sent == event["data"], "data is kept exactly as sent"
    assert json.loads(parsed.model_dump_json())["data"] == event["data"], "and travels on as sent"
    assert parsed.occurredAt.endswith("Z"), "an unreadable time becomes the time of receipt"


def test_a_finding_event_without_a_severity_takes_its_types() -> None:
    bare = {k: v for k, v in EVENT.items() if k != "data"}
    assert parse_event(json.dumps({**bare, "type": "finding.critical"})).severity == "critical"
    assert parse_event(json.dumps({**bare, "type": "finding.new"})).severity is None


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    delays = [retry.next_delay(attempt, 8, rng=rng) for attempt in range(1, 8)]
    for delay, base in zip(delays, retry.BACKOFF, strict=True):
        assert delay is not None and base * 0.8 <= delay <= base * 1.2
    assert retry.next_delay(8, 8) is None, "the last attempt gets no retry"
    assert retry.next_delay(1, 8, retry_after=120, rng=rng) == 120
    assert retry.next_delay(1, 8, retry_after=10**9) == retry.MAX_DELAY


@pytest.mark.parametrize("path", sorted((ROOT / "events" / "scanner").glob("*.json")), ids=lambda p: p.stem)
def test_every_sample_producer_event_follows_the_contract(path: Path) -> None:
    parsed = parse_event(path.read_text())
    assert parsed.type == path.stem.replace("_", ".")


def test_there_is_a_sample_for_each_of_the_nine_event_types() -> None:
    stems = {p.stem.replace("_", ".") for p in (ROOT / "events" / "scanner").glob("*.json")}
    assert stems == set(EVENT_TYPES)


def test_an_attempt_counts_the_attempts_a_requeued_job_carries() -> None:
    assert retry.attempt_number(1, None) == 1
    assert retry.attempt_number(1, "3") == 4, "a job re-queued after 3 attempts makes its 4th"
    assert retry.attempt_number(2, "junk") == 2


def test_a_deferral_becomes_whole_sqs_delay_seconds() -> None:
    from integrations.delivery.pacing import Deferred, destination_key

    assert [Deferred(s).delay_seconds for s in (0.01, 2.2, 3.0, 7200)] == [1, 3, 3, 900]
    url = "https://hooks.slack.com/services/T0/B0/secret"
    key = destination_key("slack", url)
    assert key.startswith("pace:") and "secret" not in key and key != destination_key("webhook", url)
