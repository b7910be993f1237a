"""Credentials (and config, which can carry tokens) in Secrets Manager: one secret per integration.

Each change writes a new version of the secret, and the integration's item names the version it uses: the
item is the single source of truth, so a PATCH that loses a race (409) or fails after writing its version
leaves the integration on the credentials it had, and no change is silently lost.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from typing import Any

from botocore.exceptions import ClientError

from integrations.platform import aws

# Deliveries read an integration's secret on every attempt: keep it briefly, so a burst costs one call, and
# never longer, so credentials do not linger in a warm container's memory.
SECRET_MAX_AGE = 60

_vaults: weakref.WeakSet[CredentialVault] = weakref.WeakSet()  # every vault, for forget_cached_secrets()


def forget_cached_secrets() -> None:
    """Empty every vault's cache (a copy restored from a SnapStart snapshot must read the secrets again)."""
    for vault in list(_vaults):
        vault.forget()


class CredentialVault:
    """Secrets named ``{prefix}/{accountId}/{integrationId}``, so IAM can confine access to the prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self._cache: dict[tuple[str, str | None], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        _vaults.add(self)

    def name_for(self, account_id: str, integration_id: str) -> str:
        return f"{self.prefix}/{account_id}/{integration_id}"

    def create(self, name: str, value: dict[str, Any], tags: dict[str, str]) -> str:
        """Create the secret; returns its version id."""
        response = aws.client("secretsmanager").create_secret(
            Name=name,
            SecretString=json.dumps(value),
            ClientRequestToken=str(uuid.uuid4()),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        return str(response["VersionId"])

    def add_version(self, name: str, value: dict[str, Any]) -> str:
        """Write ``value`` as a new version; nothing uses it until an item names it. Returns its id."""
        response = aws.client("secretsmanager").put_secret_value(
            SecretId=name, SecretString=json.dumps(value), ClientRequestToken=str(uuid.uuid4())
        )
        return str(response["VersionId"])

    def read(self, name: str, version: str | None) -> dict[str, Any]:
        """The value of ``version`` (the current one when None)."""
        options = {"VersionId": version} if version else {}
        response = aws.client("secretsmanager").get_secret_value(SecretId=name, **options)
        value: dict[str, Any] = json.loads(response["SecretString"])
        return value

    def read_cached(self, name: str, version: str | None) -> dict[str, Any]:
        """Like read, from this container's memory when read less than SECRET_MAX_AGE seconds ago."""
        now = time.monotonic()
        with self._cache_lock:  # the dispatcher's threads share it
            self._cache = {key: entry for key, entry in self._cache.items() if entry[0] > now}
            entry = self._cache.get((name, version))
        if entry is None:
            entry = (now + SECRET_MAX_AGE, self.read(name, version))
            with self._cache_lock:
                self._cache[(name, version)] = entry
        return entry[1]

    def forget(self) -> None:
        """Drop every cached secret."""
        with self._cache_lock:
            self._cache = {}

    def delete(self, name: str) -> None:
        """Delete at once (no recovery window: a deleted integration's credentials must stop working)."""
        try:
            aws.client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
