"""The cost benchmark's billing rules: DynamoDB item sizes and request units, and the meter that applies them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bench import units
from bench.cost import Meter, _sqs_requests
from moto import mock_aws


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "abc"}, 3),
        ({"S": "é"}, 2),  # UTF-8 bytes, not characters
        ({"B": b"\x00\x01"}, 2),
        ({"N": "123"}, 3),  # 3 significant digits: 2 bytes + 1
        ({"N": "1.500"}, 2),  # trailing zeros trimmed: 1 and 5
        ({"N": "000042"}, 2),  # leading zeros trimmed
        ({"N": "0"}, 2),
        ({"N": "1234567890123"}, 8),
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["ab", "c"]}, 3),
        ({"NS": ["1", "22"]}, 4),
        ({"L": [{"N": "1"}, {"BOOL": False}]}, 3 + (1 + 2) + (1 + 1)),
        ({"M": {"ab": {"S": "xyz"}}}, 3 + 1 + 2 + 3),
        ({"M": {}}, 3),
    ],
)
def test_value_sizes_follow_dynamodbs_rules(value: dict[str, Any], size: int) -> None:
    assert units.value_size(value) == size


def test_an_items_size_counts_attribute_names_and_values() -> None:
    item = {"id": {"S": "abc"}, "n": {"N": "7"}, "nested": {"M": {"k": {"S": "v"}}}}
    assert units.item_size(item) == (2 + 3) + (1 + 2) + (6 + 3 + 1 + 1 + 1)
    assert units.item_size(None) == 0


def test_writes_are_billed_per_started_kilobyte_at_least_one() -> None:
    assert units.write_units(0) == 1
    assert units.write_units(1024) == 1
    assert units.write_units(1025) == 2
    assert units.write_units(3000, transactional=True) == 6


def test_a_put_or_update_is_billed_by_the_larger_item_before_or_after() -> None:
    big = {"body": {"S": "x" * 3000}}
    small = {"body": {"S": "x"}}
    assert units.put_or_update_units(big, small) == 3  # shrinking a 3 KB item still costs 3
    assert units.put_or_update_units(None, big) == 3
    assert units.put_or_update_units(small, small) == 1


def test_a_failed_condition_is_billed_by_the_existing_item_at_least_one() -> None:
    assert units.failed_condition_units(None) == 1
    assert units.failed_condition_units({"body": {"S": "x" * 2500}}) == 3


def test_reads_are_billed_per_started_4_kb_halved_when_eventually_consistent() -> None:
    assert units.read_units(0, consistent=True) == 1  # a GetItem of nothing still costs a read
    assert units.read_units(4096, consistent=True) == 1
    assert units.read_units(4097, consistent=True) == 2
    assert units.read_units(4097, consistent=False) == 1
    assert units.read_units(100, consistent=False) == 0.5
    assert units.read_units(100, consistent=True, transactional=True) == 2


def test_sqs_bills_every_64_kb_chunk_of_a_payload() -> None:
    assert _sqs_requests("SendMessage", {"MessageBody": "x"}, {}) == 1
    assert _sqs_requests("SendMessage", {"MessageBody": "x" * (64 * 1024 + 1)}, {}) == 2
    batch = {"Entries": [{"MessageBody": "x" * 40_000}, {"MessageBody": "y" * 40_000}]}
    assert _sqs_requests("SendMessageBatch", batch, {}) == 2
    assert _sqs_requests("DeleteMessageBatch", {}, {}) == 1


# ---------------------------------------------------------------- the meter against moto


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb


def _key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "p"}, "sk": {"S": sk}}


def test_the_meter_bills_an_update_by_the_item_after_it(table: Any) -> None:
    table.put_item(TableName="t", Item={**_key("a"), "body": {"S": "x" * 100}})
    with Meter().metering() as meter:
        table.update_item(
            TableName="t",
            Key=_key("a"),
            UpdateExpression="SET body = :big",
            ExpressionAttributeValues={":big": {"S": "x" * 1500}},
        )
    assert meter.write_units["dynamodb", "UpdateItem t"] == 2
    assert meter.calls["dynamodb", "UpdateItem t"] == 1
    assert meter.read_units["dynamodb", "GetItem t"] == 0  # the meter's own lookups are not billed


def test_the_meter_bills_a_failed_condition_and_an_overwrite_by_the_existing_item(table: Any) -> None:
    table.put_item(TableName="t", Item={**_key("a"), "body": {"S": "x" * 2100}})
    with Meter().metering() as meter:
        with pytest.raises(table.exceptions.ConditionalCheckFailedException):
            table.put_item(TableName="t", Item=_key("a"), ConditionExpression="attribute_not_exists(pk)")
        with pytest.raises(table.exceptions.ConditionalCheckFailedException):
            table.put_item(TableName="t", Item=_key("new"), ConditionExpression="attribute_exists(pk)")
        table.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": _key("a")}}]})  # replaces 2.1 KB
    assert meter.write_units["dynamodb", "PutItem t"] == 3 + 1
    assert meter.write_units["dynamodb", "BatchWriteItem t"] == 3


def test_the_meter_bills_a_batch_read_as_one_read_per_key_found_or_not(table: Any) -> None:
    table.put_item(TableName="t", Item={**_key("big"), "body": {"S": "x" * 5000}})  # two 4 KB units
    table.put_item(TableName="t", Item=_key("small"))
    keys = [_key("big"), _key("small"), _key("missing")]
    with Meter().metering() as meter:
        table.batch_get_item(RequestItems={"t": {"Keys": keys, "ConsistentRead": True}})
        table.batch_get_item(RequestItems={"t": {"Keys": keys}})  # eventually consistent: half
    assert meter.read_units["dynamodb", "BatchGetItem t"] == (2 + 1 + 1) * 1.5
    assert meter.calls["dynamodb", "BatchGetItem t"] == 2


def test_the_meter_bills_a_filtered_query_for_every_item_it_examined(table: Any) -> None:
    for n in range(3):
        table.put_item(TableName="t", Item={**_key(f"k{n}"), "keep": {"BOOL": n == 0}, "body": {"S": "x" * 3000}})
    with Meter().metering() as meter:
        answer = table.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            FilterExpression="keep = :yes",
            ExpressionAttributeValues={":p": {"S": "p"}, ":yes": {"BOOL": True}},
        )
    assert len(answer["Items"]) == 1
    assert meter.read_units["dynamodb", "Query t"] == 1.5  # 3 items of ~3 KB examined: 12 KB, eventually consistent


def test_the_delivery_logs_head_stays_one_write_unit_for_every_kind_up_to_10_million_entries() -> None:
    from integrations.catalog import EVENT_TYPES
    from integrations.providers.delivery import TEST_EVENT_TYPE
    from integrations.storage import delivery_logs

    views = {
        view
        for event in [*EVENT_TYPES, TEST_EVENT_TYPE]
        for status in ("success", "failed")
        for view in delivery_logs.views_of(status, event)
    }
    codes = {delivery_logs.view_code(view) for view in views}
    assert len(codes) == len(views) == 33, "every view has its own short name"
    head: dict[str, Any] = {
        "integrationId": {"S": "01a23aa2-ff91-7000-8000-000144a52d6f"},
        "id": {"S": delivery_logs.HEAD},
        "t": {"N": "1764745200000"},
        "expiresAt": {"N": "1767337200"},
    }
    for code in codes:
        head[code] = {"N": "9999999"}
        if code != "a":
            head["l" + code] = head["p" + code] = {"N": "9999999"}
    assert units.write_units(units.item_size(head)) == 1


def test_the_meter_bills_a_transaction_twice_per_item_whether_it_succeeds_or_is_cancelled(table: Any) -> None:
    table.put_item(TableName="t", Item={**_key("a"), "body": {"S": "x" * 1500}})
    with Meter().metering() as meter:
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": _key("b")}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": _key("a"),
                        "UpdateExpression": "SET n = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
        with pytest.raises(table.exceptions.TransactionCanceledException):
            table.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": _key("a"), "ConditionExpression": "attribute_not_exists(pk)"}}
                ]
            )
    assert meter.write_units["dynamodb", "TransactWriteItems t"] == 2 * 1 + 2 * 2 + 2 * 2
