"""Access to the single DynamoDB table: the only module that speaks DynamoDB's wire format.

Repositories (one per domain, and nothing else) build their items with :mod:`portico.keys` and
call these functions; they hand typed records to the services above them. Condition failures
become :class:`ConditionFailed` / :class:`TransactionFailed`, which repositories translate into
domain answers; every other AWS error propagates and becomes a 503 in :mod:`portico.http`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from portico import aws, keys
from portico.config import settings

_ser = TypeSerializer()
_de = TypeDeserializer()

Item = dict[str, Any]


class ConditionFailed(Exception):
    """A conditional write did not apply."""


class TransactionFailed(Exception):
    """A transaction was cancelled; ``reasons`` holds one code per item ("None" where it was fine)."""

    def __init__(self, reasons: list[str]):
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def _table() -> str:
    return settings().table_name


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items() if v is not None}


def deserialize(raw: Mapping[str, Any]) -> Item:
    return {k: _de.deserialize(v) for k, v in raw.items()}


def plain(value: Any) -> Any:
    """``value`` with DynamoDB's Decimals as ints (or floats) and sets as lists: what models and
    JSON want."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    return value


def _values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"ExpressionAttributeValues": serialize(values)} if values else {}


def _names(names: Mapping[str, str] | None) -> dict[str, Any]:
    return {"ExpressionAttributeNames": dict(names)} if names else {}


def get(key: Mapping[str, str], *, consistent: bool = False) -> Item | None:
    answer = aws.client("dynamodb").get_item(TableName=_table(), Key=serialize(key), ConsistentRead=consistent)
    raw = answer.get("Item")
    return deserialize(raw) if raw else None


BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
BATCH_WRITE_ITEMS = 25  # BatchWriteItem's limit per call
_BATCH_ROUNDS = 6


def batch_get(keys: Sequence[Mapping[str, str]], *, consistent: bool = True) -> list[Item | None]:
    """Several items, in the order asked (None where missing): one call per 100 keys, and the
    keys DynamoDB leaves unprocessed asked again."""
    table = _table()
    found: dict[tuple[str, str], Item] = {}
    unique = list({(k["pk"], k["sk"]): k for k in keys}.values())
    for start in range(0, len(unique), BATCH_GET_KEYS):
        chunk = unique[start : start + BATCH_GET_KEYS]
        request: dict[str, Any] = {table: {"Keys": [serialize(k) for k in chunk], "ConsistentRead": consistent}}
        for _ in range(_BATCH_ROUNDS):
            answer = aws.client("dynamodb").batch_get_item(RequestItems=request)
            for raw in answer.get("Responses", {}).get(table, []):
                item = deserialize(raw)
                found[(item["pk"], item["sk"])] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise ClientError({"Error": {"Code": "UnprocessedKeys", "Message": "batch get incomplete"}}, "BatchGetItem")
    return [found.get((k["pk"], k["sk"])) for k in keys]


def batch_put(items: Sequence[Mapping[str, Any]]) -> None:
    """Unconditional puts, 25 per call, unprocessed items sent again; for writes that need no
    condition and no atomicity (copies of audit records)."""
    table = _table()
    for start in range(0, len(items), BATCH_WRITE_ITEMS):
        request: dict[str, Any] = {
            table: [{"PutRequest": {"Item": serialize(i)}} for i in items[start : start + BATCH_WRITE_ITEMS]]
        }
        for attempt in range(_BATCH_ROUNDS):
            answer = aws.client("dynamodb").batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(0.02 * 2**attempt)
        else:
            raise ClientError(
                {"Error": {"Code": "UnprocessedItems", "Message": "batch write incomplete"}}, "BatchWriteItem"
            )


def put(
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> None:
    args: dict[str, Any] = {"TableName": _table(), "Item": serialize(item)}
    if condition:
        args["ConditionExpression"] = condition
    try:
        aws.client("dynamodb").put_item(**args, **_values(values), **_names(names))
    except ClientError as exc:
        _raise_condition(exc)


def update(
    key: Mapping[str, str],
    expression: str,
    *,
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> Item:
    """Apply an update expression; returns the item as it is afterwards."""
    args: dict[str, Any] = {
        "TableName": _table(),
        "Key": serialize(key),
        "UpdateExpression": expression,
        "ReturnValues": "ALL_NEW",
    }
    if condition:
        args["ConditionExpression"] = condition
    try:
        answer = aws.client("dynamodb").update_item(**args, **_values(values), **_names(names))
    except ClientError as exc:
        _raise_condition(exc)
    return deserialize(answer.get("Attributes", {}))


def query(
    query: keys.Query,
    *,
    limit: int | None = None,
    forward: bool = True,
    start: Mapping[str, Any] | None = None,
) -> tuple[list[Item], Item | None]:
    """One page of a query: the items and the key to continue from (None at the end)."""
    args: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": query.condition,
        "ScanIndexForward": forward,
        **_values(query.values),
        **_names(query.names),
    }
    if query.index:
        args["IndexName"] = query.index
    if limit:
        args["Limit"] = limit
    if start:
        args["ExclusiveStartKey"] = serialize(start)
    answer = aws.client("dynamodb").query(**args)
    last = answer.get("LastEvaluatedKey")
    return [deserialize(i) for i in answer.get("Items", [])], (deserialize(last) if last else None)


def query_all(wanted: keys.Query) -> list[Item]:
    """Every item a query finds, page after page."""
    found: list[Item] = []
    start = None
    while True:
        page, start = query(wanted, start=start)
        found.extend(page)
        if not start:
            return found


# ----------------------------------------------------------------- transactions


def put_op(
    item: Mapping[str, Any],
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> keys.Write:
    op: dict[str, Any] = {"TableName": _table(), "Item": serialize(item), **_values(values), **_names(names)}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def update_op(
    key: Mapping[str, str],
    expression: str,
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> keys.Write:
    op: dict[str, Any] = {
        "TableName": _table(),
        "Key": serialize(key),
        "UpdateExpression": expression,
        **_values(values),
        **_names(names),
    }
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def delete_op(
    key: Mapping[str, str],
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> keys.Write:
    op: dict[str, Any] = {"TableName": _table(), "Key": serialize(key), **_values(values), **_names(names)}
    if condition:
        op["ConditionExpression"] = condition
    return {"Delete": op}


def condition_op(
    key: Mapping[str, str],
    condition: str,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> keys.Write:
    return {
        "ConditionCheck": {
            "TableName": _table(),
            "Key": serialize(key),
            "ConditionExpression": condition,
            **_values(values),
            **_names(names),
        }
    }


def transact(ops: Sequence[keys.Write]) -> None:
    """All or nothing; raises :class:`TransactionFailed` when a condition did not hold."""
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=list(ops))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons and all(r in ("None", "ConditionalCheckFailed") for r in reasons):
                raise TransactionFailed(reasons) from None
        raise


def try_transact(ops: Sequence[keys.Write]) -> bool:
    """All or nothing; False when a condition did not hold (nothing was written)."""
    try:
        transact(ops)
    except TransactionFailed:
        return False
    return True


def _raise_condition(exc: ClientError) -> None:
    if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
        raise ConditionFailed() from None
    raise exc
