"""The password lifecycle: setting one (with history and expiry), changing it, forgetting it.

* History: the credential keeps the Argon2 hashes of the last ``history`` passwords; a new
  password that verifies against one of them (or the current one) is ``reused``.
* Expiry: with ``max_age_days`` > 0 a password expires that many days after it was set. The
  credential is then indexed under the expiry day (``gsi1pk = PWEXP#<day>``) so the daily job
  reads only the users due (see :mod:`portico.jobs.password_expiry`).
* Recovery: by email (a link, 30 min, single use) or by SMS to a verified phone (a 6-digit code,
  10 min, 5 attempts). ``forgot`` always answers the same, whether or not the email exists. A
  reset revokes every session and never skips the second factor: it opens no session.
* Only the newest link or code works, and only while the credential is in the state it was sent
  for: the credential names its current link (``reset_link_hash``) and code, and every password
  change, reset or second-factor change moves its state on and removes both
  (:func:`portico.auth.repository.moved_on`).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from portico import audit, clock, ids, keys, ratelimit
from portico.auth import attempts, captcha, hashing, notices, repository, sessions
from portico.auth.credentials import Credential
from portico.auth.models import ChangePasswordRequest, ForgotPasswordRequest, ResetPasswordRequest
from portico.config import settings
from portico.errors import InvalidToken, PorticoError, ValidationFailed, WeakPassword, define
from portico.keys import Write
from portico.notify import email, sms
from portico.observability import logger, metrics
from portico.security.policy import require_strong
from portico.security.settings import Effective
from portico.tokens import links

RESET_LINK_VALIDITY = timedelta(minutes=30)
RESET_CODE_VALIDITY = timedelta(minutes=10)
RESET_CODE_ATTEMPTS = 5
CHANGES_PER_HOUR = 10

InvalidCredentials = attempts.InvalidCredentials
InvalidCode = define("InvalidCode", 401, "invalid_code", "Invalid Code")
_LINK_GONE = "This link is invalid, used or expired. Request a new one."


# ----------------------------------------------------------------- setting a password


def expiry_fields(changed: datetime, security: Effective, user_id: str) -> dict[str, Any]:
    """Expiry time and its index entry (None values are removed from the item)."""
    days = security.password_policy.max_age_days
    if days <= 0:
        return {"password_expires_at": None, "gsi1pk": None, "gsi1sk": None}
    expires = changed + timedelta(days=days)
    return {"password_expires_at": int(expires.timestamp()), **keys.expiry_index(expires.date().isoformat(), user_id)}


def _password_fields(password_hash: str, now: datetime, security: Effective, user_id: str) -> dict[str, Any]:
    return {
        "password_hash": password_hash,
        "password_changed_at": clock.iso(now),
        "password_changed_epoch": int(now.timestamp()),
        "password_status": "ok",
        "reminders_sent": [],
        **expiry_fields(now, security, user_id),
    }


def new_login(
    *,
    user_id: str,
    email_address: str,
    name: str,
    language: str,
    account_id: str,
    security: Effective,
    password: str,
    verified_at: str | None,
    verify_token_hash: str | None = None,
) -> tuple[Credential, Write]:
    """The credential of a new login of one account (sign-up, an accepted invitation) and the write
    that creates it; ``verified_at`` when the address is already proven (an invitation link). The
    caller has checked the password against the policy."""
    now = clock.now()
    fields = _password_fields(hashing.hash_password(password), now, security, user_id)
    index = {k: fields.pop(k) for k in ("gsi1pk", "gsi1sk") if fields.get(k)}
    credential = Credential(
        user_id=user_id,
        email=email_address,
        name=name,
        language=language,
        account_ids=(account_id,),
        security=security,
        auth_version=0,
        email_verified=verified_at is not None,
        email_verified_at=verified_at,
        verify_token_hash=verify_token_hash,
    ).with_fields({k: v for k, v in fields.items() if v is not None})
    return credential, repository.create_op(credential, index)


def change_reason(credential: Credential, now: float) -> str | None:
    """Why the user must set a new password before going on, if they must."""
    if credential.password_status in ("expired", "admin_reset", "compromised"):
        return credential.password_status
    if credential.password_expires_at is not None and now >= credential.password_expires_at:
        return "expired"
    return None


def force_change_op(credential: Credential, reason: str) -> Write:
    """Make the next login ask for a new password with ``reason`` (``compromised``, ``admin_reset``):
    the credential moves to a new state, so every challenge, reset link and code issued before ends
    with it. The password itself is neither seen nor set."""
    state, values = repository.same_state(credential)
    return repository.update_op(
        credential.email,
        {**repository.moved_on(credential), "password_status": reason},
        condition=f"user_id = :u AND {state}",
        values={":u": credential.user_id, **values},
    )


def require_acceptable(credential: Credential, new_password: str) -> None:
    """``422 weak_password`` unless ``new_password`` passes the login's effective policy and is
    none of its last passwords (``reused``)."""
    policy = credential.security.password_policy
    require_strong(new_password, policy, personal=(credential.name, credential.email))
    remembered = [credential.password_hash, *credential.password_history][: policy.history + 1]
    if policy.history and any(hashing.verify(old, new_password)[0] for old in remembered):
        raise WeakPassword(["reused"])


def replacement_fields(credential: Credential, new_password: str) -> dict[str, Any]:
    """The credential fields that set ``new_password``: a new state, the history rotated."""
    policy = credential.security.password_policy
    history = [credential.password_hash, *credential.password_history][: max(policy.history, 0)]
    return {
        **repository.moved_on(credential),
        **_password_fields(hashing.hash_password(new_password), clock.now(), credential.security, credential.user_id),
        "password_history": history,
    }


def replace_op(
    credential: Credential, fields: dict[str, Any], *, also: str = "", values: dict[str, Any] | None = None
) -> Write:
    """Write ``fields`` if the password and state are still the ones read (and ``also`` holds)."""
    state, state_values = repository.same_state(credential)
    return repository.update_op(
        credential.email,
        fields,
        condition=f"password_hash = :seen AND {state}" + (f" AND {also}" if also else ""),
        values={":seen": credential.password_hash, **state_values, **(values or {})},
    )


def commit(
    credential: Credential, ops: list[Write], records: audit.Records, *, keep: str | None, conflict: PorticoError
) -> None:
    """Write a new password and end the user's other sessions.

    Sessions are ended before the write (if that fails, the answer is 503 and the password is
    unchanged: the safe side) and again after it, for a session opened in between; a failure of
    that second sweep is logged, not answered, because the new password is already in force.
    """
    sessions.revoke_all(credential.user_id, except_hash=keep)
    if not repository.write([*ops, *records.ops]):
        raise conflict
    audit.fan_out(records)
    try:
        sessions.revoke_all(credential.user_id, except_hash=keep)
    except Exception:
        logger.exception("second session sweep failed", extra={"user_id": credential.user_id})


# ----------------------------------------------------------------- change (logged in)


def change(session: sessions.Session, body: ChangePasswordRequest, *, ip: str) -> None:
    ratelimit.quota("password-change", session.user_id, CHANGES_PER_HOUR, 3600)
    credential = repository.get_credential(session.email)
    if credential is None or not hashing.verify(credential.password_hash, body.current_password)[0]:
        raise InvalidCredentials("The current password is not correct.")
    require_acceptable(credential, body.new_password)
    event = audit.Event("password.changed", attempts.actor(credential), {"user_id": session.user_id}, ip)
    commit(
        credential,
        [replace_op(credential, replacement_fields(credential, body.new_password))],
        audit.records(event, credential.account_ids),
        keep=session.token_hash,
        conflict=InvalidCredentials("The password was changed meanwhile; log in again."),
    )
    notices.send(credential, "password_changed")
    metrics.add_metric(name="PasswordChanges", unit="Count", value=1)


# ----------------------------------------------------------------- forgot / reset


def forgot(body: ForgotPasswordRequest, *, ip: str) -> None:
    captcha.require(body.captcha_token, ip)
    subject = f"{body.channel}:{keys.normalise_email(body.email)}"
    ratelimit.cooldown("password-forgot", subject, 60)
    ratelimit.quota("password-forgot", subject, 5, 3600)
    with ratelimit.released_on_failure("password-forgot", subject):
        credential = repository.get_credential(body.email)
        if credential is None:
            return
        if body.channel == "email":
            _send_reset_link(credential)
        else:
            _send_reset_code(credential)


def _send_reset_link(credential: Credential) -> None:
    """Store a new link and make it the credential's only one (the previous link stops working),
    then email it; without the email, the previous link is put back."""
    secret, link = links.new(
        links.RESET_PASSWORD,
        user_id=credential.user_id,
        email=credential.email,
        valid_for=RESET_LINK_VALIDITY,
        auth_version=credential.state,
    )
    state, state_values = repository.same_state(credential)
    current = repository.update_op(
        credential.email,
        {"reset_link_hash": link.token_hash},
        condition=f"user_id = :u AND {state}",
        values={":u": credential.user_id, **state_values},
        versioned=False,
    )
    if not repository.write([links.put_op(link), current]):
        # the password or second factor changed this very moment: the answer is the same 202,
        # and the person asks again
        logger.info("reset link not issued: the credential changed meanwhile", extra={"user_id": credential.user_id})
        return
    try:
        email.send(
            credential.email,
            "reset_password",
            credential.language,
            {"name": credential.name},
            links={"link": settings().link("reset-password", secret)},
        )
    except Exception:
        # no valid link without its email; the previous one (if any) works again
        restore = repository.update_op(
            credential.email,
            {"reset_link_hash": credential.reset_link_hash},
            condition="reset_link_hash = :h",
            values={":h": link.token_hash},
            versioned=False,
        )
        repository.write([links.delete_op(link.token_hash), restore])
        raise


def _code_hash(email_address: str, code: str, salt: str) -> str:
    return ids.digest(f"{salt}:{keys.normalise_email(email_address)}:{code}")


def _send_reset_code(credential: Credential) -> None:
    if not credential.phone or not credential.phone_verified:
        return  # no verified phone: nothing is sent, and the answer is the same
    code, salt = ids.new_code(), ids.new_token()
    now = int(clock.timestamp())
    still_valid = (credential.reset_code_expires or 0) > now
    fields = {
        "reset_code_hash": _code_hash(credential.email, code, salt),
        "reset_code_salt": salt,
        "reset_code_expires": now + int(RESET_CODE_VALIDITY.total_seconds()),
        # a new code does not reset the failed attempts of one still valid
        "reset_code_attempts": (credential.reset_code_attempts or 0) if still_valid else 0,
    }
    previous = {k: getattr(credential, k) for k in fields}
    state, state_values = repository.same_state(credential)
    if not repository.write([repository.update_op(credential.email, fields, condition=state, values=state_values)]):
        return  # the password or second factor changed this very moment: the same 202, and they ask again
    try:
        sms.send(credential.phone, f"Portico: your password reset code is {code}. It is valid for 10 minutes.")
    except Exception:
        # The earlier code (if any) stands again -- unless the state moved on meanwhile, which
        # ended every code: then nothing is put back.
        restore = repository.update_op(
            credential.email,
            previous,
            condition=f"reset_code_hash = :sent AND {state}",
            values={":sent": fields["reset_code_hash"], **state_values},
        )
        repository.write([restore])
        raise


def reset(body: ResetPasswordRequest, *, ip: str) -> None:
    if body.token is not None and body.email is None and body.code is None:
        _reset_by_link(body.token, body.new_password, ip)
    elif body.token is None and body.email is not None and body.code is not None:
        _reset_by_code(body.email, body.code, body.new_password, ip)
    else:
        raise ValidationFailed(
            [{"loc": ["body"], "msg": "send either token, or email and code", "type": "value_error"}]
        )


def _finish_reset(
    credential: Credential, new_password: str, ip: str, ops: list[Write], channel: str, used: tuple[str, dict[str, Any]]
) -> None:
    """Set the new password, consuming the link or code (``used``: its condition) in the same
    transaction."""
    require_acceptable(credential, new_password)
    fields = {
        **replacement_fields(credential, new_password),  # ends the link or code used, and every other one
        # A reset proves control of the email or phone: unlock the login too.
        "failed_count": 0,
        "last_failure_ms": 0,
    }
    event = audit.Event(
        "password.reset", attempts.actor(credential), {"user_id": credential.user_id}, ip, {"channel": channel}
    )
    conflict: PorticoError = (
        InvalidCode("The code is invalid or expired.") if channel == "sms" else InvalidToken(_LINK_GONE)
    )
    commit(
        credential,
        [*ops, replace_op(credential, fields, also=used[0], values=used[1])],
        audit.records(event, credential.account_ids),
        keep=None,
        conflict=conflict,
    )
    notices.send(credential, "password_changed")
    metrics.add_metric(name="PasswordResets", unit="Count", value=1)


def _reset_by_link(secret: str, new_password: str, ip: str) -> None:
    link = links.find(secret, links.RESET_PASSWORD)
    credential = repository.get_credential(link.email) if link else None
    if (
        link is None
        or credential is None
        or credential.user_id != link.user_id
        or credential.reset_link_hash != link.token_hash
        or credential.state != link.auth_version
    ):
        raise InvalidToken(_LINK_GONE)
    used = ("reset_link_hash = :link", {":link": link.token_hash})
    _finish_reset(credential, new_password, ip, [links.use_op(link)], "email", used)


def _reset_by_code(email_address: str, code: str, new_password: str, ip: str) -> None:
    credential = repository.get_credential(email_address)
    if credential is None or not credential.reset_code_hash or not credential.reset_code_salt:
        raise InvalidCode("The code is invalid or expired. Request a new one.")
    # Spend one of the code's attempts before comparing, atomically: parallel guesses get at most
    # RESET_CODE_ATTEMPTS comparisons between them, never one each.
    spend = repository.update_op(
        credential.email,
        {},
        add={"reset_code_attempts": 1},
        condition="reset_code_hash = :h AND reset_code_attempts < :max AND reset_code_expires > :now",
        values={":h": credential.reset_code_hash, ":max": RESET_CODE_ATTEMPTS, ":now": int(clock.timestamp())},
        versioned=False,
    )
    if not repository.write([spend]):
        raise InvalidCode("The code is invalid or expired. Request a new one.")
    expected = _code_hash(credential.email, code.strip(), credential.reset_code_salt)
    if not hmac.compare_digest(expected, credential.reset_code_hash):
        raise InvalidCode("The code is invalid or expired.")
    _finish_reset(credential, new_password, ip, [], "sms", ("reset_code_hash = :code", {":code": expected}))
