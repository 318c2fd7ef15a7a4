"""The rules of a one-time code sent by email or SMS, shared by the portal's login and phone codes
and a merchant user's phone codes: 6 digits, valid ``CODE_VALIDITY`` seconds, at most one sent per
``RESEND_AFTER`` seconds (``429 resend_too_soon``), ``ATTEMPTS`` comparisons (each taken before
comparing, so parallel guesses share them), and the errors a refused code answers. Storage is
:mod:`portico.tokens.repository` (:class:`~portico.tokens.repository.OneTimeCode`).
"""

from __future__ import annotations

from typing import NoReturn

from portico.errors import TooManyRequests, define
from portico.tokens.repository import OneTimeCode

CODE_VALIDITY = 600
RESEND_AFTER = 60
ATTEMPTS = 5

InvalidCode = define("InvalidCode", 401, "invalid_code", "Invalid Code")
CodeExpired = define("CodeExpired", 401, "code_expired", "Code Expired")
CodeExhausted = define("CodeExhausted", 401, "code_exhausted", "Code Exhausted")


class ResendTooSoon(TooManyRequests):
    def __init__(self, retry_after: int):
        super().__init__(
            max(1, retry_after), "A code was sent less than a minute ago; ask again shortly.", code="resend_too_soon"
        )


def refuse(current: OneTimeCode | None, now: int) -> NoReturn:
    """Why no attempt could be taken from a code: none, exhausted, or expired (always raises)."""
    if current is None or current.code_hash is None:
        raise InvalidCode("The code is not right.")
    if current.attempts >= ATTEMPTS:
        raise CodeExhausted("Too many wrong codes: this one no longer works. Ask for a new one in a few minutes.")
    if current.expires_at <= now:
        raise CodeExpired("The code has expired; ask for a new one.")
    raise InvalidCode("The code is not right.")
