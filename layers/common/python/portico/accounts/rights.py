"""The rights catalog: one place that names every right and what it needs.

Rights compose per user; ``full_access`` grants every right, present and future. Every route that
needs more than a login names one of these in its access declaration (:mod:`portico.access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portico.accounts.models import RightView
from portico.accounts.records import Account, Membership
from portico.errors import Forbidden, define

RightUnavailable = define("RightUnavailable", 422, "right_unavailable", "Right Unavailable")


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


_BY_ID = {info.id: info for info in CATALOG}


def allows(membership: Membership, right: Right) -> bool:
    """Whether a membership carries ``right``, directly or through full access (its status is the
    caller's business)."""
    return membership.full_access or right.value in membership.rights


def manages_users(membership: Membership) -> bool:
    """An active member holding ``users``: the kind an account must never run out of."""
    return membership.active and allows(membership, Right.USERS)


def compose(rights: list[Right] | tuple[Right, ...], account: Account) -> list[str]:
    """The stored form of a grant: what each right requires is added (``data:edit`` brings
    ``data:view``), and a right the account cannot have is ``422 right_unavailable``."""
    granted: set[Right] = set()
    pending = list(rights)
    while pending:
        right = pending.pop()
        if right not in granted:
            granted.add(right)
            pending.extend(_BY_ID[right].requires)
    for right in sorted(granted):
        problem = unavailable(right, account)
        if problem:
            raise RightUnavailable(problem)
    return sorted(r.value for r in granted)


def unavailable(right: Right, account: Account) -> str | None:
    """Why ``account`` cannot grant ``right``, or None."""
    constraint = _BY_ID[right].constraint
    if constraint == "payouts_enabled" and not account.payouts_enabled:
        return f"'{right.value}' needs payouts enabled on the account (an acquirer agreement that supports payouts)."
    if constraint == "live_account" and account.mode != "live":
        return f"'{right.value}' is only available in live accounts."
    return None


def check_grant(granter: Membership, full_access: bool, rights: list[str] | tuple[str, ...]) -> None:
    """A member can hand out only what they hold: full access only with full access, and a right
    only if they have it (``users`` alone does not make its holder an administrator of everything)."""
    if full_access and not granter.full_access:
        raise Forbidden("Only a member with full access can grant full access.")
    missing = [r for r in rights if not allows(granter, Right(r))]
    if missing:
        raise Forbidden(f"You cannot grant rights you do not hold: {', '.join(missing)}.")


def check_over(granter: Membership, member: Membership) -> None:
    """A member can act on another (change, remove, reset their 2FA) only holding all they hold."""
    check_grant(granter, member.full_access, member.rights)


def catalog() -> list[RightView]:
    """The catalog as the API shows it (``GET /rights``)."""
    return [
        RightView(
            id=info.id.value,
            name=info.name,
            description=info.description,
            requires=[r.value for r in info.requires],
            constraint=info.constraint,
        )
        for info in CATALOG
    ]
