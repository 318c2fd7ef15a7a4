"""Customer-portal sessions: a different kind of token from merchant-user sessions, on the same
token-session core (:mod:`portico.tokens`).

A portal token is ``ptc_`` + 256 random bits, stored only as its SHA-256 under
``PORTAL_SESSION#<hash>``; a user token (``ptu_``) is never looked up here and a portal token never
in the user sessions, so one kind can never stand in for the other. A portal session stands for
one customer of one account; its lifetimes follow the account's session settings, and use
refreshes its idle time, as for merchant sessions. The sessions of an account are indexed, so that
turning the portal off ends them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico import ids, keys
from portico.errors import Unauthenticated
from portico.keys import Write
from portico.security.settings import SecuritySettings
from portico.tokens import repository as token_store
from portico.tokens import sessions as core

KIND = core.Kind("portal_session", "ptc_", keys.portal_session)
PREFIX = KIND.prefix


@dataclass(frozen=True, kw_only=True)
class PortalSession(core.TokenSession):
    account_id: str
    customer_id: str
    session_id: str = ""


def open_op(account_id: str, customer_id: str, security: SecuritySettings) -> tuple[str, PortalSession, Write]:
    """A new session for a customer: (token, record, the write for the login's transaction)."""
    secret, token_hash = core.new_secret(KIND)
    timing = core.lifetimes(
        absolute_seconds=security.session_absolute_hours * 3600, idle_seconds=security.session_idle_minutes * 60
    )
    session = PortalSession(
        token_hash=token_hash,
        account_id=account_id,
        customer_id=customer_id,
        session_id=ids.new_id("pse"),
        **timing,  # type: ignore[arg-type]
    )
    index = keys.portal_session_index(account_id, customer_id, session.session_id)
    return secret, session, core.issue_op(KIND, session, index)


def authenticate(secret: str) -> PortalSession:
    session = core.find(KIND, PortalSession, secret)
    if session is None:
        raise Unauthenticated("The portal token is invalid or expired.")
    return session


def end(session: PortalSession) -> None:
    core.end(KIND, session.token_hash)


def end_all(account_id: str, customer_id: str | None = None) -> int:
    """End every portal session of an account (or of one of its customers); how many."""
    found = token_store.listed(keys.portal_sessions_of(account_id, customer_id))
    return core.end_all(KIND, [keys.token_hash_of({"pk": str(i["pk"]), "sk": str(i["sk"])}) for i in found])
