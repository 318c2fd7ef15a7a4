"""Bodies of the account routes: the account as a member sees it, and the rights catalog."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from portico.fields import Currency, Email, HttpsUrl, Language, Line, Model, Percent, RequestBody, Timezone


class AccountView(Model):
    account_id: str
    name: str
    mode: Literal["test", "live"]
    test_account_id: str | None = None
    live_account_id: str | None = None


class RightView(Model):
    id: str
    name: str
    description: str
    requires: list[str]
    constraint: str | None


class CompanyDetails(Model):
    legal_name: str | None = None
    address: str | None = None
    email: str | None = None
    phone: str | None = None


class AccountSettings(Model):
    """An account's settings."""

    name: str
    language: Language
    currency: str
    vat_percent: Percent
    timezone: str
    logo_url: str | None
    terms_url: str | None
    company: CompanyDetails
    payouts_enabled: bool
    dunning_retry_days: list[int]


class CompanyPatch(RequestBody):
    legal_name: Line | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = None
    email: Email | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")] | None = None


RetryDays = Annotated[list[Annotated[int, Field(ge=1, le=60)]], Field(min_length=1, max_length=10)]


class SettingsPatch(RequestBody):
    """``PATCH``: only the fields sent change; ``null`` clears an optional one (logo, terms,
    a company detail)."""

    name: Line | None = None
    language: Language | None = None
    currency: Currency | None = None
    vat_percent: Percent | None = None
    timezone: Timezone | None = None
    logo_url: HttpsUrl | None = None
    terms_url: HttpsUrl | None = None
    company: CompanyPatch | None = None
    payouts_enabled: bool | None = None
    dunning_retry_days: RetryDays | None = None

    @field_validator("dunning_retry_days")
    @classmethod
    def _increasing(cls, days: list[int] | None) -> list[int] | None:
        if days is not None and any(b <= a for a, b in pairwise(days)):
            raise ValueError("retry days grow: each a later day after the first failure than the one before")
        return days


class GoLive(Model):
    live_account_id: str
