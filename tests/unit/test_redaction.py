"""Log lines are redacted even if a credential slips into one."""

from __future__ import annotations

import io
import json

from integrations.observability import logger

SLACK = "https://hooks.slack.com/services/T0AAA/B0BBB/secretpath123"
SECRETS = [SLACK, "whsec_c2VjcmV0LXNlY3JldA==", "apvk_abcdefghijklmnop", "Bearer abcdefghijkl.mnop", "hunter22"]


def test_secret_keys_and_secret_shaped_text_never_reach_a_log_line() -> None:
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        logger.info(f"posting to {SLACK} failed", extra={"credentials": {"webhookUrl": SLACK}, "attempt": 2})
        logger.info(
            "sent", extra={"headers": {"Authorization": "Bearer abcdefghijkl.mnop"}, "note": "apvk_abcdefghijklmnop"}
        )
        logger.info("oops", extra={"detail": "whsec_c2VjcmV0LXNlY3JldA== and https://bot:hunter22@jira.example/x"})
        try:
            raise RuntimeError(f"connect to {SLACK} refused")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    output = buffer.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 4 and lines[0]["attempt"] == 2
    assert lines[0]["credentials"] == "[redacted]"
    for secret in SECRETS:
        assert secret not in output
