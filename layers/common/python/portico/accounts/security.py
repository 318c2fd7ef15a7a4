"""What an account's security settings mean for its members' logins.

A login's effective settings (the strictest of all its accounts', :class:`Effective`) are stored on
its credential, with the password expiry they give, so a login step reads one item. They are
recomputed whenever a membership or an account's settings change: :func:`refresh_login` for one
login (conditional on the credential as read, retried), :func:`refresh_members` for every member
of an account (in batches; only logins whose settings changed are written, eight at a time).
Invitations are skipped: the address may be someone else's login, which the account has no say
over until it is accepted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from portico.accounts import repository
from portico.accounts.records import Account
from portico.auth import passwords
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.observability import logger, metrics
from portico.security.settings import Effective

REFRESH_WRITERS = 8
_ATTEMPTS = 3


def refresh_login(email: str) -> None:
    """Recompute one login's effective settings, conditional on what they were computed from (its
    accounts and the time its password was set: a password change meanwhile must not get the old
    expiry); read again and retried. A login that keeps changing is logged and left to the next
    change: the change that asked for the refresh has committed, and the access check enforces an
    account's 2FA setting on every request regardless."""
    for _ in range(_ATTEMPTS):
        credential = credentials.get_credential(email)
        if credential is None:
            logger.warning("membership without credential")
            return
        if _write(credential, _effective_fields(credential, repository.get_accounts(list(credential.account_ids)))):
            return
    logger.error("effective settings not refreshed: the login kept changing")
    metrics.add_metric(name="SettingsRefreshConflicts", unit="Count", value=1)


def refresh_members(account_id: str) -> None:
    """Store every accepted member's effective settings (and password expiry) on their login."""
    emails = [m.email for m in repository.all_members(account_id) if m.email and not m.invited]
    for first in range(0, len(emails), 100):
        logins = [c for c in credentials.get_credentials(emails[first : first + 100]) if c]
        accounts = repository.get_accounts(sorted({a for c in logins for a in c.account_ids}))
        stale = [(c, fields) for c in logins if _differs(c, fields := _effective_fields(c, accounts))]
        with ThreadPoolExecutor(max_workers=REFRESH_WRITERS) as pool:
            written = list(pool.map(lambda pair: _write(*pair), stale))
        for (credential, _), done in zip(stale, written, strict=True):
            if not done:  # changed since it was read: read it again, on its own
                refresh_login(credential.email)


def _effective_fields(credential: Credential, accounts: dict[str, Account]) -> dict[str, Any]:
    """The strictest settings of the login's accounts, and the password expiry they give."""
    effective = Effective.of(accounts[a].security for a in credential.account_ids if a in accounts)
    fields: dict[str, Any] = {"security": effective}
    if credential.password_changed_epoch is not None:
        changed = datetime.fromtimestamp(credential.password_changed_epoch, tz=UTC)
        fields.update(passwords.expiry_fields(changed, effective, credential.user_id))
    return fields


def _differs(credential: Credential, fields: dict[str, Any]) -> bool:
    return credential.security != fields["security"] or credential.password_expires_at != fields.get(
        "password_expires_at", credential.password_expires_at
    )


def _write(credential: Credential, fields: dict[str, Any]) -> bool:
    """Store the fields if the login's accounts and password are still the ones they came from;
    lockout attempts, which move the item's version, do not get in the way."""
    changed = credential.password_changed_epoch
    unset = "attribute_not_exists(password_changed_epoch)"
    password = unset if changed is None else "password_changed_epoch = :changed"
    update = credentials.update_op(
        credential.email,
        fields,
        condition=f"account_ids = :accounts AND {password}",
        values={":accounts": list(credential.account_ids), **({":changed": changed} if changed is not None else {})},
        versioned=False,
    )
    return credentials.write([update])
