"""Routes of the logged-in user about themselves: sessions and password."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from portico import access, http
from portico.auth import mfa, passwords, sessions
from portico.auth.models import (
    ChangePasswordRequest,
    Enrollment,
    MfaCodeRequest,
    RecoveryCodes,
    RemoveTotpRequest,
    SessionList,
)
from portico.identity import profile
from portico.identity.models import Me

app = http.resolver()


@app.get("/me")
@access.user
def get_me() -> Me:
    return profile.me(http.session(app))


@app.get("/me/sessions")
@access.user
def list_sessions() -> SessionList:
    return sessions.listing(http.session(app))


@app.delete("/me/sessions/<session_id>")
@access.user
def revoke_session(session_id: str) -> Response[None]:
    sessions.revoke_one(http.session(app), session_id)
    return http.no_content()


@app.delete("/me/sessions")
@access.user
def revoke_other_sessions() -> Response[None]:
    sessions.revoke_others(http.session(app))
    return http.no_content()


@app.post("/me/password")
@access.user
def change_password(body: ChangePasswordRequest) -> Response[None]:
    passwords.change(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/mfa/totp")
@access.user
def start_totp() -> Enrollment:
    return mfa.start(http.session(app))


@app.post("/me/mfa/totp/confirm")
@access.user
def confirm_totp(body: MfaCodeRequest) -> RecoveryCodes:
    return mfa.confirm(http.session(app), body, ip=http.meta(app).ip)


@app.delete("/me/mfa/totp")
@access.user
def remove_totp(body: RemoveTotpRequest) -> Response[None]:
    mfa.remove(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/mfa/recovery-codes")
@access.user
def regenerate_recovery_codes(body: MfaCodeRequest) -> RecoveryCodes:
    return mfa.regenerate_recovery_codes(http.session(app), body, ip=http.meta(app).ip)


lambda_handler = http.entry_point(app)
