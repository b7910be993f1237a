"""API keys: ``apvk_`` + 256 random bits, stored only as a SHA-256 hash mapped to an account id.

Each account also has one API Gateway API key (its *usage key*), in the stack's usage plan: the authorizer
returns its value as ``usageIdentifierKey`` and API Gateway applies the plan's per-account rate, burst and
quota to it. Clients never see or send it (the API's key source is the authorizer). Its id and value are
stored on every service key record of the account, so the authorizer finds it with the one GetItem it
already makes; it is created with the account's first key and deleted with its last.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from integrations.platform import aws, clock

PREFIX = "apvk_"
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class UsageKey:
    """An account's API Gateway API key: its id (to manage it) and its value (what the authorizer returns)."""

    id: str
    value: str


@dataclass(frozen=True)
class KeyOwner:
    """Who a service key belongs to, as the authorizer needs it."""

    account_id: str
    usage_key: str | None


def generate_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> str:
    # A fast hash suffices: keys are random 256-bit values, not guessable passwords.
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_id(api_key: str) -> str:
    """A short public handle for a key (to list and revoke it without knowing it)."""
    return hash_key(api_key)[:12]


def register_key(table_name: str, api_key: str, account_id: str, usage_key: UsageKey | None = None) -> str:
    """Store ``api_key``'s hash for ``account_id`` (with the account's usage key); returns its key id."""
    item = {
        "keyHash": {"S": hash_key(api_key)},
        "keyId": {"S": key_id(api_key)},
        "accountId": {"S": account_id},
        "createdAt": {"S": clock.iso(clock.now())},
    }
    if usage_key is not None:
        item["usageKeyId"] = {"S": usage_key.id}
        item["usageKey"] = {"S": usage_key.value}
    aws.client("dynamodb").put_item(TableName=table_name, Item=item)
    return key_id(api_key)


def lookup(table_name: str, api_key: str) -> KeyOwner | None:
    """The owner of ``api_key`` (account and usage key), or None for an unknown or revoked key."""
    if not api_key.startswith(PREFIX) or len(api_key) > MAX_KEY_LENGTH:
        return None
    response = aws.client("dynamodb").get_item(
        TableName=table_name,
        Key={"keyHash": {"S": hash_key(api_key)}},
        ProjectionExpression="accountId, usageKey",
    )
    item = response.get("Item")
    if not item:
        return None
    return KeyOwner(item["accountId"]["S"], item["usageKey"]["S"] if "usageKey" in item else None)


def lookup_account(table_name: str, api_key: str) -> str | None:
    """The account id ``api_key`` belongs to, or None for an unknown or revoked key."""
    owner = lookup(table_name, api_key)
    return owner.account_id if owner else None


type Item = dict[str, dict[str, str]]


def _account_items(table_name: str, account_id: str, wanted_key_id: str | None = None) -> list[Item]:
    condition = "accountId = :account" + (" AND keyId = :id" if wanted_key_id else "")
    values = {":account": {"S": account_id}, **({":id": {"S": wanted_key_id}} if wanted_key_id else {})}
    response = aws.client("dynamodb").query(
        TableName=table_name,
        IndexName="byAccount",
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
    )
    items: list[Item] = response["Items"]
    return items


def list_key_ids(table_name: str, account_id: str) -> list[str]:
    return [item["keyId"]["S"] for item in _account_items(table_name, account_id)]


def account_usage_key(table_name: str, account_id: str) -> UsageKey | None:
    """The usage key stored with the account's keys (None when it has no key, or keys issued without one)."""
    for listed in _account_items(table_name, account_id):
        # The byAccount index projects keys only: the usage key is read from the record itself.
        item = (
            aws.client("dynamodb")
            .get_item(
                TableName=table_name, Key={"keyHash": listed["keyHash"]}, ProjectionExpression="usageKeyId, usageKey"
            )
            .get("Item")
        )
        if item and "usageKeyId" in item:
            return UsageKey(item["usageKeyId"]["S"], item["usageKey"]["S"])
    return None


def revoke_key(table_name: str, account_id: str, revoked_key_id: str) -> bool:
    """Delete the account's key with this id; False when there is none."""
    items = _account_items(table_name, account_id, revoked_key_id)
    for item in items:
        aws.client("dynamodb").delete_item(TableName=table_name, Key={"keyHash": item["keyHash"]})
    return bool(items)


# ---------------------------------------------------------------- the usage keys in API Gateway


def create_usage_key(usage_plan_id: str, account_id: str, label: str) -> UsageKey:
    """A new API Gateway API key for the account, added to the usage plan (API Gateway generates its value)."""
    apigateway = aws.client("apigateway")
    created = apigateway.create_api_key(
        name=f"{label}-{account_id}",
        description=f"Usage key of account {account_id} ({label}); managed by integrations-ops",
        enabled=True,
        tags={"accountId": account_id},
    )
    usage_key = UsageKey(created["id"], created["value"])
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=usage_key.id, keyType="API_KEY")
    return usage_key


def delete_usage_key(usage_key_id: str) -> None:
    """Take the key out of every usage plan, then delete it (the account's last service key was revoked)."""
    apigateway = aws.client("apigateway")
    for plan in apigateway.get_usage_plans(keyId=usage_key_id).get("items", []):
        apigateway.delete_usage_plan_key(usagePlanId=plan["id"], keyId=usage_key_id)
    apigateway.delete_api_key(apiKey=usage_key_id)


def usage_plans_of(usage_key_id: str) -> list[str]:
    """The ids of the usage plans the key is in."""
    return [plan["id"] for plan in aws.client("apigateway").get_usage_plans(keyId=usage_key_id).get("items", [])]


def move_usage_key(usage_key_id: str, to_plan_id: str) -> list[str]:
    """Put the key in ``to_plan_id`` instead of its current plans (a key may be in one plan per stage).

    Removed first, then added: API Gateway refuses a key in two plans of one stage. Returns the plans left.
    """
    apigateway = aws.client("apigateway")
    apigateway.get_usage_plan(usagePlanId=to_plan_id)  # fails before any change when the plan does not exist
    left = [plan for plan in usage_plans_of(usage_key_id) if plan != to_plan_id]
    for plan in left:
        apigateway.delete_usage_plan_key(usagePlanId=plan, keyId=usage_key_id)
    if to_plan_id not in usage_plans_of(usage_key_id):
        apigateway.create_usage_plan_key(usagePlanId=to_plan_id, keyId=usage_key_id, keyType="API_KEY")
    return left


def issue_key(
    table_name: str, account_id: str, usage_plan_id: str | None, label: str, api_key: str | None = None
) -> tuple[str, str]:
    """A new service key (``api_key``, else generated) for the account, with the account's usage key.

    The usage key is created in the plan when the account has none yet. Returns (key, key id). Without a usage
    plan (a stack without per-account limits) no usage key is made.
    """
    usage_key = account_usage_key(table_name, account_id)
    if usage_key is None and usage_plan_id is not None:
        usage_key = create_usage_key(usage_plan_id, account_id, label)
    api_key = api_key or generate_key()
    return api_key, register_key(table_name, api_key, account_id, usage_key)


def revoke_and_release(table_name: str, account_id: str, revoked_key_id: str) -> tuple[bool, bool]:
    """Revoke a key; when it was the account's last, delete its usage key. Returns (revoked, usage key deleted)."""
    usage_key = account_usage_key(table_name, account_id)
    if not revoke_key(table_name, account_id, revoked_key_id):
        return False, False
    if usage_key is not None and not list_key_ids(table_name, account_id):
        delete_usage_key(usage_key.id)
        return True, True
    return True, False
