"""Fuzzing: Schemathesis against the local stack, with the committed openapi.json and every check.

The API must never answer 5xx, and every answer must match the document (status, headers, content type, body),
whatever the request. The run is reproducible (deterministic generation, no example database, no cache: the two
workers share the server's state, so the request count varies by a few percent) and bounded (a fixed number of
examples per operation, a per-request timeout, a time limit for the whole run).
`make fuzz` runs this test alone; `make test` runs it with the other end-to-end tests.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.testing import start_local_stack, stop_local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

FUZZ_DIR = Path(__file__).resolve().parent
ROOT = FUZZ_DIR.parents[1]
SANDBOX = FUZZ_DIR / "sandbox"
API_KEY = "apvk_fuzz_only"
# Examples per operation and phase; FUZZ_MAX_EXAMPLES raises it for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
MIN_REQUESTS = 1000
TIME_LIMIT = 420.0  # seconds for the whole Schemathesis run; it takes about two minutes on two cores
CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
}


def _run_schemathesis(api_url: str, reports: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(FUZZ_DIR / "schemathesis.toml"),
        "run",
        str(ROOT / "openapi.json"),
        "--url",
        api_url,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(reports / "report.json"),
        "--report-ndjson-path",
        str(reports / "events.ndjson"),
        "--no-color",
    ]
    env = {**os.environ, "FUZZ_API_KEY": API_KEY}
    # Run in the report folder so that nothing (a stray schemathesis.toml, .hypothesis) is read from elsewhere.
    return subprocess.run(command, env=env, cwd=reports, capture_output=True, text=True, timeout=TIME_LIMIT)


def _interactions(ndjson: Path) -> list[dict[str, Any]]:
    """Every request Schemathesis sent and the answer it got, from its event stream."""
    found: list[dict[str, Any]] = []
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished:
            found += (finished["recorder"].get("interactions") or {}).values()
    return found


def _checks_run(ndjson: Path) -> set[str]:
    names: set[str] = set()
    for line in ndjson.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if finished:
            for results in (finished["recorder"].get("checks") or {}).values():
                names.update(result["name"] for result in results)
    return names


def _failures_section(output: str) -> str:
    start = output.find("FAILURES")
    return output[start if start >= 0 else -8000 :][:20000]


@pytest.mark.timeout(TIME_LIMIT + 120)  # the run's own limit, plus starting and stopping the stack
def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(tmp_path: Path) -> None:
    log = tmp_path / "stack.log"
    env = {
        "LOCAL_API_KEYS": f"{API_KEY}=acct_fuzz",
        # Fuzzing is about input, not the account's quota: every create it sends must be able to succeed.
        "MAX_INTEGRATIONS_PER_ACCOUNT": "10000",
        # sitecustomize: the stack connects to loopback only, whatever URL a fuzzed integration holds.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SANDBOX), os.environ.get("PYTHONPATH")])),
    }
    process, api_url, _ = start_local_stack(env, log_path=log)
    try:
        assert "fuzz sandbox: loopback only" in log.read_text(), f"the sandbox did not load; see {log}"
        result = _run_schemathesis(api_url, tmp_path)
    finally:
        exit_code = stop_local_stack(process)

    report = json.loads((tmp_path / "report.json").read_text())
    interactions = _interactions(tmp_path / "events.ndjson")
    statuses = collections.Counter(i["response"]["status_code"] for i in interactions if i.get("response"))
    print(f"Schemathesis sent {len(interactions)} requests in {report['running_time']:.0f} s: {dict(statuses)}")

    assert result.returncode == 0 and not report["failures"] and not report["errors"], (
        f"Schemathesis found failures (stack log {log}):\n{_failures_section(result.stdout)}"
    )
    assert report["complete"] and report["operations"]["tested"] == report["operations"]["total"] == 9
    assert not [s for s in statuses if s >= 500], f"server errors: {statuses}"
    assert sum(statuses.values()) == len(interactions), "every request got an answer (none timed out)"
    assert len(interactions) >= MIN_REQUESTS, f"only {len(interactions)} requests were sent"
    assert _checks_run(tmp_path / "events.ndjson") >= CHECKS, "every check ran"
    assert exit_code == 0, "the stack must exit cleanly on SIGTERM"
