"""Customer-portal sessions: a different kind of token from merchant-user sessions.

A portal token is ``ptc_`` + 256 random bits, stored only as its SHA-256 under
``PORTAL_SESSION#<hash>``; a user token (``ptu_``) is never looked up here and a portal token never
in the user sessions, so one kind can never stand in for the other. Sessions are created by the
portal login (email one-time code), which builds on this module; lifetimes follow the account's
session settings, as user sessions do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from portico import clock, ids, keys, store
from portico.errors import Unauthenticated

PREFIX = "ptc_"
TOUCH_INTERVAL = 60


@dataclass(frozen=True)
class PortalSession:
    token_hash: str
    account_id: str
    customer_id: str
    item: dict[str, Any]


def authenticate(token: str) -> PortalSession:
    if not token.startswith(PREFIX) or len(token) > 128:
        raise Unauthenticated("The portal token is invalid or expired.")
    token_hash = ids.digest(token)
    item = store.get(keys.portal_session(token_hash), consistent=True)
    now = int(clock.timestamp())
    if item is None or now >= int(item["expires_at"]) or now - int(item["last_seen_at"]) >= int(item["idle_seconds"]):
        raise Unauthenticated("The portal token is invalid or expired.")
    if now - int(item["last_seen_at"]) >= TOUCH_INTERVAL:
        # idle time counts from the last use, refreshed at most once a minute (as merchant sessions)
        with contextlib.suppress(store.ConditionFailed):
            store.update(
                keys.portal_session(token_hash),
                "SET last_seen_at = :now",
                condition="attribute_exists(pk) AND last_seen_at < :stale",
                values={":now": now, ":stale": now - TOUCH_INTERVAL},
            )
    return PortalSession(token_hash, str(item["account_id"]), str(item["customer_id"]), item)
