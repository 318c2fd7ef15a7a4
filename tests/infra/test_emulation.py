"""The emulation's DynamoDB transactions (``infra/local/atomic.py``) behave as DynamoDB's:
all or nothing, cancellation reasons per item, one operation per item, and a cost that does not
grow with the table."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import infra.local.atomic  # noqa: F401

TABLE = "emulation-check"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def put(pk: str, **values) -> dict:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, **values}}}


def items(client) -> dict[str, dict]:
    return {i["pk"]["S"]: i for i in client.scan(TableName=TABLE)["Items"]}


def test_a_failed_condition_writes_nothing_and_names_the_item(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "taken"}})
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                put("new"),
                {**put("taken"), "Put": {**put("taken")["Put"], "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert set(items(dynamodb)) == {"taken"}


def test_a_write_refused_midway_puts_back_what_was_written(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                put("b"),
                {  # refused only when applied: adding a number to a string
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "c"}},
                        "UpdateExpression": "SET s = :s ADD s :one",
                        "ExpressionAttributeValues": {":s": {"S": "x"}, ":one": {"N": "1"}},
                    }
                },
            ]
        )
    assert items(dynamodb) == {"a": {"pk": {"S": "a"}, "n": {"N": "1"}}}


def test_one_item_twice_in_a_transaction_is_refused(dynamodb):
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[put("a"), put("a")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert items(dynamodb) == {}


def test_parallel_conditional_transactions_on_one_version_let_one_through(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "counter"}, "version": {"N": "0"}})
    won = []

    def bump():
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": {"pk": {"S": "counter"}},
                            "UpdateExpression": "SET version = :next",
                            "ConditionExpression": "version = :seen",
                            "ExpressionAttributeValues": {":seen": {"N": "0"}, ":next": {"N": "1"}},
                        }
                    }
                ]
            )
            won.append(True)
        except ClientError:
            pass

    threads = [threading.Thread(target=bump) for _ in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(won) == 1


def test_a_transaction_does_not_copy_the_table(dynamodb, monkeypatch):
    for i in range(300):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": f"x{i}"}})
    copied = []
    import copy

    real = copy.deepcopy

    def counting(value, *args, **kwargs):
        copied.append(type(value).__name__)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", counting)
    dynamodb.transact_write_items(TransactItems=[put("y"), put("z")])
    assert "Table" not in copied and len(copied) <= 2  # at most the items written
