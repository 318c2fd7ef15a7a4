"""Field types of request bodies, shared by every domain's models: strict bodies, one-line text,
email addresses, secrets, passwords and codes."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
)

from portico import money

Language = Literal["en", "de"]


def _email(value: str) -> str:
    """RFC 5322/6531 syntax via email-validator, imported on first use (it compiles many regexes,
    a cold-start cost only the routes that take an email should pay). Spaces around the address
    are trimmed and it is NFKC-normalised (fullwidth letters become their ASCII selves); it
    otherwise keeps the user's spelling, and the domain is normalised (lower case, IDNA). Which
    addresses are the same login is :func:`portico.keys.normalise_email`."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(unicodedata.normalize("NFKC", value.strip()), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


# Characters that end a line or reorder text in some reader: C0 and C1 controls, DEL, the
# Unicode line and paragraph separators, and the bidirectional overrides and isolates
# ("Trojan Source"). None of them belongs in a name, and each can break an email header or
# disguise what a reader sees.
UNSAFE_IN_TEXT = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"

# One line of human text: none of the above, trimmed, bounded.
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=f"^[^{UNSAFE_IN_TEXT}]+$")
]
Email = Annotated[
    str, Field(min_length=3, max_length=260, json_schema_extra={"format": "email"}), AfterValidator(_email)
]
Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class Model(BaseModel):
    """The base of Portico's models: each builds its validator when first used, not at import, so
    a function pays only for the models its own routes use (billing's models are imported by
    several functions that use a few of them)."""

    model_config = ConfigDict(defer_build=True)


class RequestBody(Model):
    """Strict JSON bodies: unknown fields and type coercion are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


# Length is the password policy's business (too_long is a reason it reports); the bound here only
# stops absurd input before any work. The request body limit caps it anyway.
Password = Annotated[str, Field(min_length=1, max_length=16384)]
Code = Annotated[str, Field(min_length=1, max_length=64)]


def _percent_out(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _a_number(value: object) -> object:
    """A JSON number only (not a string, not a boolean), taken exactly as written."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("a number")
    return Decimal(str(value)) if isinstance(value, float) else value


# A percentage with at most two decimals (VAT, discounts), exact in, a JSON number out.
Percent = Annotated[
    Decimal,
    Strict(False),
    BeforeValidator(_a_number),
    Field(ge=0, le=100, decimal_places=2, json_schema_extra={"type": "number"}),
    PlainSerializer(_percent_out, return_type=float, when_used="json"),
]


def _https(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("an https:// URL")
    return value


HttpsUrl = Annotated[
    str, Field(min_length=9, max_length=2048, json_schema_extra={"format": "uri"}), AfterValidator(_https)
]


def _timezone(value: str) -> str:
    if not value or value.startswith(("/", ".")) or ".." in value or value != value.strip():
        raise ValueError("an IANA time zone name, such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone name, such as Europe/Berlin") from None
    return value


Timezone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_timezone)]
Handle = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")]


def _currency(value: str) -> str:
    if not money.is_currency(value):
        raise ValueError("an active ISO 4217 currency code, such as EUR")
    return value


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency)]
Amount = Annotated[int, Field(ge=0, le=10**12, description="minor units of the currency")]
Quantity = Annotated[int, Field(ge=1, le=10_000)]
