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
from typing import TYPE_CHECKING, Any

from portico import audit, clock, ids, keys, ratelimit, store
from portico.accounts.security import Effective
from portico.auth import captcha, hashing, repository, sessions
from portico.auth.policy import check_password
from portico.config import settings
from portico.errors import InvalidToken, PorticoError, ValidationFailed, WeakPassword, define
from portico.notify import email, sms
from portico.observability import logger, metrics

if TYPE_CHECKING:  # request bodies; the accounts and jobs functions import this module without them
    from portico.auth.models import ChangePasswordRequest, ForgotPasswordRequest, ResetPasswordRequest

RESET_LINK_VALIDITY = timedelta(minutes=30)
RESET_CODE_VALIDITY = timedelta(minutes=10)
RESET_CODE_ATTEMPTS = 5
RESET_PASSWORD = "reset_password"  # noqa: S105 (a token kind, not a secret)


InvalidCredentials = define("InvalidCredentials", 401, "invalid_credentials", "Invalid Credentials")


InvalidCode = define("InvalidCode", 401, "invalid_code", "Invalid Code")


def expiry_of(changed: datetime, security: Effective) -> datetime | None:
    days = security.password_policy.max_age_days
    return changed + timedelta(days=days) if days > 0 else None


def expiry_fields(changed: datetime, security: Effective, user_id: str) -> dict[str, Any]:
    """Expiry time and its index entry (None values are removed from the item)."""
    expires = expiry_of(changed, security)
    if expires is None:
        return {"password_expires_at": None, "gsi1pk": None, "gsi1sk": None}
    index = keys.expiry_index(expires.date().isoformat(), user_id)
    return {"password_expires_at": int(expires.timestamp()), **index}


def new_password_fields(
    password_hash: str, now: datetime, security: Effective, user_id: str, history: list[str] | None = None
) -> dict[str, Any]:
    fields = {
        "password_hash": password_hash,
        "password_changed_at": clock.iso(now),
        "password_changed_epoch": int(now.timestamp()),
        "password_status": "ok",
        "reminders_sent": [],
        "password_history": history or [],
        **expiry_fields(now, security, user_id),
    }
    return fields if history is not None else {k: v for k, v in fields.items() if v is not None}


def new_credential(
    *,
    user_id: str,
    email: str,
    name: str,
    language: str,
    account_id: str,
    security: Effective,
    password: str,
    now: datetime,
    **verification: Any,
) -> dict[str, Any]:
    """The login credential of a new user of one account (sign-up, an accepted invitation);
    ``verification`` says how far the email is proven."""
    return {
        "user_id": user_id,
        "email": email,
        "name": name,
        "language": language,
        **verification,
        "account_ids": [account_id],
        "security": security.to_item(),
        "failed_count": 0,
        "version": 0,
        **new_password_fields(hashing.hash_password(password), now, security, user_id),
    }


def change_reason(credential: dict[str, Any], now: float) -> str | None:
    """Why the user must set a new password before going on, if they must."""
    status = credential.get("password_status", "ok")
    if status in ("expired", "admin_reset", "compromised"):
        return str(status)
    expires = credential.get("password_expires_at")
    if expires is not None and now >= int(expires):
        return "expired"
    return None


def _security(credential: dict[str, Any]) -> Effective:
    return Effective.from_item(credential.get("security"))


def vet_new_password(credential: dict[str, Any], new_password: str) -> list[str]:
    """The policy's reasons, plus ``reused`` when it matches the current or a remembered password."""
    policy = _security(credential).password_policy
    reasons = check_password(new_password, policy, personal=(str(credential.get("name", "")), credential["email"]))
    if reasons:
        return reasons
    remembered = [credential["password_hash"], *list(credential.get("password_history") or [])][: policy.history + 1]
    if policy.history and any(hashing.verify(old, new_password)[0] for old in remembered):
        return ["reused"]
    return []


def replacement_fields(credential: dict[str, Any], new_password: str, now: datetime) -> dict[str, Any]:
    """The credential fields that set ``new_password``, rotating the history."""
    policy = _security(credential).password_policy
    history = [credential["password_hash"], *list(credential.get("password_history") or [])][: max(policy.history, 0)]
    return new_password_fields(
        hashing.hash_password(new_password), now, _security(credential), str(credential["user_id"]), history=history
    )


# ----------------------------------------------------------------- change (logged in)


def change(session: sessions.Session, body: ChangePasswordRequest, *, ip: str) -> None:
    ratelimit.quota("password-change", session.user_id, 10, 3600)
    credential = store.get(keys.credential(session.email), consistent=True)
    if credential is None or not hashing.verify(credential["password_hash"], body.current_password)[0]:
        raise InvalidCredentials("The current password is not correct.")
    reasons = vet_new_password(credential, body.new_password)
    if reasons:
        raise WeakPassword(reasons)
    fields = {**repository.moved_on(credential), **replacement_fields(credential, body.new_password, clock.now())}
    event = audit.Event("password.changed", audit.actor_of(credential), {"user_id": session.user_id}, ip)
    state, state_values = repository.same_state(credential)
    _commit_password(
        credential,
        [
            repository.update_op(
                session.email,
                fields,
                condition=f"password_hash = :seen AND {state}",
                values={":seen": credential["password_hash"], **state_values},
            ),
            *audit.put_ops(event, audit.accounts_of(credential)),
        ],
        keep=session.token_hash,
        conflict=InvalidCredentials("The password was changed meanwhile; log in again."),
    )
    notify(credential, "password_changed", {})
    metrics.add_metric(name="PasswordChanges", unit="Count", value=1)


