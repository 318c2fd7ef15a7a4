"""Argon2id password hashing (PHC strings).

Parameters: m=64 MiB, t=3, p=1 -- above OWASP's Argon2id floor (m=19 MiB, t=2, p=1) and the
argon2-cffi / RFC 9106 "low memory" profile. At 1024 MB of Lambda memory one hash costs tens of
milliseconds (see ``bench/``). Raising the parameters later is safe: :func:`verify` reports when a
stored hash was made with weaker ones, and the login path rehashes it.

argon2-cffi is imported lazily: only the routes that hash pay for the import.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from argon2 import PasswordHasher

TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 1


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(
        time_cost=TIME_COST,
        memory_cost=MEMORY_COST_KIB,
        parallelism=PARALLELISM,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(stored: str, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash). A malformed stored hash never matches."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, hasher.check_needs_rehash(stored)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against when there is no user, so timing does not reveal existence."""
    return hash_password("portico-dummy-password-for-timing")
