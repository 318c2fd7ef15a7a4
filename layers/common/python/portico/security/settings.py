"""An account's security settings and what they mean for one user.

A user may belong to several accounts; the strictest settings of them all apply to that user: the
longest minimum length, every required class, the shortest positive maximum age, the longest
history, the shortest session lifetimes, and 2FA if any account enforces it. The result
(:class:`Effective`) is stored on the user's login credential whenever a membership or an account's
settings change, so a login reads one item.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from portico.security.policy import PasswordPolicy


class SecuritySettings(BaseModel):
    """An account's security settings; ``PUT`` replaces them whole (omitted fields take defaults)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    enforce_mfa: bool = False
    password_policy: PasswordPolicy = PasswordPolicy()
    session_idle_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 30
    session_absolute_hours: Annotated[int, Field(ge=1, le=30 * 24)] = 12

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> SecuritySettings:
        """The settings as stored on an account item (numbers come back as Decimals)."""
        return cls.model_validate(item, strict=False) if item else cls()


class Effective(BaseModel):
    """The settings that apply to one user: the strictest of their accounts'."""

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

    @property
    def idle_seconds(self) -> int:
        return self.session_idle_minutes * 60

    @property
    def absolute_seconds(self) -> int:
        return self.session_absolute_hours * 3600

    def to_item(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Effective:
        return cls.model_validate(item, strict=False) if item else cls()
