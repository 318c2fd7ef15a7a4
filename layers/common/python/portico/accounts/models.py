"""Account bodies: the account itself and its security settings (contract section 6)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from portico.auth.policy import PasswordPolicy


class SecuritySettings(BaseModel):
    """An account's security settings; ``PUT`` replaces them whole (omitted fields take defaults)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    enforce_mfa: bool = False
    password_policy: PasswordPolicy = PasswordPolicy()
    session_idle_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 30
    session_absolute_hours: Annotated[int, Field(ge=1, le=30 * 24)] = 12


class Account(BaseModel):
    account_id: str
    name: str
    mode: Literal["test", "live"]
    test_account_id: str | None = None
    live_account_id: str | None = None
