"""The second factor: TOTP enrollment and checks, recovery codes, reauthentication (contract
sections 3 and 5).

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

Wrong codes count in the login lockout exactly as wrong passwords do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from portico import audit, clock, ids, keys, secrets_at_rest, store
from portico.auth import hashing, lockout, login, repository, sessions, totp
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
from portico.auth.passwords import InvalidCode, InvalidCredentials, notify
from portico.errors import define
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


def _enrollment(credential: dict[str, Any], started_by: str) -> tuple[Enrollment, dict[str, Any]]:
    secret = totp.new_secret()
    uri = totp.otpauth_uri(secret, str(credential["email"]))
    sealed = secrets_at_rest.seal(secret, user_id=str(credential["user_id"]))
    fields = {
        "totp_pending_sealed": sealed,
        "totp_pending_expires": int(clock.timestamp()) + PENDING_SECONDS,
        "totp_pending_for": started_by,
    }
    return Enrollment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri)), fields


@dataclass(frozen=True)
class Proof:
    """A verified second factor and the conditional update that spends it."""

    kind: str  # "totp" or "recovery"
    fields: dict[str, Any]
    remove: tuple[str, ...]
    condition: str
    values: dict[str, Any]


def _prove(credential: dict[str, Any], code: str, *, ip: str, sealed_field: str = "totp_sealed") -> Proof | None:
    now = clock.timestamp()
    sealed = credential.get(sealed_field)
    if sealed:
        secret = secrets_at_rest.unseal(str(sealed), user_id=str(credential["user_id"]))
        step = totp.match_step(secret, code, now)
        if step is not None:
            if step <= int(credential.get("totp_last_step", -1)):
                raise replayed(credential, ip)
            return Proof(
                "totp",
                {"totp_last_step": step},
                (),
                "attribute_not_exists(totp_last_step) OR totp_last_step < :step",
                {":step": step},
            )
    if sealed_field == "totp_sealed":
        hashes = list(credential.get("recovery_hashes") or [])
        wanted = _recovery_hash(code)
        if wanted in hashes:
            index = hashes.index(wanted)
            return Proof(
                "recovery", {}, (f"recovery_hashes[{index}]",), f"recovery_hashes[{index}] = :rc", {":rc": wanted}
            )
    metrics.add_metric(name="MfaFailures", unit="Count", value=1)
    return None


def _failed(credential: dict[str, Any], before: lockout.State, ip: str, action: str) -> InvalidCode:
    now = clock.timestamp()
    failed = before.after_failure(now)
    events = [audit.Event(action, audit.actor_of(credential), None, ip, {"reason": "invalid_code"})]
    if failed.locked_for(now):
        events.append(
            audit.Event("login.locked", audit.actor_of(credential), None, ip, {"failures": failed.failed_count})
        )
    audit.record_all(events, audit.accounts_of(credential))
    return InvalidCode("The code is not correct.")


def _attempt(credential: dict[str, Any], ip: str) -> lockout.State:
    """Count a code attempt in the login lockout before checking it."""
    for _ in range(8):
        state = lockout.State.of(credential)
        wait = state.locked_for(clock.timestamp())
        if wait:
            raise login.too_many(wait)
        if repository.record_attempt(
            keys.credential(str(credential["email"])),
            int(credential["version"]),
            state.after_failure(clock.timestamp()).to_item(),
        ):
            return state
        login.backoff()
        credential.update(repository.get_credential(str(credential["email"])) or {})
    raise login.too_many(1)


def _activate(credential: dict[str, Any], code: str, ip: str) -> tuple[Proof, list[str], dict[str, Any]]:
    """Check a code against the pending secret (counted in the lockout); on success the proof, the
    new recovery codes to show once, and the fields that turn 2FA on."""
    before = _attempt(credential, ip)
    proof = _prove(credential, code, ip=ip, sealed_field="totp_pending_sealed")
    if proof is None:
        raise _failed(credential, before, ip, "mfa.enrollment_failed")
    shown, hashes = _recovery_codes()
    enabled = {
        **repository.moved_on(credential),
        "mfa_enabled": True,
        "totp_sealed": credential["totp_pending_sealed"],
        "recovery_hashes": hashes,
    }
    return proof, shown, enabled


def _spend(credential: dict[str, Any], proof: Proof, extra: dict[str, Any] | None = None) -> list[dict]:
    fields = {**proof.fields, **(extra or {})}
    return repository.success_ops(
        credential,
        fields,
        # a recovery code spent while its list is replaced or removed as a whole goes with it
        remove=tuple(path for path in proof.remove if path.split("[")[0] not in fields),
        condition=proof.condition,
        values=proof.values,
    )


def replayed(credential: dict[str, Any], ip: str | None = None) -> CodeAlreadyUsed:
    """A code used a second time: counted, audited, refused."""
    metrics.add_metric(name="TotpReplays", unit="Count", value=1)
    audit.record_all(
        [audit.Event("mfa.replay_refused", audit.actor_of(credential), None, ip)], audit.accounts_of(credential)
    )
    return CodeAlreadyUsed("This code was already used; wait for the next one.")


# ----------------------------------------------------------------- at login


def second_factor(body: MfaStepRequest, *, ip: str, user_agent: str) -> LoginStep:
    _, credential, consume = login.take_challenge(body.challenge, "mfa")
    before = _attempt(credential, ip)
    proof = _prove(credential, body.code, ip=ip)
    if proof is None:
        raise _failed(credential, before, ip, "login.failed")
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


def _pending_for_challenge(secret: str) -> str:
    return "challenge:" + ids.digest(secret)


def _pending_for_session(session: sessions.Session) -> str:
    return "session:" + session.session_id


def enrollment_at_login(body: MfaEnrollmentRequest) -> Enrollment:
    """Start enrolling at login: only a login without a second factor, in the state the challenge
    was issued for (a second challenge cannot replace a factor the first one enrolled)."""
    _, credential, _ = login.take_challenge(body.challenge, "mfa_enrollment")
    enrollment, fields = _enrollment(credential, _pending_for_challenge(body.challenge))
    state, values = repository.same_state(credential)
    try:
        store.transact(
            [
                repository.update_op(
                    str(credential["email"]),
                    fields,
                    condition=f"{state} AND (attribute_not_exists(mfa_enabled) OR mfa_enabled = :false)",
                    values={**values, ":false": False},
                )
            ]
        )
    except store.TransactionFailed:
        raise login.InvalidChallenge("The challenge is invalid or expired; log in again.") from None
    return enrollment


def confirm_at_login(body: MfaStepRequest, *, ip: str, user_agent: str) -> LoginStep:
    _, credential, consume = login.take_challenge(body.challenge, "mfa_enrollment")
    pending = int(credential.get("totp_pending_expires", 0)) > clock.timestamp() and credential.get(
        "totp_pending_for"
    ) == _pending_for_challenge(body.challenge)
    if not pending:
        raise login.InvalidChallenge("Start the enrollment again: the setup has expired or was replaced.")
    proof, shown, enabled = _activate(credential, body.code, ip)
    event = audit.Event(
        "mfa.enabled", audit.actor_of(credential), {"user_id": credential["user_id"]}, ip, {"at_login": True}
    )
    try:
        step = login.finish(
            credential,
            [consume, *_spend(credential, proof, enabled), *audit.put_ops(event, audit.accounts_of(credential))],
            ip=ip,
            user_agent=user_agent,
            mfa=True,
            details={"second_factor": "enrollment"},
        )
    except InvalidCredentials:
        raise login.InvalidChallenge("The challenge is invalid or expired; log in again.") from None
    notify(credential, "mfa_enabled", {})
    return step.model_copy(update={"recovery_codes": shown})


# ----------------------------------------------------------------- logged in


def _fresh(session: sessions.Session) -> None:
    if not session.recently_authenticated:
        raise ReauthenticationRequired("Confirm your password (and code) first: POST /auth/reauthenticate.")


def _credential(session: sessions.Session) -> dict[str, Any]:
    credential = repository.get_credential(session.email)
    if credential is None or credential["user_id"] != session.user_id:
        raise InvalidCredentials("This login no longer exists.")
    return credential


def start(session: sessions.Session) -> Enrollment:
    _fresh(session)
    credential = _credential(session)
    if credential.get("mfa_enabled"):
        raise MfaAlreadyEnabled("Two-factor authentication is already on; remove it first to set it up again.")
    enrollment, fields = _enrollment(credential, _pending_for_session(session))
    try:
        store.transact(
            [
                repository.update_op(
                    session.email,
                    fields,
                    condition="attribute_not_exists(mfa_enabled) OR mfa_enabled = :false",
                    values={":false": False},
                )
            ]
        )
    except store.TransactionFailed:
        raise MfaAlreadyEnabled("Two-factor authentication is already on.") from None
    return enrollment


def confirm(session: sessions.Session, body: MfaCodeRequest, *, ip: str) -> RecoveryCodes:
    credential = _credential(session)
    if (
        not credential.get("totp_pending_sealed")
        or int(credential.get("totp_pending_expires", 0)) <= clock.timestamp()
        or credential.get("totp_pending_for") != _pending_for_session(session)
    ):
        raise NoPendingEnrollment("Start the setup first: POST /me/mfa/totp.")
    proof, shown, enabled = _activate(credential, body.code, ip)
    event = audit.Event("mfa.enabled", audit.actor_of(credential), {"user_id": session.user_id}, ip)
    ops = [*_spend(credential, proof, enabled), *audit.put_ops(event, audit.accounts_of(credential))]
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise NoPendingEnrollment("The setup changed meanwhile; start it again.") from None
    audit.fan_out(ops)
    notify(credential, "mfa_enabled", {})
    return RecoveryCodes(recovery_codes=shown)


def remove(session: sessions.Session, body: RemoveTotpRequest, *, ip: str) -> None:
    _fresh(session)
    credential = _credential(session)
    if login.effective(credential).enforce_mfa:
        raise MfaEnforced("An account you belong to requires two-factor authentication.")
    if not credential.get("mfa_enabled"):
        raise NoPendingEnrollment("Two-factor authentication is not on.")
    before = _attempt(credential, ip)
    if not hashing.verify(str(credential["password_hash"]), body.password)[0]:
        raise _failed(credential, before, ip, "mfa.remove_failed")
    proof = _prove(credential, body.code, ip=ip)
    if proof is None:
        raise _failed(credential, before, ip, "mfa.remove_failed")
    cleared = {
        **repository.moved_on(credential),
        "mfa_enabled": False,
        **dict.fromkeys(repository.SECOND_FACTOR_FIELDS),
    }
    event = audit.Event("mfa.disabled", audit.actor_of(credential), {"user_id": session.user_id}, ip)
    ops = [*_spend(credential, proof, cleared), *audit.put_ops(event, audit.accounts_of(credential))]
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise replayed(credential, ip) from None
    audit.fan_out(ops)
    notify(credential, "mfa_disabled", {})


def regenerate_recovery_codes(session: sessions.Session, body: MfaCodeRequest, *, ip: str) -> RecoveryCodes:
    credential = _credential(session)
    if not credential.get("mfa_enabled"):
        raise NoPendingEnrollment("Two-factor authentication is not on.")
    before = _attempt(credential, ip)
    proof = _prove(credential, body.code, ip=ip)
    if proof is None or proof.kind != "totp":
        raise _failed(credential, before, ip, "mfa.recovery_codes_failed")
    shown, hashes = _recovery_codes()
    event = audit.Event("mfa.recovery_codes_regenerated", audit.actor_of(credential), {"user_id": session.user_id}, ip)
    ops = [
        *_spend(credential, proof, {"recovery_hashes": hashes}),
        *audit.put_ops(event, audit.accounts_of(credential)),
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise replayed(credential, ip) from None
    audit.fan_out(ops)
    return RecoveryCodes(recovery_codes=shown)


def reauthenticate(session: sessions.Session, body: ReauthenticateRequest, *, ip: str) -> None:
    credential = _credential(session)
    before = _attempt(credential, ip)
    if not hashing.verify(str(credential["password_hash"]), body.password)[0]:
        audit.record_all(
            [audit.Event("reauthentication.failed", audit.actor_of(credential), None, ip)],
            audit.accounts_of(credential),
        )
        raise InvalidCredentials("The password is not correct.")
    proof = None
    if credential.get("mfa_enabled"):
        proof = _prove(credential, body.code or "", ip=ip) if body.code else None
        if proof is None:
            raise _failed(credential, before, ip, "reauthentication.failed")
    ops = _spend(credential, proof) if proof else repository.success_ops(credential)
    ops.append(repository.reauthenticated_op(session.token_hash, int(clock.timestamp()), mfa=proof is not None))
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise replayed(credential, ip) from None
