"""Rate limits kept in the table, atomic under concurrency (conditional writes, no read first).

* :func:`cooldown` -- at most one event per ``seconds`` for a subject ("resend after 60 s");
  :func:`released_on_failure` gives the minute back when the event then fails (an SES outage
  must not make the retry wait).
* :func:`quota` -- at most ``limit`` events per fixed window for a subject;
  :func:`quota_released_on_failure` takes the event back when what it counted then fails.

Subjects (often email addresses, also of people who have no account) are stored only as hashes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

from portico import clock, ids, keys, store
from portico.errors import TooManyRequests
from portico.observability import logger


def cooldown(scope: str, subject: str, seconds: int) -> None:
    now = clock.timestamp()
    key = keys.rate(scope, ids.digest(subject), "cooldown")
    until = now + seconds
    try:
        store.put(
            {**key, "until": math.ceil(until), "ttl": int(until) + 60},
            condition="attribute_not_exists(pk) OR #u <= :now",
            values={":now": int(now)},
            names={"#u": "until"},
        )
    except store.ConditionFailed:
        current = store.get(key, consistent=True) or {}
        raise TooManyRequests(int(current.get("until", until)) - int(now)) from None


@contextlib.contextmanager
def released_on_failure(scope: str, subject: str) -> Iterator[None]:
    """Undo a :func:`cooldown` just taken if the block raises; the block's error stands."""
    try:
        yield
    except Exception:
        try:
            store.transact([store.delete_op(keys.rate(scope, ids.digest(subject), "cooldown"))])
        except Exception:  # the caller's 503 stands; the retry then waits out the cooldown
            logger.warning("could not release a cooldown", extra={"scope": scope})
        raise


@contextlib.contextmanager
def quota_released_on_failure(scope: str, subject: str, limit: int, window_seconds: int) -> Iterator[None]:
    """:func:`quota`, given back if the block raises (a queue outage must not use up the quota)."""
    key = quota(scope, subject, limit, window_seconds)
    try:
        yield
    except Exception:
        try:
            store.update(key, "ADD hits :minus", condition="hits > :zero", values={":minus": -1, ":zero": 0})
        except Exception:  # the caller's error stands; the quota then counts one event too many
            logger.warning("could not give back a quota event", extra={"scope": scope})
        raise


def quota(scope: str, subject: str, limit: int, window_seconds: int) -> dict[str, str]:
    """Count one event (``429`` past ``limit``); the counter's key."""
    now = clock.timestamp()
    window = int(now // window_seconds)
    window_end = (window + 1) * window_seconds
    key = keys.rate(scope, ids.digest(subject), f"w{window_seconds}#{window}")
    try:
        store.update(
            key,
            "ADD hits :one SET #ttl = :ttl",
            condition="attribute_not_exists(hits) OR hits < :limit",
            values={":one": 1, ":limit": limit, ":ttl": window_end + 60},
            names={"#ttl": "ttl"},
        )
    except store.ConditionFailed:
        raise TooManyRequests(math.ceil(window_end - now)) from None
    return key
