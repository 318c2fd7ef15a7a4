"""``GET /me``: the logged-in user's own view, and ``PATCH /me``.

``GET /me``: three reads: the session (by the access check), the credential (profile, password
and 2FA state), and the user's memberships through the index; membership items carry their
account's name and mode, so no account is read.

``PATCH /me`` changes the name, the language and the notice subscriptions, which live on the
credential. Security notices cannot be turned off (``422``). The owner of an account cannot
change their own name (``403 owner_profile_locked``): the name is part of who answers for the
account, and an operator changes it (see the README). Only what is sent changes; a name change is
audited in the user's accounts.
"""

from __future__ import annotations

from typing import Any

from portico import audit, clock
from portico.accounts import repository as accounts
from portico.accounts.records import Membership
from portico.auth import attempts
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.auth.sessions import Session
from portico.errors import Unauthenticated, ValidationFailed, define
from portico.identity.models import Me, Mfa, MyAccount, Phone
from portico.identity.profile_models import ProfileChange

DEFAULT_NOTIFICATIONS = {"security": True, "billing": True, "product_updates": False}

OwnerProfileLocked = define("OwnerProfileLocked", 403, "owner_profile_locked", "Owner Profile Locked")
ProcessingRestricted = define("ProcessingRestricted", 409, "processing_restricted", "Processing Restricted")
NON_ESSENTIAL = ("billing", "product_updates")


def own_credential(session: Session) -> Credential:
    """The session's own login (401 once it no longer exists, or the address went to another)."""
    credential = credentials.get_credential(session.email)
    if credential is None or credential.user_id != session.user_id:
        raise Unauthenticated("This login no longer exists.")
    return credential


def me(session: Session) -> Me:
    credential = own_credential(session)
    return _view(session, credential, accounts.memberships_of(session.user_id))


def _view(session: Session, credential: Credential, memberships: list[Membership]) -> Me:
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
        accounts=[_account(m) for m in memberships],
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


def update(session: Session, body: ProfileChange, *, ip: str) -> Me:
    credential = own_credential(session)
    # read before the write, so that nothing can fail after it (the answer shows them too)
    memberships = accounts.memberships_of(session.user_id)
    fields: dict[str, Any] = {}
    if body.notifications is not None:
        wanted = body.notifications.model_dump(exclude_none=True)
        if wanted.get("security") is False:
            raise ValidationFailed(
                [
                    {
                        "loc": ["body", "notifications", "security"],
                        "msg": "security notices (password, second factor, sign-in changes) cannot be turned off",
                        "type": "value_error",
                    }
                ],
                "Security notices cannot be turned off.",
            )
        if credential.processing_restricted and any(wanted.get(kind) for kind in NON_ESSENTIAL):
            raise ProcessingRestricted(
                "Processing of your data is restricted at your request: only security notices are sent."
            )
        merged = {**DEFAULT_NOTIFICATIONS, **credential.notifications, **wanted}
        if merged != {**DEFAULT_NOTIFICATIONS, **credential.notifications}:
            fields["notifications"] = merged
    if body.language is not None and body.language != credential.language:
        fields["language"] = body.language
    if body.name is not None and body.name != credential.name:
        if any(m.owner for m in memberships):
            raise OwnerProfileLocked(
                "The owner of an account cannot change their own name; an operator of Portico can."
            )
        fields["name"] = body.name
    if not fields:
        return _view(session, credential, memberships)
    event = audit.Event(
        "profile.updated",
        attempts.actor(credential),
        {"user_id": credential.user_id},
        ip,
        {"changed": sorted(fields)},
    )
    records = audit.records(event, credential.account_ids)
    change = credentials.update_op(
        credential.email,
        fields,
        condition="user_id = :u",
        values={":u": credential.user_id},
    )
    if not credentials.write([change, *records.ops]):
        raise Unauthenticated("This login no longer exists.")
    audit.fan_out(records)
    return _view(session, credential.with_fields(fields), memberships)
