"""Customer-portal sessions: a different kind of token from merchant-user sessions, on the same
token-session core (:mod:`portico.tokens`).

A portal token is ``ptc_`` + 256 random bits, stored only as its SHA-256 under
``PORTAL_SESSION#<hash>``; a user token (``ptu_``) is never looked up here and a portal token never
in the user sessions, so one kind can never stand in for the other. A portal session stands for
one customer of one account; its lifetimes follow the account's session settings, and use
refreshes its idle time, as for merchant sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico import keys
from portico.errors import Unauthenticated
from portico.tokens import sessions as core

KIND = core.Kind("portal_session", "ptc_", keys.portal_session)
PREFIX = KIND.prefix


@dataclass(frozen=True, kw_only=True)
class PortalSession(core.TokenSession):
    account_id: str
    customer_id: str
    session_id: str = ""


def authenticate(secret: str) -> PortalSession:
    session = core.find(KIND, PortalSession, secret)
    if session is None:
        raise Unauthenticated("The portal token is invalid or expired.")
    return session
