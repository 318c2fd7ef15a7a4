"""Invitations: a user manager invites an email address into an account.

* ``invite`` creates the membership as ``invited`` with the rights it will have, its email guard
  (one membership per address and account, also under concurrent invitations: the rest get
  ``409 already_member``) and a single-use link valid 7 days, in one transaction with the audit
  record, then emails the link in the account's language. If the email cannot be sent, all of it
  is taken back and the answer is 503: no invitation exists that nobody received.
* ``resend`` replaces the link (the old one stops working) and restarts the 7 days; if its email
  cannot be sent, the old link keeps working, as if nothing happened.
* An invitation has an id of its own (``usr_...``), never the id of a login that may already use
  the address: the inviter learns nothing about that login, and nothing the account can do to a
  member reaches it before the invitation is accepted (:mod:`portico.identity.members`). A new
  person's login then takes the invitation's id; an existing login keeps its own, and the
  membership moves to it.
* Invitation emails go to addresses the inviter chooses, so they are limited: one a minute and
  five a day per account and address (invitations and resends together, also across deleting and
  inviting again), twenty a day per address from all accounts together, and a hundred a day per
  account, so that no sign-up becomes a relay for mail to strangers.
* ``accept`` turns the invitation into an active membership. A new person chooses a name and a
  password under the account's policy, and their email counts as verified (the link proves it).
  An address that already has a login proves it with that login's password, through the same
  lockout as a login (``401 invalid_credentials``), and the account is added to that login.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from portico import audit, clock, ids, keys, ratelimit
from portico.accounts import repository as accounts
from portico.accounts import security as effective
from portico.accounts.caller import Caller
from portico.accounts.records import Account, Membership
from portico.accounts.rights import check_grant, compose, manages_users
from portico.auth import attempts, hashing, passwords
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.config import settings
from portico.errors import NotFound, ValidationFailed, define
from portico.identity import members, repository
from portico.identity.member_models import Accepted, AcceptInvitation, Invitation, Invited, InviteRequest
from portico.keys import Write
from portico.locale import negotiate
from portico.notify import email
from portico.observability import logger, metrics
from portico.security.policy import require_strong
from portico.security.settings import Effective
from portico.tokens import links

INVITATION_VALIDITY = timedelta(days=7)
RESEND_COOLDOWN_SECONDS = 60
PER_ACCOUNT_AND_ADDRESS_PER_DAY = 5
PER_ADDRESS_PER_DAY = 20
PER_ACCOUNT_PER_DAY = 100
_DAY = 86400

AlreadyMember = define("AlreadyMember", 409, "already_member", "Already a Member")
NotInvited = define("NotInvited", 409, "not_invited", "Not Invited")
_GONE = "This invitation is invalid, used or expired. Ask for a new one."


def invite(caller: Caller, body: InviteRequest, *, ip: str) -> Invited:
    account = caller.account
    granted = compose(body.rights, account)
    check_grant(caller.membership, body.full_access, granted)
    user_id = ids.new_id("usr")  # never the id of a login that may use this address
    secret, link = _link(account.account_id, user_id, body.email)
    membership = Membership(
        account_id=account.account_id,
        account_name=account.name,
        account_mode=account.mode,
        user_id=user_id,
        email=body.email,
        full_access=body.full_access,
        rights=tuple(granted),
        status="invited",
        invitation_hash=link.token_hash,
        invitation_expires_at=link.expires_at,
        invited_by=caller.user_id,
        invitation_sent_at=link.sent_at,
        created_at=link.created_at,
        version=0,
    )
    event = audit.Event(
        "user.invited",
        caller.actor,
        {"user_id": user_id, "email": body.email},
        ip,
        {"full_access": body.full_access, "rights": granted},
    )
    records = audit.records(event, [account.account_id])
    try:
        repository.create_invitation(membership, link, records)
    except repository.AlreadyMember:
        raise AlreadyMember("This email address is already a member of the account, or invited.") from None
    try:
        # limited once the invitation exists, so that inviting a member again is 409 already_member
        with _limited(account.account_id, body.email):
            _send(caller, account, body.email, secret, link.expires_at)
    except Exception:
        logger.warning("invitation not sent; taking it back", extra={"user_id": user_id})
        try:
            repository.undo_invitation(membership, records)
        except Exception:  # the answer stands; the orphan is logged for an operator
            logger.exception("could not undo invitation", extra={"user_id": user_id, "account_id": account.account_id})
        raise
    metrics.add_metric(name="Invitations", unit="Count", value=1)
    logger.info("invited", extra={"user_id": user_id, "account_id": account.account_id, "by": caller.user_id})
    return Invited(user_id=user_id)


def resend(caller: Caller, user_id: str, *, ip: str) -> None:
    membership = members.find(caller.account_id, user_id)
    if not membership.invited:
        raise NotInvited("This user is not an open invitation: they already accepted it.")
    with _limited(caller.account_id, membership.email):
        secret, link = _link(caller.account_id, user_id, membership.email)
        event = audit.Event("user.invitation_resent", caller.actor, {"user_id": user_id, "email": membership.email}, ip)
        records = audit.records(event, [caller.account_id])
        try:
            repository.replace_invitation(membership, link, records)
        except repository.Changed:
            raise NotInvited("The invitation changed meanwhile (accepted, resent or removed); reload.") from None
        try:
            _send(caller, caller.account, membership.email, secret, link.expires_at)
        except Exception:
            repository.restore_invitation(membership, link, records)
            raise


@contextlib.contextmanager
def _limited(account_id: str, address: str) -> Iterator[None]:
    """The limits on invitation emails; the minute is given back if the invitation then fails
    (a 409, or 503 when SES is down)."""
    subject = f"{account_id}:{keys.normalise_email(address)}"
    ratelimit.cooldown("invitation", subject, RESEND_COOLDOWN_SECONDS)
    with ratelimit.released_on_failure("invitation", subject):
        ratelimit.quota("invitation", subject, PER_ACCOUNT_AND_ADDRESS_PER_DAY, _DAY)
        ratelimit.quota("invitation-any", keys.normalise_email(address), PER_ADDRESS_PER_DAY, _DAY)
        ratelimit.quota("invitation-account", account_id, PER_ACCOUNT_PER_DAY, _DAY)
        yield


def view(secret: str) -> Invitation:
    link, membership = _open(secret)
    return Invitation(
        account_name=membership.account_name,
        email=membership.email,
        expires_at=clock.iso_epoch(link.expires_at),
        has_login=credentials.get_credential(membership.email) is not None,
    )


def accept(secret: str, body: AcceptInvitation, *, ip: str, accept_language: str) -> Accepted:
    link, membership = _open(secret)
    login = credentials.get_credential(membership.email)
    if login is None:
        user_id, login_ops = _new_login(membership, body, accept_language)
        actor = audit.Actor("user", user_id, membership.email)
        audit_accounts = [membership.account_id]
    else:
        user_id, login_ops = _existing_login(login, body, membership.account_id, ip)
        actor = attempts.actor(login)
        audit_accounts = [*login.account_ids, membership.account_id]
    event = audit.Event(
        "invitation.accepted",
        actor,
        {"user_id": user_id, "email": membership.email},
        ip,
        {"account_id": membership.account_id},
    )
    records = audit.records(event, audit_accounts)
    try:
        repository.accept_invitation(
            membership,
            user_id,
            link,
            now_iso=clock.iso(clock.now()),
            login_ops=login_ops,
            manager=manages_users(Membership(**{**vars(membership), "status": "active"})),
            records=records,
        )
    except repository.Changed:
        # used by a parallel request, removed, resent, or the login changed meanwhile
        raise NotFound(_GONE) from None
    audit.fan_out(records)
    if login is not None:
        effective.refresh_login(membership.email)  # the new account's security settings may be stricter
    metrics.add_metric(name="InvitationsAccepted", unit="Count", value=1)
    logger.info("invitation accepted", extra={"user_id": user_id, "account_id": membership.account_id})
    return Accepted(user_id=user_id)


def _new_login(membership: Membership, body: AcceptInvitation, accept_language: str) -> tuple[str, list[Write]]:
    if body.name is None:
        raise ValidationFailed(
            [{"loc": ["body", "name"], "msg": "Field required for a new login", "type": "missing"}],
            "A new login needs a name.",
        )
    account = accounts.get_account(membership.account_id) or Account(account_id=membership.account_id, name="")
    security = Effective.of([account.security])
    require_strong(body.password, security.password_policy, personal=(body.name, membership.email, account.name))
    language = negotiate(None, accept_language) if accept_language else account.language
    now = clock.iso(clock.now())
    _, create = passwords.new_login(
        user_id=membership.user_id,
        email_address=membership.email,
        name=body.name,
        language=language,
        account_id=membership.account_id,
        security=security,
        password=body.password,
        verified_at=now,  # the invitation link reached this address
    )
    user = repository.User(
        user_id=membership.user_id, email=membership.email, name=body.name, language=language, created_at=now
    )
    return membership.user_id, [create, repository.new_user_op(user)]


def _existing_login(login: Credential, body: AcceptInvitation, account_id: str, ip: str) -> tuple[str, list[Write]]:
    """The login that uses the address proves it with its password, counted in its lockout."""
    credential, before = attempts.begin(login.email, ip=ip, captcha_token=body.captcha_token, password=body.password)
    if not hashing.verify(credential.password_hash, body.password)[0]:
        attempts.failed(credential, before, ip=ip, action="login.failed", reason="invalid_credentials")
        raise attempts.InvalidCredentials("The password is not the one of the login with this email address.")
    ops = credentials.success_ops(
        credential,
        {"email_verified": True},  # the invitation link reached this address
        condition="user_id = :u AND NOT contains(account_ids, :account)",
        values={":u": credential.user_id, ":account": account_id},
        append={"account_ids": [account_id]},
    )
    return credential.user_id, ops


def _open(secret: str) -> tuple[links.Link, Membership]:
    """The invitation a link stands for, while it is usable."""
    link = links.find(secret, links.INVITATION)
    membership = accounts.get_membership(str(link.account_id), link.user_id) if link else None
    if link is None or membership is None or not membership.invited or membership.invitation_hash != link.token_hash:
        raise NotFound(_GONE)
    return link, membership


def _link(account_id: str, user_id: str, address: str) -> tuple[str, links.Link]:
    return links.new(
        links.INVITATION,
        user_id=user_id,
        email=address,
        valid_for=INVITATION_VALIDITY,
        account_id=account_id,
        sent_at=int(clock.timestamp()),
    )


def _send(caller: Caller, account: Account, to: str, secret: str, expires: int) -> None:
    email.send(
        to,
        "invitation",
        account.language,
        {
            "inviter": caller.session.email,
            "account": account.name,
            "expires": clock.iso_epoch(expires).replace("T", " ").removesuffix("Z") + " UTC",
        },
        links={"link": settings().link("accept-invitation", secret)},
    )
