"""Logging in to the customer portal: a 6-digit code by email, or the merchant's one-time link;
logging out.

**Code request** (``POST /portal/{a}/login``): the account (its portal must be on), then one query
of the address's index finds the customers with that address (the most recently created one logs
in) and the address's current code; the new code's hash is written on the condition that the
previous one was sent at least ``RESEND_AFTER`` seconds ago (``429 resend_too_soon`` with
``Retry-After``), then the email goes out in the customer's language (or the one asked for),
branded with the merchant's name and accent colour. If the email cannot be sent, the code is
withdrawn (503, and no code is left stored). Three DynamoDB calls and one SES call.

An unknown address is ``404 unknown_email`` -- unless the portal hides unknown addresses: then it
gets the very same steps (the code item is written without a customer, so the cooldown applies to
it too, and the email goes to SES's mailbox simulator, which delivers nowhere), and the same 202.

**Verify** (``POST /portal/{a}/login/verify``): a quota per source IP, then one comparison is
taken from the code's ``ATTEMPTS`` before comparing (a conditional update: parallel guesses share
them, 5 is 5), then the code is compared in constant time, and used in the transaction that opens
the portal session. A new code keeps the attempts of one still valid, so asking for new codes
gives no new guesses; once the previous code has expired, the count starts again.

**Link** (``POST /portal/{a}/login/link``): the merchant's one-time link (``POST
/accounts/{a}/customers/{c}/portal-session``), used in the transaction that opens the session.
"""

from __future__ import annotations

import hmac
from typing import Any

from portico import clock, ids, keys, ratelimit
from portico.accounts.records import Account
from portico.billing import customers as billing_customers
from portico.billing.records import Customer
from portico.config import SUPPORTED_LANGUAGES
from portico.errors import NotFound, define
from portico.notify import email
from portico.observability import logger, metrics
from portico.portal import config, sessions
from portico.portal import repository as codes
from portico.portal.models import (
    CodeLogin,
    CodeRequest,
    CodeSent,
    LinkLogin,
    PortalCustomer,
    PortalLogin,
)
from portico.portal.sessions import PortalSession
from portico.security.settings import SecuritySettings
from portico.tokens import links
from portico.tokens import repository as stored_codes
from portico.tokens.codes import ATTEMPTS, CODE_VALIDITY, RESEND_AFTER, InvalidCode, ResendTooSoon, refuse
from portico.tokens.repository import OneTimeCode

VERIFY_PER_IP = (30, 600)  # comparisons per source address and window (seconds)
SIMULATOR = "success@simulator.amazonses.com"
"""SES's mailbox simulator: accepted and delivered nowhere, without counting as a bounce."""

UnknownEmail = define("UnknownEmail", 404, "unknown_email", "Unknown Email")
InvalidToken = define("InvalidToken", 401, "invalid_token", "Invalid Token")


def _code_hash(code: str, salt: str, account_id: str, email_address: str) -> str:
    return ids.digest(f"{salt}:{account_id}:{keys.normalise_email(email_address)}:{code}")


def _newest(found: list[Customer]) -> Customer | None:
    """Several customers with one address: the most recently created one logs in (ids sort by
    creation)."""
    return max(found, key=lambda c: c.customer_id, default=None)


