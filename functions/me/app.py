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

app = http.resolver()


@app.get("/me")
@access.user
def get_me() -> profile.Me:
    return profile.me(access.caller(app).session)


@app.get("/me/sessions")
@access.user
def list_sessions() -> SessionList:
    return SessionList.model_validate({"items": sessions.listing(access.caller(app).session)})


@app.delete("/me/sessions/<session_id>")
@access.user
def revoke_session(session_id: str) -> Response[None]:
    sessions.revoke_one(access.caller(app).session, session_id)
    return http.no_content()


@app.delete("/me/sessions")
@access.user
def revoke_other_sessions() -> Response[None]:
    current = access.caller(app).session
    sessions.revoke_all(current.user_id, except_hash=current.token_hash)
    return http.no_content()


@app.post("/me/password")
@access.user
def change_password(body: ChangePasswordRequest) -> Response[None]:
    passwords.change(access.caller(app).session, body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/mfa/totp")
@access.user
def start_totp() -> Enrollment:
    return mfa.start(access.caller(app).session)


@app.post("/me/mfa/totp/confirm")
@access.user
def confirm_totp(body: MfaCodeRequest) -> RecoveryCodes:
    return mfa.confirm(access.caller(app).session, body, ip=http.meta(app).ip)


@app.delete("/me/mfa/totp")
@access.user
def remove_totp(body: RemoveTotpRequest) -> Response[None]:
    mfa.remove(access.caller(app).session, body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/mfa/recovery-codes")
@access.user
def regenerate_recovery_codes(body: MfaCodeRequest) -> RecoveryCodes:
    return mfa.regenerate_recovery_codes(access.caller(app).session, body, ip=http.meta(app).ip)


lambda_handler = http.entry_point(app)
