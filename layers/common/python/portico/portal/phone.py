"""Verifying a customer's phone by SMS: the portal's fraud protection for plans marked
``requires_verified_phone``.

``PUT /portal/me/phone {number}``: the number is parsed and validated with Google's libphonenumber
rules (:mod:`portico.phones`) and kept in E.164 form; a number starting with one of the account's
``blocked_phone_prefixes`` is ``422 phone_not_allowed``; a 6-digit code goes out by SMS, valid 10
minutes, at most one a minute (``429 resend_too_soon``), stored hashed. If the SMS cannot be sent
the code is withdrawn (503). ``POST /portal/me/phone/verify {code}``: each comparison first takes
one of 5 attempts (parallel guesses share them); the right code sets the customer's phone and
marks it verified, with a timeline event the merchant sees, and is used up in the same
transaction.
"""

from __future__ import annotations

import hmac

from portico import clock, ids, keys
from portico.billing import customers
from portico.errors import define
from portico.notify import sms
from portico.observability import metrics
from portico.phones import normalised
from portico.portal import config
from portico.portal.login import actor
from portico.portal.models import PhoneCode, PhoneRequest, PhoneSent, PortalMe
from portico.portal.sessions import PortalSession
from portico.tokens import repository as stored_codes
from portico.tokens.codes import ATTEMPTS, CODE_VALIDITY, RESEND_AFTER, InvalidCode, ResendTooSoon, refuse
from portico.tokens.repository import OneTimeCode

PhoneNotAllowed = define("PhoneNotAllowed", 422, "phone_not_allowed", "Phone Not Allowed")

_MESSAGE = {
    "en": "{code} is your code to verify this phone number for {merchant}. It is valid for 10 minutes.",
    "de": "{code} ist Ihr Code, um diese Telefonnummer bei {merchant} zu bestätigen. Er ist 10 Minuten gültig.",
}


def allowed(number: str, blocked_prefixes: list[str], field: str = "number") -> str:
    """The number in E.164 form, unless it is invalid (422) or starts with one of the account's
    blocked prefixes (``422 phone_not_allowed``)."""
    e164 = normalised(number, field)
    if any(e164.startswith(prefix) for prefix in blocked_prefixes):
        raise PhoneNotAllowed("This phone number cannot be used here.")
    return e164


def _hash(code: str, salt: str, customer_id: str, number: str) -> str:
    return ids.digest(f"{salt}:{customer_id}:{number}:{code}")


def request(session: PortalSession, body: PhoneRequest) -> PhoneSent:
    account, settings = config.enabled_account(session.account_id)
    number = allowed(body.number, settings.blocked_phone_prefixes)
    customer = customers.get(session.account_id, session.customer_id)
    key = keys.phone_code(session.account_id, session.customer_id)
    previous = stored_codes.get_code(key)
    now = int(clock.timestamp())
    code, salt = ids.new_code(), ids.new_token()
    still_valid = previous is not None and previous.expires_at > now  # a withdrawn code's attempts carry on
    fresh = OneTimeCode(
        code_hash=_hash(code, salt, session.customer_id, number),
        salt=salt,
        expires_at=now + CODE_VALIDITY,
        sent_at=now,
        attempts=previous.attempts if still_valid and previous is not None else 0,
        number=number,
    )
    if not stored_codes.send_code(key, None, fresh, now=now, cooldown=RESEND_AFTER):
        raise ResendTooSoon((previous.sent_at if previous else now) + RESEND_AFTER - now)
    language = customer.language if customer.language in _MESSAGE else account.language
    text = _MESSAGE.get(language, _MESSAGE["en"]).format(
        code=code, merchant=(account.company.legal_name or account.name)[:40]
    )
    try:
        sms.send(number, text)
    except Exception:
        stored_codes.withdraw_code(key, str(fresh.code_hash))
        raise
    metrics.add_metric(name="PortalPhoneCodesSent", unit="Count", value=1)
    return PhoneSent(number=number, resend_after_seconds=RESEND_AFTER, expires_in_seconds=CODE_VALIDITY)


def verify(session: PortalSession, body: PhoneCode) -> PortalMe:
    key = keys.phone_code(session.account_id, session.customer_id)
    now = int(clock.timestamp())
    taken = stored_codes.take_code_attempt(key, now=now, limit=ATTEMPTS)
    if taken is None:
        refuse(stored_codes.get_code(key), now)
    number = str(taken.number)
    expected = _hash(body.code.strip(), taken.salt, session.customer_id, number)
    if taken.code_hash is None or not hmac.compare_digest(expected, taken.code_hash):
        raise InvalidCode("The code is not right.")
    verified = customers.verify_phone(
        session.account_id,
        session.customer_id,
        number,
        source="portal",
        actor=actor(session),
        extra=(stored_codes.use_code_op(key, taken.code_hash),),
    )
    if verified is None:
        raise InvalidCode("The code was used meanwhile.")
    return PortalMe.of(verified)
