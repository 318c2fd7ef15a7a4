"""Storage of the portal's one-time codes: the only module of :mod:`portico.portal` that talks to
the table (portal sessions are on the token-session core, the configuration on the account).

A code item holds the hash of the current code, when it was sent and expires, and how many
comparisons it has had (``attempts``). Login codes live under the address (one per address and
account, also for an address no customer has), phone codes under the customer. Every step is one
conditional write: sending is refused within the cooldown of the previous code, each comparison
first takes one of the attempts (so parallel guesses share them), and a code is used by deleting
it on the condition that it is still the one compared.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from portico import keys, store
from portico.accounts.records import Account
from portico.billing.records import Customer
from portico.keys import Write
from portico.records import Record


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


def customers_and_code(account_id: str, email: str) -> tuple[list[Customer], OneTimeCode | None]:
    """The account's customers with this address (oldest first) and the address's current login
    code, in one query of the address's index (eventually consistent: the code only tells whether
    the previous one is still valid; the write that replaces it checks the cooldown itself)."""
    found = store.query_all(keys.customers_by_email(account_id, email))
    customers = [Customer.from_item(store.plain(i)) for i in found if keys.is_customer(i)]
    code = next((_typed(i) for i in found if keys.is_portal_code(i)), None)
    return customers, code


def account_and_customer(account_id: str, customer_id: str) -> tuple[Account | None, Customer | None]:
    """An account and one of its customers, in one batch read (a link login needs both)."""
    account, customer = store.batch_get([keys.account(account_id), keys.customer(account_id, customer_id)])
    return (
        Account.from_item(store.plain(account)) if account else None,
        Customer.from_item(store.plain(customer)) if customer else None,
    )


def send(key: keys.Key, index: keys.Key | None, code: OneTimeCode, *, now: int, cooldown: int) -> bool:
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


def withdraw(key: keys.Key, code_hash: str) -> None:
    """Forget a code that could not be delivered, and its cooldown (its attempts stay)."""
    with contextlib.suppress(store.ConditionFailed):  # replaced meanwhile
        store.update(
            key,
            "REMOVE code_hash SET sent_at = :zero",
            condition="code_hash = :h",
            values={":h": code_hash, ":zero": 0},
        )


def get(key: keys.Key) -> OneTimeCode | None:
    return _typed(store.get(key, consistent=True))


def take_attempt(key: keys.Key, *, now: int, limit: int) -> OneTimeCode | None:
    """Take one comparison of the current code, if it has one left and is unexpired; the code as it
    is then, or None (no code, used up or expired: :func:`get` tells which)."""
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


def use_op(key: keys.Key, code_hash: str) -> Write:
    """Delete the code if it is still the one compared: it works once, also when raced."""
    return store.delete_op(key, condition="code_hash = :h", values={":h": code_hash})


def portal_open_check(account_id: str) -> Write:
    """A condition for a login's transaction: the account's portal is not turned off."""
    return store.condition_op(
        keys.account(account_id),
        "attribute_exists(pk) AND (attribute_not_exists(#p.#e) OR #p.#e = :on)",
        values={":on": True},
        names={"#p": "portal", "#e": "enabled"},
    )


def write(ops: list[Write]) -> bool:
    """One transaction; False when a condition failed."""
    return store.try_transact(ops)
