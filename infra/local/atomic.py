"""Make moto's DynamoDB as atomic as the real one.

DynamoDB applies each write, and each transaction, atomically: a condition is checked and the
write applied as one step. moto checks and writes in Python without a lock, so two threads can
both pass ``version = :v`` and both write (seen here: three of sixteen parallel conditional
updates succeeded on one version). Every invariant of Portico rests on conditional writes, so the
emulation must not race where AWS does not: this wraps the backend's item operations in one
process-wide lock. Reads take it too, so a read never sees half of a transaction.

Installed on import, once per process, by the local stack and by the integration tests.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

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


def install() -> None:
    for name in _OPERATIONS:
        operation = getattr(DynamoDBBackend, name, None)
        if operation is not None and not getattr(operation, "__portico_atomic__", False):
            setattr(DynamoDBBackend, name, _atomic(operation))


install()