def _commit_password(credential: dict[str, Any], ops: list[dict], *, keep: str | None, conflict: PorticoError) -> None:
    """Write a new password and end the user's other sessions.

    Sessions are ended before the write (if that fails, the answer is 503 and the password is
    unchanged: the safe side) and again after it, for a session opened in between; a failure of
    that second sweep is logged, not answered, because the new password is already in force.
    """
    user_id = str(credential["user_id"])
    sessions.revoke_all(user_id, except_hash=keep)
    try:
        store.transact(ops)
    except store.TransactionFailed:
        raise conflict from None
    audit.fan_out(ops)
    try:
        sessions.revoke_all(user_id, except_hash=keep)
    except Exception:
        logger.exception("second session sweep failed", extra={"user_id": user_id})


def notify(credential: dict[str, Any], template: str, values: dict[str, str]) -> None:
    """A security notice after a committed change. The change stands if the notice cannot be
    sent (the user did succeed); the failure is logged and counted for an operator."""
    try:
        email.send(
            str(credential["email"]),
            template,
            str(credential.get("language", "en")),
            {"name": str(credential.get("name", "")), **values},
        )
    except Exception:
        logger.exception("security notice not sent", extra={"template": template, "user_id": credential["user_id"]})
        metrics.add_metric(name="NoticeFailures", unit="Count", value=1)


# ----------------------------------------------------------------- forgot / reset


def forgot(body: ForgotPasswordRequest, *, ip: str) -> None:
    captcha.require(body.captcha_token, ip)
    subject = f"{body.channel}:{keys.normalise_email(body.email)}"
    ratelimit.cooldown("password-forgot", subject, 60)
    ratelimit.quota("password-forgot", subject, 5, 3600)
    with ratelimit.released_on_failure("password-forgot", subject):
        credential = store.get(keys.credential(body.email), consistent=True)
        if credential is None:
            return
        if body.channel == "email":
            _send_reset_link(credential)
        else:
            _send_reset_code(credential)


def _send_reset_link(credential: dict[str, Any]) -> None:
    """Store a new link and make it the credential's only one (the previous link stops working),
    then email it; without the email, the previous link is put back."""
    secret = ids.new_token()
    now = clock.now()
    expires = now + RESET_LINK_VALIDITY
    token_hash = ids.digest(secret)
    token_key = keys.token(token_hash)
    previous = credential.get("reset_link_hash")
    state, state_values = repository.same_state(credential)
    try:
        store.transact(
            [
                store.put_op(
                    {
                        **token_key,
                        "kind": RESET_PASSWORD,
                        "user_id": credential["user_id"],
                        "email": credential["email"],
                        "auth_version": repository.auth_version(credential),
                        "created_at": clock.iso(now),
                        "expires_at": int(expires.timestamp()),
                        "ttl": int(expires.timestamp()) + 86400,
                    },
                    condition="attribute_not_exists(pk)",
                ),
                repository.update_op(
                    str(credential["email"]),
                    {"reset_link_hash": token_hash},
                    condition=f"user_id = :u AND {state}",
                    values={":u": credential["user_id"], **state_values},
                    versioned=False,
                ),
            ]
        )
    except store.TransactionFailed:
        # the password or second factor changed this very moment: the answer is the same 202,
        # and the person asks again
        logger.info("reset link not issued: the credential changed meanwhile", extra={"user_id": credential["user_id"]})
        return
    try:
        email.send(
            str(credential["email"]),
            "reset_password",
            str(credential.get("language", "en")),
            {"name": str(credential.get("name", ""))},
            links={"link": settings().link("reset-password", secret)},
        )
    except Exception:
        # no valid link without its email; the previous one (if any) works again
        store.transact(
            [
                store.delete_op(token_key),
                repository.update_op(
                    str(credential["email"]),
                    {"reset_link_hash": previous},
                    condition="reset_link_hash = :h",
                    values={":h": token_hash},
                    versioned=False,
                ),
            ]
        )
        raise


def _code_hash(email_address: str, code: str, salt: str) -> str:
    return ids.digest(f"{salt}:{keys.normalise_email(email_address)}:{code}")


