"""Request and response bodies of sign-up and email verification."""

from __future__ import annotations

from typing import Literal

from portico.fields import Email, Language, Line, Model, Password, RequestBody, Secret


class SignupRequest(RequestBody):
    email: Email
    password: Password
    name: Line
    company: Line
    language: Language | None = None
    captcha_token: Secret | None = None


class SignupResult(Model):
    account_id: str
    user_id: str


class VerifyEmailRequest(RequestBody):
    token: Secret


class VerifyEmailResult(Model):
    status: Literal["verified"] = "verified"


class ResendVerificationRequest(RequestBody):
    email: Email


class Phone(Model):
    number: str
    status: Literal["verified", "not_verified"]


class Mfa(Model):
    totp: bool
    recovery_codes_left: int


class MyAccount(Model):
    account_id: str
    name: str
    mode: str
    owner: bool
    full_access: bool
    rights: list[str]
    status: str


class Me(Model):
    user_id: str
    email: str
    name: str
    language: str
    phone: Phone | None
    mfa: Mfa
    password_changed_at: str | None
    password_expires_at: str | None
    notifications: dict[str, bool]
    accounts: list[MyAccount]