def request_code(account_id: str, body: CodeRequest) -> CodeSent:
    account, settings = config.enabled_account(account_id)
    found, previous = codes.customers_and_code(account_id, body.email)
    customer = _newest(found)
    if customer is None and not settings.hide_unknown_email:
        raise UnknownEmail("No customer of this portal has that email address.")
    now = int(clock.timestamp())
    code, salt = ids.new_code(), ids.new_token()
    # the attempts of a code still valid (also of one withdrawn because it could not be sent) carry on
    still_valid = previous is not None and previous.expires_at > now
    fresh = OneTimeCode(
        code_hash=_code_hash(code, salt, account_id, body.email),
        salt=salt,
        expires_at=now + CODE_VALIDITY,
        sent_at=now,
        attempts=previous.attempts if still_valid and previous is not None else 0,
        customer_id=customer.customer_id if customer else None,
        customer_email=customer.email if customer else None,
        customer_name=customer.name if customer else None,
        session_idle_minutes=account.security.session_idle_minutes,
        session_absolute_hours=account.security.session_absolute_hours,
    )
    key = keys.portal_code(account_id, body.email)
    if not stored_codes.send_code(
        key, keys.portal_code_index(account_id, body.email), fresh, now=now, cooldown=RESEND_AFTER
    ):
        current = stored_codes.get_code(key)
        raise ResendTooSoon((current.sent_at if current else now) + RESEND_AFTER - now)
    language = body.language or (customer.language if customer else None) or account.language
    try:
        _send(account, settings.accent_color, customer, code, language if language in SUPPORTED_LANGUAGES else "en")
    except Exception:
        stored_codes.withdraw_code(key, str(fresh.code_hash))
        raise
    metrics.add_metric(name="PortalCodesSent", unit="Count", value=1)
    return CodeSent(resend_after_seconds=RESEND_AFTER, expires_in_seconds=CODE_VALIDITY)


def _send(account: Account, accent: str, customer: Customer | None, code: str, language: str) -> None:
    values = {
        "name": (customer.name or customer.email) if customer else "",
        "merchant": account.company.legal_name or account.name,
    }
    email.send(
        customer.email if customer else SIMULATOR,
        "portal_code",
        language,
        values,
        links={
            "code": code,
            "accent": accent,
        },
    )


def verify(account_id: str, body: CodeLogin, *, ip: str) -> PortalLogin:
    if not ids.is_id(account_id, "acc"):
        raise NotFound("No such portal.")
    ratelimit.quota("portal_verify_ip", ip, *VERIFY_PER_IP)
    key = keys.portal_code(account_id, body.email)
    now = int(clock.timestamp())
    taken = stored_codes.take_code_attempt(key, now=now, limit=ATTEMPTS)
    if taken is None:
        refuse(stored_codes.get_code(key), now)
    expected = _code_hash(body.code.strip(), taken.salt, account_id, body.email)
    if taken.code_hash is None or not hmac.compare_digest(expected, taken.code_hash) or taken.customer_id is None:
        logger.info("portal code refused", extra={"account_id": account_id, "attempts": taken.attempts})
        raise InvalidCode("The code is not right.")
    security = SecuritySettings(
        session_idle_minutes=taken.session_idle_minutes, session_absolute_hours=taken.session_absolute_hours
    )
    secret, session, open_op = sessions.open_op(account_id, taken.customer_id, security)
    if not codes.write([stored_codes.use_code_op(key, taken.code_hash), open_op, codes.portal_open_check(account_id)]):
        config.enabled_account(account_id)  # 404 when the portal was turned off since the code was sent
        raise InvalidCode("The code was used meanwhile.")
    return _answer(secret, session, taken.customer_id, str(taken.customer_email), taken.customer_name)


def exchange_link(account_id: str, body: LinkLogin) -> PortalLogin:
    if not ids.is_id(account_id, "acc"):
        raise NotFound("No such portal.")
    link = links.find(body.token, billing_customers.PORTAL_LOGIN)
    if link is None or link.account_id != account_id:
        raise InvalidToken("The link is unknown, used or expired.")
    found, customer = codes.account_and_customer(account_id, link.user_id)
    account, _ = config.enabled_account(account_id, found)
    if customer is None:
        raise InvalidToken("The link is unknown, used or expired.")
    secret, session, open_op = sessions.open_op(account_id, customer.customer_id, account.security)
    if not codes.write([links.use_op(link), open_op]):
        raise InvalidToken("The link is unknown, used or expired.")
    return _answer(secret, session, customer.customer_id, customer.email, customer.name)


def _answer(secret: str, session: PortalSession, customer_id: str, address: str, name: str | None) -> PortalLogin:
    return PortalLogin(
        token=secret,
        expires_at=clock.iso_epoch(session.expires_at),
        customer=PortalCustomer(customer_id=customer_id, email=address, name=name),
    )


def logout(session: PortalSession) -> None:
    sessions.end(session)


def actor(session: PortalSession) -> dict[str, Any]:
    """How the timeline names a customer acting in the portal."""
    return {"type": "customer", "id": session.customer_id}
