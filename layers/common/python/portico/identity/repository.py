"""DynamoDB access for sign-up and email verification: credentials, users, accounts, memberships,
verification tokens.

Invariants are conditions on the writes themselves:

* an email belongs to at most one login: the credential ``EMAIL#<email>`` is put with
  ``attribute_not_exists`` in the same transaction that creates the user, so two concurrent
  sign-ups with one address give one user and one ``email_taken``;
* a verification token is used once: marking it used is conditional on it not being used yet, in
  one transaction with the credential update that is conditional on the token still being the
  current one (a resend replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico import audit, keys, store

VERIFY_EMAIL = "verify_email"


@dataclass(frozen=True)
class NewOwner:
    """Everything sign-up writes, built by the service and stored all-or-nothing."""

    credential: dict[str, Any]
    user: dict[str, Any]
    account: dict[str, Any]
    membership: dict[str, Any]
    token: dict[str, Any]


class EmailTaken(Exception):
    pass


def create_owner(new: NewOwner) -> None:
    user_id = new.user["user_id"]
    account_id = new.account["account_id"]
    ops = [
        store.put_op(
            {**keys.credential(new.credential["email"]), **new.credential}, condition="attribute_not_exists(pk)"
        ),
        store.put_op({**keys.user(user_id), **new.user}, condition="attribute_not_exists(pk)"),
        store.put_op({**keys.account(account_id), **new.account}, condition="attribute_not_exists(pk)"),
        store.put_op(
            {**keys.membership(account_id, user_id), **keys.membership_index(account_id, user_id), **new.membership},
            condition="attribute_not_exists(pk)",
        ),
        store.put_op(
            {**keys.member_email(account_id, new.credential["email"]), "user_id": user_id},
            condition="attribute_not_exists(pk)",
        ),
        store.put_op({**keys.token(new.token["token_hash"]), **new.token}, condition="attribute_not_exists(pk)"),
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed as failed:
        if failed.failed(0):
            raise EmailTaken() from None
        raise


def remove_owner(new: NewOwner) -> None:
    """Undo :func:`create_owner` (its email could not be sent); only items it created are removed."""
    user_id = new.user["user_id"]
    account_id = new.account["account_id"]
    store.transact(
        [
            store.delete_op(keys.credential(new.credential["email"]), condition="user_id = :u", values={":u": user_id}),
            store.delete_op(keys.user(user_id)),
            store.delete_op(keys.account(account_id)),
            store.delete_op(keys.membership(account_id, user_id)),
            store.delete_op(keys.member_email(account_id, new.credential["email"])),
            store.delete_op(keys.token(new.token["token_hash"])),
        ]
    )


def get_credential(email: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return store.get(keys.credential(email), consistent=consistent)


def get_user(user_id: str) -> dict[str, Any] | None:
    return store.get(keys.user(user_id))


def get_account(account_id: str) -> dict[str, Any] | None:
    return store.get(keys.account(account_id))


def get_token(token_hash: str) -> dict[str, Any] | None:
    return store.get(keys.token(token_hash), consistent=True)


def _is_current(previous: str | None) -> tuple[str, dict[str, Any]]:
    if previous is None:
        return "attribute_not_exists(verify_token_hash)", {}
    return "verify_token_hash = :prev", {":prev": previous}


def replace_verification_token(email: str, token: dict[str, Any], previous: str | None) -> bool:
    """Make ``token`` the only valid verification token, if ``previous`` still is and the email is
    still unverified. False when that no longer holds."""
    current, values = _is_current(previous)
    try:
        store.transact(
            [
                store.put_op({**keys.token(token["token_hash"]), **token}, condition="attribute_not_exists(pk)"),
                store.update_op(
                    keys.credential(email),
                    "SET verify_token_hash = :h",
                    condition=f"attribute_exists(pk) AND email_verified = :false AND {current}",
                    values={":h": token["token_hash"], ":false": False, **values},
                ),
            ]
        )
    except store.TransactionFailed:
        return False
    return True


def restore_verification_token(email: str, token_hash: str, previous: str | None) -> None:
    """Undo :func:`replace_verification_token` (its email could not be sent)."""
    expression = "SET verify_token_hash = :prev" if previous else "REMOVE verify_token_hash"
    store.transact(
        [
            store.delete_op(keys.token(token_hash)),
            store.update_op(
                keys.credential(email),
                expression,
                condition="verify_token_hash = :h",
                values={":h": token_hash, **({":prev": previous} if previous else {})},
            ),
        ]
    )


def consume_verification(token_hash: str, email: str, now_iso: str, now_epoch: int) -> bool:
    """Mark the token used and the email verified, atomically; False if the token is not usable."""
    try:
        store.transact(
            [
                store.update_op(
                    keys.token(token_hash),
                    "SET used_at = :now",
                    condition="attribute_exists(pk) AND attribute_not_exists(used_at) AND kind = :kind "
                    "AND expires_at > :epoch",
                    values={":now": now_iso, ":kind": VERIFY_EMAIL, ":epoch": now_epoch},
                ),
                store.update_op(
                    keys.credential(email),
                    "SET email_verified = :true, email_verified_at = :now REMOVE verify_token_hash",
                    condition="verify_token_hash = :h",
                    values={":true": True, ":now": now_iso, ":h": token_hash},
                ),
            ]
        )
    except store.TransactionFailed:
        return False
    return True


# ----------------------------------------------------------------- memberships and invitations
#
# * An email is a member of an account at most once: the guard ``MEMBER_EMAIL#<email>`` is put
#   with ``attribute_not_exists`` in the transaction that creates the membership, so concurrent
#   invitations of one address make one membership.
# * An invitation link works while its hash is the membership's ``invitation_hash`` and the
#   membership is still ``invited``; accepting marks the token used in the same transaction.
# * The account's ``user_managers`` counts its active members holding ``users``. Every change that
#   takes the right away from an active member decrements it with the condition that it stays
#   above zero, in one transaction with the membership change (conditional on the membership's
#   ``version``): the last manager cannot be removed, also by two admins demoting each other at once.

INVITATION = "invitation"


class AlreadyMember(Exception):
    pass


class Changed(Exception):
    """The membership (or the login it belongs to) changed since it was read; read again."""


class LastManager(Exception):
    pass


def get_membership(account_id: str, user_id: str) -> dict[str, Any] | None:
    return store.get(keys.membership(account_id, user_id), consistent=True)


def create_invitation(membership: dict[str, Any], token: dict[str, Any], audit_ops: list[dict]) -> None:
    account_id, user_id = membership["account_id"], membership["user_id"]
    try:
        store.transact(
            [
                store.put_op(
                    {**keys.member_email(account_id, membership["email"]), "user_id": user_id},
                    condition="attribute_not_exists(pk)",
                ),
                store.put_op(
                    {**keys.membership(account_id, user_id), **membership}, condition="attribute_not_exists(pk)"
                ),
                store.put_op({**keys.token(token["token_hash"]), **token}, condition="attribute_not_exists(pk)"),
                *audit_ops,
            ]
        )
    except store.TransactionFailed as failed:
        if failed.failed(0) or failed.failed(1):
            raise AlreadyMember() from None
        raise


def undo_invitation(membership: dict[str, Any], token_hash: str, audit_ops: list[dict]) -> None:
    """Take back :func:`create_invitation` whose email could not be sent."""
    account_id, user_id = membership["account_id"], membership["user_id"]
    store.transact(
        [
            store.delete_op(
                keys.member_email(account_id, membership["email"]), condition="user_id = :u", values={":u": user_id}
            ),
            store.delete_op(
                keys.membership(account_id, user_id), condition="invitation_hash = :h", values={":h": token_hash}
            ),
            store.delete_op(keys.token(token_hash)),
            *audit.withdraw_ops(audit_ops),
        ]
    )


def replace_invitation(membership: dict[str, Any], token: dict[str, Any], audit_ops: list[dict]) -> None:
    """Make ``token`` the invitation's only link (the one read with ``membership`` stops working)."""
    sent = {"hash": token["token_hash"], "expires": int(token["expires_at"]), "sent": int(token["sent_at"])}
    _swap_invitation(
        membership,
        sent,
        [store.put_op({**keys.token(token["token_hash"]), **token}, condition="attribute_not_exists(pk)"), *audit_ops],
    )


