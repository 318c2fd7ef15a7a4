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

from portico import keys, store

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
