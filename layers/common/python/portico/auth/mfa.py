"""The second factor: TOTP enrollment and checks, recovery codes, reauthentication.

Stored on the user's credential:

* ``totp_sealed``: the TOTP secret encrypted with the template's KMS key, the user id as
  encryption context (:mod:`portico.secrets_at_rest`); never returned after confirmation;
* ``totp_pending_sealed`` / ``totp_pending_expires`` / ``totp_pending_for``: an enrollment not
  yet confirmed (15 min), and who started it (the login challenge or the session): only they
  confirm it. Turning 2FA on or off and an admin's reset move the credential's state on
  (``auth_version``), which ends every challenge issued before;
* ``totp_last_step``: the time step of the last accepted code. A code is accepted only for a
  newer step, written with a condition, so the same code twice (also in parallel) gives one
  success and one ``401 code_already_used``;
* ``recovery_hashes``: SHA-256 of the 10 single-use recovery codes (118 random bits each); using
  one removes it with a condition on its value, so it works once, also in parallel.

Wrong codes count in the login lockout exactly as wrong passwords do (:mod:`portico.auth.attempts`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portico import audit, clock, ids, secrets_at_rest
from portico.auth import attempts, hashing, login, notices, repository, sessions, totp
from portico.auth.credentials import Credential
from portico.auth.models import (
    Enrollment,
    LoginStep,
    MfaCodeRequest,
    MfaEnrollmentRequest,
    MfaStepRequest,
    ReauthenticateRequest,
    RecoveryCodes,
    RemoveTotpRequest,
)
from portico.auth.passwords import InvalidCode, InvalidCredentials
from portico.errors import define
from portico.keys import Write
from portico.observability import metrics

RECOVERY_CODES = 10
PENDING_SECONDS = 15 * 60

CodeAlreadyUsed = define("CodeAlreadyUsed", 401, "code_already_used", "Code Already Used")
ReauthenticationRequired = define(
    "ReauthenticationRequired", 403, "reauthentication_required", "Reauthentication Required"
)
MfaAlreadyEnabled = define("MfaAlreadyEnabled", 409, "mfa_already_enabled", "Two-Factor Authentication Already Enabled")
NoPendingEnrollment = define("NoPendingEnrollment", 409, "no_pending_enrollment", "No Pending Enrollment")
MfaEnforced = define("MfaEnforced", 409, "mfa_enforced", "Two-Factor Authentication Enforced")


# ----------------------------------------------------------------- building blocks


def _recovery_codes() -> tuple[list[str], list[str]]:
    """Ten codes as shown to the user (``xxxxxx-xxxxxx-xxxxxx-xxxxxx``) and their stored hashes.

    24 symbols from 31 are 118 random bits: above the 112 bits from which ASVS 5.0 (V6.5.2) lets a
    lookup secret be stored as a plain SHA-256 rather than a salted password hash, which would
    cost one Argon2 verification per stored code at every use."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)
    shown = [
        "-".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(4)) for _ in range(RECOVERY_CODES)
    ]
    return shown, [_recovery_hash(c) for c in shown]


def _recovery_hash(code: str) -> str:
    """Typed back with spaces, in capitals or without its dashes, a code still matches."""
    plain = "".join(c for c in code.lower() if c.isalnum())
    return ids.digest("recovery:" + "-".join(plain[i : i + 6] for i in range(0, len(plain), 6)))


def _enrollment(credential: Credential, started_by: str) -> tuple[Enrollment, dict[str, Any]]:
    secret = totp.new_secret()
    uri = totp.otpauth_uri(secret, credential.email)
    sealed = secrets_at_rest.seal(secret, user_id=credential.user_id)
    fields = {
        "totp_pending_sealed": sealed,
        "totp_pending_expires": int(clock.timestamp()) + PENDING_SECONDS,
        "totp_pending_for": started_by,
    }
    return Enrollment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri)), fields


def _started_by_challenge(secret: str) -> str:
    return "challenge:" + ids.digest(secret)


