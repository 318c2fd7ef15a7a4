"""Bodies of the account routes (contract sections 6 and 7): the account as a member sees it, and
the rights catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class AccountView(BaseModel):
    account_id: str
    name: str
    mode: Literal["test", "live"]
    test_account_id: str | None = None
    live_account_id: str | None = None


class RightView(BaseModel):
    id: str
    name: str
    description: str
    requires: list[str]
    constraint: str | None
