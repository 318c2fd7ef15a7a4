"""Merchant-user sessions: opaque bearer tokens, idle and absolute lifetimes, revocation.

A token is ``ptu_`` + 256 random bits; only its SHA-256 is stored. Validating one costs a single
consistent read. ``last_seen_at`` is refreshed at most once per ``TOUCH_INTERVAL`` (a conditional
write that skips fresh sessions), which bounds the write cost and the idle-timeout error to that
interval. Lifetimes are the user's effective security settings at login (the strictest of the
user's accounts); a later change applies to the sessions opened after it. Revoking deletes the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico import clock, ids
from portico.auth import repository
from portico.errors import NotFound, Unauthenticated

PREFIX = "ptu_"
TOUCH_INTERVAL = 60
REAUTH_WINDOW = 15 * 60


@dataclass(frozen=True)
class Session:
    token_hash: str
    session_id: str
    user_id: str
    email: str
    mfa: bool
    authenticated_at: int
    item: dict[str, Any]

    @property
    def recently_authenticated(self) -> bool:
        return clock.timestamp() - self.authenticated_at <= REAUTH_WINDOW


def new(credential: dict[str, Any], *, mfa: bool, ip: str, user_agent: str) -> tuple[str, dict[str, Any], dict]:
    """A new session for ``credential``: (token, item, the put to include in the login's transaction)."""
    security = credential.get("security") or {}
    now = int(clock.timestamp())
    token = PREFIX + ids.new_token()
    expires = now + int(security.get("session_absolute_hours", 12)) * 3600
    item = {
        "session_id": ids.new_id("ses"),
        "user_id": credential["user_id"],
        "email": credential["email"],
        "created_at": now,
        "last_seen_at": now,
        "authenticated_at": now,
        "idle_seconds": int(security.get("session_idle_minutes", 30)) * 60,
        "expires_at": expires,
        "ttl": expires + 86400,
        "mfa": mfa,
        "ip": ip,
        "user_agent": user_agent,
    }
    return token, item, repository.session_put_op(ids.digest(token), item)


def authenticate(token: str) -> Session:
    if not token.startswith(PREFIX) or len(token) > 128:
        raise Unauthenticated("The session token is invalid or expired.")
    token_hash = ids.digest(token)
    item = repository.get_session(token_hash)
    now = int(clock.timestamp())
    if item is None or now >= int(item["expires_at"]) or now - int(item["last_seen_at"]) >= int(item["idle_seconds"]):
        raise Unauthenticated("The session token is invalid or expired.")
    if now - int(item["last_seen_at"]) >= TOUCH_INTERVAL:
        repository.touch_session(token_hash, now, now - TOUCH_INTERVAL)
    return Session(
        token_hash=token_hash,
        session_id=str(item["session_id"]),
        user_id=str(item["user_id"]),
        email=str(item["email"]),
        mfa=bool(item.get("mfa")),
        authenticated_at=int(item.get("authenticated_at", item["created_at"])),
        item=item,
    )


def listing(current: Session) -> list[dict[str, Any]]:
    now = int(clock.timestamp())
    alive = [
        s
        for s in repository.sessions_of(current.user_id)
        if now < int(s["expires_at"]) and now - int(s["last_seen_at"]) < int(s["idle_seconds"])
    ]
    alive.sort(key=lambda s: int(s["created_at"]), reverse=True)
    return [
        {
            "session_id": s["session_id"],
            "created_at": clock.iso_epoch(int(s["created_at"])),
            "last_seen_at": clock.iso_epoch(int(s["last_seen_at"])),
            "ip": s.get("ip"),
            "user_agent": s.get("user_agent"),
            "current": s["session_id"] == current.session_id,
        }
        for s in alive
    ]


def revoke(current: Session) -> None:
    repository.delete_session(current.token_hash)


def revoke_one(current: Session, session_id: str) -> None:
    for item in repository.sessions_of(current.user_id):
        if item["session_id"] == session_id:
            repository.delete_session(_hash_of(item))
            return
    raise NotFound("No such session.")


def revoke_all(user_id: str, *, except_hash: str | None = None) -> int:
    hashes = [_hash_of(s) for s in repository.sessions_of(user_id)]
    doomed = [h for h in hashes if h != except_hash]
    repository.delete_sessions(doomed)
    return len(doomed)


def _hash_of(item: dict[str, Any]) -> str:
    return str(item["pk"]).removeprefix("SESSION#")
