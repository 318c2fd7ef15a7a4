"""Request and response bodies of sign-up and email verification (contract section 2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Language = Literal["en", "de"]


def _email(value: str) -> str:
    """RFC 5322/6531 syntax via email-validator, imported on first use (it compiles many regexes,
    a cold-start cost only the routes that take an email should pay). The address keeps the
    user's spelling; the domain is normalised (lower case, IDNA)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


# One line of human text: no control characters, trimmed, bounded.
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Email = Annotated[
    str, Field(min_length=3, max_length=254, json_schema_extra={"format": "email"}), AfterValidator(_email)
]
Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class RequestBody(BaseModel):
    """Strict JSON bodies: unknown fields and type coercion are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SignupRequest(RequestBody):
    email: Email
    # Length is the password policy's business (too_long is a reason it reports); the bound here
    # only stops absurd input before any work. The request body limit caps it anyway.
    password: Annotated[str, Field(min_length=1, max_length=16384)]
    name: Line
    company: Line
    language: Language | None = None
    captcha_token: Secret | None = None


class SignupResult(BaseModel):
    account_id: str
    user_id: str


class VerifyEmailRequest(RequestBody):
    token: Secret


class VerifyEmailResult(BaseModel):
    status: Literal["verified"] = "verified"


class ResendVerificationRequest(RequestBody):
    email: Email
