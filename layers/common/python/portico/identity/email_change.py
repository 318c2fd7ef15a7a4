"""Changing the login's email address (``POST /me/email``, ``/me/email/confirm``).

The request needs a recent authentication (``POST /auth/reauthenticate`` within 15 minutes), since
whoever holds the address holds the login (password resets go there). It sends a one-time link to
the new address and a notice to the old one that says how to report a change nobody asked for;
nothing changes until the link is opened, and a newer request ends the older link.

Confirming is public: the link is opened in a browser, and possessing it proves the new mailbox
(the request behind it was made by the logged-in, recently reauthenticated user). The credential is
keyed by its address, so confirming moves it, in one transaction conditional on no login having the
new address: two users confirming one address at once give one move and one ``409 email_taken``.
The same transaction readdresses the profile and the memberships with their guards and ends the
links and every session bound to the old address (reset and verification links).

An account owner cannot change their own address (``403 owner_profile_locked``): the README says
how an operator does it.
"""

from __future__ import annotations

from datetime import timedelta

from portico import audit, clock, keys, ratelimit
from portico.accounts import repository as accounts
from portico.accounts.records import Membership
from portico.auth import repository as credentials
from portico.auth import sessions
from portico.auth.credentials import Credential
from portico.auth.mfa import ReauthenticationRequired
from portico.config import settings
from portico.errors import EmailTaken, InvalidToken, Unauthenticated, define
from portico.identity import repository
from portico.identity.email_models import ChangeEmailRequest, ConfirmEmailChangeRequest, EmailChanged
from portico.identity.profile import OwnerProfileLocked
from portico.notify import email
from portico.observability import logger, metrics
from portico.tokens import links

ChangeRaced = define("ChangeRaced", 409, "email_change_in_progress", "Email Change In Progress")

CONFIRMATION_VALIDITY = timedelta(hours=24)
REQUESTS_PER_HOUR = 5
ATTEMPTS = 3


def request(session: sessions.Session, body: ChangeEmailRequest, *, ip: str) -> None:
    if not session.recently_authenticated:
        raise ReauthenticationRequired("Confirm your password (and code) first: POST /auth/reauthenticate.")
    credential = _login(session)
    _not_an_owner(accounts.memberships_of(credential.user_id))
    if keys.normalise_email(body.new_email) == keys.normalise_email(credential.email):
        raise EmailTaken("This is already your email address.")
    if credentials.get_credential(body.new_email) is not None:
        raise EmailTaken("An account with this email address already exists.")
    ratelimit.quota("email-change", credential.user_id, REQUESTS_PER_HOUR, 3600)
    secret, link = links.new(
        links.EMAIL_CHANGE,
        user_id=credential.user_id,
        email=credential.email,
        new_email=body.new_email,
        valid_for=CONFIRMATION_VALIDITY,
    )
    event = audit.Event("email.change_requested", _actor(credential), {"user_id": credential.user_id}, ip)
    records = audit.records(event, credential.account_ids)
    if not repository.start_email_change(credential, link, records):
        raise ChangeRaced("Another email change was requested at the same time; try again.")
    try:
        email.send(
            body.new_email,
            "email_change_confirm",
            credential.language,
            {"name": credential.name},
            links={"link": settings().link("confirm-email", secret)},
        )
        # The old address must hear of it: a change it is not told about could take the login away.
        email.send(
            credential.email,
            "email_change_notice",
            credential.language,
            {"name": credential.name, "new_email": body.new_email},
            links={"app": settings().public_url},
        )
    except Exception:
        logger.warning("email change mail failed; undoing the request", extra={"user_id": credential.user_id})
        try:
            repository.undo_email_change(credential.email, link, records)
        except Exception:  # the 503 stands; the retry's newer link ends this one
            logger.exception("could not undo an email change request", extra={"user_id": credential.user_id})
        raise
    audit.fan_out(records)
    metrics.add_metric(name="EmailChangesRequested", unit="Count", value=1)


def confirm(body: ConfirmEmailChangeRequest, *, ip: str) -> EmailChanged:
    # A login attempt on the old address moves the credential's version between the read and the
    # move; read again and retry (the link's single use is in the same transaction).
    for _ in range(ATTEMPTS - 1):
        try:
            return _confirm(body, ip=ip)
        except repository.Changed:
            continue
    try:
        return _confirm(body, ip=ip)
    except repository.Changed:
        raise InvalidToken("This link is invalid, used or expired. Request a new one.") from None


def _confirm(body: ConfirmEmailChangeRequest, *, ip: str) -> EmailChanged:
    link = links.find(body.token, links.EMAIL_CHANGE)
    credential = credentials.get_credential(link.email) if link else None
    if (
        link is None
        or link.new_email is None
        or credential is None
        or credential.user_id != link.user_id
        or credential.email_change_hash != link.token_hash
    ):
        raise InvalidToken("This link is invalid, used or expired. Request a new one.")
    new_email = link.new_email
    if credentials.get_credential(new_email) is not None:
        raise EmailTaken("An account with this email address already exists.")
    memberships = accounts.memberships_of(credential.user_id)
    _not_an_owner(memberships)
    overflow = [m.account_id for m in memberships[repository.EMAIL_CHANGE_INLINE_MEMBERSHIPS :]]
    if overflow and repository.new_address_members(overflow, new_email):
        raise EmailTaken("This email address is already a member of one of your accounts.")
    event = audit.Event(
        "email.changed", _actor(credential), {"user_id": credential.user_id}, ip, {"new_email": new_email}
    )
    records = audit.records(event, credential.account_ids)
    open_sessions = sessions.of_user(credential.user_id)
    try:
        repository.change_email(
            credential,
            link,
            new_email,
            # the new address is proven by the link; what was bound to the old one ends with it
            login_fields={
                **credentials.moved_on(credential),
                "email_verified": True,
                "email_verified_at": clock.iso(clock.now()),
                "verify_token_hash": None,
                "email_change_hash": None,
            },
            memberships=memberships,
            ended_links=[h for h in (credential.reset_link_hash, credential.verify_token_hash) if h],
            ended_sessions=[s.token_hash for s in open_sessions],
            records=records,
        )
    except repository.EmailTaken:
        raise EmailTaken("An account with this email address already exists.") from None
    audit.fan_out(records)
    metrics.add_metric(name="EmailsChanged", unit="Count", value=1)
    logger.info("email changed", extra={"user_id": credential.user_id, "sessions_ended": len(open_sessions)})
    return EmailChanged(email=new_email)


def _login(session: sessions.Session) -> Credential:
    credential = credentials.get_credential(session.email)
    if credential is None or credential.user_id != session.user_id:
        raise Unauthenticated("This login no longer exists.")
    return credential


def _not_an_owner(memberships: list[Membership]) -> None:
    if any(m.owner for m in memberships):
        raise OwnerProfileLocked("An account owner cannot change their own email address; an operator can.")


def _actor(credential: Credential) -> audit.Actor:
    return audit.Actor("user", credential.user_id, credential.email)
