"""The integrations table: one item per integration, keyed by (accountId, id); deletions leave a tombstone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from integrations.catalog import DeliveryStatus, EventType, Severity
from integrations.platform import aws
from integrations.platform.errors import Conflict

if TYPE_CHECKING:
    from collections.abc import Iterable

    from integrations.models.integrations import IntegrationResponse

# Each account's count of live integrations: an item in the account's own partition, under an id that no
# integration has (theirs are UUIDs), so that one conditional update bounds the count however creates race.
COUNTER_ID = "#integrations"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class IntegrationRecord(BaseModel):
    """An integration as stored. Credentials and config are not here: they live in its secret."""

    accountId: str
    id: str
    provider: str
    name: str
    enabled: bool
    enabledEvents: list[EventType]
    minimumSeverity: Severity | None = None
    secretName: str | None = None  # removed once a deleted integration's secret is gone
    secretVersion: str | None = None  # the secret's version this integration uses
    version: int = 1
    createdAt: str
    updatedAt: str
    lastDeliveryAt: str | None = None
    lastDeliveryStatus: DeliveryStatus | None = None
    deletedAt: str | None = None
    expiresAt: int | None = None  # TTL, set on tombstones only
    disabledReason: str | None = None  # set when the service or an operator disabled it
    disabledAt: str | None = None
    failingSince: str | None = None  # the first failed attempt since the last success

    @property
    def deleted(self) -> bool:
        return self.deletedAt is not None

    def to_response(self) -> IntegrationResponse:
        """The public view: the seed's fields and nothing else."""
        # Imported here: the API models load every provider, which fan-out (a reader of this store) never needs.
        from integrations.models.integrations import IntegrationResponse

        return IntegrationResponse.model_validate(self.model_dump(include=set(IntegrationResponse.model_fields)))


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> IntegrationRecord:
    values = {k: _deserializer.deserialize(v) for k, v in item.items()}
    for number in ("version", "expiresAt"):
        if number in values:
            values[number] = int(values[number])
    return IntegrationRecord.model_validate(values)