def _send_reset_code(credential: dict[str, Any]) -> None:
    phone = credential.get("phone")
    if not phone or not credential.get("phone_verified"):
        return  # no verified phone: nothing is sent, and the answer is the same
    code, salt = ids.new_code(), ids.new_token()
    expires = clock.now() + RESET_CODE_VALIDITY
    previous = {
        k: credential.get(k)
        for k in ("reset_code_hash", "reset_code_salt", "reset_code_expires", "reset_code_attempts")
    }
    store.transact(
        [
            repository.update_op(
                str(credential["email"]),
                {
                    "reset_code_hash": _code_hash(str(credential["email"]), code, salt),
                    "reset_code_salt": salt,
                    "reset_code_expires": int(expires.timestamp()),
                    # a new code does not reset the failed attempts of one still valid
                    "reset_code_attempts": int(credential.get("reset_code_attempts", 0))
                    if int(credential.get("reset_code_expires", 0)) > int(clock.timestamp())
                    else 0,
                },
            )
        ]
    )
    try:
        sms.send(str(phone), f"Portico: your password reset code is {code}. It is valid for 10 minutes.")
    except Exception:
        # the earlier code (if any) stands
        store.transact([repository.update_op(str(credential["email"]), previous)])
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
    credential: dict[str, Any],
    new_password: str,
    ip: str,
    extra_ops: list[dict],
    channel: str,
    *,
    code_hash: str | None = None,
    link_hash: str | None = None,
) -> None:
    """Set the new password, consuming the link or code in the same transaction."""
    reasons = vet_new_password(credential, new_password)
    if reasons:
        raise WeakPassword(reasons)
    fields = {
        **repository.moved_on(credential),  # ends the link or code used, and every other one
        **replacement_fields(credential, new_password, clock.now()),
        # A reset proves control of the email or phone: unlock the login too.
        "failed_count": 0,
        "last_failure_ms": 0,
    }
    event = audit.Event(
        "password.reset", audit.actor_of(credential), {"user_id": credential["user_id"]}, ip, {"channel": channel}
    )
    conflict = (
        InvalidCode("The code is invalid or expired.")
        if channel == "sms"
        else InvalidToken("This link is invalid, used or expired. Request a new one.")
    )
    state, state_values = repository.same_state(credential)
    used = {":code": code_hash} if code_hash else {":link": link_hash} if link_hash else {}
    _commit_password(
        credential,
        [
            *extra_ops,
            repository.update_op(
                str(credential["email"]),
                fields,
                # the link or code used must still be the current one: single use, newest only
                condition=f"password_hash = :seen AND {state}"
                + (
                    " AND reset_code_hash = :code" if code_hash else " AND reset_link_hash = :link" if link_hash else ""
                ),
                values={":seen": credential["password_hash"], **state_values, **used},
            ),
            *audit.put_ops(event, audit.accounts_of(credential)),
        ],
        keep=None,
        conflict=conflict,
    )
    notify(credential, "password_changed", {})
    metrics.add_metric(name="PasswordResets", unit="Count", value=1)


def _reset_by_link(secret: str, new_password: str, ip: str) -> None:
    token_hash = ids.digest(secret)
    token = store.get(keys.token(token_hash), consistent=True)
    now = int(clock.timestamp())
    if token is None or token.get("kind") != RESET_PASSWORD or "used_at" in token or int(token["expires_at"]) <= now:
        raise InvalidToken("This link is invalid, used or expired. Request a new one.")
    credential = store.get(keys.credential(str(token["email"])), consistent=True)
    if (
        credential is None
        or credential["user_id"] != token["user_id"]
        or credential.get("reset_link_hash") != token_hash
        or repository.auth_version(credential) != int(token.get("auth_version", -1))
    ):
        raise InvalidToken("This link is invalid, used or expired. Request a new one.")
    consume = store.update_op(
        keys.token(token_hash),
        "SET used_at = :now",
        condition="attribute_not_exists(used_at) AND expires_at > :now",
        values={":now": now},
    )
    _finish_reset(credential, new_password, ip, [consume], "email", link_hash=token_hash)


def _reset_by_code(email_address: str, code: str, new_password: str, ip: str) -> None:
    credential = store.get(keys.credential(email_address), consistent=True)
    now = int(clock.timestamp())
    if credential is None or not credential.get("reset_code_hash"):
        raise InvalidCode("The code is invalid or expired. Request a new one.")
    # Spend one of the code's attempts before comparing, atomically: parallel guesses get at most
    # RESET_CODE_ATTEMPTS comparisons between them, never one each.
    try:
        store.update(
            keys.credential(email_address),
            "SET reset_code_attempts = reset_code_attempts + :one",
            condition="reset_code_hash = :h AND reset_code_attempts < :max AND reset_code_expires > :now",
            values={":one": 1, ":h": credential["reset_code_hash"], ":max": RESET_CODE_ATTEMPTS, ":now": now},
        )
    except store.ConditionFailed:
        raise InvalidCode("The code is invalid or expired. Request a new one.") from None
    expected = _code_hash(email_address, code.strip(), str(credential["reset_code_salt"]))
    if not hmac.compare_digest(expected, str(credential["reset_code_hash"])):
        raise InvalidCode("The code is invalid or expired.")
    _finish_reset(credential, new_password, ip, [], "sms", code_hash=expected)
