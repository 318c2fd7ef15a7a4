"""Bodies and answers of the customer portal and of its configuration by the merchant (``GET, PUT
/accounts/{a}/portal``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from portico.billing.models import (
    AddressView,
    CardSummaryView,
    Id,
    InvoiceSummary,
    InvoiceView,
    Moment,
    PaymentMethodView,
    Text,
)
from portico.billing.records import Customer
from portico.fields import Code, Email, Language, Line, Model, RequestBody

ReasonId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
AccentColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
PhonePrefix = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{0,14}$")]

DEFAULT_ACCENT = "#2F5BEA"


class ReasonLabels(RequestBody):
    en: Line
    de: Line


class CancellationReason(RequestBody):
    id: ReasonId
    labels: ReasonLabels


DEFAULT_REASONS = (
    ("too_expensive", "Too expensive", "Zu teuer"),
    ("not_using", "I don't use it enough", "Ich nutze es zu wenig"),
    ("missing_features", "Features are missing", "Es fehlen Funktionen"),
    ("switching", "I'm switching to another service", "Ich wechsle zu einem anderen Anbieter"),
    ("other", "Another reason", "Ein anderer Grund"),
)


def _default_reasons() -> list[CancellationReason]:
    return [CancellationReason(id=i, labels=ReasonLabels(en=en, de=de)) for i, en, de in DEFAULT_REASONS]


def _unique_ids(reasons: list[CancellationReason]) -> list[CancellationReason]:
    ids = [r.id for r in reasons]
    if len(set(ids)) != len(ids):
        raise ValueError("each cancellation reason needs its own id")
    return reasons


def _unique_prefixes(prefixes: list[str]) -> list[str]:
    return list(dict.fromkeys(prefixes))


class PortalSettings(RequestBody):
    """The portal's configuration. ``PUT`` replaces it whole: omitted fields take these defaults."""

    enabled: bool = True
    accent_color: AccentColor = DEFAULT_ACCENT
    allow_pause: bool = True
    allow_cancel: bool = True
    cancel_timing: Literal["period_end", "immediately"] = "period_end"
    cancellation_reasons: Annotated[
        list[CancellationReason], Field(min_length=1, max_length=20), AfterValidator(_unique_ids)
    ] = Field(default_factory=_default_reasons)
    hide_unknown_email: bool = False
    blocked_phone_prefixes: Annotated[list[PhonePrefix], Field(max_length=100), AfterValidator(_unique_prefixes)] = []


# ----------------------------------------------------------------- public configuration


class PortalCompany(Model):
    name: str
    logo_url: str | None
    address: str | None
    email: str | None


class PortalFeatures(Model):
    pause: bool
    cancel: bool
    payment_methods: bool
    order: bool


class PublicReason(Model):
    id: str
    label: str
    labels: dict[str, str]


class PublicConfig(Model):
    account_id: str
    company: PortalCompany
    accent_color: str
    default_language: Language
    languages: list[Language]
    features: PortalFeatures
    cancel_timing: Literal["period_end", "immediately"]
    cancellation_reasons: list[PublicReason]
    terms_url: str | None


# ----------------------------------------------------------------- login


class CodeRequest(RequestBody):
    email: Email
    language: Language | None = None


class CodeSent(Model):
    resend_after_seconds: int
    expires_in_seconds: int


class CodeLogin(RequestBody):
    email: Email
    code: Code


class LinkLogin(RequestBody):
    token: Annotated[str, Field(min_length=1, max_length=256)]


class PortalCustomer(Model):
    customer_id: str
    email: str
    name: str | None


class PortalLogin(Model):
    token: str
    expires_at: str
    customer: PortalCustomer


# ----------------------------------------------------------------- self-service


class PortalMe(Model):
    customer_id: str
    email: str
    name: str | None
    phone: str | None
    phone_verified: bool
    address: AddressView | None
    company: str | None
    vat_id: str | None
    language: str | None

    @classmethod
    def of(cls, customer: Customer) -> PortalMe:
        return cls(
            customer_id=customer.customer_id,
            email=customer.email,
            name=customer.name,
            phone=customer.phone,
            phone_verified=customer.phone_verified,
            address=AddressView(**customer.address.to_item()) if customer.address else None,
            company=customer.company,
            vat_id=customer.vat_id,
            language=customer.language,
        )


class PhoneRequest(RequestBody):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)]


class PhoneCode(RequestBody):
    code: Code


class PhoneSent(Model):
    number: str
    resend_after_seconds: int
    expires_in_seconds: int


class PortalPlan(Model):
    plan_id: str
    name: str
    amount: int
    currency: str
    interval_unit: str
    interval_count: int


class PortalSubscription(Model):
    subscription_id: str
    plan: PortalPlan
    state: Literal["trialing", "active", "paused", "cancelled", "expired"]
    current_period_start: str
    current_period_end: str
    trial_end: str | None
    ends_at: str | None
    paused_at: str | None
    resume_at: str | None
    payment_method: CardSummaryView | None
    payment_failed: bool


class PortalSubscriptionDetail(PortalSubscription):
    invoices: list[InvoiceSummary]


class PortalSubscriptionList(Model):
    items: list[PortalSubscription]


class PortalPause(RequestBody):
    resume_at: Moment | None = None


class PortalCancel(RequestBody):
    reason: ReasonId | None = None
    comment: Text | None = None


class PortalOrder(RequestBody):
    plan_id: Id
    payment_method_id: Id


class PortalPlanList(Model):
    items: list[PortalPlan]


class PortalPaymentMethodList(Model):
    items: list[PaymentMethodView]


class PortalInvoiceList(Model):
    items: list[InvoiceSummary]


PortalInvoice = InvoiceView
