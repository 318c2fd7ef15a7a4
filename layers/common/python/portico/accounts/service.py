"""Accounts: reading one, and its security settings (contract section 6).

Changing an account's security settings recomputes the effective settings of every member (the
strictest over all of each member's accounts, see :mod:`portico.accounts.security`) and stores them
on their credentials, with the new password expiry, so logins keep reading a single item.
"""

from __future__ import annotations

from typing import Any

from portico import audit, keys, store
from portico.access import Caller
from portico.accounts.models import Account, SecuritySettings
from portico.accounts.security import Effective, settings_of
from portico.auth import passwords
from portico.observability import logger


def view(caller: Caller) -> Account:
    account = caller.account or {}
    return Account(
        account_id=str(account["account_id"]),
        name=str(account["name"]),
        mode=account.get("mode", "test"),
        test_account_id=account.get("test_account_id"),
        live_account_id=account.get("live_account_id"),
    )


def security(caller: Caller) -> SecuritySettings:
    return settings_of(caller.account or {})


def update_security(caller: Caller, new: SecuritySettings, *, ip: str) -> SecuritySettings:
    account = caller.account or {}
    account_id = str(account["account_id"])
    before = settings_of(account)
    event = audit.Event(
        "security.changed",
        caller.actor,
        {"account_id": account_id},
        ip,
        {"before": before.model_dump(), "after": new.model_dump()},
    )
    store.transact(
        [
            store.update_op(
                keys.account(account_id),
                "SET #s = :s",
                condition="attribute_exists(pk)",
                values={":s": new.model_dump()},
                names={"#s": "security"},
            ),
            *audit.put_ops(event, [account_id]),
        ]
    )
    refresh_members(account_id)
    return new


def refresh_members(account_id: str) -> None:
    """Store every member's effective settings (and password expiry) on their credential."""
    start = None
    while True:
        members, start = store.query(
            "pk = :a AND begins_with(sk, :m)", {":a": f"ACCOUNT#{account_id}", ":m": "MEMBER#"}, start=start
        )
        for membership in members:
            if membership.get("email"):
                refresh_credential(str(membership["email"]))
        if not start:
            return


def refresh_credential(email: str, attempts: int = 3) -> None:
    """Recompute one user's effective settings, conditional on the credential not having changed
    since it was read (a password change meanwhile must not get the old expiry); retried."""
    for _ in range(attempts):
        if _refresh_once(email):
            return
    raise store.TransactionFailed(["ConditionalCheckFailed"])


def _refresh_once(email: str) -> bool:
    credential = store.get(keys.credential(email), consistent=True)
    if credential is None:
        logger.warning("membership without credential")
        return True
    account_ids = [str(a) for a in credential.get("account_ids") or []]
    accounts = [a for a in store.batch_get([keys.account(a) for a in account_ids]) if a] if account_ids else []
    effective = Effective.of(settings_of(a) for a in accounts)
    changed = credential.get("password_changed_epoch")
    fields: dict[str, Any] = {"security": effective.to_item()}
    if changed is not None:
        from datetime import UTC, datetime

        fields.update(
            passwords.expiry_fields(datetime.fromtimestamp(int(changed), tz=UTC), effective, str(credential["user_id"]))
        )
    try:
        store.transact(
            [passwords.update_op(email, fields, condition="version = :seen", values={":seen": credential["version"]})]
        )
    except store.TransactionFailed:
        return False
    return True
