"""The rights catalog (contract section 7): one place that names every right and what it needs.

Rights compose per user; ``full_access`` grants every right, present and future. Every route that
needs more than a login names one of these in its access declaration (:mod:`portico.access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Right(StrEnum):
    USERS = "users"
    DATA_VIEW = "data:view"
    DATA_EDIT = "data:edit"
    REPORTS = "reports"
    SETTINGS = "settings"
    DEVELOPER = "developer"
    PAYOUTS = "payouts"
    SYNC = "sync"


@dataclass(frozen=True)
class RightInfo:
    id: Right
    name: str
    description: str
    requires: tuple[Right, ...] = ()
    constraint: str | None = None


CATALOG: tuple[RightInfo, ...] = (
    RightInfo(Right.USERS, "User management", "Manage users and their rights, account creation, account billing."),
    RightInfo(Right.DATA_VIEW, "View data", "View customers, subscriptions, invoices and transactions."),
    RightInfo(
        Right.DATA_EDIT,
        "Edit data",
        "Create and change customers, subscriptions and invoices.",
        requires=(Right.DATA_VIEW,),
    ),
    RightInfo(Right.REPORTS, "Reports", "Statistics and reports."),
    RightInfo(Right.SETTINGS, "Settings", "Account settings, plans, add-ons, discounts and coupons."),
    RightInfo(Right.DEVELOPER, "Developer", "API credentials, webhook settings and history."),
    RightInfo(Right.PAYOUTS, "Payouts", "Payouts to the merchant.", constraint="payouts_enabled"),
    RightInfo(Right.SYNC, "Sync", "Synchronisation with external systems.", constraint="live_account"),
)


def allows(membership: dict[str, Any], right: Right) -> bool:
    """Whether an (active) membership carries ``right``, directly or through full access."""
    return bool(membership.get("full_access")) or right.value in set(membership.get("rights") or ())


def catalog() -> list[dict[str, Any]]:
    """The catalog as the API shows it (``GET /rights``)."""
    return [
        {
            "id": info.id.value,
            "name": info.name,
            "description": info.description,
            "requires": [r.value for r in info.requires],
            "constraint": info.constraint,
        }
        for info in CATALOG
    ]
