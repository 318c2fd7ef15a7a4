"""Counted attempts: the one home of "check a secret, and count it in the lockout".

Every check of a password or a second-factor code is first recorded as a failure, conditional on
the lockout state it read (:func:`begin`, :func:`begin_known`), and only then verified; a verified
one is taken back out by the step's own write (:func:`portico.auth.repository.success_ops`). So N
parallel guesses are N counted failures. A failure is audited in every account of the login, and
the failure that starts a lock is audited as ``login.locked`` too (:func:`failed`), whichever
route it came through: login, second factor, enrollment, reauthentication, removing 2FA,
accepting an invitation with an existing login.

Unknown emails are counted exactly as known ones (in a counter of their own) and answered after
the same work, so no answer tells them apart.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from portico import audit, clock
from portico.auth import captcha, hashing, repository
from portico.auth.credentials import Credential
from portico.auth.lockout import State
from portico.errors import TooManyRequests, define
from portico.observability import metrics

CAPTCHA_AFTER_FAILURES = 3
_RETRIES = 8

InvalidCredentials = define("InvalidCredentials", 401, "invalid_credentials", "Invalid Credentials")


def too_many(seconds: int) -> TooManyRequests:
    return TooManyRequests(seconds, "Too many failed attempts; try again later.", code="too_many_attempts")


def _backoff() -> None:
    """A short random pause before retrying a write that lost a race with a parallel attempt."""
    time.sleep(secrets.randbelow(20) / 1000)


def actor(credential: Credential) -> audit.Actor:
    """The user a login credential belongs to, as an audit actor."""
    return audit.Actor("user", credential.user_id, credential.email)


def begin(email: str, *, ip: str, captcha_token: str | None, password: str) -> tuple[Credential, State]:
    """Refuse a locked login, else record this attempt as a failure; the credential and its lockout
    state before the attempt. An unknown email ends here, counted and answered like a wrong
    password after the same work (a dummy Argon2 verification)."""
    for _ in range(_RETRIES):
        now = clock.timestamp()
        credential = repository.get_credential(email)
        state, version = (credential.lockout, credential.version) if credential else repository.unknown_lockout(email)
        _refuse_if_locked(state, now)
        if state.failed_count >= CAPTCHA_AFTER_FAILURES:
            captcha.require(captcha_token, ip)
        address = credential.email if credential else email
        if not repository.record_attempt(address, version, state.after_failure(now), known=credential is not None):
            _backoff()
            continue
        if credential is None:
            hashing.verify(hashing.dummy_hash(), password)
            metrics.add_metric(name="LoginFailures", unit="Count", value=1)
            raise InvalidCredentials("The email or password is not correct.")
        return credential, state
    raise too_many(1)


def begin_known(credential: Credential, moved: Callable[[], Exception]) -> tuple[Credential, State]:
    """Count a check of a known login's code or password before it is made; the credential as
    counted and its lockout state before. When a parallel attempt came first the credential is
    read again, and if it is no longer in the state the caller read (a password change, a reset,
    a second-factor change committed meanwhile), ``moved()`` is raised: what the caller decided
    on the old state no longer holds."""
    for _ in range(_RETRIES):
        now = clock.timestamp()
        state = credential.lockout
        _refuse_if_locked(state, now)
        if repository.record_attempt(credential.email, credential.version, state.after_failure(now), known=True):
            return credential, state
        _backoff()
        fresh = repository.get_credential(credential.email)
        if fresh is None or fresh.user_id != credential.user_id or fresh.state != credential.state:
            raise moved()
        credential = fresh
    raise too_many(1)


def _refuse_if_locked(state: State, now: float) -> None:
    wait = state.locked_for(now)
    if wait:
        metrics.add_metric(name="LockedOutAttempts", unit="Count", value=1)
        raise too_many(wait)


def failed(credential: Credential, before: State, *, ip: str, action: str, reason: str) -> None:
    """Audit a failed attempt in every account of the login, and the lock it started, if it did."""
    now = clock.timestamp()
    after = before.after_failure(now)
    events = [audit.Event(action, actor(credential), None, ip, {"reason": reason})]
    locked = after.locked_for(now)
    if locked:
        events.append(
            audit.Event(
                "login.locked", actor(credential), None, ip, {"failures": after.failed_count, "seconds": locked}
            )
        )
        metrics.add_metric(name="Lockouts", unit="Count", value=1)
    audit.record_all(events, credential.account_ids)
