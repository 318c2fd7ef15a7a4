"""``GET /me``: the logged-in user's own view (contract section 8).

Three reads: the session (by the access check), the credential (profile, password and 2FA
state), and the user's memberships through the index; membership items carry their account's
name and mode, so no account is read.
"""

from __future__ import annotations

from portico import clock
from portico.accounts import repository as accounts
from portico.accounts.records import Membership
from portico.auth import repository as credentials
from portico.auth.sessions import Session
from portico.errors import Unauthenticated
from portico.identity.models import Me, Mfa, MyAccount, Phone

DEFAULT_NOTIFICATIONS = {"security": True, "billing": True, "product_updates": False}


def me(session: Session) -> Me:
    credential = credentials.get_credential(session.email)
    if credential is None or credential.user_id != session.user_id:
        raise Unauthenticated("This login no longer exists.")
    phone = credential.phone
    expires = credential.password_expires_at
    return Me(
        user_id=session.user_id,
        email=credential.email,
        name=credential.name,
        language=credential.language,
        phone=Phone(number=phone, status="verified" if credential.phone_verified else "not_verified")
        if phone
        else None,
        mfa=Mfa(totp=credential.mfa_enabled, recovery_codes_left=len(credential.recovery_hashes)),
        password_changed_at=credential.password_changed_at,
        password_expires_at=clock.iso_epoch(expires) if expires is not None else None,
        notifications={**DEFAULT_NOTIFICATIONS, **credential.notifications},
        accounts=[_account(m) for m in accounts.memberships_of(session.user_id)],
    )


def _account(membership: Membership) -> MyAccount:
    return MyAccount(
        account_id=membership.account_id,
        name=membership.account_name,
        mode=membership.account_mode,
        owner=membership.owner,
        full_access=membership.full_access,
        rights=list(membership.rights),
        status=membership.status,
    )
