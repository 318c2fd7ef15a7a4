"""Routes of the logged-in user about themselves: profile, phone, sessions and password."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
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
from portico.privacy import export, service
from portico.privacy.models import (
    ConsentRequest,
    ExportAccepted,
    PrivacyRequestBody,
    PrivacyView,
    RequestAccepted,
)

boot.ready("dynamodb")

app = http.resolver()


@app.get("/me")
@access.user
def get_me() -> Me:
    """Show my profile: email, name, language, phone, 2FA state, password dates, notifications, accounts."""
    return profile.me(http.session(app))


@app.patch("/me")
@access.user
def change_me(body: ProfileChange) -> Me:
    """Change my name, language or notification choices; only what is sent changes.

    Security notices cannot be turned off (``security: false`` is refused) and nothing changes then.

    Errors:
        403 owner_profile_locked: an account owner cannot change their own name.
        409 processing_restricted: processing is restricted at my request; optional notices stay off.
    """
    return profile.update(http.session(app), body, ip=http.meta(app).ip)


@app.put("/me/phone")
@access.user
def set_phone(body: PhoneNumberRequest) -> Response[PhoneCodeSent]:
    """Set my phone number (kept unverified) and text it a 6-digit code.

    Needs a login or ``POST /auth/reauthenticate`` within the last 15 minutes.

    Errors:
        403 reauthentication_required: log in again or reauthenticate first.
        409 phone_change_requires_release: a verified number is set; release it first.
        429 resend_too_soon: a code was sent less than a minute ago; see ``Retry-After``.
    """
    return http.created(phone.request(http.session(app), body), status=202)


@app.post("/me/phone/verify")
@access.user
def verify_phone(body: PhoneCodeRequest) -> VerifiedPhone:
    """Verify my phone number with the texted code.

    Errors:
        401 invalid_code: the code is not right, was used, or the number changed.
        401 code_expired: the code is older than 10 minutes.
        401 code_exhausted: the code's 5 attempts are used up.
    """
    return phone.verify(http.session(app), body, ip=http.meta(app).ip)


@app.post("/me/phone/release")
@access.user
def release_phone() -> Response[dict]:
    """Start releasing my verified phone number: a code is texted to it.

    Errors:
        403 reauthentication_required: log in again or reauthenticate first.
        409 no_verified_phone: there is no verified number to release.
        429 resend_too_soon: a code was sent less than a minute ago; see ``Retry-After``.
    """
    phone.release(http.session(app))
    return http.accepted()


@app.post("/me/phone/release/confirm")
@access.user
def confirm_phone_release(body: PhoneCodeRequest) -> Response[None]:
    """Release my verified phone number with the texted code; SMS recovery ends.

    Errors:
        401 invalid_code: the code is not right, was used, or the number changed.
        401 code_expired: the code is older than 10 minutes.
        401 code_exhausted: the code's 5 attempts are used up.
    """
    phone.confirm_release(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/email")
@access.user
def change_email(body: ChangeEmailRequest) -> Response[dict]:
    """Change my email address: a confirmation link goes to the new address, a notice to the old one.

    Needs a login or ``POST /auth/reauthenticate`` within the last 15 minutes.

    Errors:
        403 reauthentication_required: log in again or reauthenticate first.
        403 owner_profile_locked: an account owner cannot change their own email address.
        409 email_taken: the address already has a login, or is already mine.
        409 email_change_in_progress: another change was requested at the same time; try again.
        429 too_many_requests: five requests an hour; see ``Retry-After``.
    """
    email_change.request(http.session(app), body, ip=http.meta(app).ip)
    return http.accepted()


# Public: the link is opened in a browser that may hold no session; the link itself is the proof.
@app.post("/me/email/confirm")
@access.public
def confirm_email_change(body: ConfirmEmailChangeRequest) -> EmailChanged:
    """Confirm an email change with the token of the link sent to the new address.

    Public: the link is the proof. Every session of the user ends; they log in with the new address.

    Errors:
        400 invalid_token: the link is unknown, used, replaced or expired.
        409 email_taken: the address got a login meanwhile.
    """
    return email_change.confirm(body, ip=http.meta(app).ip)


@app.get("/me/sessions")
@access.user
def list_sessions() -> SessionList:
    """List my sessions; ``current`` marks the one making the request."""
    return sessions.listing(http.session(app))


@app.delete("/me/sessions/<session_id>")
@access.user
def revoke_session(session_id: str) -> Response[None]:
    """End one of my sessions."""
    sessions.revoke_one(http.session(app), session_id)
    return http.no_content()


@app.delete("/me/sessions")
@access.user
def revoke_other_sessions() -> Response[None]:
    """End all my sessions but the current one."""
    sessions.revoke_others(http.session(app))
    return http.no_content()


@app.post("/me/password")
@access.user
def change_password(body: ChangePasswordRequest) -> Response[None]:
    """Change my password; my other sessions end.

    Errors:
        401 invalid_credentials: the current password is not correct.
        422 weak_password: the new password fails the policy or was used recently.
        429 too_many_requests: too many changes this hour; see ``Retry-After``.
    """
    passwords.change(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/password/compromised")
@access.user
def report_compromised_password(body: CompromiseReport | None = None) -> Response[dict]:
    """Report my password as compromised: a new one at next login, every session ends.

    The user managers of my accounts get an email; sending it again after a 503 finishes it.

    Errors:
        409 conflict: the login changed at the same time; send the report again.
    """
    compromise.report(http.session(app), body or CompromiseReport(), ip=http.meta(app).ip)
    return http.accepted()


@app.post("/me/mfa/totp")
@access.user
def start_totp() -> Enrollment:
    """Start setting up TOTP two-factor authentication: a secret, its URI and QR code.

    Needs a login or ``POST /auth/reauthenticate`` within the last 15 minutes.

    Errors:
        403 reauthentication_required: log in again or reauthenticate first.
        409 mfa_already_enabled: 2FA is already on; remove it first.
    """
    return mfa.start(http.session(app))


@app.post("/me/mfa/totp/confirm")
@access.user
def confirm_totp(body: MfaCodeRequest) -> RecoveryCodes:
    """Turn TOTP on with a first code; answers 10 recovery codes, shown once.

    Errors:
        401 invalid_code: the code is not correct.
        409 no_pending_enrollment: start the setup first (``POST /me/mfa/totp``).
        409 mfa_already_enabled: 2FA is already on.
        429 too_many_attempts: locked after 5 failures; see ``Retry-After``.
    """
    return mfa.confirm(http.session(app), body, ip=http.meta(app).ip)


@app.delete("/me/mfa/totp")
@access.user
def remove_totp(body: RemoveTotpRequest) -> Response[None]:
    """Turn TOTP off with my password and a current code.

    Errors:
        401 invalid_code: the password or the code is not correct.
        403 reauthentication_required: log in again or reauthenticate first.
        409 mfa_enforced: an account of mine requires 2FA.
        409 no_pending_enrollment: 2FA is not on.
    """
    mfa.remove(http.session(app), body, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/me/mfa/recovery-codes")
@access.user
def regenerate_recovery_codes(body: MfaCodeRequest) -> RecoveryCodes:
    """Replace my recovery codes (a current code needed); answers 10 new ones.

    Errors:
        401 invalid_code: the code is not correct.
        409 no_pending_enrollment: 2FA is not on.
    """
    return mfa.regenerate_recovery_codes(http.session(app), body, ip=http.meta(app).ip)


@app.get("/me/privacy")
@access.user
def get_privacy() -> PrivacyView:
    """Show the privacy policy in force, my consent to it, whether processing is restricted, my requests.

    ``consent_current`` is false until I consent to the version in force (a new policy version asks
    everyone again). ``requests`` lists my export, deletion and restriction requests, newest first.
    """
    return service.view(http.session(app))


@app.post("/me/privacy/consent")
@access.user
def give_consent(body: ConsentRequest) -> PrivacyView:
    """Consent to the privacy policy version in force; recorded with its time and my address.

    Consenting again to the same version keeps the first record.

    Errors:
        409 stale_policy_version: the version sent is not the one in force (the page read is out of date).
    """
    return service.consent(http.session(app), body, ip=http.meta(app).ip)


@app.post("/me/privacy/export")
@access.user
def export_personal_data() -> Response[ExportAccepted]:
    """Email me a CSV file of every piece of personal data Portico holds about me.

    Answered at once; the file (``text/csv``: profile, memberships and rights, sessions, consents,
    privacy requests, audit records by or about me) is built from a queue and emailed to my
    address within minutes. At most three a day.

    Errors:
        429 too_many_requests: three exports were asked for in the last day; Retry-After says when.
    """
    return http.created(export.request(http.session(app), ip=http.meta(app).ip), status=202)


@app.post("/me/privacy/deletion-request")
@access.user
@http.refuses_card_numbers
def request_deletion(body: PrivacyRequestBody | None = None) -> Response[RequestAccepted]:
    """Ask for my personal data and login to be deleted; an admin of my accounts completes or rejects it.

    Needs a recent authentication (``POST /auth/reauthenticate`` within 15 minutes). Asking again
    while one is pending answers the pending one. Without any account the deletion is done at once
    (``status: completed``).

    Errors:
        403 reauthentication_required: the session was not authenticated in the last 15 minutes.
    """
    filed = service.file_request(http.session(app), "deletion", body or PrivacyRequestBody(), ip=http.meta(app).ip)
    return http.created(filed, status=202)


@app.post("/me/privacy/restriction-request")
@access.user
@http.refuses_card_numbers
def request_restriction(body: PrivacyRequestBody | None = None) -> Response[RequestAccepted]:
    """Ask for the processing of my personal data to be restricted (only security notices from then on).

    Needs a recent authentication (``POST /auth/reauthenticate`` within 15 minutes); an admin of my
    accounts completes or rejects it.

    Errors:
        403 reauthentication_required: the session was not authenticated in the last 15 minutes.
    """
    filed = service.file_request(http.session(app), "restriction", body or PrivacyRequestBody(), ip=http.meta(app).ip)
    return http.created(filed, status=202)


lambda_handler = http.entry_point(app)
