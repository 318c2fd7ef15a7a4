"""Storage of accounts and memberships: the only module of :mod:`portico.accounts` that talks to
the table. Hands out :class:`~portico.accounts.records.Account` and
:class:`~portico.accounts.records.Membership` records.

Memberships live in their account's partition (``MEMBER#<user_id>``) and, through the index, in
their login's list (``gsi1``: ``USER#<user_id>`` / ``MEMBER#<account_id>``). Items written before
memberships carried a version are matched on its absence.
"""

from __future__ import annotations

from typing import Any

from portico import keys, pages, store
from portico.accounts.records import Account, Membership
from portico.keys import Write
from portico.security.settings import SecuritySettings


def get_account(account_id: str) -> Account | None:
    item = store.get(keys.account(account_id))
    return Account.from_item(store.plain(item)) if item else None


def get_accounts(account_ids: list[str]) -> dict[str, Account]:
    """The accounts that exist among ``account_ids``, by id (one call per 100)."""
    found = store.batch_get([keys.account(a) for a in dict.fromkeys(account_ids)]) if account_ids else []
    return {str(a["account_id"]): Account.from_item(store.plain(a)) for a in found if a}


def membership_and_account(account_id: str, user_id: str) -> tuple[Membership | None, Account | None]:
    """A login's membership in an account and the account, in one consistent read."""
    membership, account = store.batch_get([keys.membership(account_id, user_id), keys.account(account_id)])
    return (
        Membership.from_item(store.plain(membership)) if membership else None,
        Account.from_item(store.plain(account)) if account else None,
    )


def get_membership(account_id: str, user_id: str) -> Membership | None:
    item = store.get(keys.membership(account_id, user_id), consistent=True)
    return Membership.from_item(store.plain(item)) if item else None


def members_page(
    account_id: str, *, limit: int, start: dict[str, Any] | None
) -> tuple[list[Membership], dict[str, Any] | None]:
    """One page of an account's memberships, by user id, and where the next begins."""
    items, last = store.query(keys.members_of(account_id), limit=limit, start=start)
    return [Membership.from_item(store.plain(i)) for i in items], last


def members_cursor(account_id: str, cursor: str) -> dict[str, Any]:
    """Where a cursor of this account's member list goes on (422 for any other cursor)."""
    return pages.decode_cursor(cursor, keys.members_of(account_id))


def member_cursor(account_id: str, user_id: str) -> str:
    """A cursor that goes on after the member ``user_id``."""
    return pages.encode_cursor(keys.membership(account_id, user_id))


def cursor_of(last: dict[str, Any]) -> str:
    """A cursor that goes on where a page ended."""
    return pages.encode_cursor(last)


def active_member_op(account_id: str, user_id: str) -> Write:
    """A transaction's check that the member is (still) active."""
    return store.condition_op(
        keys.membership(account_id, user_id), "#s = :active", values={":active": "active"}, names={"#s": "status"}
    )


def all_members(account_id: str) -> list[Membership]:
    return [Membership.from_item(store.plain(i)) for i in store.query_all(keys.members_of(account_id))]


def memberships_of(user_id: str) -> list[Membership]:
    """A login's memberships (through the index: eventually consistent)."""
    return [Membership.from_item(store.plain(i)) for i in store.query_all(keys.memberships_of(user_id))]


def update_security_op(account_id: str, security: SecuritySettings) -> Write:
    return store.update_op(
        keys.account(account_id),
        "SET #s = :s",
        condition="attribute_exists(pk)",
        values={":s": security.model_dump()},
        names={"#s": "security"},
    )


write = store.try_transact  # one transaction of the writes given; False when a condition no longer held
