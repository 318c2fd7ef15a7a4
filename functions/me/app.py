"""Routes of the logged-in user about themselves: profile, phone, sessions and password."""

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
from portico.identity import compromise, email_change, phone, profile
from portico.identity.email_models import ChangeEmailRequest, ConfirmEmailChangeRequest, EmailChanged
from portico.identity.models import Me
from portico.identity.profile_models import (
    CompromiseReport,
    PhoneCodeRequest,
    PhoneCodeSent,
    PhoneNumberRequest,
    ProfileChange,
    VerifiedPhone,
)

app = http.resolver()


@app.get("/me")
@access.user
def get_me() -> Me:
    return profile.me(http.session(app))


@app.patch("/me")
@access.user
def change_me(body: ProfileChange) -> Me:
    return profile.update(http.session(app), body, ip=http.meta(app).ip)


@app.put("/me/phone")
@access.user
def set_phone(body: PhoneNumberRequest) -> Response[PhoneCodeSent]:
    return http.created(phone.request(http.session(app), body), status=202)


@app.post("/me/phone/verify")
@access.user
def verify_phone(body: PhoneCodeRequest) -> VerifiedPhone:
    return phone.verify(http.session(app), body, ip=http.meta(app).ip)


@app.post("/me/phone/release")
@access.user
def release_phone() -> Response[dict]:
    phone.release(http.session(app))
    return http.accepted()


@app.post("/me/phone/release/confirm")
@access.user
def confirm_phone_release(body: PhoneCodeRequest) -> Response[None]:
    phone.confirm_release(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/email")
@access.user
def change_email(body: ChangeEmailRequest) -> Response[dict]:
    email_change.request(http.session(app), body, ip=http.meta(app).ip)
    return http.accepted()


# Public: the link is opened in a browser that may hold no session; the link itself is the proof.
@app.post("/me/email/confirm")
@access.public
def confirm_email_change(body: ConfirmEmailChangeRequest) -> EmailChanged:
    return email_change.confirm(body, ip=http.meta(app).ip)


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


@app.post("/me/password/compromised")
@access.user
def report_compromised_password(body: CompromiseReport | None = None) -> Response[dict]:
    compromise.report(http.session(app), body or CompromiseReport(), ip=http.meta(app).ip)
    return http.accepted()


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
