"""DynamoDB access for users, accounts, memberships and email-verification tokens.

The only module of the identity domain that touches the table. Invariants are conditions on the
writes themselves:

* an email belongs to at most one user: a guard item ``EMAIL#<email>`` is put with
  ``attribute_not_exists`` in the same transaction that creates the user, so two concurrent
  sign-ups with one address give one user and one ``email_taken``;
* a verification token is used once: marking it used is conditional on it not being used yet, in
  one transaction with the user update that is conditional on the token still being the user's
  current one (a resend replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico import keys, store

VERIFY_EMAIL = "verify_email"


@dataclass(frozen=True)
class NewOwner:
    """Everything sign-up writes, built by the service and stored all-or-nothing."""

    user: dict[str, Any]
    account: dict[str, Any]
    membership: dict[str, Any]
    token: dict[str, Any]


class EmailTaken(Exception):
    pass


def create_owner(new: NewOwner) -> None:
    user_id = new.user["user_id"]
    guard = {**keys.email_guard(new.user["email"]), "user_id": user_id}
    ops = [
        store.put_op(guard, condition="attribute_not_exists(pk)"),
        store.put_op({**keys.user(user_id), **new.user}, condition="attribute_not_exists(pk)"),
        store.put_op({**keys.account(new.account["account_id"]), **new.account}, condition="attribute_not_exists(pk)"),
        store.put_op(
            {
                **keys.membership(new.account["account_id"], user_id),
                **keys.membership_index(new.account["account_id"], user_id),
                **new.membership,
            },
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
    mine = "user_id = :u"
    store.transact(
        [
            store.delete_op(keys.email_guard(new.user["email"]), condition=mine, values={":u": user_id}),
            store.delete_op(keys.user(user_id)),
            store.delete_op(keys.account(account_id)),
            store.delete_op(keys.membership(account_id, user_id)),
            store.delete_op(keys.token(new.token["token_hash"])),
        ]
    )


def user_id_by_email(email: str) -> str | None:
    guard = store.get(keys.email_guard(email))
    return str(guard["user_id"]) if guard else None


def get_user(user_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return store.get(keys.user(user_id), consistent=consistent)


def get_token(token_hash: str) -> dict[str, Any] | None:
    return store.get(keys.token(token_hash), consistent=True)


def _is_current(previous: str | None) -> tuple[str, dict[str, Any]]:
    if previous is None:
        return "attribute_not_exists(verify_token_hash)", {}
    return "verify_token_hash = :prev", {":prev": previous}


def replace_verification_token(user_id: str, token: dict[str, Any], previous: str | None) -> bool:
    """Make ``token`` the user's only valid verification token, if ``previous`` still is and the
    email is still unverified. False when that no longer holds."""
    current, values = _is_current(previous)
    try:
        store.transact(
            [
                store.put_op({**keys.token(token["token_hash"]), **token}, condition="attribute_not_exists(pk)"),
                store.update_op(
                    keys.user(user_id),
                    "SET verify_token_hash = :h",
                    condition=f"attribute_exists(pk) AND email_verified = :false AND {current}",
                    values={":h": token["token_hash"], ":false": False, **values},
                ),
            ]
        )
    except store.TransactionFailed:
        return False
    return True


def restore_verification_token(user_id: str, token_hash: str, previous: str | None) -> None:
    """Undo :func:`replace_verification_token` (its email could not be sent)."""
    expression = "SET verify_token_hash = :prev" if previous else "REMOVE verify_token_hash"
    store.transact(
        [
            store.delete_op(keys.token(token_hash)),
            store.update_op(
                keys.user(user_id),
                expression,
                condition="verify_token_hash = :h",
                values={":h": token_hash, **({":prev": previous} if previous else {})},
            ),
        ]
    )


def owned_account(user_id: str) -> dict[str, Any] | None:
    """The account the user owns (the one created at sign-up), if any."""
    memberships, _ = store.query(
        "gsi1pk = :u AND begins_with(gsi1sk, :m)", {":u": f"USER#{user_id}", ":m": "MEMBER#"}, index="gsi1", limit=100
    )
    for membership in memberships:
        if membership.get("owner"):
            return store.get(keys.account(str(membership["account_id"])))
    return None


def consume_verification(token_hash: str, user_id: str, now_iso: str, now_epoch: int) -> bool:
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
                    keys.user(user_id),
                    "SET email_verified = :true, email_verified_at = :now REMOVE verify_token_hash",
                    condition="verify_token_hash = :h",
                    values={":true": True, ":now": now_iso, ":h": token_hash},
                ),
            ]
        )
    except store.TransactionFailed:
        return False
    return True