def _started_by_session(session: sessions.Session) -> str:
    return "session:" + session.session_id


@dataclass(frozen=True)
class Proof:
    """A verified second factor and the conditional update that spends it."""

    kind: str  # "totp" or "recovery"
    fields: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    condition: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def _prove(credential: Credential, code: str, *, ip: str, pending: bool = False) -> Proof | None:
    """Which factor ``code`` proves (the pending secret's code when ``pending``), or None."""
    sealed = credential.totp_pending_sealed if pending else credential.totp_sealed
    if sealed:
        secret = secrets_at_rest.unseal(sealed, user_id=credential.user_id)
        step = totp.match_step(secret, code, clock.timestamp())
        if step is not None:
            if step <= (credential.totp_last_step if credential.totp_last_step is not None else -1):
                raise replayed(credential, ip)
            return Proof(
                "totp",
                {"totp_last_step": step},
                (),
                "attribute_not_exists(totp_last_step) OR totp_last_step < :step",
                {":step": step},
            )
    if not pending:
        wanted = _recovery_hash(code)
        if wanted in credential.recovery_hashes:
            index = credential.recovery_hashes.index(wanted)
            return Proof(
                "recovery", {}, (f"recovery_hashes[{index}]",), f"recovery_hashes[{index}] = :rc", {":rc": wanted}
            )
    metrics.add_metric(name="MfaFailures", unit="Count", value=1)
    return None


def _checked(
    credential: Credential, code: str, ip: str, action: str, moved: Callable[[], Exception], *, pending: bool = False
) -> Proof:
    """Count the check in the lockout, then make it; ``401 invalid_code`` (audited) if it fails.
    The check is made against the credential in the state the caller read (``moved()`` if that
    changed meanwhile), and the step's write is conditional on that state too."""
    credential, before = attempts.begin_known(credential, moved)
    proof = _prove(credential, code, ip=ip, pending=pending)
    if proof is None:
        attempts.failed(credential, before, ip=ip, action=action, reason="invalid_code")
        raise InvalidCode("The code is not correct.")
    return proof


def _enabled(credential: Credential) -> tuple[list[str], dict[str, Any]]:
    """New recovery codes to show once, and the fields that turn 2FA on (a new state)."""
    shown, hashes = _recovery_codes()
    return shown, {
        **repository.moved_on(credential),
        "mfa_enabled": True,
        "totp_sealed": credential.totp_pending_sealed,
        "recovery_hashes": hashes,
    }


def _spend(credential: Credential, proof: Proof, extra: dict[str, Any] | None = None) -> list[Write]:
    fields = {**proof.fields, **(extra or {})}
    return repository.success_ops(
        credential,
        fields,
        # a recovery code spent while its list is replaced or removed as a whole goes with it
        remove=tuple(path for path in proof.remove if path.split("[")[0] not in fields),
        condition=proof.condition,
        values=proof.values,
    )


def _commit(ops: list[Write], records: audit.Records, conflict: Callable[[], Exception]) -> None:
    """Write a change with its records; ``conflict()`` is raised when a condition no longer held."""
    if not repository.write([*ops, *records.ops]):
        raise conflict()
    audit.fan_out(records)


def _challenge_gone() -> Exception:
    return login.InvalidChallenge("The challenge is invalid or expired; log in again.")


def _setup_gone() -> Exception:
    return NoPendingEnrollment("The setup changed meanwhile; start it again.")


def _changed() -> Exception:
    return InvalidCredentials("Your login changed meanwhile; try again.")


def replayed(credential: Credential, ip: str | None = None) -> Exception:
    """A code used a second time: counted, audited, refused."""
    metrics.add_metric(name="TotpReplays", unit="Count", value=1)
    audit.record(audit.Event("mfa.replay_refused", attempts.actor(credential), None, ip), credential.account_ids)
    return CodeAlreadyUsed("This code was already used; wait for the next one.")


# ----------------------------------------------------------------- at login


