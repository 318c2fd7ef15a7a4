"""Bodies of the logged-in user's own profile routes (``PATCH /me``, the phone) and of a reported
password compromise."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from portico.fields import Code, Language, Line, Model, RequestBody


class NotificationsChange(RequestBody):
    """The notice kinds to turn on or off; ``security`` can only stay on."""

    security: bool | None = None
    billing: bool | None = None
    product_updates: bool | None = None


class ProfileChange(RequestBody):
    name: Line | None = None
    language: Language | None = None
    notifications: NotificationsChange | None = None


class PhoneNumberRequest(RequestBody):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)]


class PhoneCodeRequest(RequestBody):
    code: Code


class PhoneCodeSent(Model):
    number: str
    status: Literal["verified", "not_verified"]
    resend_after_seconds: int
    expires_in_seconds: int


class VerifiedPhone(Model):
    number: str
    status: Literal["verified"] = "verified"


class CompromiseReport(RequestBody):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
