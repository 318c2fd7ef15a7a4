"""A merchant user's own phone, verified by SMS; a verified phone is where ``POST
/auth/password/forgot`` with ``channel: "sms"`` sends its code (:mod:`portico.auth.passwords` reads
``phone`` and ``phone_verified`` on the credential, which is where this module keeps them).

* ``PUT /me/phone {number}`` (authenticated within 15 minutes): the number is validated and kept in
  E.164 form (:mod:`portico.phones`), stored on the credential as ``not_verified``, and a 6-digit
  code goes to it by SMS (the rules of :mod:`portico.tokens.codes`: 10 minutes, at most one a
  minute, 5 comparisons shared by parallel guesses, stored as a salted hash bound to the user, the
  purpose and the number). While a verified number is set this is ``409
  phone_change_requires_release``: a stolen session alone cannot move password recovery to the
  thief's phone. If the SMS cannot be sent, the code is withdrawn and the number put back (503).
* ``POST /me/phone/verify {code}``: one attempt is taken, then the code is compared in constant
  time; the right code marks the number verified, is used up and audited in one transaction,
  on the condition that the credential still holds that number unverified.
* ``POST /me/phone/release`` (authenticated within 15 minutes) sends a code to the verified number;
  ``POST /me/phone/release/confirm {code}`` clears the number, in one transaction with the code's
  use and the audit record, and ends any SMS password-reset code sent to it. Only then can a new
  number be set.
"""

from __future__ import annotations

import hmac

from portico import audit, clock, ids, keys, phones
from portico.auth import attempts
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.auth.mfa import ReauthenticationRequired
from portico.auth.sessions import Session
from portico.errors import define
from portico.identity.profile import own_credential
from portico.identity.profile_models import PhoneCodeRequest, PhoneCodeSent, PhoneNumberRequest, VerifiedPhone
from portico.notify import sms
from portico.observability import logger, metrics
from portico.tokens import repository as codes
from portico.tokens.codes import ATTEMPTS, CODE_VALIDITY, RESEND_AFTER, InvalidCode, ResendTooSoon, refuse
from portico.tokens.repository import OneTimeCode

PhoneChangeRequiresRelease = define(
    "PhoneChangeRequiresRelease", 409, "phone_change_requires_release", "Phone Change Requires Release"
)
NoVerifiedPhone = define("NoVerifiedPhone", 409, "no_verified_phone", "No Verified Phone")

VERIFY, RELEASE = "verify", "release"
_UNVERIFIED = "attribute_not_exists(phone_verified) OR phone_verified = :no"
_RECOVERY_CODE = ("reset_code_hash", "reset_code_salt", "reset_code_expires", "reset_code_attempts")
_MESSAGE = {
    (VERIFY, "en"): "Portico: {code} is your code to verify this phone number. It is valid for 10 minutes.",
    (VERIFY, "de"): "Portico: {code} ist Ihr Code, um diese Telefonnummer zu bestätigen. Er ist 10 Minuten gültig.",
    (RELEASE, "en"): "Portico: {code} is your code to remove this phone number from your login. "
    "It is valid for 10 minutes. If you did not ask for this, ignore this message.",
    (RELEASE, "de"): "Portico: {code} ist Ihr Code, um diese Telefonnummer von Ihrer Anmeldung zu entfernen. "
    "Er ist 10 Minuten gültig. Wenn Sie das nicht veranlasst haben, ignorieren Sie diese Nachricht.",
}


def _hash(code: str, salt: str, user_id: str, purpose: str, number: str) -> str:
    return ids.digest(f"{salt}:{user_id}:{purpose}:{number}:{code}")


def _fresh(session: Session) -> None:
    if not session.recently_authenticated:
        raise ReauthenticationRequired("Confirm your password (and code) first: POST /auth/reauthenticate.")


def _send_code(credential: Credential, purpose: str, number: str) -> tuple[keys.Key, OneTimeCode, str]:
    """Store a new code for ``purpose`` (the attempts of one still valid carry on); 429 within the
    cooldown. Returns the key, the stored code and the code itself (to be sent)."""
    key = keys.user_phone_code(credential.user_id, purpose)
    previous = codes.get_code(key)
    now = int(clock.timestamp())
    code, salt = ids.new_code(), ids.new_token()
    still_valid = previous is not None and previous.expires_at > now
    fresh = OneTimeCode(
        code_hash=_hash(code, salt, credential.user_id, purpose, number),
        salt=salt,
        expires_at=now + CODE_VALIDITY,
        sent_at=now,
        attempts=previous.attempts if still_valid and previous is not None else 0,
        number=number,
    )
    if not codes.send_code(key, None, fresh, now=now, cooldown=RESEND_AFTER):
        raise ResendTooSoon((previous.sent_at if previous else now) + RESEND_AFTER - now)
    return key, fresh, code


def _text(purpose: str, language: str, code: str) -> str:
    return _MESSAGE.get((purpose, language), _MESSAGE[(purpose, "en")]).format(code=code)


