"""An account's members as its user managers see them (contract section 7): the list, with each
member's second factor and activity, and resetting a member's second factor.

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
* An invitation gives the account no view of and no power over the login behind the address:
  an ``invited`` member shows only what the inviter typed (no name, second factor or activity,
  and no login is read for it), and acting on the login (a second-factor reset) needs an
  accepted, active membership. Invitations carry an id of their own, never the id of a login
  that may already use the address (see :mod:`portico.identity.invitations`).
"""

from __future__ import annotations

from typing import Any

from portico import audit, keys, pages, store
from portico.access import Caller
from portico.accounts.service import refresh_credential
from portico.auth import passwords, sessions
from portico.auth import repository as credentials
from portico.errors import NotFound, define
from portico.identity import repository
from portico.identity.member_models import Member, MemberChange, MemberList, MemberStatus
from portico.observability import logger, metrics
from portico.rights import check_grant, check_over, compose, manages_users

OwnerProtected = define("OwnerProtected", 409, "owner_protected", "Owner Protected")
LastUserManager = define("LastUserManager", 409, "last_user_manager", "Last User Manager")
InvitationPending = define("InvitationPending", 409, "invitation_pending", "Invitation Pending")
MemberDisabled = define("MemberDisabled", 409, "member_disabled", "Member Disabled")
Conflict = define("Conflict", 409, "conflict", "Conflict")
_ATTEMPTS = 5
_LAST_MANAGER = "This would leave the account without an active user holding 'users'."

# A filtered page reads memberships 100 at a time: BatchGetItem takes at most 100 keys.
FILTER_PAGE = 100
MAX_PAGES = 5


