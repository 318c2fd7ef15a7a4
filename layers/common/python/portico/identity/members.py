"""An account's members as its user managers see them: the list, with each member's second factor
and activity, changing and removing members, and resetting a member's second factor.

* The list reads the account's memberships (one ``Query`` per page) and the members' logins (one
  ``BatchGetItem`` per page: name, ``mfa_enabled``, ``last_login_at`` and ``password_changed_at``
  live on the credential). With a filter, pages are read until ``limit`` members match, so a page
  is not short while more members exist; the work per request is capped at ``MAX_PAGES`` pages
  (``2 + 2 * MAX_PAGES`` DynamoDB calls with the access check). Past the cap the answer carries
  what it found and a cursor to go on from.
* The cursor is the url-safe base64 of the key of the last member looked at, and only continues
  this account's list: anything else is ``422 validation_error``.
* A second-factor reset (a lost phone) removes the TOTP secret, recovery codes and any pending
  enrollment in one transaction with its audit record and a check that the membership is still
  active, then ends the user's sessions (whoever holds the lost phone's sessions is out) and sends
  a notice. If the account enforces 2FA, the user enrolls again at the next login.
* A password reset by an admin (``POST /accounts/{a}/users/{u}/password-reset``) neither sets nor
  shows a password: it moves the member's login to a new state that asks for a new password at the
  next login (reason ``admin_reset``), in one transaction with its audit record and a check that
  the membership is still active, then ends the member's sessions and emails them. Never for the
  owner (``409 owner_protected``), and only over a member whose rights the admin holds.
* An invitation gives the account no view of and no power over the login behind the address:
  an ``invited`` member shows only what the inviter typed (no name, second factor or activity,
  and no login is read for it), and acting on the login (a second-factor reset) needs an
  accepted, active membership. Invitations carry an id of their own, never the id of a login
  that may already use the address (see :mod:`portico.identity.invitations`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from portico import audit, keys
from portico.accounts import repository as accounts
from portico.accounts import security as effective
from portico.accounts.caller import Caller
from portico.accounts.records import Membership
from portico.accounts.rights import check_grant, check_over, compose, manages_users
from portico.auth import notices, passwords, sessions
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.errors import NotFound, define
from portico.identity import repository
from portico.identity.member_models import Member, MemberChange, MemberList, MemberStatus
from portico.observability import logger, metrics

OwnerProtected = define("OwnerProtected", 409, "owner_protected", "Owner Protected")
LastUserManager = define("LastUserManager", 409, "last_user_manager", "Last User Manager")
InvitationPending = define("InvitationPending", 409, "invitation_pending", "Invitation Pending")
MemberDisabled = define("MemberDisabled", 409, "member_disabled", "Member Disabled")
Conflict = define("Conflict", 409, "conflict", "Conflict")
_ATTEMPTS = 5
_LAST_MANAGER = "This would leave the account without an active user holding 'users'."
_CONFLICT = "The user was changed by someone else at the same time; try again."

# A filtered page reads memberships 100 at a time: BatchGetItem takes at most 100 keys.
FILTER_PAGE = 100
MAX_PAGES = 5


def listing(
    caller: Caller,
    *,
    mfa_enabled: bool | None = None,
    status: MemberStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> MemberList:
    """One page of members, ``limit`` (1..100, checked by the route) at most."""
    account_id = caller.account_id
    start = accounts.members_cursor(account_id, cursor) if cursor is not None else None
    unfiltered = mfa_enabled is None and status is None
    found: list[Member] = []
    for _ in range(MAX_PAGES):
        need = limit - len(found)
        # unfiltered, one member more than needed tells whether the list goes on
        page, last = accounts.members_page(account_id, limit=need + 1 if unfiltered else FILTER_PAGE, start=start)
        wanted = [m for m in page if status is None or m.status == status]
        if mfa_enabled is None:  # only the members shown need their login read
            matching, beyond = _members(wanted[:need]), len(wanted) > need
        else:
            matching = [m for m in _members(wanted) if m.mfa_enabled == mfa_enabled]
            matching, beyond = matching[:need], len(matching) > need
        found.extend(matching)
        if beyond:  # the list goes on within this page: continue after the last member shown
            return MemberList(items=found, next_cursor=accounts.member_cursor(account_id, found[-1].user_id))
        if last is None:
            return MemberList(items=found, next_cursor=None)
        if len(found) == limit:
            return MemberList(items=found, next_cursor=accounts.cursor_of(last))
        start = last
    return MemberList(items=found, next_cursor=accounts.cursor_of(start) if start else None)


def get(caller: Caller, user_id: str) -> Member:
    return _members([find(caller.account_id, user_id)])[0]


def change(caller: Caller, user_id: str, body: MemberChange, *, ip: str) -> Member:
    """Change a member's rights, full access or status. Only what is sent changes; a caller hands
    out and touches only what they hold themselves (see :func:`portico.accounts.rights.check_grant`)."""
    for _ in range(_ATTEMPTS):
        before = find(caller.account_id, user_id)
        after = before
        if body.full_access is not None:
            after = dataclasses.replace(after, full_access=body.full_access)
        if body.rights is not None:
            after = dataclasses.replace(after, rights=tuple(compose(body.rights, caller.account)))
        if body.status is not None and body.status != before.status:
            if before.invited:
                raise InvitationPending("An invited user has no access to deny yet; delete the invitation instead.")
            after = dataclasses.replace(after, status=body.status)
        if before.owner and (not after.active or not after.full_access):
            raise OwnerProtected("The account owner cannot be disabled or lose full access.")
        check_grant(
            caller.membership,
            before.full_access or after.full_access,
            sorted({*before.rights, *after.rights}),
        )
        fields = {
            k: getattr(after, k) for k in ("full_access", "rights", "status") if getattr(after, k) != getattr(before, k)
        }
        if not fields:
            return _members([before])[0]
        event = audit.Event(
            "user.updated",
            caller.actor,
            {"user_id": user_id, "email": before.email},
            ip,
            {
                "before": {k: _shown(getattr(before, k)) for k in fields},
                "after": {k: _shown(v) for k, v in fields.items()},
            },
        )
        delta = int(manages_users(after)) - int(manages_users(before))
        try:
            repository.change_membership(before, fields, delta, audit.records(event, [caller.account_id]))
        except repository.LastManager:
            raise LastUserManager(_LAST_MANAGER) from None
        except repository.Changed:
            continue
        logger.info("member changed", extra={"user_id": user_id, "fields": sorted(fields), "by": caller.user_id})
        return _members([after])[0]
    raise Conflict(_CONFLICT)


def remove(caller: Caller, user_id: str, *, ip: str) -> None:
    """Take a member (or an open invitation) out of the account. Their login stays; their other
    accounts are not touched."""
    account_id = caller.account_id
    for _ in range(_ATTEMPTS):
        membership = find(account_id, user_id)
        if membership.owner:
            raise OwnerProtected("The account owner cannot be removed.")
        check_over(caller.membership, membership)
        login = _login_of(membership)
        leave = repository.leave_op(login, account_id) if login else None
        event = audit.Event(
            "user.removed",
            caller.actor,
            {"user_id": user_id, "email": membership.email},
            ip,
            {"status": membership.status},
        )
        try:
            repository.remove_membership(
                membership, leave, -int(manages_users(membership)), audit.records(event, [account_id])
            )
        except repository.LastManager:
            raise LastUserManager(_LAST_MANAGER) from None
        except repository.Changed:
            continue
        if leave is not None:
            effective.refresh_login(membership.email)  # the strictest settings of the accounts left
        logger.info("member removed", extra={"user_id": user_id, "account_id": account_id, "by": caller.user_id})
        return
    raise Conflict(_CONFLICT)


def find(account_id: str, user_id: str) -> Membership:
    """A membership of the account (any status), or 404."""
    found = accounts.get_membership(account_id, user_id) if user_id.startswith("usr_") and len(user_id) <= 64 else None
    if found is None:
        raise NotFound("No such user in this account.")
    return found


def _shown(value: Any) -> Any:
    return sorted(value) if isinstance(value, list | set | tuple) else value


def _login_of(membership: Membership) -> Credential | None:
    """The login behind an accepted membership; never one behind an invitation."""
    if membership.invited or not membership.email:
        return None
    login = credentials.get_credential(membership.email)
    return login if login is not None and login.user_id == membership.user_id else None


def reset_mfa(caller: Caller, user_id: str, *, ip: str) -> None:
    """Remove a member's second factor; nothing to remove is no error (the same end state)."""
    account_id = caller.account_id
    membership = find(account_id, user_id)
    _reaches_login(caller, membership)
    for _ in range(_ATTEMPTS):
        credential = _login_of(membership)
        if credential is None:
            return  # the address has no login of this member's: nothing to remove
        if _reset_once(caller, credential, ip):
            break
    else:
        raise Conflict(_CONFLICT)
    # Not best effort: if this fails the answer is 503 and a retry (the same end state) ends them.
    ended = sessions.revoke_all(user_id)
    notices.send(credential, "mfa_reset", {"account": caller.account.name})
    metrics.add_metric(name="MfaResets", unit="Count", value=1)
    logger.info(
        "second factor reset",
        extra={"user_id": user_id, "account_id": account_id, "by": caller.user_id, "sessions_ended": ended},
    )


