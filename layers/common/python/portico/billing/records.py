"""Typed records of billing items: the catalog, customers and their payment methods, subscriptions,
invoices with their transactions, and the customer timeline.

Money is an int in minor units of ``currency``; a percentage is a Decimal (the table keeps it
exact). Times are ISO 8601 UTC strings as the API speaks them. What a subscription was sold with
(its plan's price and period, its add-ons, its discount) is copied onto it when it is created, so
reading one is one item, and a later change of the catalog never changes what a customer pays for
the periods already agreed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

from portico.records import Record

CatalogState = Literal["active", "archived"]
IntervalUnit = Literal["day", "month", "year"]
SubscriptionState = Literal["trialing", "active", "paused", "cancelled", "expired"]
InvoiceState = Literal["pending", "paid", "failed"]
DiscountDuration = Literal["once", "forever", "periods"]

ENDED: frozenset[str] = frozenset({"expired"})


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# ----------------------------------------------------------------- the catalog


@dataclass(frozen=True, kw_only=True)
class Plan(Record):
    plan_id: str
    account_id: str
    handle: str
    name: str
    amount: int
    currency: str
    interval_unit: IntervalUnit
    interval_count: int
    description: str | None = None
    trial_days: int | None = None
    portal_orderable: bool = False
    requires_verified_phone: bool = False
    state: CatalogState = "active"
    created_at: str = ""
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class Addon(Record):
    addon_id: str
    account_id: str
    handle: str
    name: str
    amount: int
    currency: str
    state: CatalogState = "active"
    created_at: str = ""
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class Discount(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {"percent": _decimal}

    discount_id: str
    account_id: str
    handle: str
    name: str
    duration: DiscountDuration
    percent: Decimal | None = None
    amount: int | None = None
    currency: str | None = None  # of a fixed amount
    periods: int | None = None  # with duration "periods"
    state: CatalogState = "active"
    created_at: str = ""
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class Coupon(Record):
    coupon_id: str
    account_id: str
    code: str  # as the merchant spelled it; unique case-insensitively
    discount_id: str
    max_redemptions: int | None = None
    valid_until: str | None = None
    redemptions: int = 0
    state: CatalogState = "active"
    created_at: str = ""
    version: int = 0


# ----------------------------------------------------------------- customers


@dataclass(frozen=True, kw_only=True)
class Address(Record):
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


@dataclass(frozen=True, kw_only=True)
class Customer(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {"address": lambda a: Address.from_item(a) if a else None}
    encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {"address": lambda a: a.to_item()}

    customer_id: str
    account_id: str
    email: str
    name: str | None = None
    phone: str | None = None
    phone_verified: bool = False
    address: Address | None = None
    company: str | None = None
    vat_id: str | None = None
    language: str | None = None
    handle: str | None = None
    default_payment_method_id: str | None = None
    created_at: str = ""
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class PaymentMethod(Record):
    payment_method_id: str
    account_id: str
    customer_id: str
    token: str  # the payment provider's reference; never a card number
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created_at: str = ""


@dataclass(frozen=True, kw_only=True)
class TimelineEvent(Record):
    event_id: str
    account_id: str
    customer_id: str
    at: str
    source: Literal["portal", "admin", "system"]
    type: str
    actor: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------- subscriptions


@dataclass(frozen=True, kw_only=True)
class PlanTerms(Record):
    """What a subscription pays for its plan, copied from the plan when it was sold."""

    plan_id: str
    name: str
    amount: int
    currency: str
    interval_unit: IntervalUnit
    interval_count: int


@dataclass(frozen=True, kw_only=True)
class AddonTerms(Record):
    addon_id: str
    name: str
    amount: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class DiscountTerms(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {"percent": _decimal}

    discount_id: str
    name: str
    duration: DiscountDuration
    percent: Decimal | None = None
    amount: int | None = None
    periods_left: int | None = None  # with duration "periods": invoices it still applies to
    coupon_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Dunning(Record):
    invoice_id: str
    attempt: int  # failed charges so far
    next_retry_at: str
    first_failed_at: str = ""  # the retries are counted in days from here


@dataclass(frozen=True, kw_only=True)
class CardSummary(Record):
    """The card a subscription is charged to, as it may be shown (kept on the subscription, so
    that showing it reads nothing more; a card in use cannot be removed)."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def _terms(cls: type[Record]) -> Callable[[Any], Any]:
    return lambda value: cls.from_item(value)


@dataclass(frozen=True, kw_only=True)
class Subscription(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "plan": _terms(PlanTerms),
        "addons": lambda items: tuple(AddonTerms.from_item(i) for i in items),
        "discount": lambda d: DiscountTerms.from_item(d) if d else None,
        "dunning": lambda d: Dunning.from_item(d) if d else None,
        "card": lambda c: CardSummary.from_item(c) if c else None,
    }
    encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "plan": lambda p: p.to_item(),
        "addons": lambda items: [i.to_item() for i in items],
        "discount": lambda d: d.to_item(),
        "dunning": lambda d: d.to_item(),
        "card": lambda c: c.to_item(),
    }

    subscription_id: str
    account_id: str
    customer_id: str
    plan: PlanTerms
    state: SubscriptionState
    anchor_at: str  # the first period's start: every later boundary keeps its local day and time
    current_period_start: str
    current_period_end: str
    payment_method_id: str | None = None
    card: CardSummary | None = None
    addons: tuple[AddonTerms, ...] = ()
    discount: DiscountTerms | None = None
    trial_end: str | None = None
    paused_at: str | None = None
    resume_at: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None
    ends_at: str | None = None
    ended_at: str | None = None
    state_before_cancel: str | None = None
    dunning: Dunning | None = None
    # the next thing the renewal job does to it, and when (indexed by the hour: no scan)
    due_at: str | None = None
    due_action: str | None = None
    created_at: str = ""
    version: int = 0


# ----------------------------------------------------------------- invoices


@dataclass(frozen=True, kw_only=True)
class InvoiceLine(Record):
    description: str
    quantity: int
    unit_amount: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class Transaction(Record):
    transaction_id: str
    amount: int
    state: Literal["succeeded", "declined"]
    created_at: str
    reference: str | None = None  # the gateway's
    decline_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class Invoice(Record):
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "vat_percent": _decimal,
        "lines": lambda items: tuple(InvoiceLine.from_item(i) for i in items),
        "transactions": lambda items: tuple(Transaction.from_item(i) for i in items),
    }
    encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "lines": lambda items: [i.to_item() for i in items],
        "transactions": lambda items: [i.to_item() for i in items],
    }

    invoice_id: str
    account_id: str
    customer_id: str
    subscription_id: str
    handle: str  # the merchant-facing number
    state: InvoiceState
    currency: str
    subtotal: int
    discount_amount: int
    vat_percent: Decimal
    vat_amount: int
    amount: int  # the total
    period_start: str
    period_end: str
    lines: tuple[InvoiceLine, ...] = ()
    transactions: tuple[Transaction, ...] = ()
    payment_method_id: str | None = None
    charge_attempt: int = 0  # charges tried so far (the gateway's idempotency key names the attempt)
    charging_since: str | None = None  # a charge in flight: the renewal job asks the gateway again
    purpose: Literal["first", "renewal", "trial_end", "resume"] = "renewal"
    # a first invoice's subscription, created only once it is paid (recovered from here when the
    # answer of its charge was lost)
    pending_subscription: dict[str, Any] | None = None
    coupon_id: str | None = None  # the coupon redeemed for it (given back if a first charge fails)
    created_at: str = ""
    version: int = 0
