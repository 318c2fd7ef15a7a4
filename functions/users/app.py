"""User administration routes of an account (right ``users``): the member list and 2FA resets."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from portico import access, http
from portico.identity import members
from portico.identity.member_models import MemberList, MemberStatus
from portico.rights import Right, catalog

app = http.resolver()


class RightInfo(BaseModel):
    id: str
    name: str
    description: str
    requires: list[str]
    constraint: str | None


@app.get("/rights")
@access.user
def list_rights() -> list[RightInfo]:
    return [RightInfo(**info) for info in catalog()]


@app.get("/accounts/<account_id>/users")
@access.member(Right.USERS)
def list_users(
    account_id: str,
    mfa_enabled: Annotated[bool | None, Query()] = None,
    status: Annotated[MemberStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=members.MAX_LIMIT)] = members.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=members.MAX_CURSOR_CHARS)] = None,
) -> MemberList:
    return members.listing(access.caller(app), mfa_enabled=mfa_enabled, status=status, limit=limit, cursor=cursor)


@app.post("/accounts/<account_id>/users/<user_id>/mfa-reset")
@access.member(Right.USERS)
def reset_user_mfa(account_id: str, user_id: str) -> Response[None]:
    members.reset_mfa(access.caller(app), user_id, ip=http.meta(app).ip)
    return http.no_content()


lambda_handler = http.entry_point(app)
