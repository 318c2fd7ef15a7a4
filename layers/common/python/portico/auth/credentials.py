"""The login credential: one item per login, keyed by its email address, that a login step reads
whole (password, lockout state, second factor, effective security settings, recovery state).

Typed here (:class:`Credential`); stored and updated only through :mod:`portico.auth.repository`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from portico.auth.lockout import State
from portico.records import Record
from portico.security.settings import Effective


@dataclass(frozen=True, kw_only=True)
class Credential(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "security": Effective.from_item,
        "reminders_sent": lambda days: tuple(int(d) for d in days),
        "notifications": lambda kinds: {str(k): bool(v) for k, v in kinds.items()},
    }
    encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {"security": Effective.to_item}

    user_id: str
    email: str
    name: str = ""
    language: str = "en"
    account_ids: tuple[str, ...] = ()
    security: Effective = field(default_factory=Effective)
    notifications: dict[str, bool] = field(default_factory=dict)
    last_login_at: str | None = None
    # optimistic lock of the whole item (every write moves it) and the state of what proves the
    # login (moves with password and second-factor changes; see repository.moved_on)
    version: int = 0
    auth_version: int | None = None
    # the address
    email_verified: bool = False
    email_verified_at: str | None = None
    verify_token_hash: str | None = None
    email_change_hash: str | None = None  # the pending email-change link (a newer one replaces it)
    # the password
    password_hash: str = ""
    password_changed_at: str | None = None
    password_changed_epoch: int | None = None
    password_status: str = "ok"  # noqa: S105 (ok, expired, admin_reset, compromised: a state)
    password_expires_at: int | None = None
    password_history: tuple[str, ...] = ()
    reminders_sent: tuple[int, ...] = ()
    # lockout
    failed_count: int = 0
    last_failure_ms: int = 0
    failure_hour: int = 0
    hour_failures: int = 0
    # second factor
    mfa_enabled: bool = False
    totp_sealed: str | None = None
    totp_last_step: int | None = None
    recovery_hashes: tuple[str, ...] = ()
    totp_pending_sealed: str | None = None
    totp_pending_expires: int | None = None
    totp_pending_for: str | None = None
    # recovery
    reset_link_hash: str | None = None
    reset_code_hash: str | None = None
    reset_code_salt: str | None = None
    reset_code_expires: int | None = None
    reset_code_attempts: int | None = None
    phone: str | None = None
    phone_verified: bool = False
    # a completed restriction request: only essential (security) notices, nothing optional
    processing_restricted: bool = False

    @property
    def lockout(self) -> State:
        return State(
            failed_count=self.failed_count,
            last_failure_at=self.last_failure_ms / 1000,
            hour=self.failure_hour,
            hour_failures=self.hour_failures,
        )

    @property
    def state(self) -> int:
        """The credential's state version (0 before it was first moved on)."""
        return self.auth_version or 0

    @property
    def has_second_factor(self) -> bool:
        return self.mfa_enabled or self.totp_sealed is not None or bool(self.recovery_hashes)

    def with_fields(self, fields: dict[str, Any]) -> Credential:
        """This credential as it is after an update that set ``fields`` (None: removed)."""
        defaults = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for name, value in fields.items():
            if name not in defaults:
                continue  # the expiry index's attributes
            if value is not None:
                changes[name] = value if isinstance(value, Effective) else self.decode(name, value)
            elif callable(factory := defaults[name].default_factory):
                changes[name] = factory()
            else:
                changes[name] = defaults[name].default
        return dataclasses.replace(self, **changes)


FIELDS = Credential.field_names()
