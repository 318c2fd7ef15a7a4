"""Storage of accounts and memberships: the only module of :mod:`portico.accounts` that talks to
the table. Hands out :class:`~portico.accounts.records.Account` and
:class:`~portico.accounts.records.Membership` records.

Memberships live in their account's partition (``MEMBER#<user_id>``) and, through the index, in
their login's list (``gsi1``: ``USER#<user_id>`` / ``MEMBER#<account_id>``). Items written before
memberships carried a version are matched on its absence.
"""

from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from portico import keys, pages, store
from portico.accounts.records import Account, Membership
from portico.keys import Write
from portico.security.settings import SecuritySettings


def get_account(account_id: str, *, consistent: bool = False) -> Account | None:
    item = store.get(keys.account(account_id), consistent=consistent)
    return Account.from_item(store.plain(item)) if item else None


def update_account_op(account: Account, changes: dict[str, Any]) -> Write:
    """Set ``changes`` (fields of :class:`Account`, None removes) on the account as it was read."""
    item = dataclasses.replace(account, **{k: v for k, v in changes.items() if v is not None}).to_item()
    sets = {k: item[k] for k in changes if changes[k] is not None}
    removes = [k for k, v in changes.items() if v is None]
    expression = "SET " + ", ".join([*(f"#{k} = :{k}" for k in sets), "#version = :next"])
    if removes:
        expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
    # accounts made before they carried a version match on its absence
    seen = "(attribute_not_exists(#version) OR #version = :seen)" if account.version == 0 else "#version = :seen"
    return store.update_op(
        keys.account(account.account_id),
        expression,
        condition=f"attribute_exists(pk) AND {seen}",
        values={**{f":{k}": v for k, v in sets.items()}, ":next": account.version + 1, ":seen": account.version},
        names={"#version": "version", **{f"#{k}": k for k in [*sets, *removes]}},
    )


def replace(account: Account, changes: dict[str, Any]) -> Account:
    """The account as :func:`update_account_op` leaves it."""
    return dataclasses.replace(account, **changes, version=account.version + 1)


RENAME_WRITERS = 8


def rename_memberships(account_id: str, name: str) -> None:
    """Give every membership of the account its new name (they carry it for the login's list of
    accounts); several at a time. A membership removed meanwhile is skipped."""

    def rename(membership: Membership) -> None:
        with contextlib.suppress(store.ConditionFailed):
            store.update(
                keys.membership(account_id, membership.user_id),
                "SET account_name = :n",
                condition="attribute_exists(pk)",
                values={":n": name},
            )

    with ThreadPoolExecutor(max_workers=RENAME_WRITERS) as pool:
        list(pool.map(rename, all_members(account_id)))


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


# ----------------------------------------------------------------- going live


def reserve_go_live_op(account_id: str, live_account_id: str, at: str) -> Write:
    """Reserve the live account's id, once: a test account without a live account or a go-live in
    progress."""
    return store.update_op(
        keys.account(account_id),
        "SET go_live = :g",
        condition="attribute_exists(pk) AND attribute_not_exists(live_account_id) AND attribute_not_exists(go_live)",
        values={":g": {"live_account_id": live_account_id, "started_at": at}},
    )


def put_if_absent(account: Account) -> None:
    write(
        [store.put_op({**keys.account(account.account_id), **account.to_item()}, condition="attribute_not_exists(pk)")]
    )


def open_live_op(live_account_id: str, user_managers: int) -> Write:
    """The live account opens (a go-live's last step), with its count of members who manage users
    as the copies made it."""
    return store.update_op(
        keys.account(live_account_id),
        "SET user_managers = :n REMOVE opening",
        condition="attribute_exists(pk) AND opening = :yes",
        values={":n": user_managers, ":yes": True},
    )


def finish_go_live_op(account_id: str, live_account_id: str) -> Write:
    return store.update_op(
        keys.account(account_id),
        "SET live_account_id = :l REMOVE go_live",
        condition="go_live.live_account_id = :l AND attribute_not_exists(live_account_id)",
        values={":l": live_account_id},
    )
