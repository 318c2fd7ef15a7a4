"""Opaque identifiers with a type prefix (``acc_``, ``usr_``, ...), and secret tokens.

IDs are 128 random bits in lowercase base32 after the prefix: unguessable, URL-safe and
case-insensitive, so they survive being read aloud or typed. Tokens that grant something are 256
bits from the CSPRNG, and only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

PREFIXES = frozenset({"acc", "usr", "cus", "sub", "inv", "pm", "pln", "txn", "req", "ses", "evt"})


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    raw = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()
    return f"{prefix}_{raw}"


def new_token() -> str:
    """A 256-bit URL-safe secret for links (verification, reset, invitation)."""
    return secrets.token_urlsafe(32)


def new_code(digits: int = 6) -> str:
    """A numeric one-time code, uniformly distributed."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def digest(secret: str) -> str:
    """The stored form of a high-entropy token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
