"""Credentials (and config, which can carry tokens) in Secrets Manager: one secret per integration."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import ClientError

from integrations import aws

# Deliveries read an integration's secret on every attempt: keep it briefly, so a burst costs one call,
# yet a credential change (or deletion) takes effect within a minute.
SECRET_MAX_AGE = 60


class CredentialVault:
    """Secrets named ``{prefix}/{accountId}/{integrationId}``, so IAM can confine access to the prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self._cache: SecretsProvider | None = None

    def name_for(self, account_id: str, integration_id: str) -> str:
        return f"{self.prefix}/{account_id}/{integration_id}"

    def create(self, name: str, value: dict[str, Any], tags: dict[str, str]) -> None:
        aws.client("secretsmanager").create_secret(
            Name=name,
            SecretString=json.dumps(value),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    def read(self, name: str) -> dict[str, Any]:
        response = aws.client("secretsmanager").get_secret_value(SecretId=name)
        value: dict[str, Any] = json.loads(response["SecretString"])
        return value

    def read_cached(self, name: str) -> dict[str, Any]:
        """The secret's value, from this container's cache when it is younger than SECRET_MAX_AGE."""
        if self._cache is None:
            self._cache = SecretsProvider(boto3_client=aws.client("secretsmanager"))
        value = self._cache.get(name, max_age=SECRET_MAX_AGE, transform="json")
        assert isinstance(value, dict)
        return value

    def replace(self, name: str, value: dict[str, Any]) -> None:
        aws.client("secretsmanager").put_secret_value(SecretId=name, SecretString=json.dumps(value))

    def delete(self, name: str) -> None:
        """Delete at once (no recovery window: a deleted integration's credentials must stop working)."""
        try:
            aws.client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
