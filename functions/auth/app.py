"""Auth routes: sign-up, email verification, login steps, logout, password recovery."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from aws_lambda_powertools.event_handler import Response

from portico import access, http
from portico.auth import login, mfa, passwords, sessions
from portico.auth.models import (
    Enrollment,
    ForgotPasswordRequest,
    LoginRequest,
    LoginStep,
    MfaEnrollmentRequest,
    MfaStepRequest,
    PasswordStepRequest,
    ReauthenticateRequest,
    ResetPasswordRequest,
    ResetResult,
)
from portico.identity import signup
from portico.identity.models import (
    ResendVerificationRequest,
    SignupRequest,
    SignupResult,
    VerifyEmailRequest,
    VerifyEmailResult,
)

boot.ready("dynamodb")

app = http.resolver()


@app.post("/signup")
@access.public
def sign_up(body: SignupRequest) -> Response[SignupResult]:
    """Sign up: create a login, its account and send the verification link.

    The new login owns a new test account named after ``company``. The password must pass the default
    password policy. An email with a ``/verify-email?token=`` link (24 hours, single use) is sent in
    ``language`` (else the ``Accept-Language``); the login cannot log in until the address is verified.
    Sign-up necessarily tells whether an address already has a login (``409 email_taken``).

    Errors:
        400 captcha_failed: captcha is configured and ``captcha_token`` is missing or refused.
        409 email_taken: the address already has a login.
        422 weak_password: the password fails the policy; ``reasons`` names the rules.
    """
    request = http.meta(app)
    return http.idempotent(
        app, "signup", body, lambda: signup.sign_up(body, ip=request.ip, accept_language=request.accept_language)
    )


@app.post("/auth/verify-email")
@access.public
def verify_email(body: VerifyEmailRequest) -> VerifyEmailResult:
    """Verify an email address with the token of the sign-up link.

    Errors:
        400 invalid_token: the link is unknown, already used, replaced by a newer one or expired.
    """
    signup.verify_email(body)
    return VerifyEmailResult()


@app.post("/auth/verify-email/resend")
@access.public
def resend_verification(body: ResendVerificationRequest) -> Response[dict]:
    """Send the verification link again.

    Always 202, whether or not the address has an unverified login, so the answer tells nobody which
    addresses are registered. A new link replaces the previous one.

    Errors:
        429 too_many_requests: one request a minute and five an hour per address; ``Retry-After`` says when.
    """
    signup.resend_verification(body)
    return http.accepted()


@app.post("/auth/login")
@access.public
def log_in(body: LoginRequest) -> Response[LoginStep]:
    """Log in with email and password: the first step of a login.

    Answers ``status``: ``authenticated`` (with ``token``, ``expires_at``, ``user``),
    ``password_change_required`` (``challenge``, ``reason``), ``mfa_required`` or
    ``mfa_enrollment_required`` (``challenge``). Unknown email and wrong password answer alike.

    Errors:
        400 captcha_failed: captcha is configured, this login failed 3 times, and the token is missing or refused.
        401 invalid_credentials: the email or the password is not correct.
        403 email_not_verified: the address has not been verified yet.
        429 too_many_attempts: locked after 5 failures (1 s, doubling up to 15 minutes); see ``Retry-After``.
    """
    request = http.meta(app)
    return http.ok(login.login(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/login/password")
@access.public
def set_expired_password(body: PasswordStepRequest) -> Response[LoginStep]:
    """Set a new password during login (the ``password_change_required`` step).

    Errors:
        401 invalid_challenge: the challenge is unknown, used, expired or no longer matches the login.
        422 weak_password: the new password fails the policy or was used recently; ``reasons`` says why.
    """
    request = http.meta(app)
    return http.ok(login.change_expired_password(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/login/mfa")
@access.public
def second_factor(body: MfaStepRequest) -> Response[LoginStep]:
    """Finish a login with a TOTP code or a recovery code (the ``mfa_required`` step).

    Errors:
        401 invalid_challenge: the challenge is unknown, used, expired or no longer matches the login.
        401 invalid_code: the code is not correct.
        401 code_already_used: this time step's code was already used.
        429 too_many_attempts: locked after 5 failures; see ``Retry-After``.
    """
    request = http.meta(app)
    return http.ok(mfa.second_factor(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/login/mfa-enrollment")
@access.public
def start_enrollment_at_login(body: MfaEnrollmentRequest) -> Enrollment:
    """Start setting up TOTP during login (the ``mfa_enrollment_required`` step).

    Answers the secret, its ``otpauth://`` URI and an SVG QR code of it.

    Errors:
        401 invalid_challenge: the challenge is unknown, used, expired or no longer matches the login.
    """
    return mfa.enrollment_at_login(body)


@app.post("/auth/login/mfa-enrollment/confirm")
@access.public
def confirm_enrollment_at_login(body: MfaStepRequest) -> Response[LoginStep]:
    """Confirm TOTP set up during login with a first code, and log in.

    Answers ``authenticated`` with the session token and ``recovery_codes`` (shown once).

    Errors:
        401 invalid_challenge: the challenge or its setup is unknown, used or expired.
        401 invalid_code: the code is not correct.
        429 too_many_attempts: locked after 5 failures; see ``Retry-After``.
    """
    request = http.meta(app)
    return http.ok(mfa.confirm_at_login(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/reauthenticate")
@access.user
def reauthenticate(body: ReauthenticateRequest) -> Response[None]:
    """Confirm the password (and a code, with 2FA) to unlock sensitive routes for 15 minutes.

    Setting up or removing 2FA, changing the email address and setting or releasing the phone need a
    login or a reauthentication within the last 15 minutes.

    Errors:
        401 invalid_credentials: the password is not correct.
        401 invalid_code: the code is missing or not correct (the user has 2FA).
        401 code_already_used: this time step's code was already used.
        429 too_many_attempts: locked after 5 failures; see ``Retry-After``.
    """
    mfa.reauthenticate(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/auth/logout")
@access.user
def log_out() -> Response[None]:
    """Log out: end the current session."""
    sessions.revoke(http.session(app))
    return http.no_content()


@app.post("/auth/password/forgot")
@access.public
def forgot_password(body: ForgotPasswordRequest) -> Response[dict]:
    """Ask for a password reset link by email or a code by SMS.

    Always 202: nothing tells whether the address has a login (or a verified phone, for ``sms``). By
    email a ``/reset-password?token=`` link (30 minutes, single use); by SMS a 6-digit code (10 minutes).

    Errors:
        400 captcha_failed: captcha is configured and ``captcha_token`` is missing or refused.
        429 too_many_requests: one request a minute and five an hour per address and channel.
    """
    passwords.forgot(body, ip=http.meta(app).ip)
    return http.accepted()


@app.post("/auth/password/reset")
@access.public
def reset_password(body: ResetPasswordRequest) -> ResetResult:
    """Set a new password with the emailed token, or with the email and the SMS code.

    Ends every session and lifts a lockout; opens no session.

    Errors:
        400 invalid_token: the link is unknown, used, replaced or expired.
        401 invalid_code: the SMS code is wrong, used or expired.
        422 weak_password: the new password fails the policy or was used recently.
    """
    passwords.reset(body, ip=http.meta(app).ip)
    return ResetResult()


lambda_handler = http.entry_point(app)
