"""Completing a deletion request: the person's data and login are erased.

What goes: the login (credential: email, name, password and its history, second factor, phone,
recovery state), the profile item, every session, every membership (with its email guard; the
person leaves every account, also ones joined after filing), pending links and codes (email
verification, password reset, email change, phone codes), the consents, and the person's details
on their privacy requests. What stays: the privacy requests themselves without personal details
(the record that the request was met), and the audit log, which is append-only security evidence:
its records keep the user id and, where the person acted, the address they acted with (see the
README, "Privacy").

Order, so that a failure (503) can be retried by resolving again: memberships first (each its own
conditional transaction, with the account's audit record), the sessions, the person's other
items, the email that tells them, and last one transaction that deletes the login and profile and
completes the request. Every step is repeatable; until the last one the request stays pending.
The owner of an account is never erased (``409 owner_protected``): ownership is transferred first.
"""

from __future__ import annotations

from portico import audit, keys
from portico.accounts import repository as accounts
from portico.accounts.records import Membership
from portico.accounts.rights import manages_users
from portico.auth import repository as credentials
from portico.auth import sessions
from portico.auth.credentials import Credential
from portico.errors import define
from portico.identity import repository as identity
from portico.notify import email
from portico.observability import logger, metrics
from portico.privacy import repository
from portico.privacy.repository import PrivacyRequest
from portico.tokens import links
from portico.tokens import repository as codes

OwnerProtected = define("OwnerProtected", 409, "owner_protected", "Owner Protected")
Conflict = define("Conflict", 409, "conflict", "Conflict")
_ATTEMPTS = 5


def login_of(user_id: str) -> Credential | None:
    """The person's login, found through their profile's current address."""
    user = identity.get_user(user_id)
    if user is None:
        return None
    credential = credentials.get_credential(user.email)
    return credential if credential is not None and credential.user_id == user_id else None


def erase(request: PrivacyRequest, event: audit.Event, *, by: str, at: str, comment: str | None) -> None:
    """Erase the person of ``request`` and complete it, telling them just before the last step (the
    login is gone after it: an email that fails is a 503 and resolving again retries it; an
    interruption after the email means they may be told twice, never not at all)."""
    user_id = request.user_id
    memberships = accounts.memberships_of(user_id)
    if any(m.owner for m in memberships):
        raise OwnerProtected("The owner of an account cannot be erased; transfer the ownership first.")
    credential = login_of(user_id)
    for membership in memberships:
        _leave(membership, event)
    ended = sessions.revoke_all(user_id)
    others = [r for r in repository.of_user(user_id) if r.request_id != request.request_id]
    ops = repository.forget_ops(user_id, others, repository.consents(user_id), at=at)
    ops += [codes.delete_op(keys.user_phone_code(user_id, purpose)) for purpose in ("verify", "release")]
    if credential is not None:
        pending = (credential.verify_token_hash, credential.reset_link_hash, credential.email_change_hash)
        ops += [links.delete_op(h) for h in pending if h]
    repository.write_all(ops)
    # the login and profile go in the transaction that completes the request: until it commits, a
    # retry finds the address to tell; after it, the request is done
    records = audit.records(event, request.account_ids)
    last = [identity.delete_user_op(user_id), *records.ops]
    if credential is not None:
        last.append(credentials.delete_op(credential))
        email.send(
            credential.email,
            "privacy_deletion_completed",
            credential.language,
            {"comment": comment or "-", "request": request.request_id},
        )
    if not repository.resolve(request, "completed", by=by, at=at, comment=comment, extra=last, forget=True):
        raise Conflict("This request was resolved at the same time.")
    audit.fan_out(records)
    metrics.add_metric(name="PrivacyErasures", unit="Count", value=1)
    logger.info("person erased", extra={"user_id": user_id, "sessions_ended": ended, "accounts": len(memberships)})


def _leave(membership: Membership, event: audit.Event) -> None:
    """Take the person out of one account (their login is erased next, so it is not updated)."""
    for _ in range(_ATTEMPTS):
        removed = audit.Event("user.erased", event.actor, {"user_id": membership.user_id}, event.ip, {})
        try:
            identity.remove_membership(
                membership, None, -int(manages_users(membership)), audit.records(removed, [membership.account_id])
            )
            return
        except identity.LastManager:
            raise Conflict(
                "The person is the last user manager of an account; give the right to another first."
            ) from None
        except identity.Changed:
            current = accounts.get_membership(membership.account_id, membership.user_id)
            if current is None:
                return
            membership = current
    raise Conflict("The person's membership changed at the same time; resolve the request again.")
