"""Accounts: reading one, and its security settings.

Changing an account's security settings recomputes the effective settings of every member
(:mod:`portico.accounts.security`), so logins keep reading a single item.
"""

from __future__ import annotations

from portico import audit
from portico.accounts import repository, security
from portico.accounts.caller import Caller
from portico.accounts.models import AccountView
from portico.errors import NotFound
from portico.security.settings import SecuritySettings


def view(caller: Caller) -> AccountView:
    account = caller.account
    return AccountView(
        account_id=account.account_id,
        name=account.name,
        mode="live" if account.mode == "live" else "test",
        test_account_id=account.test_account_id,
        live_account_id=account.live_account_id,
    )


def security_settings(caller: Caller) -> SecuritySettings:
    return caller.account.security


def update_security(caller: Caller, new: SecuritySettings, *, ip: str) -> SecuritySettings:
    account_id = caller.account_id
    event = audit.Event(
        "security.changed",
        caller.actor,
        {"account_id": account_id},
        ip,
        {"before": caller.account.security.model_dump(), "after": new.model_dump()},
    )
    records = audit.records(event, [account_id])
    if not repository.write([repository.update_security_op(account_id, new), *records.ops]):
        raise NotFound("No such account.")
    security.refresh_members(account_id)
    return new