def listing(
    caller: Caller,
    *,
    mfa_enabled: bool | None = None,
    status: MemberStatus | None = None,
    limit: int = pages.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> MemberList:
    """One page of members, ``limit`` (1..``MAX_LIMIT``, checked by the route) at most."""
    account_id = _account_id(caller)
    start = pages.decode_cursor(cursor, f"ACCOUNT#{account_id}", "MEMBER#") if cursor is not None else None
    unfiltered = mfa_enabled is None and status is None
    found: list[Member] = []
    for _ in range(MAX_PAGES):
        need = limit - len(found)
        page, last = store.query(
            "pk = :a AND begins_with(sk, :m)",
            {":a": f"ACCOUNT#{account_id}", ":m": "MEMBER#"},
            # unfiltered, one member more than needed tells whether the list goes on
            limit=need + 1 if unfiltered else FILTER_PAGE,
            start=start,
        )
        wanted = [m for m in page if status is None or m.get("status") == status]
        if mfa_enabled is None:  # only the members shown need their login read
            matching, beyond = _members(wanted[:need]), len(wanted) > need
        else:
            matching = [m for m in _members(wanted) if m.mfa_enabled == mfa_enabled]
            matching, beyond = matching[:need], len(matching) > need
        found.extend(matching)
        if beyond:  # the list goes on within this page: continue after the last member shown
            return MemberList(
                items=found, next_cursor=pages.encode_cursor(keys.membership(account_id, found[-1].user_id))
            )
        if last is None:
            return MemberList(items=found, next_cursor=None)
        if len(found) == limit:
            return MemberList(items=found, next_cursor=pages.encode_cursor(last))
        start = last
    return MemberList(items=found, next_cursor=pages.encode_cursor(start))


def get(caller: Caller, user_id: str) -> Member:
    membership = find(_account_id(caller), user_id)
    return _members([membership])[0]


def change(caller: Caller, user_id: str, body: MemberChange, *, ip: str) -> Member:
    """Change a member's rights, full access or status. Only what is sent changes; a caller hands
    out and touches only what they hold themselves (see :func:`portico.rights.check_grant`)."""
    account, account_id = caller.account or {}, _account_id(caller)
    for _ in range(_ATTEMPTS):
        before = find(account_id, user_id)
        after = dict(before)
        if body.full_access is not None:
            after["full_access"] = body.full_access
        if body.rights is not None:
            after["rights"] = compose(body.rights, account)
        if body.status is not None and body.status != before.get("status"):
            if before.get("status") == "invited":
                raise InvitationPending("An invited user has no access to deny yet; delete the invitation instead.")
            after["status"] = body.status
        if before.get("owner") and (after.get("status") != "active" or not after.get("full_access")):
            raise OwnerProtected("The account owner cannot be disabled or lose full access.")
        check_grant(
            caller.membership or {},
            bool(before.get("full_access") or after.get("full_access")),
            sorted({*(before.get("rights") or ()), *(after.get("rights") or ())}),
        )
        fields = {k: after[k] for k in ("full_access", "rights", "status") if after.get(k) != before.get(k)}
        if not fields:
            return _members([before])[0]
        event = audit.Event(
            "user.updated",
            caller.actor,
            {"user_id": user_id, "email": before.get("email")},
            ip,
            {"before": {k: _shown(before.get(k)) for k in fields}, "after": {k: _shown(v) for k, v in fields.items()}},
        )
        delta = int(manages_users(after)) - int(manages_users(before))
        try:
            repository.change_membership(before, fields, delta, audit.put_ops(event, [account_id]))
        except repository.LastManager:
            raise LastUserManager(_LAST_MANAGER) from None
        except repository.Changed:
            continue
        logger.info(
            "member changed", extra={"user_id": user_id, "fields": sorted(fields), "by": caller.session.user_id}
        )
        return _members([{**before, **fields}])[0]
    raise Conflict("The user was changed by someone else at the same time; try again.")


def remove(caller: Caller, user_id: str, *, ip: str) -> None:
    """Take a member (or an open invitation) out of the account. Their login stays; their other
    accounts are not touched."""
    account_id = _account_id(caller)
    for _ in range(_ATTEMPTS):
        membership = find(account_id, user_id)
        if membership.get("owner"):
            raise OwnerProtected("The account owner cannot be removed.")
        check_over(caller.membership or {}, membership)
        login = repository.get_credential(str(membership["email"]), consistent=True)
        leave = repository.leave_op(login, account_id) if login and login.get("user_id") == user_id else None
        event = audit.Event(
            "user.removed",
            caller.actor,
            {"user_id": user_id, "email": membership.get("email")},
            ip,
            {"status": membership.get("status")},
        )
        try:
            repository.remove_membership(
                membership, leave, -int(manages_users(membership)), audit.put_ops(event, [account_id])
            )
        except repository.LastManager:
            raise LastUserManager(_LAST_MANAGER) from None
        except repository.Changed:
            continue
        if leave is not None:
            refresh_credential(str(membership["email"]))  # the strictest settings of the accounts left
        logger.info(
            "member removed", extra={"user_id": user_id, "account_id": account_id, "by": caller.session.user_id}
        )
        return
    raise Conflict("The user was changed by someone else at the same time; try again.")


def find(account_id: str, user_id: str) -> dict[str, Any]:
    """A membership of the account (any status), or 404."""
    found = (
        repository.get_membership(account_id, user_id) if user_id.startswith("usr_") and len(user_id) <= 64 else None
    )
    if found is None:
        raise NotFound("No such user in this account.")
    return found


def _shown(value: Any) -> Any:
    return sorted(value) if isinstance(value, list | set) else value


def reset_mfa(caller: Caller, user_id: str, *, ip: str) -> None:
    """Remove a member's second factor; nothing to remove is no error (the same end state)."""
    account = caller.account or {}
    account_id = _account_id(caller)
    membership = find(account_id, user_id)
    # An invitation is not yet a say over the login behind the address, nor is a member the
    # account denied access: only an accepted, active membership reaches the login.
    if membership.get("status") == "invited":
        raise InvitationPending("This person has not accepted the invitation; there is no login of theirs to act on.")
    if membership.get("status") != "active":
        raise MemberDisabled("This member is denied access to the account; allow access first.")
    # The second factor belongs to the login, in all its accounts: only someone holding everything
    # the member holds here may remove it (a `users` manager cannot strip a full-access admin's).
    check_over(caller.membership or {}, membership)
    email = membership.get("email")
    credential = repository.get_credential(str(email), consistent=True) if email else None
    if credential is None or credential.get("user_id") != user_id:
        raise NotFound("No such user in this account.")
    event = audit.Event(
        "mfa.reset",
        caller.actor,
        {"user_id": user_id},
        ip,
        {"had_mfa": bool(credential.get("mfa_enabled"))},
    )
    had_factor = bool(credential.get("mfa_enabled")) or any(k in credential for k in credentials.SECOND_FACTOR_FIELDS)
    ops = [
        store.condition_op(
            keys.membership(account_id, user_id), "#s = :active", values={":active": "active"}, names={"#s": "status"}
        ),
        credentials.update_op(
            str(credential["email"]),
            {
                # a factor removed ends every challenge and link issued before; nothing to remove
                # (a retry) leaves the same state
                **(credentials.moved_on(credential) if had_factor else {}),
                "mfa_enabled": False,
                **dict.fromkeys(credentials.SECOND_FACTOR_FIELDS),
            },
            condition="attribute_exists(pk) AND user_id = :user",
            values={":user": user_id},
        ),
        # recorded in every account of the login, since it changes the login everywhere
        *audit.put_ops(event, list(dict.fromkeys([account_id, *audit.accounts_of(credential)]))),
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed:  # removed from the account, disabled (or the login deleted) meanwhile
        raise NotFound("No such user in this account.") from None
    audit.fan_out(ops)
    # Not best effort: if this fails the answer is 503 and a retry (the same end state) ends them.
    ended = sessions.revoke_all(user_id)
    passwords.notify(credential, "mfa_reset", {"account": str(account.get("name", ""))})
    metrics.add_metric(name="MfaResets", unit="Count", value=1)
    logger.info(
        "second factor reset",
        extra={"user_id": user_id, "account_id": account_id, "by": caller.session.user_id, "sessions_ended": ended},
    )


def _account_id(caller: Caller) -> str:
    return str((caller.account or {})["account_id"])


def _accepted(membership: dict[str, Any]) -> bool:
    return bool(membership.get("email")) and membership.get("status") != "invited"


def _credentials(memberships: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Each accepted member's login, read in one call; None for an invitation (whose address may
    belong to someone else's login, which the account has no view of) or a member whose email
    now belongs to someone else."""
    emails = sorted({keys.normalise_email(str(m["email"])) for m in memberships if _accepted(m)})
    if not emails:
        return [None] * len(memberships)
    by_email = dict(zip(emails, store.batch_get([keys.credential(e) for e in emails]), strict=True))
    found: list[dict[str, Any] | None] = []
    for membership in memberships:
        credential = by_email.get(keys.normalise_email(str(membership["email"]))) if _accepted(membership) else None
        found.append(credential if credential and credential.get("user_id") == membership.get("user_id") else None)
    return found


def _members(memberships: list[dict[str, Any]]) -> list[Member]:
    return [_member(m, c) for m, c in zip(memberships, _credentials(memberships), strict=True)]


def _member(membership: dict[str, Any], credential: dict[str, Any] | None) -> Member:
    login = credential or {}
    return Member(
        user_id=str(membership["user_id"]),
        email=str(membership.get("email") or login.get("email") or ""),
        name=login.get("name"),
        status=membership.get("status", "active"),
        owner=bool(membership.get("owner")),
        full_access=bool(membership.get("full_access")),
        rights=sorted(str(r) for r in membership.get("rights") or ()),
        mfa_enabled=bool(login.get("mfa_enabled")),
        last_login_at=login.get("last_login_at"),
        password_changed_at=login.get("password_changed_at"),
    )
