"""User administration of an account (right ``users``), the rights catalog, the audit log, and
the invitation links a new member opens."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from portico import access, http, ids, pages
from portico.accounts.models import RightView
from portico.accounts.rights import Right, catalog
from portico.audit import log as audit_log
from portico.identity import invitations, members
from portico.identity.member_models import (
    Accepted,
    AcceptInvitation,
    Invitation,
    Invited,
    InviteRequest,
    Member,
    MemberChange,
    MemberList,
    MemberStatus,
)
from portico.privacy import service as privacy
from portico.privacy.models import AccountRequest, AccountRequestList, Resolution

boot.ready("dynamodb")

app = http.resolver()

Limit = Annotated[int, Query(ge=1, le=pages.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=pages.MAX_CURSOR_CHARS)]
Token = Annotated[str, Path(min_length=1, max_length=256)]
RequestId = Annotated[str, Path(min_length=1, max_length=64)]


@app.get("/rights")
@access.user
def list_rights() -> list[RightView]:
    """List the rights a member can be given, with their rules."""
    return catalog()


@app.get("/accounts/<account_id>/users")
@access.member(Right.USERS)
def list_users(
    account_id: str,
    mfa_enabled: Annotated[bool | None, Query()] = None,
    status: Annotated[MemberStatus | None, Query()] = None,
    limit: Limit = pages.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> MemberList:
    """List the account's members and open invitations.

    Filter with ``?mfa_enabled=`` and ``?status=``; pages with ``?limit=`` and ``?cursor=``.
    """
    return members.listing(http.caller(app), mfa_enabled=mfa_enabled, status=status, limit=limit, cursor=cursor)


@app.post("/accounts/<account_id>/users")
@access.member(Right.USERS)
def invite_user(account_id: str, body: InviteRequest) -> Response[Invited]:
    """Invite someone to the account by email.

    Answers the invitation's ``user_id`` and emails a ``/accept-invitation?token=`` link (7 days, once).
    Granting full access needs full access, granting a right needs that right.

    Errors:
        403 forbidden: the inviter lacks a right they try to grant.
        409 already_member: the address is already a member of the account, or invited.
        422 right_unavailable: ``payouts`` without payouts enabled, or ``sync`` outside a live account.
        429 too_many_requests: invitation emails to this address are limited; see ``Retry-After``.
    """
    caller = http.caller(app)
    scope = f"invite#{account_id}#{caller.user_id}"
    return http.idempotent(app, scope, body, lambda: invitations.invite(caller, body, ip=http.meta(app).ip))


@app.get("/accounts/<account_id>/users/<user_id>")
@access.member(Right.USERS)
def get_user(account_id: str, user_id: str) -> Member:
    """Show one member or open invitation of the account."""
    return members.get(http.caller(app), user_id)


@app.patch("/accounts/<account_id>/users/<user_id>")
@access.member(Right.USERS)
def change_user(account_id: str, user_id: str, body: MemberChange) -> Member:
    """Change a member's rights or deny or allow access (``status``).

    Errors:
        403 forbidden: the member holds, or the change grants, a right the caller lacks.
        409 owner_protected: the owner cannot be disabled or lose full access.
        409 last_user_manager: the change would leave no active member holding ``users``.
        409 invitation_pending: an invitation cannot be disabled; delete it instead.
        409 conflict: the member changed at the same time; try again.
        422 right_unavailable: the right cannot be granted in this account.
    """
    return members.change(http.caller(app), user_id, body, ip=http.meta(app).ip)


@app.delete("/accounts/<account_id>/users/<user_id>")
@access.member(Right.USERS)
def remove_user(account_id: str, user_id: str) -> Response[None]:
    """Remove a member from the account, or withdraw an open invitation.

    The person's login and other accounts stay.

    Errors:
        403 forbidden: the member holds a right the caller lacks.
        409 owner_protected: the owner cannot be removed.
        409 last_user_manager: the removal would leave no active member holding ``users``.
        409 conflict: the member changed at the same time; try again.
    """
    members.remove(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/accounts/<account_id>/users/<user_id>/invitation")
@access.member(Right.USERS)
def resend_invitation(account_id: str, user_id: str) -> Response[dict]:
    """Send an open invitation again with a new link; the old link stops working.

    Errors:
        409 not_invited: the invitation was already accepted, or changed meanwhile.
        429 too_many_requests: invitation emails to this address are limited; see ``Retry-After``.
    """
    invitations.resend(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.accepted()


@app.post("/accounts/<account_id>/users/<user_id>/mfa-reset")
@access.member(Right.USERS)
def reset_user_mfa(account_id: str, user_id: str) -> Response[None]:
    """Reset a member's two-factor authentication (a lost phone) and end their sessions.

    Errors:
        403 forbidden: the member holds a right the caller lacks.
        409 invitation_pending: the person has not accepted the invitation yet.
        409 member_disabled: the member is denied access; allow access first.
        409 conflict: the member changed at the same time; try again.
    """
    members.reset_mfa(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/accounts/<account_id>/users/<user_id>/password-reset")
@access.member(Right.USERS)
def reset_user_password(account_id: str, user_id: str) -> Response[None]:
    """Make a member set a new password at their next login, and end their sessions.

    The member gets an email; the admin never sets or sees a password.

    Errors:
        403 forbidden: the member holds a right the caller lacks.
        409 owner_protected: the owner's password cannot be reset by another member.
        409 invitation_pending: the person has not accepted the invitation yet.
        409 member_disabled: the member is denied access; allow access first.
        409 conflict: the member changed at the same time; try again.
    """
    members.reset_password(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


@app.get("/accounts/<account_id>/audit-log")
@access.member(Right.USERS)
def read_audit_log(account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None) -> audit_log.Log:
    """Read the account's audit log, newest first (``?limit=``, ``?cursor=``)."""
    return audit_log.listing(account_id, limit=limit, cursor=cursor)


