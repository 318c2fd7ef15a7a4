"""The login step machine (contract section 3).

``POST /auth/login`` checks the password, then walks the steps in their fixed order: a password
change when the password expired or was reset by an admin, then the second factor (or its
enrollment when an account of the user enforces 2FA), then a session. Each step that is not the
last answers with a *challenge*: a single-purpose token for exactly the next step, valid 10
minutes, stored as a hash and consumed by a conditional delete.

Lockout (:mod:`portico.auth.lockout`): every attempt is first recorded as a failure, conditional on
the lockout state it read, and only then verified, so parallel guesses cannot exceed the limit.
Unknown emails cost the same work as known ones (a dummy Argon2 verification, one read and one
write) and get the same answer, ``401 invalid_credentials``.

A login step costs at most three DynamoDB calls: read the credential, record the attempt, then one
transaction with the outcome (lockout reset, session or challenge, audit records).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from portico import audit, clock, ids, keys, store
from portico.accounts.security import Effective
from portico.auth import captcha, hashing, lockout, passwords, repository, sessions
from portico.auth.models import LoginRequest, LoginStep, PasswordStepRequest, UserSummary
from portico.errors import TooManyRequests, WeakPassword, define
from portico.observability import logger, metrics

CHALLENGE_SECONDS = 10 * 60
CAPTCHA_AFTER_FAILURES = 3
_ATTEMPT_RETRIES = 8


InvalidChallenge = define("InvalidChallenge", 401, "invalid_challenge", "Invalid Challenge")


EmailNotVerified = define("EmailNotVerified", 403, "email_not_verified", "Email Not Verified")


def too_many(seconds: int) -> TooManyRequests:
    return TooManyRequests(seconds, "Too many failed attempts; try again later.", code="too_many_attempts")


def backoff() -> None:
    """A short random pause before retrying a write that lost a race with a parallel attempt."""
    time.sleep(secrets.randbelow(20) / 1000)


def begin_attempt(email: str, *, captcha_token: str | None, ip: str, password: str) -> tuple[dict, lockout.State]:
    """Refuse a locked login, else record this attempt as a failure; returns the credential and the
    lockout state before the attempt. Unknown emails end here, after the same work and with the
    same lockout (kept in a rate item), so no answer tells them apart."""
    for _ in range(_ATTEMPT_RETRIES):
        now = clock.timestamp()
        credential = repository.get_credential(email)
        key = keys.credential(email) if credential else repository.unknown_lockout_key(email)
        holder = credential or repository.get_lockout(key)
        state = lockout.State.of(holder)
        wait = state.locked_for(now)
        if wait:
            metrics.add_metric(name="LockedOutAttempts", unit="Count", value=1)
            raise too_many(wait)
        if state.failed_count >= CAPTCHA_AFTER_FAILURES:
            captcha.require(captcha_token, ip)
        after = state.after_failure(now).to_item()
        if not repository.record_attempt(key, int(holder.get("version", 0)), after, create=credential is None):
            backoff()
            continue
        if credential is None:
            hashing.verify(hashing.dummy_hash(), password)
            metrics.add_metric(name="LoginFailures", unit="Count", value=1)
            raise passwords.InvalidCredentials("The email or password is not correct.")
        return credential, state
    raise too_many(1)


def login(body: LoginRequest, *, ip: str, user_agent: str) -> LoginStep:
    credential, before = begin_attempt(body.email, captcha_token=body.captcha_token, ip=ip, password=body.password)
    ok, needs_rehash = hashing.verify(str(credential["password_hash"]), body.password)
    now = clock.timestamp()
    if not ok:
        failed = before.after_failure(now)
        events = [audit.Event("login.failed", audit.actor_of(credential), None, ip, {"reason": "invalid_credentials"})]
        if failed.locked_for(now):
            events.append(
                audit.Event(
                    "login.locked",
                    audit.actor_of(credential),
                    None,
                    ip,
                    {"failures": failed.failed_count, "seconds": failed.locked_for(now)},
                )
            )
            metrics.add_metric(name="Lockouts", unit="Count", value=1)
        audit.record_all(events, audit.accounts_of(credential))
        metrics.add_metric(name="LoginFailures", unit="Count", value=1)
        raise passwords.InvalidCredentials("The email or password is not correct.")

    if not credential.get("email_verified"):
        event = audit.Event("login.failed", audit.actor_of(credential), None, ip, {"reason": "email_not_verified"})
        _write(repository.success_ops(credential) + audit.put_ops(event, audit.accounts_of(credential)))
        raise EmailNotVerified("Confirm your email address first; we can send the link again.")
    extra: dict[str, Any] = {"last_login_at": clock.iso(clock.now())}
    if needs_rehash:
        extra["password_hash"] = hashing.hash_password(body.password)
    complete = passwords.change_reason(credential, now) is None and not _second_factor_due(credential)
    return _advance(
        credential,
        ops=repository.success_ops(credential, extra, complete=complete),
        ip=ip,
        user_agent=user_agent,
        password_done=False,
        mfa_done=False,
    )


def _write(ops: list[dict]) -> None:
    """Write a step's outcome; a failed condition means the credential changed meanwhile."""
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise passwords.InvalidCredentials("The email or password is not correct.") from None
    audit.fan_out(ops)


