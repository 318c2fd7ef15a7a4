"""Storage of token sessions, one-time links and one-time codes: the only module of
:mod:`portico.tokens` that talks to the table. Items come back with DynamoDB's numbers as ints
(:func:`portico.store.plain`).

A one-time code (:class:`OneTimeCode`: the portal's login and phone codes, a merchant user's phone
codes) is one item holding the hash of the current code, when it was sent and expires, and how
many comparisons it has had. Every step is one conditional write: sending is refused within the
cooldown of the previous code, each comparison first takes one of the attempts (so parallel
guesses share them), and a code is used by deleting it on the condition that it is still the one
compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portico import keys, store
from portico.keys import Write
from portico.records import Record

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


# ----------------------------------------------------------------- one-time codes


@dataclass(frozen=True, kw_only=True)
class OneTimeCode(Record):
    code_hash: str | None = None
    salt: str = ""
    expires_at: int = 0
    sent_at: int = 0
    attempts: int = 0
    # a login code: whom it logs in (None for an address no customer has) and for how long
    customer_id: str | None = None
    customer_email: str | None = None
    customer_name: str | None = None
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    # a phone code: the number it verifies
    number: str | None = None


def _typed(item: dict[str, Any] | None) -> OneTimeCode | None:
    return OneTimeCode.from_item(store.plain(item)) if item else None


def send_code(key: keys.Key, index: keys.Key | None, code: OneTimeCode, *, now: int, cooldown: int) -> bool:
    """Store ``code`` as the current one unless the previous was sent less than ``cooldown``
    seconds ago (False then). ``code.attempts`` is what it starts with."""
    item = {**(index or {}), **code.to_item(), "ttl": code.expires_at + 86400}
    removed = [name for name in ("customer_id", "customer_email", "customer_name", "number") if name not in item]
    names = {f"#{k}": k for k in [*item, *removed]}
    expression = "SET " + ", ".join(f"#{k} = :{k}" for k in item)
    if removed:
        expression += " REMOVE " + ", ".join(f"#{k}" for k in removed)
    try:
        store.update(
            key,
            expression,
            condition="attribute_not_exists(pk) OR #sent_at <= :cutoff",
            values={**{f":{k}": v for k, v in item.items()}, ":cutoff": now - cooldown},
            names=names,
        )
    except store.ConditionFailed:
        return False
    return True


def withdraw_code(key: keys.Key, code_hash: str) -> None:
    """Forget a code that could not be delivered, and its cooldown (its attempts stay)."""
    with contextlib.suppress(store.ConditionFailed):  # replaced meanwhile
        store.update(
            key,
            "REMOVE code_hash SET sent_at = :zero",
            condition="code_hash = :h",
            values={":h": code_hash, ":zero": 0},
        )


def get_code(key: keys.Key) -> OneTimeCode | None:
    return _typed(store.get(key, consistent=True))


def take_code_attempt(key: keys.Key, *, now: int, limit: int) -> OneTimeCode | None:
    """Take one comparison of the current code, if it has one left and is unexpired; the code as it
    is then, or None (no code, used up or expired: :func:`get_code` tells which)."""
    try:
        item = store.update(
            key,
            "ADD attempts :one",
            condition="attribute_exists(code_hash) AND attempts < :limit AND expires_at > :now",
            values={":one": 1, ":limit": limit, ":now": now},
        )
    except store.ConditionFailed:
        return None
    return _typed(item)


def use_code_op(key: keys.Key, code_hash: str) -> Write:
    """Delete the code if it is still the one compared: it works once, also when raced."""
    return store.delete_op(key, condition="code_hash = :h", values={":h": code_hash})
