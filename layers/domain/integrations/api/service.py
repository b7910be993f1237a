"""The management logic: validate against the provider catalog, keep the table and the secrets consistent."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from integrations.catalog import EventType
from integrations.delivery import signing
from integrations.platform import clock, settings
from integrations.platform.errors import FieldError, LimitExceeded, NotFound, ValidationFailed
from integrations.storage.store import IntegrationRecord, IntegrationStore
from integrations.storage.vault import CredentialVault

if TYPE_CHECKING:  # the list, delete and logs routes build neither the request models nor a provider's
    from integrations.models.integrations import CreateIntegrationRequest, UpdateIntegrationRequest
    from integrations.providers.base import Provider

TOMBSTONE_RETENTION = timedelta(days=30)  # the seed keeps delivery logs 30 days after deletion
OPERATOR_REASON = "Disabled by an operator"
MAX_REASON = 500


def _provider(provider_id: str) -> type[Provider]:
    """The registry's provider (imported on first use: the list, delete and logs routes never need one)."""
    from integrations.providers.registry import PROVIDERS

    return PROVIDERS[provider_id]


def _unsupported_events(provider: type[Provider], events: list[EventType]) -> list[FieldError]:
    supported = provider.supported_events
    return [
        FieldError(
            f"enabledEvents[{i}]", f"{event} is not supported by {provider.name}; supported: {', '.join(supported)}"
        )
        for i, event in enumerate(events)
        if event not in supported
    ]


def validate_settings(
    provider: type[Provider],
    credentials: dict[str, Any],
    config: dict[str, Any] | None,
    events: list[EventType],
    *,
    allow_local_destinations: bool,
) -> dict[str, Any]:
    """Check credentials, config and events against the provider; return the secret's normalised value."""
    from integrations.providers.base import parse_settings  # imported by the routes that validate, only

    errors = _unsupported_events(provider, events)
    try:
        parsed_credentials, parsed_config = parse_settings(
            provider, {"credentials": credentials, "config": config or {}}, allow_local_destinations
        )
    except ValidationFailed as error:
        errors = error.details + errors
    else:
        errors += [FieldError(path, message) for path, message in provider.check(parsed_config, events).items()]
    if errors:
        raise ValidationFailed(f"Invalid {provider.name} integration", errors)
    return {
        "credentials": parsed_credentials.model_dump(exclude_none=True),
        "config": parsed_config.model_dump(exclude_none=True),
    }


