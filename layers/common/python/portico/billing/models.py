"""Bodies of the billing routes: the catalog, customers and their payment methods, subscriptions and
their actions, invoices, the timeline and the portal link.

Requests are strict (unknown fields and type coercion are 422); a ``PATCH`` changes only the
fields sent. Money is an int in minor units of a ``currency``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from portico.fields import Amount, Currency, Email, Handle, Language, Line, Model, Percent, Quantity, RequestBody

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
IntervalUnit = Literal["day", "month", "year"]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]
Moment = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
Id = Annotated[str, StringConstraints(min_length=4, max_length=64, pattern=r"^[a-z]+_[a-z0-9]+$")]


class Page(Model):
    next_cursor: str | None = None


# ----------------------------------------------------------------- the catalog


class PlanCreate(RequestBody):
    handle: Handle
    name: Line
    description: Text | None = None
    amount: Amount
    currency: Currency
    interval_unit: IntervalUnit
    interval_count: Annotated[int, Field(ge=1, le=36)] = 1
    trial_days: Annotated[int, Field(ge=1, le=730)] | None = None
    portal_orderable: bool = False
    requires_verified_phone: bool = False


class PlanPatch(RequestBody):
    """What may change once a plan exists; its price and period are what subscriptions were sold
    (create a new plan and archive this one to change them)."""

    name: Line | None = None
    description: Text | None = None
    trial_days: Annotated[int, Field(ge=1, le=730)] | None = None
    portal_orderable: bool | None = None
    requires_verified_phone: bool | None = None


class PlanView(Model):
    plan_id: str
    handle: str
    name: str
    description: str | None
    amount: int
    currency: str
    interval_unit: IntervalUnit
    interval_count: int
    trial_days: int | None
    portal_orderable: bool
    requires_verified_phone: bool
    state: Literal["active", "archived"]
    created_at: str


class PlanList(Page):
    items: list[PlanView]


class AddonCreate(RequestBody):
    handle: Handle
    name: Line
    amount: Amount
    currency: Currency


class AddonPatch(RequestBody):
    name: Line | None = None


class AddonView(Model):
    addon_id: str
    handle: str
    name: str
    amount: int
    currency: str
    state: Literal["active", "archived"]
    created_at: str


class AddonList(Page):
    items: list[AddonView]


class DiscountCreate(RequestBody):
    handle: Handle
    name: Line
    percent: Annotated[Percent, Field(gt=0)] | None = None
    amount: Annotated[int, Field(ge=1, le=10**12)] | None = None
    currency: Currency | None = None
    duration: Literal["once", "forever", "periods"]
    periods: Annotated[int, Field(ge=1, le=120)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DiscountCreate:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("exactly one of percent and amount")
        if (self.amount is None) != (self.currency is None):
            raise ValueError("a fixed amount comes with its currency, a percent without one")
        if (self.duration == "periods") != (self.periods is not None):
            raise ValueError("periods goes with duration 'periods', and only with it")
        return self


class DiscountPatch(RequestBody):
    name: Line | None = None


class DiscountView(Model):
    discount_id: str
    handle: str
    name: str
    percent: Percent | None
    amount: int | None
    currency: str | None
    duration: Literal["once", "forever", "periods"]
    periods: int | None
    state: Literal["active", "archived"]
    created_at: str


class DiscountList(Page):
    items: list[DiscountView]


class CouponCreate(RequestBody):
    code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    ]
    discount_id: Id
    max_redemptions: Annotated[int, Field(ge=1, le=10**9)] | None = None
    valid_until: Moment | None = None


class CouponPatch(RequestBody):
    max_redemptions: Annotated[int, Field(ge=1, le=10**9)] | None = None
    valid_until: Moment | None = None


class CouponView(Model):
    coupon_id: str
    code: str
    discount_id: str
    max_redemptions: int | None
    valid_until: str | None
    redemptions: int
    state: Literal["active", "archived"]
    created_at: str


class CouponList(Page):
    items: list[CouponView]


# ----------------------------------------------------------------- customers


class AddressIn(RequestBody):
    line1: Line | None = None
    line2: Line | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    city: Line | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class AddressView(Model):
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


class CustomerCreate(RequestBody):
    email: Email
    name: Line | None = None
    phone: Phone | None = None
    address: AddressIn | None = None
    company: Line | None = None
    vat_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20)] | None = None
    language: Language | None = None
    handle: Handle | None = None


class CustomerPatch(RequestBody):
    """Only the fields sent change; ``null`` clears an optional one."""

    email: Email | None = None
    name: Line | None = None
    phone: Phone | None = None
    address: AddressIn | None = None
    company: Line | None = None
    vat_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20)] | None = None
    language: Language | None = None


class CustomerView(Model):
    customer_id: str
    email: str
    name: str | None
    phone: str | None
    phone_verified: bool
    address: AddressView | None
    company: str | None
    vat_id: str | None
    language: str | None
    handle: str | None
    default_payment_method_id: str | None
    created_at: str


class CustomerList(Page):
    items: list[CustomerView]


class TimelineEntry(Model):
    at: str
    source: Literal["portal", "admin", "system"]
    actor: dict[str, Any]
    type: str
    details: dict[str, Any]


class Timeline(Page):
    items: list[TimelineEntry]


class Card(RequestBody):
    """A card tokenized by the payment provider: its token and what may be shown of it."""

    token: Annotated[str, StringConstraints(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_\-.:]+$")]
    brand: Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9 _\-]+$")]
    last4: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
    exp_month: Annotated[int, Field(ge=1, le=12)]
    exp_year: Annotated[int, Field(ge=2000, le=2100)]


class PaymentMethodCreate(RequestBody):
    card: Card


class PaymentMethodView(Model):
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    default: bool
    created_at: str


class CardSummaryView(Model):
    """What may be shown of the card a subscription is charged to."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class PaymentMethodList(Page):
    items: list[PaymentMethodView]


