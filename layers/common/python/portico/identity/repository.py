"""Storage of what sign-up, verification and user administration change: the only module of
:mod:`portico.identity` that talks to the table. Each change is one conditional transaction,
composed here from the writes of the records it touches (the login's credential is written through
:mod:`portico.auth.repository`, links through :mod:`portico.tokens.links`).

Invariants are conditions on the writes themselves:

* an email belongs to at most one login: the credential ``EMAIL#<email>`` is put with
  ``attribute_not_exists`` in the transaction that creates the user, so two concurrent sign-ups
  with one address give one user and one ``email_taken``;
* a verification link is used once: using it is conditional on it not being used yet, in one
  transaction with the credential update that is conditional on the link still being the current
  one (a resend replaces it);
* an email is a member of an account at most once: the guard ``MEMBER_EMAIL#<email>`` is put with
  ``attribute_not_exists`` in the transaction that creates the membership, so concurrent
  invitations of one address make one membership;
* an invitation link works while its hash is the membership's ``invitation_hash`` and the
  membership is still ``invited``; accepting uses the link in the same transaction;
* the account's ``user_managers`` counts its active members holding ``users``. Every change that
  takes the right away from an active member decrements it with the condition that it stays above
  zero, in one transaction with the membership change (conditional on the membership's
  ``version``): the last manager cannot be removed, also by two admins demoting each other at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico import audit, keys, store
from portico.accounts.records import Account, Membership
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.keys import Write
from portico.tokens import links


class EmailTaken(Exception):
    """The address already has a login."""


class AlreadyMember(Exception):
    """The address is already a member of the account, or invited."""


class Changed(Exception):
    """The membership (or the login it belongs to) changed since it was read; read again."""


class LastManager(Exception):
    """The change would leave the account without an active member holding ``users``."""


@dataclass(frozen=True)
class User:
    """The profile item of a login (``USER#<user_id>``)."""

    user_id: str
    email: str
    name: str
    language: str
    created_at: str

    def item(self) -> dict[str, Any]:
        return {**keys.user(self.user_id), **vars(self)}


@dataclass(frozen=True)
class NewOwner:
    """Everything sign-up writes, built by the service and stored all-or-nothing."""

    credential: Credential
    create_credential: Write
    user: User
    account: Account
    membership: Membership
    link: links.Link


def get_user(user_id: str) -> User | None:
    item = store.get(keys.user(user_id))
    if not item:
        return None
    return User(**{k: str(item.get(k, "")) for k in ("user_id", "email", "name", "language", "created_at")})


def delete_user_op(user_id: str) -> Write:
    """Erase the profile item of a login (a completed deletion request)."""
    return store.delete_op(keys.user(user_id))


def _membership_item(membership: Membership) -> dict[str, Any]:
    return {
        **keys.membership(membership.account_id, membership.user_id),
        **keys.membership_index(membership.account_id, membership.user_id),
        **membership.to_item(),
    }


def _guard_op(account_id: str, email: str, user_id: str) -> Write:
    return store.put_op(
        {**keys.member_email(account_id, email), "user_id": user_id}, condition="attribute_not_exists(pk)"
    )


# ----------------------------------------------------------------- sign-up and verification


def create_owner(new: NewOwner) -> None:
    ops = [
        new.create_credential,
        store.put_op(new.user.item(), condition="attribute_not_exists(pk)"),
        store.put_op(
            {**keys.account(new.account.account_id), **new.account.to_item()}, condition="attribute_not_exists(pk)"
        ),
        store.put_op(_membership_item(new.membership), condition="attribute_not_exists(pk)"),
        _guard_op(new.account.account_id, new.credential.email, new.user.user_id),
        links.put_op(new.link),
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed as failed:
        if failed.failed(0):
            raise EmailTaken() from None
        raise


def remove_owner(new: NewOwner) -> None:
    """Undo :func:`create_owner` (its email could not be sent); only items it created are removed."""
    account_id, user_id = new.account.account_id, new.user.user_id
    store.transact(
        [
            credentials.delete_op(new.credential),
            store.delete_op(keys.user(user_id)),
            store.delete_op(keys.account(account_id)),
            store.delete_op(keys.membership(account_id, user_id)),
            store.delete_op(keys.member_email(account_id, new.credential.email)),
            links.delete_op(new.link.token_hash),
        ]
    )


def _is_current(previous: str | None) -> tuple[str, dict[str, Any]]:
    if previous is None:
        return "attribute_not_exists(verify_token_hash)", {}
    return "verify_token_hash = :prev", {":prev": previous}


def replace_verification(email: str, link: links.Link, previous: str | None) -> bool:
    """Make ``link`` the only valid verification link, if ``previous`` still is and the email is
    still unverified. False when that no longer holds."""
    current, values = _is_current(previous)
    try:
        store.transact(
            [
                links.put_op(link),
                credentials.update_op(
                    email,
                    {"verify_token_hash": link.token_hash},
                    condition=f"attribute_exists(pk) AND email_verified = :false AND {current}",
                    values={":false": False, **values},
                    versioned=False,
                ),
            ]
        )
    except store.TransactionFailed:
        return False
    return True


def restore_verification(email: str, token_hash: str, previous: str | None) -> None:
    """Undo :func:`replace_verification` (its email could not be sent)."""
    store.transact(
        [
            links.delete_op(token_hash),
            credentials.update_op(
                email,
                {"verify_token_hash": previous},
                condition="verify_token_hash = :h",
                values={":h": token_hash},
                versioned=False,
            ),
        ]
    )


def consume_verification(link: links.Link, now_iso: str) -> bool:
    """Use the link and mark the email verified, atomically; False if the link is not usable."""
    try:
        store.transact(
            [
                links.use_op(link),
                credentials.update_op(
                    link.email,
                    {"email_verified": True, "email_verified_at": now_iso, "verify_token_hash": None},
                    condition="verify_token_hash = :h",
                    values={":h": link.token_hash},
                    versioned=False,
                ),
            ]
        )
    except store.TransactionFailed:
        return False
    return True


# ----------------------------------------------------------------- memberships and invitations


def create_invitation(membership: Membership, link: links.Link, records: audit.Records) -> None:
    try:
        store.transact(
            [
                _guard_op(membership.account_id, membership.email, membership.user_id),
                store.put_op(_membership_item(membership), condition="attribute_not_exists(pk)"),
                links.put_op(link),
                *records.ops,
            ]
        )
    except store.TransactionFailed as failed:
        if failed.failed(0) or failed.failed(1):
            raise AlreadyMember() from None
        raise


def undo_invitation(membership: Membership, records: audit.Records) -> None:
    """Take back :func:`create_invitation` whose email could not be sent."""
    account_id, user_id = membership.account_id, membership.user_id
    store.transact(
        [
            store.delete_op(
                keys.member_email(account_id, membership.email), condition="user_id = :u", values={":u": user_id}
            ),
            store.delete_op(
                keys.membership(account_id, user_id),
                condition="invitation_hash = :h",
                values={":h": membership.invitation_hash},
            ),
            links.delete_op(str(membership.invitation_hash)),
            *audit.withdraw_ops(records),
        ]
    )


def replace_invitation(membership: Membership, link: links.Link, records: audit.Records) -> None:
    """Make ``link`` the invitation's only link (the one read with ``membership`` stops working)."""
    _point_invitation(
        membership, link.token_hash, link.expires_at, int(link.sent_at or 0), [links.put_op(link), *records.ops]
    )


def restore_invitation(membership: Membership, link: links.Link, records: audit.Records) -> None:
    """Undo :func:`replace_invitation` (its email could not be sent): the earlier link works again."""
    _point_invitation(
        Membership(**{**vars(membership), "invitation_hash": link.token_hash}),
        str(membership.invitation_hash),
        int(membership.invitation_expires_at or 0),
        int(membership.invitation_sent_at or 0),
        [links.delete_op(link.token_hash), *audit.withdraw_ops(records)],
    )


def _point_invitation(membership: Membership, link_hash: str, expires: int, sent: int, ops: list[Write]) -> None:
    """Point the invited membership at another link, if it still points at the one it was read with."""
    try:
        store.transact(
            [
                store.update_op(
                    keys.membership(membership.account_id, membership.user_id),
                    "SET invitation_hash = :new, invitation_expires_at = :exp, invitation_sent_at = :sent",
                    condition="#s = :invited AND invitation_hash = :current",
                    values={
                        ":new": link_hash,
                        ":exp": expires,
                        ":sent": sent,
                        ":invited": "invited",
                        ":current": membership.invitation_hash,
                    },
                    names={"#s": "status"},
                ),
                *ops,
            ]
        )
    except store.TransactionFailed:
        raise Changed() from None


def accept_invitation(
    membership: Membership,
    user_id: str,
    link: links.Link,
    *,
    now_iso: str,
    login_ops: list[Write],
    manager: bool,
    records: audit.Records,
) -> None:
    """Make the invited membership (as read) active for the login ``user_id`` (created or updated by
    ``login_ops``), using the link once. If the address got a login of its own since it was
    invited (another user id), the membership moves to that user id."""
    account_id, invited_as = membership.account_id, membership.user_id
    active = Membership(
        **{
            **{k: v for k, v in vars(membership).items() if not k.startswith("invitation_")},
            "user_id": user_id,
            "status": "active",
            "accepted_at": now_iso,
            "version": (membership.version or 0) + 1,
        }
    )
    still_invited = "#s = :invited AND invitation_hash = :h"
    values = {":invited": "invited", ":h": link.token_hash}
    if user_id == invited_as:
        membership_ops = [
            store.put_op(_membership_item(active), condition=still_invited, values=values, names={"#s": "status"})
        ]
    else:
        membership_ops = [
            store.delete_op(
                keys.membership(account_id, invited_as), condition=still_invited, values=values, names={"#s": "status"}
            ),
            store.put_op(_membership_item(active), condition="attribute_not_exists(pk)"),
            store.update_op(
                keys.member_email(account_id, membership.email),
                "SET user_id = :u",
                condition="user_id = :was",
                values={":u": user_id, ":was": invited_as},
            ),
        ]
    ops = [
        links.use_op(link),
        *membership_ops,
        *login_ops,
        *([_managers_op(account_id, +1)] if manager else []),
        *records.ops,
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise Changed() from None


def new_user_op(user: User) -> Write:
    """Create the profile of a person who accepted an invitation."""
    return store.put_op(user.item(), condition="attribute_not_exists(pk)")


def change_membership(
    membership: Membership, fields: dict[str, Any], manager_delta: int, records: audit.Records
) -> None:
    """Set ``fields`` on the membership as it was read, moving the manager count by ``manager_delta``."""
    seen, values = _version_condition(membership)
    stored = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
    update = store.update_op(
        keys.membership(membership.account_id, membership.user_id),
        "SET " + ", ".join(f"#{k} = :{k}" for k in stored) + ", version = :next",
        condition=f"attribute_exists(pk) AND {seen}",
        values={**{f":{k}": v for k, v in stored.items()}, ":next": (membership.version or 0) + 1, **values},
        names={f"#{k}": k for k in stored},
    )
    _transact_counted([update], membership.account_id, manager_delta, records)


def remove_membership(
    membership: Membership, credential_op: Write | None, manager_delta: int, records: audit.Records
) -> None:
    """Delete the membership as it was read, with its email guard and pending invitation."""
    account_id, user_id = membership.account_id, membership.user_id
    seen, values = _version_condition(membership)
    ops = [
        store.delete_op(
            keys.membership(account_id, user_id), condition=f"attribute_exists(pk) AND {seen}", values=values
        ),
        store.delete_op(keys.member_email(account_id, membership.email)),
        *([links.delete_op(membership.invitation_hash)] if membership.invitation_hash else []),
        *([credential_op] if credential_op else []),
    ]
    _transact_counted(ops, account_id, manager_delta, records)


def leave_op(credential: Credential, account_id: str) -> Write | None:
    """Take ``account_id`` out of a login's accounts, if it is there (by position, conditional on it
    still being there)."""
    if account_id not in credential.account_ids:
        return None
    index = credential.account_ids.index(account_id)
    return credentials.update_op(
        credential.email,
        {},
        remove=(f"account_ids[{index}]",),
        condition=f"user_id = :u AND account_ids[{index}] = :a",
        values={":u": credential.user_id, ":a": account_id},
    )


write = store.try_transact  # one transaction of the writes given; False when a condition no longer held


def copy_membership(membership: Membership, live: Account) -> None:
    """A member's place in a live account (going live): the same rights, owner flag and status, its
    email guard, and the account in the login's list. Written as the member is now, also over an
    earlier copy (a resumed go-live brings it up to date); the login's list gains the account once."""
    copy = Membership(
        **{
            **vars(membership),
            "account_id": live.account_id,
            "account_name": live.name,
            "account_mode": "live",
            "version": 0,
            "created_at": live.created_at,
        }
    )
    guard = store.put_op(
        {**keys.member_email(live.account_id, copy.email), "user_id": copy.user_id},
        condition="attribute_not_exists(pk) OR user_id = :u",
        values={":u": copy.user_id},
    )
    if not write([store.put_op(_membership_item(copy)), guard]):
        return  # the address is another login's member there: not ours to overwrite
    write(  # False: the login lists the account already (an earlier copy)
        [
            credentials.update_op(
                copy.email,
                {},
                append={"account_ids": [live.account_id]},
                condition="user_id = :u AND NOT contains(account_ids, :a)",
                values={":u": copy.user_id, ":a": live.account_id},
            )
        ]
    )


def remove_copy(membership: Membership) -> None:
    """Undo a go-live copy of a member who left the test account before the go-live finished: the
    membership, its email guard and the account in the login's list."""
    login = credentials.get_credential(membership.email) if membership.email else None
    leave = leave_op(login, membership.account_id) if login and login.user_id == membership.user_id else None
    write(
        [
            store.delete_op(keys.membership(membership.account_id, membership.user_id)),
            store.delete_op(keys.member_email(membership.account_id, membership.email)),
            *([leave] if leave else []),
        ]
    )


def _version_condition(membership: Membership) -> tuple[str, dict[str, Any]]:
    if membership.version is None:
        return "attribute_not_exists(version)", {}
    return "version = :seen", {":seen": membership.version}


def _managers_op(account_id: str, delta: int) -> Write:
    if delta > 0:
        return store.update_op(
            keys.account(account_id), "ADD user_managers :d", condition="attribute_exists(pk)", values={":d": delta}
        )
    return store.update_op(
        keys.account(account_id),
        "ADD user_managers :d",
        condition="user_managers > :one",
        values={":d": delta, ":one": 1},
    )


def _transact_counted(ops: list[Write], account_id: str, manager_delta: int, records: audit.Records) -> None:
    counted = [_managers_op(account_id, manager_delta)] if manager_delta else []
    try:
        store.transact([*ops, *counted, *records.ops])
    except store.TransactionFailed as failed:
        if counted and failed.failed(len(ops)) and not any(failed.failed(i) for i in range(len(ops))):
            raise LastManager() from None
        raise Changed() from None


# ----------------------------------------------------------------- email change

EMAIL_CHANGE_INLINE_MEMBERSHIPS = 20  # with the login's own writes, sessions and audit records: under 100
EMAIL_CHANGE_INLINE_SESSIONS = 20
_MEMBERSHIP_WRITES = 3  # the membership, its old guard, its new guard
_PER_TRANSACTION = 100 // _MEMBERSHIP_WRITES


def start_email_change(credential: Credential, link: links.Link, records: audit.Records) -> bool:
    """Make ``link`` the login's only pending email-change link (the previous one stops working),
    if the pending link is still the one read; False when another request came first."""
    previous = credential.email_change_hash
    pending, values = (
        ("email_change_hash = :prev", {":prev": previous})
        if previous
        else ("attribute_not_exists(email_change_hash)", {})
    )
    try:
        store.transact(
            [
                links.put_op(link),
                *([links.delete_op(previous)] if previous else []),
                credentials.update_op(
                    credential.email,
                    {"email_change_hash": link.token_hash},
                    condition=f"user_id = :u AND {pending}",
                    values={":u": credential.user_id, **values},
                    versioned=False,
                ),
                *records.ops,
            ]
        )
    except store.TransactionFailed:
        return False
    return True


def undo_email_change(email: str, link: links.Link, records: audit.Records) -> None:
    """Undo :func:`start_email_change` whose email could not be sent: no change is pending."""
    store.transact(
        [
            links.delete_op(link.token_hash),
            credentials.update_op(
                email,
                {"email_change_hash": None},
                condition="email_change_hash = :h",
                values={":h": link.token_hash},
                versioned=False,
            ),
            *audit.withdraw_ops(records),
        ]
    )


def new_address_members(account_ids: list[str], new_email: str) -> bool:
    """Whether the new address is already a member (or invited) of any of these accounts."""
    return any(store.batch_get([keys.member_email(a, new_email) for a in account_ids]))


def _readdress_ops(membership: Membership, new_email: str) -> list[Write]:
    account_id, user_id = membership.account_id, membership.user_id
    return [
        store.update_op(
            keys.membership(account_id, user_id),
            "SET email = :e",
            condition="attribute_exists(pk)",
            values={":e": new_email},
        ),
        store.delete_op(
            keys.member_email(account_id, membership.email), condition="user_id = :u", values={":u": user_id}
        ),
        _guard_op(account_id, new_email, user_id),
    ]


def change_email(
    credential: Credential,
    link: links.Link,
    new_email: str,
    *,
    login_fields: dict[str, Any],
    memberships: list[Membership],
    ended_links: list[str],
    ended_sessions: list[str],
    records: audit.Records,
) -> None:
    """Move the login to ``new_email`` and use ``link``, all or nothing: the credential under its new
    key (conditional on the address being free), the profile, the memberships' addresses and their
    guards, the pending links of the old address and the audit records. Memberships beyond what a
    transaction holds are readdressed after it, in transactions of their own. Raises
    :class:`EmailTaken` when the address got a login (or a membership in one of the accounts), and
    :class:`Changed` when the link or the login changed meanwhile."""
    inline, rest = memberships[:EMAIL_CHANGE_INLINE_MEMBERSHIPS], memberships[EMAIL_CHANGE_INLINE_MEMBERSHIPS:]
    moved = credentials.move_ops(credential, new_email, login_fields)
    readdressed = [op for m in inline for op in _readdress_ops(m, new_email)]
    ops = [
        *moved,
        links.use_op(link),
        store.update_op(keys.user(credential.user_id), "SET email = :e", values={":e": new_email}),
        *readdressed,
        *[links.delete_op(h) for h in ended_links],
        *[store.delete_op(keys.session(h)) for h in ended_sessions[:EMAIL_CHANGE_INLINE_SESSIONS]],
        *records.ops,
    ]
    guards = [len(moved) + 2 + i for i in range(_MEMBERSHIP_WRITES - 1, len(readdressed), _MEMBERSHIP_WRITES)]
    try:
        store.transact(ops)
    except store.TransactionFailed as failed:
        if failed.failed(0) or any(failed.failed(i) for i in guards):
            raise EmailTaken() from None
        raise Changed() from None
    for start in range(EMAIL_CHANGE_INLINE_SESSIONS, len(ended_sessions), 100):
        write([store.delete_op(keys.session(h)) for h in ended_sessions[start : start + 100]])
    for start in range(0, len(rest), _PER_TRANSACTION):
        batch = rest[start : start + _PER_TRANSACTION]
        if not write([op for m in batch for op in _readdress_ops(m, new_email)]):
            for membership in batch:  # one that changed meanwhile must not hold back the others
                write(_readdress_ops(membership, new_email))
