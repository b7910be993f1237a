"""Defence in depth for logs: credentials are never logged on purpose, and this catches them if one slips in."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

REDACTED = "[redacted]"

# Keys whose values are secret wherever they appear in a log record (compared without case, - or _).
SENSITIVE_KEYS = frozenset(
    {"credentials", "config", "headers", "secret", "webhookurl", "apitoken", "routingkey", "routing_key",
     "recipients", "authorization", "password", "token", "xapikey", "apikey", "secretstring", "previoussecret",
     "signingrotation"}
)  # fmt: skip

# Shapes of secrets, for text such as exception messages.
SECRET_PATTERNS = (
    re.compile(r"https://hooks\.slack(?:-gov)?\.com/services/[^\s\"'<>]+"),
    re.compile(r"https://(?:[a-z]+\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/[^\s\"'<>]+"),
    re.compile(r"https://chat\.googleapis\.com/v1/spaces/[^\s\"'<>]+"),
    re.compile(r"(?<=[?&]sig=)[^&\s\"'<>]+"),  # a Teams Workflows (Logic Apps) URL's signature
    re.compile(r"(?<=[?&])(?:key|token)=[^&\s\"'<>]+"),  # a Google Chat webhook's key and token
    re.compile(r"\b(?:github_pat_|gh[pousr]_)[A-Za-z0-9_]{8,}"),
    re.compile(r"(?i)\bsplunk\s+[A-Za-z0-9._~+/=\-]{8,}"),  # HEC's Authorization: Splunk <token>
    re.compile(r"whsec_[A-Za-z0-9+/=]+"),
    re.compile(r"apvk_[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)\b(?:basic|bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in a URL
)


def _sensitive(key: str) -> bool:
    return key.lower().replace("-", "").replace("_", "") in {k.replace("_", "") for k in SENSITIVE_KEYS}


def redact_keys(value: Any) -> Any:
    """``value`` with the values of sensitive keys replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _sensitive(k) else redact_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_keys(item) for item in value]
    return value


def redact_text(text: str) -> str:
    """``text`` with every secret-shaped substring replaced."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log lines, redacted just before they are written (exception texts and traces included)."""

    def serialize(self, log: LogRecord) -> str:
        return redact_text(super().serialize(redact_keys(log)))
