"""API keys: ``apvk_`` + 256 random bits, stored only as a SHA-256 hash mapped to an account id."""

from __future__ import annotations

import hashlib
import secrets

from integrations import aws, clock

PREFIX = "apvk_"
MAX_KEY_LENGTH = 128


def generate_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> str:
    # A fast hash suffices: keys are random 256-bit values, not guessable passwords.
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_id(api_key: str) -> str:
    """A short public handle for a key (to list and revoke it without knowing it)."""
    return hash_key(api_key)[:12]


def register_key(table_name: str, api_key: str, account_id: str) -> str:
    """Store ``api_key``'s hash for ``account_id``; returns its key id."""
    aws.client("dynamodb").put_item(
        TableName=table_name,
        Item={
            "keyHash": {"S": hash_key(api_key)},
            "keyId": {"S": key_id(api_key)},
            "accountId": {"S": account_id},
            "createdAt": {"S": clock.iso(clock.now())},
        },
    )
    return key_id(api_key)


def lookup_account(table_name: str, api_key: str) -> str | None:
    """The account id ``api_key`` belongs to, or None for an unknown or revoked key."""
    if not api_key.startswith(PREFIX) or len(api_key) > MAX_KEY_LENGTH:
        return None
    response = aws.client("dynamodb").get_item(
        TableName=table_name, Key={"keyHash": {"S": hash_key(api_key)}}, ProjectionExpression="accountId"
    )
    item = response.get("Item")
    return item["accountId"]["S"] if item else None


def list_key_ids(table_name: str, account_id: str) -> list[str]:
    response = aws.client("dynamodb").query(
        TableName=table_name,
        IndexName="byAccount",
        KeyConditionExpression="accountId = :account",
        ExpressionAttributeValues={":account": {"S": account_id}},
    )
    return [item["keyId"]["S"] for item in response["Items"]]


def revoke_key(table_name: str, account_id: str, revoked_key_id: str) -> bool:
    """Delete the account's key with this id; False when there is none."""
    response = aws.client("dynamodb").query(
        TableName=table_name,
        IndexName="byAccount",
        KeyConditionExpression="accountId = :account AND keyId = :id",
        ExpressionAttributeValues={":account": {"S": account_id}, ":id": {"S": revoked_key_id}},
    )
    for item in response["Items"]:
        aws.client("dynamodb").delete_item(TableName=table_name, Key={"keyHash": item["keyHash"]})
    return bool(response["Items"])