def _reaches_login(caller: Caller, membership: Membership) -> None:
    """Whether ``caller`` may act on the login behind ``membership`` (its second factor, its
    password). The login belongs to the member in all their accounts: only someone holding
    everything the member holds here may act on it (a `users` manager cannot strip a full-access
    admin's factor). An invitation is not yet a say over the login behind the address, nor is a
    member the account denied access: only an accepted, active membership reaches the login."""
    check_over(caller.membership, membership)
    if membership.invited:
        raise InvitationPending("This person has not accepted the invitation; there is no login of theirs to act on.")
    if not membership.active:
        raise MemberDisabled("This member is denied access to the account; allow access first.")


def _reset_once(caller: Caller, credential: Credential, ip: str) -> bool:
    """Remove the factor, conditional on the membership still active and the login in the state it
    was read in; False when that state moved on meanwhile (read again)."""
    state, values = credentials.same_state(credential)
    event = audit.Event(
        "mfa.reset", caller.actor, {"user_id": credential.user_id}, ip, {"had_mfa": credential.mfa_enabled}
    )
    # recorded in every account of the login, since it changes the login everywhere
    records = audit.records(event, [caller.account_id, *credential.account_ids])
    reset = credentials.update_op(
        credential.email,
        {
            # a factor removed ends every challenge and link issued before; nothing to remove
            # (a retry) leaves the same state
            **(credentials.moved_on(credential) if credential.has_second_factor else {}),
            "mfa_enabled": False,
            **dict.fromkeys(credentials.SECOND_FACTOR_FIELDS),
        },
        condition=f"attribute_exists(pk) AND user_id = :user AND {state}",
        values={":user": credential.user_id, **values},
    )
    active = accounts.active_member_op(caller.account_id, credential.user_id)
    if repository.write([active, reset, *records.ops]):
        audit.fan_out(records)
        return True
    if accounts.get_membership(caller.account_id, credential.user_id) is None:
        raise NotFound("No such user in this account.")  # removed meanwhile
    return False


