"""Auth routes: sign-up, email verification, login steps, logout, password recovery."""

from __future__ import annotations

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

app = http.resolver()


@app.post("/signup")
@access.public
def sign_up(body: SignupRequest) -> Response[SignupResult]:
    request = http.meta(app)
    return http.idempotent(
        app, "signup", body, lambda: signup.sign_up(body, ip=request.ip, accept_language=request.accept_language)
    )


@app.post("/auth/verify-email")
@access.public
def verify_email(body: VerifyEmailRequest) -> VerifyEmailResult:
    signup.verify_email(body)
    return VerifyEmailResult()


@app.post("/auth/verify-email/resend")
@access.public
def resend_verification(body: ResendVerificationRequest) -> Response[dict]:
    signup.resend_verification(body)
    return http.accepted()


@app.post("/auth/login")
@access.public
def log_in(body: LoginRequest) -> Response[LoginStep]:
    request = http.meta(app)
    return http.ok(login.login(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/login/password")
@access.public
def set_expired_password(body: PasswordStepRequest) -> Response[LoginStep]:
    request = http.meta(app)
    return http.ok(login.change_expired_password(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/login/mfa")
@access.public
def second_factor(body: MfaStepRequest) -> Response[LoginStep]:
    request = http.meta(app)
    return http.ok(mfa.second_factor(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/login/mfa-enrollment")
@access.public
def start_enrollment_at_login(body: MfaEnrollmentRequest) -> Enrollment:
    return mfa.enrollment_at_login(body)


@app.post("/auth/login/mfa-enrollment/confirm")
@access.public
def confirm_enrollment_at_login(body: MfaStepRequest) -> Response[LoginStep]:
    request = http.meta(app)
    return http.ok(mfa.confirm_at_login(body, ip=request.ip, user_agent=request.user_agent))


@app.post("/auth/reauthenticate")
@access.user
def reauthenticate(body: ReauthenticateRequest) -> Response[None]:
    mfa.reauthenticate(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/auth/logout")
@access.user
def log_out() -> Response[None]:
    sessions.revoke(http.session(app))
    return http.no_content()


@app.post("/auth/password/forgot")
@access.public
def forgot_password(body: ForgotPasswordRequest) -> Response[dict]:
    passwords.forgot(body, ip=http.meta(app).ip)
    return http.accepted()


@app.post("/auth/password/reset")
@access.public
def reset_password(body: ResetPasswordRequest) -> ResetResult:
    passwords.reset(body, ip=http.meta(app).ip)
    return ResetResult()


lambda_handler = http.entry_point(app)
