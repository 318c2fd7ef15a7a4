"""Make moto's DynamoDB as atomic as the real one.

DynamoDB applies each write, and each transaction, atomically: a condition is checked and the
write applied as one step. moto checks and writes in Python without a lock, so two threads can
both pass ``version = :v`` and both write (seen here: three of sixteen parallel conditional
updates succeeded on one version). Every invariant of Portico rests on conditional writes, so the
emulation must not race where AWS does not: this wraps the backend's item operations in one
process-wide lock. Reads take it too, so a read never sees half of a transaction.

moto's ``transact_write_items`` also deep-copies every table a transaction touches, to roll back
on failure: its cost grows with the table, and a long ``make run`` session slowed down request by
request (66 ms a transaction at 2,000 items). Under the lock the same all-or-nothing result is
reached without copies: every condition is checked first, nothing is written unless all hold, and
only the items about to be written are saved, to put back if a write is refused.

Installed on import, once per process, by the local stack and by the integration tests.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

_lock = threading.RLock()
_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
)


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    locked.__portico_atomic__ = True  # type: ignore[attr-defined]
    return locked


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's transaction semantics (conditions, one operation per item, cancellation reasons per
    item), checked before anything is written rather than rolled back from table copies."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    planned: list[tuple[str, dict[str, Any], str, dict[str, Any], Any]] = []
    reasons: list[tuple[Any, Any, Any]] = []
    targets: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        old_item = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = self.get_item(table_name, key)
            if op.get("ConditionExpression") is not None:
                condition = get_filter_expression(
                    op["ConditionExpression"], op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=old_item)
            planned.append((op_type, op, table_name, key, current))
            reasons.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as failed:
            reasons.append(("ConditionalCheckFailed", str(failed.message), old_item))
        except Exception as error:
            reasons.append((type(error).__name__, str(error), old_item))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    # Nothing moved since the checks (the lock is held, and each item is in one operation only).
    saved = [
        (table_name, key, copy.deepcopy(current))
        for op_type, _, table_name, key, current in planned
        if op_type != "ConditionCheck"
    ]
    try:
        for op_type, op, table_name, key, _ in planned:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(
                    table_name, op["Item"], expression_attribute_names=names, expression_attribute_values=values
                )
            elif op_type == "Delete":
                self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table_name, key, item in reversed(saved):
            if item is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, item.to_json()["Attributes"])
        raise


def install() -> None:
    if not getattr(DynamoDBBackend.transact_write_items, "__portico_atomic__", False):
        DynamoDBBackend.transact_write_items = _transact_write_items  # wrapped in the lock below
    for name in _OPERATIONS:
        operation = getattr(DynamoDBBackend, name, None)
        if operation is not None and not getattr(operation, "__portico_atomic__", False):
            setattr(DynamoDBBackend, name, _atomic(operation))


install()
