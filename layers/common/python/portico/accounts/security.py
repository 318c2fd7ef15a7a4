"""Security settings and what they mean for one user.

A user may belong to several accounts; the strictest settings of them all apply to that user
(contract section 4): the longest minimum length, every required class, the shortest positive
maximum age, the longest history, the shortest session lifetimes, and 2FA if any account
enforces it. The result is stored on the user's credential (:class:`Effective`) whenever a
membership or an account's settings change, so a login reads one item.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from portico import store
from portico.accounts.models import SecuritySettings
from portico.auth.policy import PasswordPolicy


class Effective(BaseModel):
    model_config = ConfigDict(frozen=True)

    password_policy: PasswordPolicy = PasswordPolicy()
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    enforce_mfa: bool = False

    @classmethod
    def of(cls, settings: Iterable[SecuritySettings]) -> Effective:
        every = list(settings) or [SecuritySettings()]
        return cls(
            password_policy=PasswordPolicy.strictest(s.password_policy for s in every),
            session_idle_minutes=min(s.session_idle_minutes for s in every),
            session_absolute_hours=min(s.session_absolute_hours for s in every),
            enforce_mfa=any(s.enforce_mfa for s in every),
        )

    def to_item(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Effective:
        return cls.model_validate(store.plain(item)) if item else cls()


def settings_of(account: dict[str, Any]) -> SecuritySettings:
    raw = account.get("security")
    return SecuritySettings.model_validate(store.plain(raw), strict=False) if raw else SecuritySettings()
