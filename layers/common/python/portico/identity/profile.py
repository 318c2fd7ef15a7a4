"""``GET /me``: the logged-in user's own view (contract section 8).

Three reads: the session (by the access check), the credential (profile, password and 2FA
state), and the user's memberships through the index; membership items carry their account's
name and mode, so no account is read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from portico import clock, keys, store
from portico.auth import sessions
from portico.errors import Unauthenticated

DEFAULT_NOTIFICATIONS = {"security": True, "billing": True, "product_updates": False}


class Phone(BaseModel):
    number: str
    status: str


class Mfa(BaseModel):
    totp: bool
    recovery_codes_left: int


class MyAccount(BaseModel):
    account_id: str
    name: str
    mode: str
    owner: bool
    full_access: bool
    rights: list[str]
    status: str


class Me(BaseModel):
    user_id: str
    email: str
    name: str
    language: str
    phone: Phone | None
    mfa: Mfa
    password_changed_at: str | None
    password_expires_at: str | None
    notifications: dict[str, bool]
    accounts: list[MyAccount]


def me(session: sessions.Session) -> Me:
    credential = store.get(keys.credential(session.email), consistent=True)
    if credential is None or credential["user_id"] != session.user_id:
        raise Unauthenticated("This login no longer exists.")
    memberships: list[dict[str, Any]] = []
    start = None
    while True:  # one page for nearly everyone; a login in hundreds of accounts reads on
        page, start = store.query(
            "gsi1pk = :u AND begins_with(gsi1sk, :m)",
            {":u": f"USER#{session.user_id}", ":m": "MEMBER#"},
            index="gsi1",
            start=start,
        )
        memberships.extend(page)
        if not start:
            break
    phone = credential.get("phone")
    expires = credential.get("password_expires_at")
    return Me(
        user_id=session.user_id,
        email=str(credential["email"]),
        name=str(credential.get("name", "")),
        language=str(credential.get("language", "en")),
        phone=Phone(number=str(phone), status="verified" if credential.get("phone_verified") else "not_verified")
        if phone
        else None,
        mfa=Mfa(
            totp=bool(credential.get("mfa_enabled")), recovery_codes_left=len(credential.get("recovery_hashes") or [])
        ),
        password_changed_at=credential.get("password_changed_at"),
        password_expires_at=clock.iso_epoch(int(expires)) if expires is not None else None,
        notifications={**DEFAULT_NOTIFICATIONS, **(credential.get("notifications") or {})},
        accounts=[_account(m) for m in memberships],
    )


def _account(membership: dict[str, Any]) -> MyAccount:
    return MyAccount(
        account_id=str(membership["account_id"]),
        name=str(membership.get("account_name", "")),
        mode=str(membership.get("account_mode", "test")),
        owner=bool(membership.get("owner")),
        full_access=bool(membership.get("full_access")),
        rights=[str(r) for r in membership.get("rights") or []],
        status=str(membership.get("status", "active")),
    )
