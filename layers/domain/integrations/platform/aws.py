"""boto3 clients, created once per container on first use (never at import time)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Fail fast inside a Lambda's time budget instead of botocore's 60 s defaults.
_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


_creating = threading.Lock()
_made: list[str] = []  # the services whose client exists (functools.cache does not tell)


@cache
def client(service: str) -> Any:
    """The shared client for ``service``; the endpoint comes from AWS_ENDPOINT_URL when set.

    A client is safe to share between threads once made, but making one through boto3's default session is
    not (boto3#1592): the dispatcher's threads may ask for their first SQS or Secrets Manager client at once.
    """
    with _creating:
        _made.append(service)
        return boto3.client(service, config=_CONFIG)


def close_connections() -> None:
    """Close the pooled connections of every client made so far; the clients stay, and connect again when used.

    After a SnapStart restore the pooled sockets are those of the moment of the snapshot, which the other end has
    long forgotten. botocore keeps the pool on the client's endpoint, which is not public API: the unit tests pin it.
    """
    for service in dict.fromkeys(_made):
        client(service)._endpoint.http_session.close()


def reset() -> None:
    """Forget every client (tests switch between mocked AWS environments)."""
    client.cache_clear()
    _made.clear()
