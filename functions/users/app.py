"""User administration of an account (right ``users``), the rights catalog, the audit log, and
the invitation links a new member opens."""

from __future__ import annotations

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

app = http.resolver()

Limit = Annotated[int, Query(ge=1, le=pages.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=pages.MAX_CURSOR_CHARS)]
Token = Annotated[str, Path(min_length=1, max_length=256)]


@app.get("/rights")
@access.user
def list_rights() -> list[RightView]:
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
    return members.listing(http.caller(app), mfa_enabled=mfa_enabled, status=status, limit=limit, cursor=cursor)


@app.post("/accounts/<account_id>/users")
@access.member(Right.USERS)
def invite_user(account_id: str, body: InviteRequest) -> Response[Invited]:
    caller = http.caller(app)
    scope = f"invite#{account_id}#{caller.user_id}"
    return http.idempotent(app, scope, body, lambda: invitations.invite(caller, body, ip=http.meta(app).ip))


@app.get("/accounts/<account_id>/users/<user_id>")
@access.member(Right.USERS)
def get_user(account_id: str, user_id: str) -> Member:
    return members.get(http.caller(app), user_id)


@app.patch("/accounts/<account_id>/users/<user_id>")
@access.member(Right.USERS)
def change_user(account_id: str, user_id: str, body: MemberChange) -> Member:
    return members.change(http.caller(app), user_id, body, ip=http.meta(app).ip)


@app.delete("/accounts/<account_id>/users/<user_id>")
@access.member(Right.USERS)
def remove_user(account_id: str, user_id: str) -> Response[None]:
    members.remove(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/accounts/<account_id>/users/<user_id>/invitation")
@access.member(Right.USERS)
def resend_invitation(account_id: str, user_id: str) -> Response[dict]:
    invitations.resend(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.accepted()


@app.post("/accounts/<account_id>/users/<user_id>/mfa-reset")
@access.member(Right.USERS)
def reset_user_mfa(account_id: str, user_id: str) -> Response[None]:
    members.reset_mfa(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


@app.post("/accounts/<account_id>/users/<user_id>/password-reset")
@access.member(Right.USERS)
def reset_user_password(account_id: str, user_id: str) -> Response[None]:
    members.reset_password(http.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


@app.get("/accounts/<account_id>/audit-log")
@access.member(Right.USERS)
def read_audit_log(account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None) -> audit_log.Log:
    return audit_log.listing(account_id, limit=limit, cursor=cursor)


@app.get("/invitations/<token>")
@access.public
def view_invitation(token: Token) -> Invitation:
    return invitations.view(token)


@app.post("/invitations/<token>/accept")
@access.public
def accept_invitation(token: Token, body: AcceptInvitation) -> Response[Accepted]:
    request = http.meta(app)
    return http.idempotent(
        app,
        f"accept#{ids.digest(token)}",
        body,
        lambda: invitations.accept(token, body, ip=request.ip, accept_language=request.accept_language),
    )


lambda_handler = http.entry_point(app)