def _advance(
    credential: dict[str, Any], *, ops: list[dict], ip: str, user_agent: str, password_done: bool, mfa_done: bool
) -> LoginStep:
    """Answer the next step after the ones done, writing ``ops`` with it in one transaction."""
    now = clock.timestamp()
    reason = None if password_done else passwords.change_reason(credential, now)
    if reason:
        return _challenge(credential, "password_change", ops, password_done=False, reason=reason)
    if credential.get("mfa_enabled") and not mfa_done:
        return _challenge(credential, "mfa", ops, password_done=True)
    if effective(credential).enforce_mfa and not credential.get("mfa_enabled"):
        return _challenge(credential, "mfa_enrollment", ops, password_done=True)
    return finish(credential, ops, ip=ip, user_agent=user_agent, mfa=mfa_done)


def finish(
    credential: dict[str, Any],
    ops: list[dict],
    *,
    ip: str,
    user_agent: str,
    mfa: bool,
    details: dict[str, Any] | None = None,
) -> LoginStep:
    """The last step: a session, written with ``ops`` (the step's own outcome) and the audit record."""
    token, item, put = sessions.new(credential, mfa=mfa, ip=ip, user_agent=user_agent)
    event = audit.Event("login.succeeded", audit.actor_of(credential), None, ip, {"mfa": mfa, **(details or {})})
    _write([*ops, put, *audit.put_ops(event, audit.accounts_of(credential))])
    metrics.add_metric(name="Logins", unit="Count", value=1)
    logger.info("logged in", extra={"user_id": credential["user_id"], "session_id": item["session_id"]})
    return LoginStep(
        status="authenticated",
        token=token,
        expires_at=clock.iso_epoch(int(item["expires_at"])),
        user=UserSummary(
            user_id=str(credential["user_id"]),
            email=str(credential["email"]),
            name=str(credential.get("name", "")),
            language=str(credential.get("language", "en")),
        ),
    )


def _second_factor_due(credential: dict[str, Any]) -> bool:
    return bool(credential.get("mfa_enabled")) or effective(credential).enforce_mfa


def effective(credential: dict[str, Any]) -> Effective:
    return Effective.from_item(credential.get("security"))


_STATUS = {
    "password_change": "password_change_required",
    "mfa": "mfa_required",
    "mfa_enrollment": "mfa_enrollment_required",
}


def _challenge(
    credential: dict[str, Any], purpose: str, ops: list[dict], *, password_done: bool, reason: str | None = None
) -> LoginStep:
    secret = ids.new_token()
    expires = int(clock.timestamp()) + CHALLENGE_SECONDS
    put = repository.challenge_put_op(
        ids.digest(secret),
        {
            "purpose": purpose,
            "user_id": credential["user_id"],
            "email": credential["email"],
            # the state it answers for: a reset, change or second-factor change ends it
            "auth_version": repository.auth_version(credential),
            "password_done": password_done,
            "expires_at": expires,
            "ttl": expires + 3600,
        },
    )
    _write([*ops, put])
    return LoginStep(status=_STATUS[purpose], challenge=secret, reason=reason)  # type: ignore[arg-type]


def take_challenge(secret: str, purpose: str) -> tuple[dict, dict, dict]:
    """The challenge, the credential it is for, and the op that consumes it (write it with the
    step's outcome: a challenge is used once, also under concurrency).

    A challenge answers for the credential's state when it was issued: once the password was
    changed or reset, or the second factor changed (``auth_version`` moved on), it is refused.
    The step's own write is conditional on that state too, so a reset that commits between this
    read and that write still wins."""
    challenge_hash = ids.digest(secret)
    challenge = repository.get_challenge(challenge_hash) if 0 < len(secret) <= 256 else None
    now = int(clock.timestamp())
    if challenge is None or challenge.get("purpose") != purpose or int(challenge["expires_at"]) <= now:
        raise InvalidChallenge("The challenge is invalid or expired; log in again.")
    credential = repository.get_credential(str(challenge["email"]))
    if (
        credential is None
        or credential["user_id"] != challenge["user_id"]
        or repository.auth_version(credential) != int(challenge.get("auth_version", -1))
        or (purpose == "mfa_enrollment" and credential.get("mfa_enabled"))
    ):
        raise InvalidChallenge("The challenge is invalid or expired; log in again.")
    return challenge, credential, repository.challenge_consume_op(challenge_hash, purpose, now)


def change_expired_password(body: PasswordStepRequest, *, ip: str, user_agent: str) -> LoginStep:
    _, credential, consume = take_challenge(body.challenge, "password_change")
    reasons = passwords.vet_new_password(credential, body.new_password)
    if reasons:
        raise WeakPassword(reasons)
    fields = passwords.replacement_fields(credential, body.new_password, clock.now())
    event = audit.Event(
        "password.changed", audit.actor_of(credential), {"user_id": credential["user_id"]}, ip, {"at_login": True}
    )
    fields = {**repository.moved_on(credential), **fields}
    state, state_values = repository.same_state(credential)
    ops = [
        consume,
        repository.update_op(
            str(credential["email"]),
            fields,
            condition=f"password_hash = :seen AND {state}",
            values={":seen": credential["password_hash"], **state_values},
        ),
        *audit.put_ops(event, audit.accounts_of(credential)),
    ]
    updated = {k: v for k, v in {**credential, **fields}.items() if v is not None}
    # An expired or reset password ends every session, as any password change does.
    sessions.revoke_all(str(credential["user_id"]))
    try:
        return _advance(updated, ops=ops, ip=ip, user_agent=user_agent, password_done=True, mfa_done=False)
    except passwords.InvalidCredentials:
        raise InvalidChallenge("The challenge is invalid or expired; log in again.") from None
