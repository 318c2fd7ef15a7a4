"""Response bodies of an account's user list (contract section 7)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

MemberStatus = Literal["active", "disabled", "invited"]


class Member(BaseModel):
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


class MemberList(BaseModel):
    items: list[Member]
    next_cursor: str | None = None
