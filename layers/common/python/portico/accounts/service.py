"""Accounts: reading one, and its security settings (contract section 6).

Changing an account's security settings recomputes the effective settings of every member (the
strictest over all of each member's accounts, see :mod:`portico.accounts.security`) and stores them
on their credentials, with the new password expiry, so logins keep reading a single item.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from portico import audit, keys, store
from portico.access import Caller
from portico.accounts.models import Account, SecuritySettings
from portico.accounts.security import Effective, settings_of
from portico.auth import passwords
from portico.auth import repository as credentials
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


REFRESH_WRITERS = 8


def refresh_members(account_id: str) -> None:
    """Store every member's effective settings (and password expiry) on their credential.

    Reads in batches (100 logins and their accounts per ``BatchGetItem``) and writes only the
    logins whose settings changed, several at a time, so an account of a thousand members is
    refreshed within a request. Invitations are skipped: the address may be someone else's login,
    which the account has no say over until it is accepted."""
    emails: list[str] = []
    start = None
    while True:
        members, start = store.query(
            "pk = :a AND begins_with(sk, :m)", {":a": f"ACCOUNT#{account_id}", ":m": "MEMBER#"}, start=start
        )
        emails.extend(str(m["email"]) for m in members if m.get("email") and m.get("status") != "invited")
        if not start:
            break
    for first in range(0, len(emails), store.BATCH_GET_KEYS):
        chunk = emails[first : first + store.BATCH_GET_KEYS]
        logins = [c for c in store.batch_get([keys.credential(e) for e in chunk]) if c]
        wanted = sorted({str(a) for c in logins for a in c.get("account_ids") or []})
        accounts = {str(a["account_id"]): a for a in store.batch_get([keys.account(a) for a in wanted]) if a}
        stale = [(c, fields) for c in logins if _differs(c, fields := _effective_fields(c, accounts))]
        with ThreadPoolExecutor(max_workers=REFRESH_WRITERS) as pool:
            written = list(pool.map(lambda pair: _write_effective(*pair), stale))
        for (credential, _), done in zip(stale, written, strict=True):
            if not done:  # changed since it was read: read it again, on its own
                refresh_credential(str(credential["email"]))


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
    accounts = {str(a["account_id"]): a for a in store.batch_get([keys.account(a) for a in account_ids]) if a}
    return _write_effective(credential, _effective_fields(credential, accounts))


def _effective_fields(credential: dict[str, Any], accounts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The strictest settings of the login's accounts, and the password expiry they give."""
    mine = [accounts[str(a)] for a in credential.get("account_ids") or [] if str(a) in accounts]
    effective = Effective.of(settings_of(a) for a in mine)
    fields: dict[str, Any] = {"security": effective.to_item()}
    changed = credential.get("password_changed_epoch")
    if changed is not None:
        fields.update(
            passwords.expiry_fields(datetime.fromtimestamp(int(changed), tz=UTC), effective, str(credential["user_id"]))
        )
    return fields


def _differs(credential: dict[str, Any], fields: dict[str, Any]) -> bool:
    return any(store.plain(credential.get(k)) != store.plain(v) for k, v in fields.items())


def _write_effective(credential: dict[str, Any], fields: dict[str, Any]) -> bool:
    try:
        store.transact(
            [
                credentials.update_op(
                    str(credential["email"]),
                    fields,
                    condition="version = :seen",
                    values={":seen": credential["version"]},
                )
            ]
        )
    except store.TransactionFailed:
        return False
    return True