class IntegrationService:
    """Create, list, update and delete an account's integrations."""

    def __init__(
        self,
        store: IntegrationStore,
        vault: CredentialVault,
        *,
        allow_local_destinations: bool,
        max_integrations: int = 100,
    ) -> None:
        self.store = store
        self.vault = vault
        self.allow_local_destinations = allow_local_destinations
        self.max_integrations = max_integrations

    def create(self, account_id: str, request: CreateIntegrationRequest) -> IntegrationRecord:
        """Take one of the account's slots, store the secret, then the item; on failure, undo what was done.

        LimitExceeded (409) when the account has ``max_integrations`` live integrations already.
        """
        provider = _provider(request.provider)
        secret = validate_settings(
            provider,
            request.credentials,
            request.config,
            request.enabledEvents,
            allow_local_destinations=self.allow_local_destinations,
        )
        integration_id = clock.new_id()
        created = clock.iso(clock.now())
        record = IntegrationRecord(
            accountId=account_id,
            id=integration_id,
            provider=provider.id,
            name=request.name,
            enabled=True,
            enabledEvents=request.enabledEvents,
            minimumSeverity=request.minimumSeverity,
            secretName=self.vault.name_for(account_id, integration_id),
            createdAt=created,
            updatedAt=created,
        )
        assert record.secretName is not None
        if not self.store.take_slot(account_id, self.max_integrations):
            raise LimitExceeded(
                f"This account has {self.max_integrations} integrations, the most it may have;"
                " delete one to create another"
            )
        try:
            tags = {"accountId": account_id, "integrationId": integration_id}
            record.secretVersion = self.vault.create(record.secretName, secret, tags)
            try:
                self.store.insert(record)
            except BaseException:
                self.vault.delete(record.secretName)
                raise
        except BaseException:
            self.store.free_slot(account_id)
            raise
        return record

    def list(self, account_id: str) -> list[IntegrationRecord]:
        return self.store.list_live(account_id)

    def get_live(self, account_id: str, integration_id: str) -> IntegrationRecord:
        """The account's integration; another account's id answers exactly like an unknown one."""
        record = self.store.get(account_id, integration_id)
        if record is None or record.deleted:
            raise NotFound("Integration not found")
        return record

    def get_readable(self, account_id: str, integration_id: str) -> IntegrationRecord:
        """A live integration, or a deleted one within its 30 days of readable logs."""
        record = self.store.get(account_id, integration_id)
        if record is None or (record.expiresAt is not None and record.expiresAt <= time.time()):
            raise NotFound("Integration not found")
        return record

    def update(self, account_id: str, integration_id: str, patch: UpdateIntegrationRequest) -> IntegrationRecord:
        """Apply the fields present; credentials merge key by key (null removes a key), config is replaced.

        Optimistic: if the integration changed since it was read, nothing is applied and Conflict (409) is raised.
        """
        record = self.get_live(account_id, integration_id)
        assert record.secretName is not None
        given = patch.model_fields_set
        changes: dict[str, Any] = {name: getattr(patch, name) for name in given - {"credentials", "config"}}
        events = patch.enabledEvents if "enabledEvents" in given and patch.enabledEvents else record.enabledEvents
        provider = _provider(record.provider)
        if given & {"credentials", "config", "enabledEvents"}:
            # The result is validated whole: rules can span fields (email digests need a scan-end event).
            stored = self.vault.read(record.secretName, record.secretVersion)
            credentials = {**stored.get("credentials", {}), **(patch.credentials or {})}
            credentials = {k: v for k, v in credentials.items() if v is not None}
            config = patch.config if "config" in given else stored.get("config")
            new_secret = validate_settings(
                provider, credentials, config, events, allow_local_destinations=self.allow_local_destinations
            )
            if given & {"credentials", "config"}:
                # A changed signing secret keeps the previous one beside it for the grace period.
                new_secret = signing.with_rotation(stored, new_secret, clock.now())
                # A new version that only the item update below puts in use: if that update fails or loses a
                # race (409), the integration keeps the credentials it had.
                changes["secretVersion"] = self.vault.add_version(record.secretName, new_secret)
        if patch.enabled and not record.enabled:
            # Enabling clears why it was disabled, and the failure streak starts again.
            changes.update(disabledReason=None, disabledAt=None, failingSince=None)
        changes["updatedAt"] = clock.iso(clock.now())
        return self.store.update(record, changes)

    def disable_by_operator(self, account_id: str, integration_id: str, reason: str | None) -> IntegrationRecord:
        """The operator command's disable: like PATCH enabled: false, with a reason the API shows."""
        record = self.get_live(account_id, integration_id)
        now = clock.iso(clock.now())
        text = OPERATOR_REASON + (f": {reason.strip()}" if reason and reason.strip() else "")
        return self.store.update(
            record, {"enabled": False, "disabledReason": text[:MAX_REASON], "disabledAt": now, "updatedAt": now}
        )

    def delete(self, account_id: str, integration_id: str) -> None:
        """Tombstone the item (deliveries stop at once; logs stay readable 30 days), then delete the secret.

        If deleting the secret fails, the tombstone keeps its name and a retried DELETE finishes the job.
        """
        record = self.store.get(account_id, integration_id)
        if record is None or (record.deleted and record.secretName is None):
            raise NotFound("Integration not found")
        if not record.deleted:
            deleted_at = clock.now()
            record = self.store.update(
                record,
                {
                    "deletedAt": clock.iso(deleted_at),
                    "expiresAt": int((deleted_at + TOMBSTONE_RETENTION).timestamp()),
                    "enabled": False,
                    "updatedAt": clock.iso(deleted_at),
                },
            )
            self.store.free_slot(account_id)  # once: only the request that tombstoned it gets here
        assert record.secretName is not None
        self.vault.delete(record.secretName)
        self.store.update(record, {"secretName": None, "secretVersion": None})


@cache
def from_environment() -> IntegrationService:
    """The service wired to this function's tables and secrets (one per container)."""
    config = settings.load(settings.ApiSettings)
    return IntegrationService(
        IntegrationStore(config.integrations_table),
        CredentialVault(config.secrets_prefix),
        allow_local_destinations=config.allow_local_destinations,
        max_integrations=config.max_integrations_per_account,
    )
