"""The token-session core: what merchant sessions, portal sessions and login challenges share.

A kind (:class:`Kind`) names its token prefix and its key; a record (:class:`TokenSession` and a
subclass per kind with what that kind stands for) carries the lifetimes:

* ``expires_at``: the absolute end, always;
* ``idle_seconds``: the idle timeout, counted from ``last_seen_at``, which :func:`find` refreshes
  at most once per ``TOUCH_INTERVAL`` (a conditional write that skips fresh records, so the write
  cost stays bounded; a use too soon after the last written one is not written, so a session may
  end up to that interval before its idle timeout counted from its very last use);
* ``bound_version``: the state of a credential it was issued for (challenges); :func:`find`
  refuses it once the caller's current version differs;
* single use: :func:`consume_op`, a conditional delete for the transaction of the step it allows.

Ending a session deletes its item: the next request cannot find it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from portico import clock, ids, keys
from portico.keys import Write
from portico.records import Record
from portico.tokens import repository

TOUCH_INTERVAL = 60
MAX_TOKEN_CHARS = 256


@dataclass(frozen=True)
class Kind:
    name: str
    prefix: str  # on the token itself: one kind never stands in for another
    key: Callable[[str], keys.Key]
    touch: bool = True  # idle time refreshed by use


@dataclass(frozen=True, kw_only=True)
class TokenSession(Record):
    token_hash: str
    created_at: int
    expires_at: int
    last_seen_at: int = 0
    idle_seconds: int | None = None
    bound_version: int | None = None

    def alive(self, now: int) -> bool:
        if now >= self.expires_at:
            return False
        return self.idle_seconds is None or now - self.last_seen_at < self.idle_seconds

    @classmethod
    def stored(cls: type[S], token_hash: str, item: dict[str, Any]) -> S:
        """The record of an item found under ``token_hash`` (the hash is the key, never an attribute)."""
        return cls.from_item({**item, "token_hash": token_hash})


S = TypeVar("S", bound=TokenSession)


def new_secret(kind: Kind) -> tuple[str, str]:
    """A new token of ``kind`` and the hash it is stored under."""
    secret = kind.prefix + ids.new_token()
    return secret, ids.digest(secret)


def lifetimes(*, absolute_seconds: int, idle_seconds: int | None = None) -> dict[str, int | None]:
    """The timing fields of a record issued now."""
    now = int(clock.timestamp())
    return {"created_at": now, "last_seen_at": now, "expires_at": now + absolute_seconds, "idle_seconds": idle_seconds}


def issue_op(kind: Kind, record: TokenSession, index: keys.Key | None = None) -> Write:
    """The write that creates ``record`` (for the transaction of the step that issues it)."""
    item = {k: v for k, v in record.to_item().items() if k != "token_hash"}
    return repository.put_new_op(
        {**kind.key(record.token_hash), **(index or {}), **item, "ttl": record.expires_at + 86400}
    )


def find(kind: Kind, record_type: type[S], secret: str, *, version: int | None = None) -> S | None:
    """The live record a token stands for, or None (malformed, unknown, expired, idle, or issued for
    another state than ``version``, when given). Use refreshes the idle time."""
    if not secret.startswith(kind.prefix) or not 0 < len(secret) <= MAX_TOKEN_CHARS:
        return None
    token_hash = ids.digest(secret)
    item = repository.get(kind.key(token_hash))
    now = int(clock.timestamp())
    if item is None:
        return None
    record = record_type.stored(token_hash, item)
    if not record.alive(now) or (version is not None and record.bound_version != version):
        return None
    if kind.touch and record.idle_seconds is not None and now - record.last_seen_at >= TOUCH_INTERVAL:
        repository.touch(kind.key(token_hash), now, now - TOUCH_INTERVAL)
    return record


def consume_op(kind: Kind, token_hash: str, *, equal: dict[str, Any] | None = None) -> Write:
    """Delete the record if it is still there, unexpired and its attributes ``equal`` what the step
    read: a single use, also when raced."""
    return repository.consume_op(kind.key(token_hash), int(clock.timestamp()), equal or {})


def end(kind: Kind, token_hash: str) -> None:
    repository.delete_all([kind.key(token_hash)])


def end_all(kind: Kind, token_hashes: Iterable[str]) -> int:
    """End many at once (in transactions of up to 100); how many."""
    doomed = [kind.key(h) for h in token_hashes]
    repository.delete_all(doomed)
    return len(doomed)