def second_factor(body: MfaStepRequest, *, ip: str, user_agent: str) -> LoginStep:
    _, credential, consume = login.take_challenge(body.challenge, "mfa")
    proof = _checked(credential, body.code, ip, "login.failed", _challenge_gone)
    try:
        return login.finish(
            credential,
            [consume, *_spend(credential, proof)],
            ip=ip,
            user_agent=user_agent,
            mfa=True,
            details={"second_factor": proof.kind},
        )
    except InvalidCredentials:  # the step's conditional write lost: this code's step was just used
        raise replayed(credential, ip) from None


def enrollment_at_login(body: MfaEnrollmentRequest) -> Enrollment:
    """Start enrolling at login: only a login without a second factor, in the state the challenge
    was issued for (a second challenge cannot replace a factor the first one enrolled)."""
    _, credential, _ = login.take_challenge(body.challenge, "mfa_enrollment")
    enrollment, fields = _enrollment(credential, _started_by_challenge(body.challenge))
    state, values = repository.same_state(credential)
    pending = repository.update_op(
        credential.email,
        fields,
        condition=f"{state} AND (attribute_not_exists(mfa_enabled) OR mfa_enabled = :false)",
        values={**values, ":false": False},
    )
    if not repository.write([pending]):
        raise login.InvalidChallenge("The challenge is invalid or expired; log in again.")
    return enrollment


def confirm_at_login(body: MfaStepRequest, *, ip: str, user_agent: str) -> LoginStep:
    _, credential, consume = login.take_challenge(body.challenge, "mfa_enrollment")
    if (credential.totp_pending_expires or 0) <= clock.timestamp() or credential.totp_pending_for != (
        _started_by_challenge(body.challenge)
    ):
        raise login.InvalidChallenge("Start the enrollment again: the setup has expired or was replaced.")
    proof = _checked(credential, body.code, ip, "mfa.enrollment_failed", _challenge_gone, pending=True)
    shown, enabled = _enabled(credential)
    event = audit.Event(
        "mfa.enabled", attempts.actor(credential), {"user_id": credential.user_id}, ip, {"at_login": True}
    )
    records = audit.records(event, credential.account_ids)
    try:
        step = login.finish(
            credential,
            [consume, *_spend(credential, proof, enabled), *records.ops],
            ip=ip,
            user_agent=user_agent,
            mfa=True,
            details={"second_factor": "enrollment"},
        )
    except InvalidCredentials:
        raise login.InvalidChallenge("The challenge is invalid or expired; log in again.") from None
    audit.fan_out(records)
    notices.send(credential, "mfa_enabled")
    return step.model_copy(update={"recovery_codes": shown})


# ----------------------------------------------------------------- logged in


def _fresh(session: sessions.Session) -> None:
    if not session.recently_authenticated:
        raise ReauthenticationRequired("Confirm your password (and code) first: POST /auth/reauthenticate.")


def _credential(session: sessions.Session) -> Credential:
    credential = repository.get_credential(session.email)
    if credential is None or credential.user_id != session.user_id:
        raise InvalidCredentials("This login no longer exists.")
    return credential


def start(session: sessions.Session) -> Enrollment:
    _fresh(session)
    credential = _credential(session)
    if credential.mfa_enabled:
        raise MfaAlreadyEnabled("Two-factor authentication is already on; remove it first to set it up again.")
    enrollment, fields = _enrollment(credential, _started_by_session(session))
    pending = repository.update_op(
        session.email,
        fields,
        condition="attribute_not_exists(mfa_enabled) OR mfa_enabled = :false",
        values={":false": False},
    )
    if not repository.write([pending]):
        raise MfaAlreadyEnabled("Two-factor authentication is already on.")
    return enrollment