def reset_password(caller: Caller, user_id: str, *, ip: str) -> None:
    """Make a member set a new password at their next login; the admin never sets or sees it."""
    account_id = caller.account_id
    membership = find(account_id, user_id)
    if membership.owner:
        raise OwnerProtected("The account owner's password cannot be reset by another member.")
    _reaches_login(caller, membership)
    for _ in range(_ATTEMPTS):
        credential = _login_of(membership)
        if credential is None:
            raise NotFound("No such user in this account.")
        event = audit.Event("password.admin_reset", caller.actor, {"user_id": user_id, "email": membership.email}, ip)
        # recorded in every account of the login, since it changes the login everywhere
        records = audit.records(event, [account_id, *credential.account_ids])
        forced = passwords.force_change_op(credential, "admin_reset")
        if repository.write([accounts.active_member_op(account_id, user_id), forced, *records.ops]):
            audit.fan_out(records)
            break
        if accounts.get_membership(account_id, user_id) is None:
            raise NotFound("No such user in this account.")  # removed meanwhile
    else:
        raise Conflict(_CONFLICT)
    # Not best effort: if this fails the answer is 503 and a retry (the same end state) ends them.
    ended = sessions.revoke_all(user_id)
    notices.send(credential, "password_admin_reset", {"account": caller.account.name})
    metrics.add_metric(name="PasswordAdminResets", unit="Count", value=1)
    logger.info(
        "password reset by an admin",
        extra={"user_id": user_id, "account_id": account_id, "by": caller.user_id, "sessions_ended": ended},
    )


def _members(memberships: list[Membership]) -> list[Member]:
    """The members as shown: each accepted member's login read in one call (none for an
    invitation, whose address may belong to someone else's login)."""
    accepted = [m for m in memberships if not m.invited and m.email]
    emails = sorted({keys.normalise_email(m.email) for m in accepted})
    logins = dict(zip(emails, credentials.get_credentials(emails), strict=True)) if emails else {}
    shown = []
    for membership in memberships:
        login = logins.get(keys.normalise_email(membership.email)) if not membership.invited else None
        if login is not None and login.user_id != membership.user_id:
            login = None  # the address now belongs to someone else
        shown.append(
            Member(
                user_id=membership.user_id,
                email=membership.email,
                name=login.name if login else None,
                status=membership.status,
                owner=membership.owner,
                full_access=membership.full_access,
                rights=sorted(membership.rights),
                mfa_enabled=bool(login and login.mfa_enabled),
                last_login_at=login.last_login_at if login else None,
                password_changed_at=login.password_changed_at if login else None,
            )
        )
    return shown
