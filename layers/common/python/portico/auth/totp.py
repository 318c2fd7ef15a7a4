"""TOTP second factor (RFC 6238): secrets, the Key URI, its QR code, and checking a code.

The parameters are fixed at the ones every authenticator app supports: HMAC-SHA1, 6 digits,
30-second steps. :func:`match_step` answers *which* time step a code belongs to rather than a
yes/no, so that the caller can refuse a step it has already accepted (replay protection: accept
only steps greater than the last used one).

pyotp is small and loads with this module; segno (QR rendering) loads only when a QR code is drawn,
which only the enrollment routes do.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
from urllib.parse import quote, urlencode

import pyotp

ALGORITHM = "SHA1"
DIGITS = 6
PERIOD_SECONDS = 30
SECRET_BYTES = 20  # 160 bits: the length RFC 4226 recommends (it requires at least 128)
DEFAULT_ISSUER = "Portico"


def new_secret() -> str:
    """A fresh shared secret: 160 bits from the CSPRNG, base32 (20 bytes need no padding)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def otpauth_uri(secret: str, email: str, issuer: str = DEFAULT_ISSUER) -> str:
    """The Key URI an authenticator app scans.

    ``otpauth://totp/<issuer>:<email>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30``,
    with issuer and email percent-encoded as a whole (a ``:`` or ``/`` inside them cannot split the
    label, and spaces are ``%20``, never ``+``, which some apps show literally). pyotp's
    ``provisioning_uri`` is not used: it leaves out algorithm, digits and period at their defaults
    and does not encode ``/`` in the label.
    """
    label = f"{quote(issuer, safe='')}:{quote(email, safe='')}"
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": ALGORITHM, "digits": DIGITS, "period": PERIOD_SECONDS},
        quote_via=quote,
        safe="",
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """An SVG QR code of ``uri``: a standalone ``<svg>`` element with a ``viewBox`` and no fixed size,
    so it scales to whatever box the client gives it.

    Error correction is at least M (segno raises it when that costs no extra modules), with the
    standard 4-module quiet zone. Light modules and quiet zone are painted white rather than left
    transparent, so the code still scans when shown on a dark background.
    """
    import segno  # only the enrollment routes draw QR codes

    out = io.BytesIO()
    segno.make_qr(uri, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, omitsize=True, nl=False, border=4, dark="#000", light="#fff"
    )
    return out.getvalue().decode("utf-8")


def match_step(secret: str, code: str, now: float, *, drift: int = 1) -> int | None:
    """The time step whose code is ``code``, looking ``drift`` steps either side of ``now``.

    Whitespace is ignored (apps show ``123 456``); anything but exactly 6 ASCII digits then
    matches nothing. Every candidate step is computed and compared in constant time, without
    stopping at the first match. If a code happens to be valid for two steps of the window, the
    later step is returned, so that accepting it also uses up the earlier one.
    """
    if drift < 0:
        raise ValueError("drift must not be negative")
    candidate = "".join(code.split())
    if len(candidate) != DIGITS or not (candidate.isascii() and candidate.isdigit()):
        return None
    hotp = pyotp.HOTP(secret, digits=DIGITS)  # SHA1 is pyotp's default digest
    current = int(now // PERIOD_SECONDS)
    matched = None
    for step in range(max(0, current - drift), current + drift + 1):
        if hmac.compare_digest(hotp.at(step), candidate):
            matched = step
    return matched