def _is_condition_failure(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


class IntegrationStore:
    """Reads and conditional writes on the integrations table; every call is scoped by account."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def insert(self, record: IntegrationRecord) -> None:
        """Store a new integration; its id must not exist yet."""
        aws.client("dynamodb").put_item(
            TableName=self.table_name,
            Item=_to_item(record.model_dump()),
            ConditionExpression="attribute_not_exists(id)",
        )

    def get(self, account_id: str, integration_id: str) -> IntegrationRecord | None:
        """The account's integration (or its tombstone), or None."""
        response = aws.client("dynamodb").get_item(
            TableName=self.table_name,
            Key=_to_item({"accountId": account_id, "id": integration_id}),
            ConsistentRead=True,
        )
        return _from_item(response["Item"]) if "Item" in response else None

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], IntegrationRecord | None]:
        """Up to 100 integrations (or tombstones) by (account, id) in one read: each key the answer covers, with its
        record or None; a key AWS left unprocessed (throttling) is left out, for the caller to read alone."""
        wanted = list(dict.fromkeys(keys))[:100]
        if not wanted:
            return {}
        response = aws.client("dynamodb").batch_get_item(
            RequestItems={
                self.table_name: {
                    "Keys": [_to_item({"accountId": account, "id": id_}) for account, id_ in wanted],
                    "ConsistentRead": True,
                }
            }
        )
        found = {(r.accountId, r.id): r for r in map(_from_item, response["Responses"].get(self.table_name, []))}
        left = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
        unprocessed = {(key["accountId"]["S"], key["id"]["S"]) for key in left}
        return {key: found.get(key) for key in wanted if key not in unprocessed}

    def list_live(self, account_id: str) -> list[IntegrationRecord]:
        """The account's integrations, newest first (UUIDv7 ids sort by creation time)."""
        return self._query(account_id, "attribute_not_exists(deletedAt)")

    def list_enabled(self, account_id: str) -> list[IntegrationRecord]:
        """The account's integrations that receive events (one Query of its own partition, never a Scan)."""
        return self._query(
            account_id, "attribute_not_exists(deletedAt) AND enabled = :enabled", {":enabled": {"BOOL": True}}
        )

    def _query(self, account_id: str, condition: str, values: dict[str, Any] | None = None) -> list[IntegrationRecord]:
        paginator = aws.client("dynamodb").get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="accountId = :account",
            FilterExpression=f"attribute_exists(provider) AND {condition}",  # not the account's counter
            ExpressionAttributeValues={":account": {"S": account_id}, **(values or {})},
            ScanIndexForward=False,
        )
        return [_from_item(item) for page in pages for item in page["Items"]]

    def take_slot(self, account_id: str, limit: int) -> bool:
        """Count one more live integration for the account, unless it has ``limit`` already (then False).

        Atomic: of two creates racing for the last slot, one gets it. An account from before the counter gets
        one first, set to its live integrations.
        """
        dynamodb = aws.client("dynamodb")
        for _ in range(2):
            try:
                dynamodb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"accountId": account_id, "id": COUNTER_ID}),
                    UpdateExpression="ADD integrationCount :one",
                    ConditionExpression="integrationCount < :limit",
                    ExpressionAttributeValues=_to_item({":one": 1, ":limit": limit}),
                )
                return True
            except ClientError as error:
                if not _is_condition_failure(error):
                    raise
            if self.get_counter(account_id) is not None:
                return False  # the account is full
            self._start_counter(account_id)
        return False

    def free_slot(self, account_id: str) -> None:
        """Count one live integration less (an integration deleted, or a create that failed after taking its slot)."""
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key=_to_item({"accountId": account_id, "id": COUNTER_ID}),
                UpdateExpression="ADD integrationCount :minus_one",
                ConditionExpression="integrationCount > :zero",
                ExpressionAttributeValues=_to_item({":minus_one": -1, ":zero": 0}),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def _start_counter(self, account_id: str) -> None:
        """Create the account's counter at its number of live integrations (unless a racing create just did)."""
        live = len(self.list_live(account_id))
        try:
            aws.client("dynamodb").put_item(
                TableName=self.table_name,
                Item=_to_item({"accountId": account_id, "id": COUNTER_ID, "integrationCount": live}),
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def get_counter(self, account_id: str) -> int | None:
        """The account's count of live integrations, or None before its first create since the counter exists."""
        response = aws.client("dynamodb").get_item(
            TableName=self.table_name,
            Key=_to_item({"accountId": account_id, "id": COUNTER_ID}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return int(item["integrationCount"]["N"]) if item else None

    def set_last_delivery(self, account_id: str, integration_id: str, at: str, status: DeliveryStatus) -> str | None:
        """Record a delivery attempt's outcome without touching user fields or the version (so never a 409).

        In the same write, ``failingSince`` remembers the first failure since the last success (a success
        removes it). Returns it: None after a success, or when nothing was written (an older attempt finishing
        late does not overwrite a newer one; a deleted integration is left alone).
        """
        if status == "success":
            expression = "SET lastDeliveryAt = :at, lastDeliveryStatus = :status REMOVE failingSince"
        else:
            expression = (
                "SET lastDeliveryAt = :at, lastDeliveryStatus = :status,"
                " failingSince = if_not_exists(failingSince, :at)"
            )
        try:
            response = aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key=_to_item({"accountId": account_id, "id": integration_id}),
                UpdateExpression=expression,
                ConditionExpression=(
                    "attribute_exists(id) AND attribute_not_exists(deletedAt)"
                    " AND (attribute_not_exists(lastDeliveryAt) OR lastDeliveryAt <= :at)"
                ),
                ExpressionAttributeValues=_to_item({":at": at, ":status": status}),
                ReturnValues="ALL_NEW",  # (UPDATED_NEW may omit an unchanged failingSince)
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            return None
        failing_since = response.get("Attributes", {}).get("failingSince")
        return str(failing_since["S"]) if failing_since else None

    def disable(self, account_id: str, integration_id: str, reason: str, at: str) -> bool:
        """The service's own decision to disable (a receiver gone, days of failures); False if nothing changed.

        It applies only while the integration is enabled and not deleted, so it never overrides a user's
        choice: a user who disabled it keeps their state, and one who re-enabled it afterwards wins. It bumps
        the version, so a PATCH prepared from the state before the disable answers 409 instead of acting on
        a stale view.
        """
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key=_to_item({"accountId": account_id, "id": integration_id}),
                UpdateExpression=(
                    "SET enabled = :false, disabledReason = :reason, disabledAt = :at, updatedAt = :at ADD version :one"
                ),
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(deletedAt) AND enabled = :true",
                ExpressionAttributeValues=_to_item(
                    {":false": False, ":true": True, ":reason": reason, ":at": at, ":one": 1}
                ),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            return False
        return True

    def update(self, record: IntegrationRecord, changes: dict[str, Any]) -> IntegrationRecord:
        """Apply ``changes`` if nobody changed the integration since ``record`` was read (optimistic lock).

        Only the named attributes are written, so the dispatcher's lastDelivery* updates and a user's
        PATCH never overwrite each other.
        """
        changes = {**changes, "version": record.version + 1}
        names = {f"#{k}": k for k in changes}
        to_set = {f"#{k}": f":{k}" for k, v in changes.items() if v is not None}
        to_remove = [f"#{k}" for k, v in changes.items() if v is None]
        expression = "SET " + ", ".join(f"{n} = {v}" for n, v in to_set.items())
        if to_remove:
            expression += " REMOVE " + ", ".join(to_remove)
        values = _to_item({f":{k}": v for k, v in changes.items() if v is not None})
        values[":expected"] = {"N": str(record.version)}
        try:
            response = aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key=_to_item({"accountId": record.accountId, "id": record.id}),
                UpdateExpression=expression,
                ConditionExpression="version = :expected",
                ExpressionAttributeNames={**names, "#version": "version"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise Conflict("The integration was changed by another request; read it again and retry") from None
            raise
        return _from_item(response["Attributes"])
