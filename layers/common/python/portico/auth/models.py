"""Bodies of login, logout, sessions and password routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SerializerFunctionWrapHandler, model_serializer

from portico.fields import Code, Email, Model, Password, RequestBody, Secret


class LoginRequest(RequestBody):
    email: Email
    password: Password
    captcha_token: Secret | None = None


class PasswordStepRequest(RequestBody):
    challenge: Secret
    new_password: Password


class UserSummary(Model):
    user_id: str
    email: str
    name: str
    language: str


class LoginStep(Model):
    """One answer of the login step machine; which fields are set depends on ``status``."""

    status: Literal["authenticated", "password_change_required", "mfa_required", "mfa_enrollment_required"]
    token: str | None = None
    expires_at: str | None = None
    user: UserSummary | None = None
    challenge: str | None = None
    reason: Literal["expired", "admin_reset", "compromised"] | None = None
    recovery_codes: list[str] | None = None

    @model_serializer(mode="wrap")
    def _only_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A step carries only the fields its status uses, however it is serialized."""
        return {k: v for k, v in handler(self).items() if v is not None}


class SessionInfo(Model):
    session_id: str
    created_at: str
    last_seen_at: str
    ip: str | None
    user_agent: str | None
    current: bool


class SessionList(Model):
    items: list[SessionInfo]
    next_cursor: str | None = None


class ChangePasswordRequest(RequestBody):
    current_password: Password
    new_password: Password


class ForgotPasswordRequest(RequestBody):
    email: Email
    channel: Literal["email", "sms"] = "email"
    captcha_token: Secret | None = None


class ResetPasswordRequest(RequestBody):
    new_password: Password
    token: Secret | None = None
    email: Email | None = None
    code: Code | None = None


class ResetResult(Model):
    status: Literal["password_reset"] = "password_reset"


class MfaStepRequest(RequestBody):
    challenge: Secret
    code: Code


class MfaEnrollmentRequest(RequestBody):
    challenge: Secret


class MfaCodeRequest(RequestBody):
    code: Code


class RemoveTotpRequest(RequestBody):
    password: Password
    code: Code


class ReauthenticateRequest(RequestBody):
    password: Password
    code: Code | None = None


class Enrollment(Model):
    """A TOTP secret to add to an authenticator app: as text, as an otpauth:// URI and as a QR code."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodes(Model):
    recovery_codes: list[str]