def request(session: Session, body: PhoneNumberRequest) -> PhoneCodeSent:
    _fresh(session)
    number = phones.normalised(body.number)
    credential = own_credential(session)
    if credential.phone_verified:
        raise PhoneChangeRequiresRelease("A verified number is set: release it first (POST /me/phone/release).")
    key, fresh, code = _send_code(credential, VERIFY, number)
    unverified = credentials.update_op(
        credential.email,
        {"phone": number, "phone_verified": False},
        condition=f"user_id = :u AND ({_UNVERIFIED})",
        values={":u": credential.user_id, ":no": False},
    )
    try:
        written = credentials.write([unverified])
    except Exception:
        codes.withdraw_code(key, str(fresh.code_hash))  # no code stands without its number
        raise
    if not written:
        codes.withdraw_code(key, str(fresh.code_hash))
        raise PhoneChangeRequiresRelease("A verified number is set: release it first (POST /me/phone/release).")
    try:
        sms.send(number, _text(VERIFY, credential.language, code))
    except Exception:
        codes.withdraw_code(key, str(fresh.code_hash))
        back = credentials.update_op(
            credential.email,
            {"phone": credential.phone, "phone_verified": credential.phone_verified},
            condition=f"phone = :sent AND ({_UNVERIFIED})",
            values={":sent": number, ":no": False},
        )
        credentials.write([back])
        raise
    metrics.add_metric(name="PhoneCodesSent", unit="Count", value=1)
    return PhoneCodeSent(
        number=number, status="not_verified", resend_after_seconds=RESEND_AFTER, expires_in_seconds=CODE_VALIDITY
    )


def _take(session: Session, purpose: str, code: str) -> OneTimeCode:
    """The code item, after one of its attempts was taken and ``code`` matched it (else 401)."""
    key = keys.user_phone_code(session.user_id, purpose)
    now = int(clock.timestamp())
    taken = codes.take_code_attempt(key, now=now, limit=ATTEMPTS)
    if taken is None:
        refuse(codes.get_code(key), now)
    expected = _hash(code.strip(), taken.salt, session.user_id, purpose, str(taken.number))
    if taken.code_hash is None or not hmac.compare_digest(expected, taken.code_hash):
        logger.info("phone code refused", extra={"user_id": session.user_id, "attempts": taken.attempts})
        raise InvalidCode("The code is not right.")
    return taken


def verify(session: Session, body: PhoneCodeRequest, *, ip: str) -> VerifiedPhone:
    taken = _take(session, VERIFY, body.code)
    credential = own_credential(session)
    number = str(taken.number)
    event = audit.Event("phone.verified", attempts.actor(credential), {"user_id": credential.user_id}, ip)
    records = audit.records(event, credential.account_ids)
    verified = credentials.update_op(
        credential.email,
        {"phone": number, "phone_verified": True},
        condition=f"user_id = :u AND phone = :n AND ({_UNVERIFIED})",
        values={":u": credential.user_id, ":n": number, ":no": False},
    )
    used = codes.use_code_op(keys.user_phone_code(session.user_id, VERIFY), str(taken.code_hash))
    if not credentials.write([used, verified, *records.ops]):
        raise InvalidCode("The code was used meanwhile, or the number changed.")
    audit.fan_out(records)
    metrics.add_metric(name="PhonesVerified", unit="Count", value=1)
    return VerifiedPhone(number=number)


def release(session: Session) -> None:
    _fresh(session)
    credential = own_credential(session)
    if not credential.phone or not credential.phone_verified:
        raise NoVerifiedPhone("There is no verified phone number to release.")
    key, fresh, code = _send_code(credential, RELEASE, credential.phone)
    try:
        sms.send(credential.phone, _text(RELEASE, credential.language, code))
    except Exception:
        codes.withdraw_code(key, str(fresh.code_hash))
        raise
    metrics.add_metric(name="PhoneCodesSent", unit="Count", value=1)


def confirm_release(session: Session, body: PhoneCodeRequest, *, ip: str) -> None:
    taken = _take(session, RELEASE, body.code)
    credential = own_credential(session)
    event = audit.Event("phone.released", attempts.actor(credential), {"user_id": credential.user_id}, ip)
    records = audit.records(event, credential.account_ids)
    cleared = credentials.update_op(
        credential.email,
        # a password-reset code sent to this phone ends with it
        {"phone": None, "phone_verified": False, **dict.fromkeys(_RECOVERY_CODE)},
        condition="user_id = :u AND phone = :n AND phone_verified = :yes",
        values={":u": credential.user_id, ":n": str(taken.number), ":yes": True},
    )
    used = codes.use_code_op(keys.user_phone_code(session.user_id, RELEASE), str(taken.code_hash))
    if not credentials.write([used, cleared, *records.ops]):
        raise InvalidCode("The code was used meanwhile, or the number changed.")
    audit.fan_out(records)
    metrics.add_metric(name="PhonesReleased", unit="Count", value=1)
