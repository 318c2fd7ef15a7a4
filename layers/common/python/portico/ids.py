"""Opaque identifiers with a type prefix (``acc_``, ``usr_``, ...), and secret tokens.

IDs are 128 random bits in lowercase base32 after the prefix: unguessable, URL-safe and
case-insensitive, so they survive being read aloud or typed. Tokens that grant something are 256
bits from the CSPRNG, and only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading

PREFIXES = frozenset(
    {"acc", "usr", "cus", "sub", "inv", "pm", "pln", "txn", "req", "ses", "evt", "add", "dsc", "cpn", "tle", "pse"}
)
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # sorts as the numbers it encodes
_last_sortable = 0
_sortable_lock = threading.Lock()


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    raw = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()
    return f"{prefix}_{raw}"


def new_sortable_id(prefix: str, at: float) -> str:
    """An id whose text sorts by creation time: 50 bits of milliseconds since the epoch, then 80
    random bits, in lowercase Crockford base32 (26 characters). Lists read in key order are then in
    creation order, newest first when read backwards. ``at`` is the time of creation (the caller's
    clock); ids made in one container within one millisecond count on from the last one, so they
    keep their order too (as ULID's monotonic mode does)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    global _last_sortable
    with _sortable_lock:
        value = (int(at * 1000) << 80) | secrets.randbits(80)
        if value <= _last_sortable:  # within one millisecond (or a clock that stands still): count on
            value = _last_sortable + 1
        _last_sortable = value
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return f"{prefix}_{''.join(reversed(chars))}"


def derived_id(prefix: str, seed: str, *, sorted_as: str | None = None) -> str:
    """An id that is always the same for ``seed``: the copy of an item made by a step that may be
    run again (a go-live that resumes) writes the same item twice, not two items. With
    ``sorted_as`` (a sortable id, :func:`new_sortable_id`), the id is that id's text followed by 30
    bits of the seed's hash, so copies list in the order of their originals."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    digest = hashlib.sha256(seed.encode()).digest()
    original = sorted_as.partition("_")[2] if sorted_as else ""
    if len(original) == 26 and all(c in _CROCKFORD for c in original):
        value = int.from_bytes(digest[:4], "big") >> 2
        return f"{prefix}_{original}" + "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(6)))
    raw = base64.b32encode(digest[:16]).decode().rstrip("=").lower()
    return f"{prefix}_{raw}"


def is_id(value: str, prefix: str) -> bool:
    """Whether ``value`` could be an id with ``prefix`` (one this module makes): a cheap check
    before anything is read, so that a path like ``..`` or 4,000 characters is simply not found."""
    body = value.partition("_")[2]
    return value.startswith(f"{prefix}_") and 0 < len(body) <= 40 and body.isascii() and body.isalnum()


def new_token() -> str:
    """A 256-bit URL-safe secret for links (verification, reset, invitation)."""
    return secrets.token_urlsafe(32)


def new_code(digits: int = 6) -> str:
    """A numeric one-time code, uniformly distributed."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def digest(secret: str) -> str:
    """The stored form of a high-entropy token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