def confirm(session: sessions.Session, body: MfaCodeRequest, *, ip: str) -> RecoveryCodes:
    credential = _credential(session)
    if (
        not credential.totp_pending_sealed
        or (credential.totp_pending_expires or 0) <= clock.timestamp()
        or credential.totp_pending_for != _started_by_session(session)
    ):
        raise NoPendingEnrollment("Start the setup first: POST /me/mfa/totp.")
    proof = _checked(credential, body.code, ip, "mfa.enrollment_failed", _setup_gone, pending=True)
    shown, enabled = _enabled(credential)
    event = audit.Event("mfa.enabled", attempts.actor(credential), {"user_id": session.user_id}, ip)
    _commit(
        _spend(credential, proof, enabled),
        audit.records(event, credential.account_ids),
        lambda: NoPendingEnrollment("The setup changed meanwhile; start it again."),
    )
    notices.send(credential, "mfa_enabled")
    return RecoveryCodes(recovery_codes=shown)


def remove(session: sessions.Session, body: RemoveTotpRequest, *, ip: str) -> None:
    _fresh(session)
    credential = _credential(session)
    if credential.security.enforce_mfa:
        raise MfaEnforced("An account you belong to requires two-factor authentication.")
    if not credential.mfa_enabled:
        raise NoPendingEnrollment("Two-factor authentication is not on.")
    counted, before = attempts.begin_known(credential, _changed)
    if not hashing.verify(counted.password_hash, body.password)[0]:
        attempts.failed(counted, before, ip=ip, action="mfa.remove_failed", reason="invalid_credentials")
        raise InvalidCode("The code is not correct.")
    proof = _prove(counted, body.code, ip=ip)
    if proof is None:
        attempts.failed(counted, before, ip=ip, action="mfa.remove_failed", reason="invalid_code")
        raise InvalidCode("The code is not correct.")
    cleared = {**repository.moved_on(counted), "mfa_enabled": False, **dict.fromkeys(repository.SECOND_FACTOR_FIELDS)}
    event = audit.Event("mfa.disabled", attempts.actor(counted), {"user_id": session.user_id}, ip)
    _commit(_spend(counted, proof, cleared), audit.records(event, counted.account_ids), lambda: replayed(counted, ip))
    notices.send(counted, "mfa_disabled")


def regenerate_recovery_codes(session: sessions.Session, body: MfaCodeRequest, *, ip: str) -> RecoveryCodes:
    credential = _credential(session)
    if not credential.mfa_enabled:
        raise NoPendingEnrollment("Two-factor authentication is not on.")
    counted, before = attempts.begin_known(credential, _changed)
    proof = _prove(counted, body.code, ip=ip)
    if proof is None or proof.kind != "totp":
        attempts.failed(counted, before, ip=ip, action="mfa.recovery_codes_failed", reason="invalid_code")
        raise InvalidCode("The code is not correct.")
    shown, hashes = _recovery_codes()
    event = audit.Event("mfa.recovery_codes_regenerated", attempts.actor(counted), {"user_id": session.user_id}, ip)
    _commit(
        _spend(counted, proof, {"recovery_hashes": hashes}),
        audit.records(event, counted.account_ids),
        lambda: replayed(counted, ip),
    )
    return RecoveryCodes(recovery_codes=shown)


def reauthenticate(session: sessions.Session, body: ReauthenticateRequest, *, ip: str) -> None:
    credential = _credential(session)
    counted, before = attempts.begin_known(credential, _changed)
    if not hashing.verify(counted.password_hash, body.password)[0]:
        attempts.failed(counted, before, ip=ip, action="reauthentication.failed", reason="invalid_credentials")
        raise InvalidCredentials("The password is not correct.")
    proof = None
    if counted.mfa_enabled:
        proof = _prove(counted, body.code or "", ip=ip) if body.code else None
        if proof is None:
            attempts.failed(counted, before, ip=ip, action="reauthentication.failed", reason="invalid_code")
            raise InvalidCode("The code is not correct.")
    ops = _spend(counted, proof) if proof else repository.success_ops(counted)
    ops.append(sessions.reauthenticated_op(session, mfa=proof is not None))
    if not repository.write(ops):
        raise replayed(counted, ip)