def restore_invitation(membership: dict[str, Any], token_hash: str, audit_ops: list[dict]) -> None:
    """Undo :func:`replace_invitation` (its email could not be sent): the earlier link works again."""
    earlier = {
        "hash": membership["invitation_hash"],
        "expires": int(membership["invitation_expires_at"]),
        "sent": int(membership.get("invitation_sent_at", 0)),
    }
    _swap_invitation(
        {**membership, "invitation_hash": token_hash},
        earlier,
        [store.delete_op(keys.token(token_hash)), *audit.withdraw_ops(audit_ops)],
    )


def _swap_invitation(membership: dict[str, Any], link: dict[str, Any], ops: list[dict]) -> None:
    """Point the invited membership at another link, if it still points at the one it was read with."""
    try:
        store.transact(
            [
                store.update_op(
                    keys.membership(membership["account_id"], membership["user_id"]),
                    "SET invitation_hash = :new, invitation_expires_at = :exp, invitation_sent_at = :sent",
                    condition="#s = :invited AND invitation_hash = :current",
                    values={
                        ":new": link["hash"],
                        ":exp": link["expires"],
                        ":sent": link["sent"],
                        ":invited": "invited",
                        ":current": membership["invitation_hash"],
                    },
                    names={"#s": "status"},
                ),
                *ops,
            ]
        )
    except store.TransactionFailed:
        raise Changed() from None