class PortalLink(Model):
    url: str
    token: str
    expires_at: str


# ----------------------------------------------------------------- subscriptions


class AddonOrder(RequestBody):
    addon_id: Id
    quantity: Quantity = 1


class SubscriptionCreate(RequestBody):
    customer_id: Id
    plan_id: Id
    payment_method_id: Id | None = None
    addons: Annotated[list[AddonOrder], Field(max_length=20)] = []
    coupon_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None


class PauseRequest(RequestBody):
    resume_at: Moment | None = None


class CancelRequest(RequestBody):
    at: Literal["now", "period_end"] = "period_end"
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")] | None = None
    comment: Text | None = None


class EmptyBody(RequestBody):
    pass


class PaymentMethodChoice(RequestBody):
    payment_method_id: Id


class PlanSummary(Model):
    plan_id: str
    name: str
    amount: int
    currency: str
    interval_unit: IntervalUnit
    interval_count: int


class AddonLine(Model):
    addon_id: str
    name: str
    amount: int
    quantity: int


class DiscountSummary(Model):
    discount_id: str
    name: str
    percent: Percent | None
    amount: int | None
    duration: Literal["once", "forever", "periods"]
    periods_left: int | None
    coupon_id: str | None


class DunningView(Model):
    attempt: int
    next_retry_at: str
    invoice_id: str


class SubscriptionView(Model):
    subscription_id: str
    state: Literal["trialing", "active", "paused", "cancelled", "expired"]
    plan_id: str
    plan: PlanSummary
    customer_id: str
    current_period_start: str
    current_period_end: str
    trial_end: str | None
    payment_method_id: str | None
    addons: list[AddonLine]
    discount: DiscountSummary | None
    paused_at: str | None
    resume_at: str | None
    cancelled_at: str | None
    ends_at: str | None
    ended_at: str | None
    dunning: DunningView | None
    created_at: str


class SubscriptionList(Page):
    items: list[SubscriptionView]


# ----------------------------------------------------------------- invoices


class LineView(Model):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class TransactionView(Model):
    transaction_id: str
    amount: int
    state: Literal["succeeded", "declined"]
    created_at: str


class InvoiceSummary(Model):
    invoice_id: str
    handle: str
    customer_id: str
    subscription_id: str
    state: Literal["paid", "failed", "pending"]
    amount: int
    currency: str
    created_at: str


class InvoiceView(InvoiceSummary):
    subtotal: int
    discount_amount: int
    vat_percent: Percent
    vat_amount: int
    period_start: str
    period_end: str
    lines: list[LineView]
    transactions: list[TransactionView]


class InvoiceList(Page):
    items: list[InvoiceView]
