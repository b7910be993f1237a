"""ProviderState in DynamoDB: one item per key, expiring by TTL."""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from integrations.platform import aws

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; hand providers ints and floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if type(value).__name__ == "Decimal":
        return int(value) if value == int(value) else float(value)
    return value


class DynamoProviderState:
    """Jira issue keys per finding, email digests per scan: small items keyed by a provider-chosen key."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, key: str) -> dict[str, Any] | None:
        response = aws.client("dynamodb").get_item(
            TableName=self.table_name, Key={"key": {"S": key}}, ConsistentRead=True
        )
        item = response.get("Item")
        # A key kept by append() holds a list, not a value.
        if not item or "value" not in item or int(item["expiresAt"]["N"]) <= time.time():
            return None
        value: dict[str, Any] = _plain(_deserializer.deserialize(item["value"]))
        return value

    def put_if_absent(self, key: str, value: dict[str, Any], ttl_seconds: int) -> bool:
        """Store ``value`` unless the key holds a live one; True when stored."""
        now = int(time.time())
        try:
            aws.client("dynamodb").put_item(
                TableName=self.table_name,
                Item={
                    "key": {"S": key},
                    "value": _serializer.serialize(value),
                    "expiresAt": {"N": str(now + ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(#key) OR expiresAt <= :now",
                ExpressionAttributeNames={"#key": "key"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def append(self, key: str, item: dict[str, Any], ttl_seconds: int) -> None:
        """Add ``item`` to the list kept under ``key``."""
        aws.client("dynamodb").update_item(
            TableName=self.table_name,
            Key={"key": {"S": key}},
            UpdateExpression="SET #items = list_append(if_not_exists(#items, :empty), :new), expiresAt = :expires",
            ExpressionAttributeNames={"#items": "items"},
            ExpressionAttributeValues={
                ":empty": {"L": []},
                ":new": {"L": [_serializer.serialize(item)]},
                ":expires": {"N": str(int(time.time()) + ttl_seconds)},
            },
        )

    def pop_all(self, key: str) -> list[dict[str, Any]]:
        """Remove the list kept under ``key`` and return it (atomically: a second caller gets nothing)."""
        response = aws.client("dynamodb").delete_item(
            TableName=self.table_name, Key={"key": {"S": key}}, ReturnValues="ALL_OLD"
        )
        items = response.get("Attributes", {}).get("items")
        return [] if items is None else list(_plain(_deserializer.deserialize(items)))

    def delete(self, key: str) -> None:
        """Forget whatever ``key`` holds (e.g. release a reservation so that a retry can take it)."""
        aws.client("dynamodb").delete_item(TableName=self.table_name, Key={"key": {"S": key}})
