"""Request and response bodies of sign-up and email verification (contract section 2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Language = Literal["en", "de"]
# One line of human text: no control characters, trimmed, bounded.
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Email = Annotated[EmailStr, Field(max_length=254)]
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
