"""The login step machine (contract section 3).

``POST /auth/login`` checks the password, then walks the steps in their fixed order: a password
change when the password expired or was reset by an admin, then the second factor (or its
enrollment when an account of the user enforces 2FA), then a session. Each step that is not the
last answers with a challenge (:mod:`portico.auth.challenges`) for exactly the next step.

Which step comes next is :func:`next_step`, a pure function of the credential and the steps done.
Attempts are counted before they are verified (:mod:`portico.auth.attempts`). A login step costs
at most three DynamoDB calls: read the credential, record the attempt, then one transaction with
the outcome (lockout reset, session or challenge, audit records).
"""

from __future__ import annotations

from typing import Any, Literal

from portico import audit, clock
from portico.auth import attempts, challenges, hashing, passwords, repository, sessions
from portico.auth.credentials import Credential
from portico.auth.models import LoginRequest, LoginStep, PasswordStepRequest, UserSummary
from portico.errors import define
from portico.keys import Write
from portico.observability import logger, metrics

InvalidChallenge = define("InvalidChallenge", 401, "invalid_challenge", "Invalid Challenge")
EmailNotVerified = define("EmailNotVerified", 403, "email_not_verified", "Email Not Verified")
_GONE = "The challenge is invalid or expired; log in again."

Step = Literal["password_change", "mfa", "mfa_enrollment", "session"]
_STATUS: dict[str, Literal["password_change_required", "mfa_required", "mfa_enrollment_required"]] = {
    "password_change": "password_change_required",
    "mfa": "mfa_required",
    "mfa_enrollment": "mfa_enrollment_required",
}


def next_step(credential: Credential, now: float, *, password_done: bool, mfa_done: bool) -> Step:
    """The step after the ones done: a password change, the second factor or its enrollment, or a
    session, in that order."""
    if not password_done and passwords.change_reason(credential, now):
        return "password_change"
    if credential.mfa_enabled and not mfa_done:
        return "mfa"
    if credential.security.enforce_mfa and not credential.mfa_enabled:
        return "mfa_enrollment"
    return "session"


def login(body: LoginRequest, *, ip: str, user_agent: str) -> LoginStep:
    credential, before = attempts.begin(body.email, ip=ip, captcha_token=body.captcha_token, password=body.password)
    ok, needs_rehash = hashing.verify(credential.password_hash, body.password)
    if not ok:
        attempts.failed(credential, before, ip=ip, action="login.failed", reason="invalid_credentials")
        metrics.add_metric(name="LoginFailures", unit="Count", value=1)
        raise attempts.InvalidCredentials("The email or password is not correct.")
    if not credential.email_verified:
        event = audit.Event("login.failed", attempts.actor(credential), None, ip, {"reason": "email_not_verified"})
        _write(repository.success_ops(credential), audit.records(event, credential.account_ids))
        raise EmailNotVerified("Confirm your email address first; we can send the link again.")
    extra: dict[str, Any] = {"last_login_at": clock.iso(clock.now())}
    if needs_rehash:
        # Made with other Argon2 parameters: store a new hash with this step's write, whose condition
        # (repository.success_ops: the stored hash is still the one verified, the credential in the
        # same state) makes a password changed meanwhile win; this login then fails instead.
        extra["password_hash"] = hashing.hash_password(body.password)
    step = next_step(credential, clock.timestamp(), password_done=False, mfa_done=False)
    return _advance(
        credential,
        repository.success_ops(credential, extra, complete=step == "session"),
        ip=ip,
        user_agent=user_agent,
        password_done=False,
        mfa_done=False,
    )


def _write(ops: list[Write], records: audit.Records | None = None) -> None:
    """Write a step's outcome; a failed condition means the credential changed meanwhile."""
    written = records or audit.Records()
    if not repository.write([*ops, *written.ops]):
        raise attempts.InvalidCredentials("The email or password is not correct.")
    audit.fan_out(written)


def _advance(
    credential: Credential, ops: list[Write], *, ip: str, user_agent: str, password_done: bool, mfa_done: bool
) -> LoginStep:
    """Answer the next step after the ones done, writing ``ops`` with it in one transaction."""
    step = next_step(credential, clock.timestamp(), password_done=password_done, mfa_done=mfa_done)
    if step == "session":
        return finish(credential, ops, ip=ip, user_agent=user_agent, mfa=mfa_done)
    secret, issue = challenges.issue_op(credential, step, password_done=step != "password_change")
    _write([*ops, issue])
    reason = passwords.change_reason(credential, clock.timestamp()) if step == "password_change" else None
    return LoginStep(status=_STATUS[step], challenge=secret, reason=reason)


def finish(
    credential: Credential,
    ops: list[Write],
    *,
    ip: str,
    user_agent: str,
    mfa: bool,
    details: dict[str, Any] | None = None,
) -> LoginStep:
    """The last step: a session, written with ``ops`` (the step's own outcome) and the audit record."""
    token, session, opened = sessions.open_op(credential, mfa=mfa, ip=ip, user_agent=user_agent)
    event = audit.Event("login.succeeded", attempts.actor(credential), None, ip, {"mfa": mfa, **(details or {})})
    _write([*ops, opened], audit.records(event, credential.account_ids))
    metrics.add_metric(name="Logins", unit="Count", value=1)
    logger.info("logged in", extra={"user_id": credential.user_id, "session_id": session.session_id})
    return LoginStep(
        status="authenticated",
        token=token,
        expires_at=clock.iso_epoch(session.expires_at),
        user=UserSummary(
            user_id=credential.user_id, email=credential.email, name=credential.name, language=credential.language
        ),
    )


def take_challenge(secret: str, purpose: challenges.Purpose) -> tuple[challenges.Challenge, Credential, Write]:
    """The challenge, the credential it is for, and the op that consumes it (write it with the
    step's outcome: a challenge is used once, also under concurrency). A challenge answers for the
    credential's state when it was issued: once that moved on, or an enrollment challenge's login
    got a second factor, it is refused."""
    challenge = challenges.find(secret, purpose)
    credential = repository.get_credential(challenge.email) if challenge else None
    if (
        challenge is None
        or credential is None
        or credential.user_id != challenge.user_id
        or credential.state != challenge.bound_version
        or (purpose == "mfa_enrollment" and credential.mfa_enabled)
    ):
        raise InvalidChallenge(_GONE)
    return challenge, credential, challenges.consume_op(challenge)


def change_expired_password(body: PasswordStepRequest, *, ip: str, user_agent: str) -> LoginStep:
    _, credential, consume = take_challenge(body.challenge, "password_change")
    passwords.require_acceptable(credential, body.new_password)
    fields = passwords.replacement_fields(credential, body.new_password)
    event = audit.Event(
        "password.changed", attempts.actor(credential), {"user_id": credential.user_id}, ip, {"at_login": True}
    )
    records = audit.records(event, credential.account_ids)
    ops = [consume, passwords.replace_op(credential, fields), *records.ops]
    # An expired or reset password ends every session, as any password change does.
    sessions.revoke_all(credential.user_id)
    try:
        step = _advance(
            credential.with_fields(fields), ops, ip=ip, user_agent=user_agent, password_done=True, mfa_done=False
        )
    except attempts.InvalidCredentials:
        raise InvalidChallenge(_GONE) from None
    audit.fan_out(records)
    return step
