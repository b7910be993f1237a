"""Log lines are redacted even if a credential slips into one."""

from __future__ import annotations

import io
import json

from integrations.platform.observability import logger

SLACK = "https://hooks.slack.com/services/T0AAA/B0BBB/secretpath123"
SECRETS = [SLACK, "whsec_c2VjcmV0LXNlY3JldA==", "apvk_abcdefghijklmnop", "Bearer abcdefghijkl.mnop", "hunter22"]
# The providers added since the seed: URLs that embed tokens, and tokens of known shapes.
DISCORD = "https://discord.com/api/webhooks/1234567890123456789/dIsCoRdToKeN_0123456789"
CHAT = "https://chat.googleapis.com/v1/spaces/AAAAabc/messages?key=AIzaSyKEY0123&token=chatTOKEN0123"
TEAMS_SIG = "TeAmSsIg0123456789abcdef"
TEAMS = f"https://prod-1.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sv=1.0&sig={TEAMS_SIG}"
GITHUB_TOKEN = "github_pat_11AAAAAAA0abcdefghijklmnop"
HEC_TOKEN = "7e1b1c55-4f2e-4a7b-9c1d-0a1b2c3d4e5f"
NEW_SECRETS = [
    DISCORD,
    "dIsCoRdToKeN_0123456789",
    CHAT,
    "AIzaSyKEY0123",
    "chatTOKEN0123",
    TEAMS_SIG,
    GITHUB_TOKEN,
    HEC_TOKEN,
]


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


def test_the_new_providers_secrets_never_reach_a_log_line_even_as_free_text() -> None:
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        logger.info(f"posting to {DISCORD} and {CHAT} failed")
        logger.info(f"workflow {TEAMS} answered 401", extra={"webhookUrl": TEAMS})
        logger.info("github", extra={"detail": f"token {GITHUB_TOKEN} refused", "token": GITHUB_TOKEN})
        logger.info("hec", extra={"detail": f"sent Authorization: Splunk {HEC_TOKEN}"})
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    output = buffer.getvalue()
    assert len(output.splitlines()) == 4 and "[redacted]" in output
    for secret in NEW_SECRETS:
        assert secret not in output
