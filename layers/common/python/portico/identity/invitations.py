"""Invitations (contract section 7): a user manager invites an email address into an account.

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
* Invitation emails go to addresses the inviter chooses, so they are limited per address: one a
  minute and five a day per account and address (invitations and resends together, also across
  deleting and inviting again), and twenty a day per address from all accounts together.
* ``accept`` turns the invitation into an active membership. A new person chooses a name and a
  password under the account's policy, and their email counts as verified (the link proves it).
  An address that already has a login proves it with that login's password, through the same
  lockout as a login (``401 invalid_credentials``), and the account is added to that login.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from portico import audit, clock, ids, keys, ratelimit
from portico.access import Caller
from portico.accounts.security import Effective, settings_of
from portico.accounts.service import refresh_credential
from portico.auth import passwords
from portico.config import settings
from portico.errors import NotFound, ValidationFailed, WeakPassword, define
from portico.identity import members, repository
from portico.identity.member_models import Accepted, AcceptInvitation, Invitation, Invited, InviteRequest
from portico.locale import negotiate
from portico.notify import email
from portico.observability import logger, metrics
from portico.rights import check_grant, compose, manages_users

INVITATION_VALIDITY = timedelta(days=7)
RESEND_COOLDOWN_SECONDS = 60
PER_ACCOUNT_AND_ADDRESS_PER_DAY = 5
PER_ADDRESS_PER_DAY = 20
_DAY = 86400

AlreadyMember = define("AlreadyMember", 409, "already_member", "Already a Member")
NotInvited = define("NotInvited", 409, "not_invited", "Not Invited")
_GONE = "This invitation is invalid, used or expired. Ask for a new one."


def invite(caller: Caller, body: InviteRequest, *, ip: str) -> Invited:
    account = caller.account or {}
    account_id = str(account["account_id"])
    granted = compose(body.rights, account)
    check_grant(caller.membership or {}, body.full_access, granted)
    user_id = ids.new_id("usr")  # never the id of a login that may use this address
    secret, token = _token(account_id, user_id, body.email)
    now = clock.now()
    membership = {
        "account_id": account_id,
        "account_name": account.get("name"),
        "account_mode": account.get("mode", "test"),
        "user_id": user_id,
        "email": body.email,
        "owner": False,
        "full_access": body.full_access,
        "rights": granted,
        "status": "invited",
        "invitation_hash": token["token_hash"],
        "invitation_expires_at": token["expires_at"],
        "invited_by": caller.session.user_id,
        "invitation_sent_at": token["sent_at"],
        "created_at": clock.iso(now),
        "version": 0,
    }
    event = audit.Event(
        "user.invited",
        caller.actor,
        {"user_id": user_id, "email": body.email},
        ip,
        {"full_access": body.full_access, "rights": granted},
    )
    records = audit.put_ops(event, [account_id])
    try:
        repository.create_invitation(membership, token, records)
    except repository.AlreadyMember:
        raise AlreadyMember("This email address is already a member of the account, or invited.") from None
    try:
        # limited once the invitation exists, so that inviting a member again is 409 already_member
        with _limited(account_id, body.email):
            _send(caller, account, body.email, secret, int(token["expires_at"]))
    except Exception:
        logger.warning("invitation not sent; taking it back", extra={"user_id": user_id})
        try:
            repository.undo_invitation(membership, token["token_hash"], records)
        except Exception:  # the 503 stands; the orphan is logged for an operator
            logger.exception("could not undo invitation", extra={"user_id": user_id, "account_id": account_id})
        raise
    metrics.add_metric(name="Invitations", unit="Count", value=1)
    logger.info("invited", extra={"user_id": user_id, "account_id": account_id, "by": caller.session.user_id})
    return Invited(user_id=user_id)


def resend(caller: Caller, user_id: str, *, ip: str) -> None:
    account = caller.account or {}
    account_id = str(account["account_id"])
    membership = members.find(account_id, user_id)
    if membership.get("status") != "invited":
        raise NotInvited("This user is not an open invitation: they already accepted it.")
    with _limited(account_id, str(membership["email"])):
        _resend(caller, account, membership, ip)


@contextlib.contextmanager
def _limited(account_id: str, address: str) -> Iterator[None]:
    """The limits on invitation emails to one address; the minute is given back if the
    invitation then fails (a 409, or 503 when SES is down)."""
    subject = f"{account_id}:{keys.normalise_email(address)}"
    ratelimit.cooldown("invitation", subject, RESEND_COOLDOWN_SECONDS)
    with ratelimit.released_on_failure("invitation", subject):
        ratelimit.quota("invitation", subject, PER_ACCOUNT_AND_ADDRESS_PER_DAY, _DAY)
        ratelimit.quota("invitation-any", keys.normalise_email(address), PER_ADDRESS_PER_DAY, _DAY)
        yield


def _resend(caller: Caller, account: dict[str, Any], membership: dict[str, Any], ip: str) -> None:
    account_id, user_id = str(account["account_id"]), str(membership["user_id"])
    secret, token = _token(account_id, user_id, str(membership["email"]))
    event = audit.Event("user.invitation_resent", caller.actor, {"user_id": user_id, "email": membership["email"]}, ip)
    records = audit.put_ops(event, [account_id])
    try:
        repository.replace_invitation(membership, token, records)
    except repository.Changed:
        raise NotInvited("The invitation changed meanwhile (accepted, resent or removed); reload.") from None
    try:
        _send(caller, account, str(membership["email"]), secret, int(token["expires_at"]))
    except Exception:
        repository.restore_invitation(membership, token["token_hash"], records)
        raise


def view(secret: str) -> Invitation:
    token, membership = _open(secret)
    return Invitation(
        account_name=str(membership.get("account_name") or ""),
        email=str(membership["email"]),
        expires_at=clock.iso_epoch(int(token["expires_at"])),
        has_login=repository.get_credential(str(membership["email"])) is not None,
    )


def accept(secret: str, body: AcceptInvitation, *, ip: str, accept_language: str) -> Accepted:
    token, membership = _open(secret)
    address = str(membership["email"])
    account_id = str(membership["account_id"])
    login = repository.get_credential(address, consistent=True)
    now = clock.now()
    if login is None:
        user_id, login_ops = _new_login(membership, body, accept_language)
        actor = audit.Actor("user", user_id, address)
        audit_accounts = [account_id]
    else:
        user_id, login_ops = _existing_login(login, body, account_id, ip)
        actor = audit.actor_of(login)
        audit_accounts = list(dict.fromkeys([*audit.accounts_of(login), account_id]))
    event = audit.Event(
        "invitation.accepted", actor, {"user_id": user_id, "email": address}, ip, {"account_id": account_id}
    )
    records = audit.put_ops(event, audit_accounts)
    try:
        repository.accept_invitation(
            membership,
            user_id,
            str(token["token_hash"]),
            now_iso=clock.iso(now),
            now_epoch=int(now.timestamp()),
            login_ops=login_ops,
            manager=manages_users({**membership, "status": "active"}),
            audit_ops=records,
        )
    except repository.Changed:
        # used by a parallel request, removed, resent, or the login changed meanwhile
        raise NotFound(_GONE) from None
    audit.fan_out(records)
    if login is not None:
        refresh_credential(address)  # the new account's security settings may be stricter
    metrics.add_metric(name="InvitationsAccepted", unit="Count", value=1)
    logger.info("invitation accepted", extra={"user_id": user_id, "account_id": account_id})
    return Accepted(user_id=user_id)


def _new_login(membership: dict[str, Any], body: AcceptInvitation, accept_language: str) -> tuple[str, list[dict]]:
    from portico.auth.policy import check_password

    if body.name is None:
        raise ValidationFailed(
            [{"loc": ["body", "name"], "msg": "Field required for a new login", "type": "missing"}],
            "A new login needs a name.",
        )
    account = repository.get_account(str(membership["account_id"])) or {}
    security = Effective.of([settings_of(account)])
    address = str(membership["email"])
    reasons = check_password(
        body.password, security.password_policy, personal=(body.name, address, str(account.get("name", "")))
    )
    if reasons:
        raise WeakPassword(reasons)
    user_id = str(membership["user_id"])
    now = clock.now()
    language = negotiate(None, accept_language) if accept_language else str(account.get("language", "en"))
    credential = passwords.new_credential(
        user_id=user_id,
        email=address,
        name=body.name,
        language=language,
        account_id=str(membership["account_id"]),
        security=security,
        password=body.password,
        now=now,
        email_verified=True,  # the invitation link reached this address
        email_verified_at=clock.iso(now),
    )
    user = {"user_id": user_id, "email": address, "name": body.name, "language": language, "created_at": clock.iso(now)}
    return user_id, repository.new_login_ops(credential, user)


def _existing_login(login: dict[str, Any], body: AcceptInvitation, account_id: str, ip: str) -> tuple[str, list[dict]]:
    from portico.auth import hashing
    from portico.auth import repository as auth_repository
    from portico.auth.login import begin_attempt

    address = str(login["email"])
    credential, _ = begin_attempt(address, captcha_token=body.captcha_token, ip=ip, password=body.password)
    if not hashing.verify(str(credential["password_hash"]), body.password)[0]:
        event = audit.Event("login.failed", audit.actor_of(credential), None, ip, {"reason": "invalid_credentials"})
        audit.record(event, audit.accounts_of(credential))
        raise passwords.InvalidCredentials("The password is not the one of the login with this email address.")
    ops = auth_repository.success_ops(
        credential,
        {"email_verified": True},  # the invitation link reached this address
        condition="user_id = :u AND NOT contains(account_ids, :account)",
        values={":u": credential["user_id"], ":account": account_id},
        append={"account_ids": [account_id]},
    )
    return str(credential["user_id"]), ops


def _open(secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The invitation a link stands for, while it is usable."""
    token = repository.get_token(ids.digest(secret)) if 0 < len(secret) <= 256 else None
    now = int(clock.timestamp())
    if (
        token is None
        or token.get("kind") != repository.INVITATION
        or "used_at" in token
        or int(token["expires_at"]) <= now
    ):
        raise NotFound(_GONE)
    membership = repository.get_membership(str(token["account_id"]), str(token["user_id"]))
    if (
        membership is None
        or membership.get("status") != "invited"
        or membership.get("invitation_hash") != token["token_hash"]
    ):
        raise NotFound(_GONE)
    return token, membership


def _token(account_id: str, user_id: str, address: str) -> tuple[str, dict[str, Any]]:
    secret = ids.new_token()
    now = clock.now()
    expires = int((now + INVITATION_VALIDITY).timestamp())
    return secret, {
        "token_hash": ids.digest(secret),
        "kind": repository.INVITATION,
        "account_id": account_id,
        "user_id": user_id,
        "email": address,
        "created_at": clock.iso(now),
        "sent_at": int(now.timestamp()),
        "expires_at": expires,
        "ttl": expires + 7 * 86400,
    }


def _send(caller: Caller, account: dict[str, Any], to: str, secret: str, expires: int) -> None:
    email.send(
        to,
        "invitation",
        str(account.get("language", "en")),
        {
            "inviter": caller.session.email,
            "account": str(account.get("name", "")),
            "expires": clock.iso_epoch(expires).replace("T", " ").removesuffix("Z") + " UTC",
        },
        links={"link": settings().link("accept-invitation", secret)},
    )
