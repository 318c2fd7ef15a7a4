"""Storage of token sessions and one-time links: the only module of :mod:`portico.tokens` that
talks to the table. Items come back with DynamoDB's numbers as ints (:func:`portico.store.plain`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from portico import keys, store
from portico.keys import Write

TRANSACTION_ITEMS = 100


def get(key: keys.Key) -> dict[str, Any] | None:
    item = store.get(key, consistent=True)
    return store.plain(item) if item else None


def put_new_op(item: dict[str, Any]) -> Write:
    return store.put_op(item, condition="attribute_not_exists(pk)")


def touch(key: keys.Key, now: int, stale_before: int) -> None:
    """Refresh ``last_seen_at`` unless a request did so after ``stale_before`` (the condition skips
    fresh records, so parallel requests write once)."""
    with contextlib.suppress(store.ConditionFailed):
        store.update(
            key,
            "SET last_seen_at = :now",
            condition="attribute_exists(pk) AND last_seen_at <= :stale",
            values={":now": now, ":stale": stale_before},
        )


def update_op(key: keys.Key, fields: dict[str, Any]) -> Write:
    """Set ``fields`` on a record that still exists."""
    return store.update_op(
        key,
        "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        condition="attribute_exists(pk)",
        values={f":{k}": v for k, v in fields.items()},
        names={f"#{k}": k for k in fields},
    )


def consume_op(key: keys.Key, now: int, equal: dict[str, Any]) -> Write:
    clauses = ["attribute_exists(pk)", "expires_at > :now", *(f"#{k} = :{k}" for k in equal)]
    return store.delete_op(
        key,
        condition=" AND ".join(clauses),
        values={":now": now, **{f":{k}": v for k, v in equal.items()}},
        names={f"#{k}": k for k in equal} or None,
    )


def delete_all(doomed: Sequence[keys.Key]) -> None:
    """Delete by key, in transactions of up to 100 (DynamoDB's limit)."""
    for start in range(0, len(doomed), TRANSACTION_ITEMS):
        store.transact([store.delete_op(k) for k in doomed[start : start + TRANSACTION_ITEMS]])


def listed(query: keys.Query) -> list[dict[str, Any]]:
    return [store.plain(i) for i in store.query_all(query)]


# ----------------------------------------------------------------- one-time links


def link_use_op(token_hash: str, kind: str, now_iso: str, now_epoch: int) -> Write:
    """Mark a link used, if it is of ``kind``, unused and unexpired: once, also when raced."""
    return store.update_op(
        keys.token(token_hash),
        "SET used_at = :now",
        condition="attribute_exists(pk) AND attribute_not_exists(used_at) AND kind = :kind AND expires_at > :epoch",
        values={":now": now_iso, ":kind": kind, ":epoch": now_epoch},
    )


def delete_op(key: keys.Key) -> Write:
    return store.delete_op(key)
