"""Argon2id password hashing (PHC strings).

Parameters: from the environment through :func:`portico.config.argon2_parameters`
(``ARGON2_MEMORY_KIB``, ``ARGON2_TIME_COST``, ``ARGON2_PARALLELISM``), by default m=19 MiB
(19456 KiB), t=2, p=1: OWASP's recommended Argon2id setting, the first row of its table of
equivalent settings (m=47104 t=1, m=19456 t=2, m=12288 t=3, m=9216 t=4, m=7168 t=5; the
configuration refuses anything below that table).

Measured on the 2-core development VM (2026-12-01, argon2-cffi 25.1, CPU time of one hash, median
of 15 interleaved runs; a verification costs the same): m=64 MiB t=3 (the previous parameters)
320 ms; m=46 MiB t=1 109 ms (allocating and touching the memory dominates); m=19 MiB t=2 44 ms;
m=12 MiB t=3 38 ms; m=9 MiB t=4 36 ms; m=7 MiB t=5 33 ms. Of OWASP's equivalent rows, m=19 MiB
t=2 keeps the most memory per unit of time (what makes GPU guessing expensive) for a cost well
under 100 ms. A hash is single-threaded (p=1), and a 1024 MB function has about 0.58 of a vCPU
(a full one at 1769 MB), so there expect about 44 / 0.58 = 75 ms per hash: at arm64's
USD 0.0000133334 per GB-s, 0.075 s x 1 GB = USD 0.000001 per hash. A login verifies once (and
hashes once more when it rehashes), a sign-up or password change hashes once: about USD 1 per
million logins, against about USD 7 and half a second each at the previous parameters.

Changing the parameters later is safe: :func:`verify` reports when a stored hash was made with
other ones, and a successful password login stores a new hash in its own conditional write
(:func:`portico.auth.login.login`: it holds only while the stored hash is still the one verified,
so a password changed meanwhile is never overwritten).

argon2-cffi is imported lazily: only the routes that hash pay for the import.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from portico import config

if TYPE_CHECKING:  # pragma: no cover
    from argon2 import PasswordHasher

_PARAMETERS = config.argon2_parameters()
# Module attributes, read when the hasher is made: tests lower them for speed (then clear _hasher).
TIME_COST = _PARAMETERS.time_cost
MEMORY_COST_KIB = _PARAMETERS.memory_kib
PARALLELISM = _PARAMETERS.parallelism


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
    """(matches, needs_rehash): needs_rehash when ``stored`` was made with parameters other than
    the current ones (weaker or stronger). A malformed stored hash never matches."""
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
