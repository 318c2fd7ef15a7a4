"""Typed records of an account and of a membership (a login's place in an account)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

from portico.records import Record
from portico.security.settings import SecuritySettings

MembershipStatus = Literal["active", "disabled", "invited"]


@dataclass(frozen=True, kw_only=True)
class Company(Record):
    """The merchant's details as its customers see them (invoices, the portal, emails)."""

    legal_name: str | None = None
    address: str | None = None
    email: str | None = None
    phone: str | None = None


DEFAULT_DUNNING_RETRY_DAYS = (1, 3, 5)


@dataclass(frozen=True, kw_only=True)
class Account(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "security": SecuritySettings.from_item,
        "company": lambda c: Company.from_item(c) if c else Company(),
        "vat_percent": lambda v: Decimal(str(v)),
        "dunning_retry_days": lambda days: tuple(int(d) for d in days),
        "portal": lambda p: dict(p),
    }
    encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "security": lambda s: s.model_dump(),
        "company": lambda c: c.to_item(),
        "dunning_retry_days": list,
    }

    account_id: str
    name: str
    mode: str = "test"  # "test" or "live"
    language: str = "en"
    owner_user_id: str | None = None
    user_managers: int = 0  # active members holding `users`: never allowed to reach 0
    security: SecuritySettings = field(default_factory=SecuritySettings)
    payouts_enabled: bool = False
    test_account_id: str | None = None
    live_account_id: str | None = None
    go_live: dict[str, Any] | None = None  # a go-live in progress: its live account and how far it got
    opening: bool = False  # a live account whose go-live has not finished: nobody may use it yet
    created_at: str | None = None
    # settings (``GET, PATCH /accounts/{a}/settings``)
    currency: str = "EUR"
    vat_percent: Decimal = Decimal(0)
    timezone: str = "UTC"
    logo_url: str | None = None
    terms_url: str | None = None
    company: Company = field(default_factory=Company)
    dunning_retry_days: tuple[int, ...] = DEFAULT_DUNNING_RETRY_DAYS
    portal: dict[str, Any] = field(default_factory=dict)  # the customer portal's configuration
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class Membership(Record):
    account_id: str
    user_id: str
    email: str
    status: MembershipStatus = "active"
    owner: bool = False
    full_access: bool = False
    rights: tuple[str, ...] = ()
    version: int | None = None  # None: written before memberships had one
    account_name: str = ""  # the account's name and mode, so a login's list needs no account read
    account_mode: str = "test"
    created_at: str | None = None
    accepted_at: str | None = None
    invited_by: str | None = None
    invitation_hash: str | None = None
    invitation_expires_at: int | None = None
    invitation_sent_at: int | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def invited(self) -> bool:
        return self.status == "invited"