@app.get("/invitations/<token>")
@access.public
def view_invitation(token: Token) -> Invitation:
    """Show an invitation from its link: account name, email, expiry, and whether the address has a login.

    Errors:
        404 not_found: the link is unknown, used, replaced or expired.
    """
    return invitations.view(token)


@app.post("/invitations/<token>/accept")
@access.public
def accept_invitation(token: Token, body: AcceptInvitation) -> Response[Accepted]:
    """Accept an invitation: a new person sets name and password, an existing login confirms its password.

    Answers the ``user_id`` of the member, which is the existing login's id when one accepts.

    Errors:
        401 invalid_credentials: the password is not the one of the login that already uses the address.
        404 not_found: the link is unknown, used, replaced or expired.
        422 weak_password: a new person's password fails the account's policy.
        429 too_many_attempts: the existing login is locked after 5 failures; see ``Retry-After``.
    """
    request = http.meta(app)
    return http.idempotent(
        app,
        f"accept#{ids.digest(token)}",
        body,
        lambda: invitations.accept(token, body, ip=request.ip, accept_language=request.accept_language),
    )


@app.get("/accounts/<account_id>/privacy-requests")
@access.member(Right.USERS)
def list_privacy_requests(
    account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None
) -> AccountRequestList:
    """List the deletion and restriction requests of this account's members, newest first.

    Each shows the person as they were when asking (email, name), their reason, and how it was resolved.
    """
    return privacy.listing(http.caller(app), limit=limit, cursor=cursor)


@app.post("/accounts/<account_id>/privacy-requests/<request_id>")
@access.member(Right.USERS)
@http.refuses_card_numbers
def resolve_privacy_request(account_id: str, request_id: RequestId, body: Resolution) -> AccountRequest:
    """Complete or reject a member's deletion or restriction request; the person is told by email.

    Completing a deletion erases the person's login and personal data (their memberships in every
    account, sessions, profile, consents; audit records stay); completing a restriction stops every
    notice but security ones. Only an admin holding every right the person holds, never the person.

    Errors:
        403 own_privacy_request: one's own request is resolved by another admin.
        403 forbidden: the person holds rights the caller does not.
        404 not_found: no such request in this account.
        409 privacy_request_resolved: the request was already completed or rejected.
        409 owner_protected: the owner of an account is never erased; transfer the ownership first.
        409 conflict: the person's membership changed at the same time; resolve again.
    """
    return privacy.resolve(http.caller(app), request_id, body, ip=http.meta(app).ip)


lambda_handler = http.entry_point(app)
