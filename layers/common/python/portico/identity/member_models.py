"""Bodies of user administration and invitations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict

from portico.accounts.rights import Right
from portico.fields import Email, Line, Model, Password, RequestBody, Secret

MemberStatus = Literal["active", "disabled", "invited"]


class Member(Model):
    """A member of an account as its user managers see them: the membership (status, rights) and,
    from the user's login, name, second factor and activity."""

    user_id: str
    email: str
    name: str | None
    status: MemberStatus
    owner: bool
    full_access: bool
    rights: list[str]
    mfa_enabled: bool
    last_login_at: str | None
    password_changed_at: str | None


class MemberList(Model):
    items: list[Member]
    next_cursor: str | None = None


RightId = Annotated[Right, Strict(False)]  # a right's id as JSON sends it ("data:view")
Rights = Annotated[list[RightId], Field(max_length=32)]


class InviteRequest(RequestBody):
    email: Email
    full_access: bool = False
    rights: Rights = []


class Invited(Model):
    user_id: str
    status: Literal["invited"] = "invited"


class MemberChange(RequestBody):
    """``PATCH``: only the fields sent change."""

    full_access: bool | None = None
    rights: Rights | None = None
    status: Literal["active", "disabled"] | None = None


class Invitation(Model):
    account_name: str
    email: str
    expires_at: str
    has_login: bool  # accept with that login's password (True) or with a name and a new password


class AcceptInvitation(RequestBody):
    name: Line | None = None  # required when the email has no login yet
    password: Password
    captcha_token: Secret | None = None


class Accepted(Model):
    user_id: str
