"""Auth routes: sign-up and email verification (contract section 2)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from portico import http
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
def sign_up(body: SignupRequest) -> Response[SignupResult]:
    request = http.meta(app)
    return http.created(signup.sign_up(body, ip=request.ip, accept_language=request.accept_language))


@app.post("/auth/verify-email")
def verify_email(body: VerifyEmailRequest) -> VerifyEmailResult:
    signup.verify_email(body)
    return VerifyEmailResult()


@app.post("/auth/verify-email/resend")
def resend_verification(body: ResendVerificationRequest) -> Response[dict]:
    signup.resend_verification(body)
    return http.accepted()


lambda_handler = http.entry_point(app)
