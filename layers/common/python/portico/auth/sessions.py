"""Merchant-user sessions, on the token-session core (:mod:`portico.tokens`).

A token is ``ptu_`` + 256 random bits; only its SHA-256 is stored. Checking one costs a single
consistent read. Lifetimes are the user's effective security settings at login (the strictest of
the user's accounts); a later change applies to the sessions opened after it. The sessions of a
user are listed through the index, to show them and to end them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico import clock, ids, keys
from portico.auth.credentials import Credential
from portico.auth.models import SessionInfo, SessionList
from portico.errors import NotFound, Unauthenticated
from portico.keys import Write
from portico.tokens import repository as token_store
from portico.tokens import sessions as core

KIND = core.Kind("session", "ptu_", keys.session)
PREFIX = KIND.prefix
REAUTH_WINDOW = 15 * 60


@dataclass(frozen=True, kw_only=True)
class Session(core.TokenSession):
    session_id: str
    user_id: str
    email: str
    mfa: bool = False
    authenticated_at: int = 0
    ip: str | None = None
    user_agent: str | None = None

    @property
    def recently_authenticated(self) -> bool:
        return clock.timestamp() - (self.authenticated_at or self.created_at) <= REAUTH_WINDOW


def open_op(credential: Credential, *, mfa: bool, ip: str, user_agent: str) -> tuple[str, Session, Write]:
    """A new session for ``credential``: (token, record, the write for the login's transaction)."""
    secret, token_hash = core.new_secret(KIND)
    security = credential.security
    timing = core.lifetimes(absolute_seconds=security.absolute_seconds, idle_seconds=security.idle_seconds)
    session = Session(
        token_hash=token_hash,
        session_id=ids.new_id("ses"),
        user_id=credential.user_id,
        email=credential.email,
        mfa=mfa,
        authenticated_at=int(timing["created_at"] or 0),
        ip=ip,
        user_agent=user_agent,
        **timing,  # type: ignore[arg-type]
    )
    return secret, session, core.issue_op(KIND, session, keys.session_index(session.user_id, session.session_id))


def authenticate(secret: str) -> Session:
    session = core.find(KIND, Session, secret)
    if session is None:
        raise Unauthenticated("The session token is invalid or expired.")
    return session


def reauthenticated_op(session: Session, *, mfa: bool) -> Write:
    """Mark the session freshly authenticated (and as having a second factor, if one was given)."""
    fields: dict[str, object] = {"authenticated_at": int(clock.timestamp())}
    if mfa:
        fields["mfa"] = True
    return token_store.update_op(KIND.key(session.token_hash), fields)


def of_user(user_id: str) -> list[Session]:
    return [
        Session.stored(keys.token_hash_of({"pk": str(i["pk"]), "sk": str(i["sk"])}), i)
        for i in token_store.listed(keys.sessions_of(user_id))
    ]


def listing(current: Session) -> SessionList:
    now = int(clock.timestamp())
    alive = sorted((s for s in of_user(current.user_id) if s.alive(now)), key=lambda s: s.created_at, reverse=True)
    return SessionList(
        items=[
            SessionInfo(
                session_id=s.session_id,
                created_at=clock.iso_epoch(s.created_at),
                last_seen_at=clock.iso_epoch(s.last_seen_at),
                ip=s.ip,
                user_agent=s.user_agent,
                current=s.session_id == current.session_id,
            )
            for s in alive
        ]
    )


def revoke(current: Session) -> None:
    core.end(KIND, current.token_hash)


def revoke_one(current: Session, session_id: str) -> None:
    for session in of_user(current.user_id):
        if session.session_id == session_id:
            core.end(KIND, session.token_hash)
            return
    raise NotFound("No such session.")


def revoke_others(current: Session) -> int:
    return revoke_all(current.user_id, except_hash=current.token_hash)


def revoke_all(user_id: str, *, except_hash: str | None = None) -> int:
    return core.end_all(KIND, [s.token_hash for s in of_user(user_id) if s.token_hash != except_hash])
