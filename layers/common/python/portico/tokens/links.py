"""One-time links: the ``{PUBLIC_URL}/<page>?token=`` links in emails.

A link is stored under the SHA-256 of its secret with what it stands for; it works once
(:func:`use_op`, a conditional write in the transaction of what it allows), until it expires.
Which link is the current one is its owner's business: the credential names its verification and
reset link, the invited membership its invitation link, so a newer link ends the older one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from portico import clock, ids, keys
from portico.keys import Write
from portico.records import Record
from portico.tokens import repository

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 (a kind, not a secret)
INVITATION = "invitation"
EMAIL_CHANGE = "email_change"
MAX_SECRET_CHARS = 256


@dataclass(frozen=True, kw_only=True)
class Link(Record):
    token_hash: str
    kind: str
    user_id: str
    email: str
    created_at: str
    expires_at: int
    used_at: str | None = None
    account_id: str | None = None  # an invitation's account
    sent_at: int | None = None  # when an invitation's email went out
    auth_version: int | None = None  # the credential state a reset link was sent for
    new_email: str | None = None  # the address an email-change link moves the login to

    def usable(self, kind: str, now: int) -> bool:
        return self.kind == kind and self.used_at is None and now < self.expires_at


def new(kind: str, *, user_id: str, email: str, valid_for: timedelta, **extra: Any) -> tuple[str, Link]:
    """A new link's secret (for the email) and its record (to store)."""
    secret = ids.new_token()
    now = clock.now()
    return secret, Link(
        token_hash=ids.digest(secret),
        kind=kind,
        user_id=user_id,
        email=email,
        created_at=clock.iso(now),
        expires_at=int((now + valid_for).timestamp()),
        **extra,
    )


def put_op(link: Link) -> Write:
    return repository.put_new_op({**keys.token(link.token_hash), **link.to_item(), "ttl": link.expires_at + 7 * 86400})


def delete_op(token_hash: str) -> Write:
    return repository.delete_op(keys.token(token_hash))


def find(secret: str, kind: str) -> Link | None:
    """The link a secret stands for, while it is usable as ``kind``."""
    if not 0 < len(secret) <= MAX_SECRET_CHARS:
        return None
    item = repository.get(keys.token(ids.digest(secret)))
    link = Link.from_item(item) if item else None
    return link if link is not None and link.usable(kind, int(clock.timestamp())) else None


def use_op(link: Link) -> Write:
    """Use the link (once, also under concurrency), in the transaction of what it allows."""
    now = clock.now()
    return repository.link_use_op(link.token_hash, link.kind, clock.iso(now), int(now.timestamp()))