def accept_invitation(
    membership: dict[str, Any],
    user_id: str,
    token_hash: str,
    *,
    now_iso: str,
    now_epoch: int,
    login_ops: list[dict],
    manager: bool,
    audit_ops: list[dict],
) -> None:
    """Make the invited membership (as read) active for the login ``user_id`` (created or updated by
    ``login_ops``), using the token once. If the address got a login of its own since it was
    invited (another user id), the membership moves to that user id."""
    account_id, invited_as = membership["account_id"], membership["user_id"]
    active = {
        **{k: v for k, v in membership.items() if not k.startswith("invitation_")},
        **keys.membership(account_id, user_id),
        **keys.membership_index(account_id, user_id),
        "user_id": user_id,
        "status": "active",
        "accepted_at": now_iso,
        "version": int(membership.get("version", 0)) + 1,
    }
    still_invited = "#s = :invited AND invitation_hash = :h"
    values = {":invited": "invited", ":h": token_hash}
    if user_id == invited_as:
        membership_ops = [
            store.put_op(active, condition=still_invited, values=values, names={"#s": "status"}),
        ]
    else:
        membership_ops = [
            store.delete_op(
                keys.membership(account_id, invited_as), condition=still_invited, values=values, names={"#s": "status"}
            ),
            store.put_op(active, condition="attribute_not_exists(pk)"),
            store.update_op(
                keys.member_email(account_id, membership["email"]),
                "SET user_id = :u",
                condition="user_id = :was",
                values={":u": user_id, ":was": invited_as},
            ),
        ]
    ops = [
        store.update_op(
            keys.token(token_hash),
            "SET used_at = :now",
            condition="attribute_exists(pk) AND attribute_not_exists(used_at) AND kind = :kind AND expires_at > :epoch",
            values={":now": now_iso, ":kind": INVITATION, ":epoch": now_epoch},
        ),
        *membership_ops,
        *login_ops,
        *([_managers_op(account_id, +1)] if manager else []),
        *audit_ops,
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise Changed() from None


def new_login_ops(credential: dict[str, Any], user: dict[str, Any]) -> list[dict]:
    """Create the login of a person who accepted an invitation (their email is proven by the link)."""
    return [
        store.put_op({**keys.credential(credential["email"]), **credential}, condition="attribute_not_exists(pk)"),
        store.put_op({**keys.user(user["user_id"]), **user}, condition="attribute_not_exists(pk)"),
    ]


def change_membership(
    membership: dict[str, Any], fields: dict[str, Any], manager_delta: int, audit_ops: list[dict]
) -> None:
    """Set ``fields`` on the membership as it was read, moving the manager count by ``manager_delta``."""
    account_id, user_id = membership["account_id"], membership["user_id"]
    seen, values = _version_condition(membership)
    names = {f"#{k}": k for k in fields}
    update = store.update_op(
        keys.membership(account_id, user_id),
        "SET " + ", ".join(f"#{k} = :{k}" for k in fields) + ", version = :next",
        condition=f"attribute_exists(pk) AND {seen}",
        values={**{f":{k}": v for k, v in fields.items()}, ":next": int(membership.get("version", 0)) + 1, **values},
        names=names,
    )
    _transact_counted([update], account_id, manager_delta, audit_ops)


def remove_membership(
    membership: dict[str, Any],
    credential_op: dict | None,
    manager_delta: int,
    audit_ops: list[dict],
) -> None:
    """Delete the membership as it was read, with its email guard and pending invitation."""
    account_id, user_id = membership["account_id"], membership["user_id"]
    seen, values = _version_condition(membership)
    ops = [
        store.delete_op(
            keys.membership(account_id, user_id), condition=f"attribute_exists(pk) AND {seen}", values=values
        ),
        store.delete_op(keys.member_email(account_id, membership["email"])),
        *([store.delete_op(keys.token(membership["invitation_hash"]))] if membership.get("invitation_hash") else []),
        *([credential_op] if credential_op else []),
    ]
    _transact_counted(ops, account_id, manager_delta, audit_ops)


def leave_op(credential: dict[str, Any], account_id: str) -> dict | None:
    """Take ``account_id`` out of a login's accounts, if it is there (by position, conditional on it
    still being there)."""
    accounts = [str(a) for a in credential.get("account_ids") or []]
    if account_id not in accounts:
        return None
    index = accounts.index(account_id)
    return store.update_op(
        keys.credential(str(credential["email"])),
        f"REMOVE account_ids[{index}] SET version = version + :one",
        condition=f"user_id = :u AND account_ids[{index}] = :a",
        values={":u": credential["user_id"], ":a": account_id, ":one": 1},
    )


def _version_condition(membership: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "version" not in membership:
        return "attribute_not_exists(version)", {}
    return "version = :seen", {":seen": int(membership["version"])}


def _managers_op(account_id: str, delta: int) -> dict:
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


def _transact_counted(ops: list[dict], account_id: str, manager_delta: int, audit_ops: list[dict]) -> None:
    counted = [_managers_op(account_id, manager_delta)] if manager_delta else []
    try:
        store.transact([*ops, *counted, *audit_ops])
    except store.TransactionFailed as failed:
        if counted and failed.failed(len(ops)) and not any(failed.failed(i) for i in range(len(ops))):
            raise LastManager() from None
        raise Changed() from None
