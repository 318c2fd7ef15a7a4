"""What a customer does in the portal: their details, subscriptions, payment methods and invoices,
and ordering a plan.

Every read and change is scoped to the session's customer in the session's account: a
subscription, payment method or invoice of anyone else is ``404``, as if it did not exist. Changes
go through the billing services with ``source: "portal"``, so the merchant sees them on the
customer's timeline with the old and new values. The merchant's portal settings decide what may
be done: pausing and cancelling can be turned off (``403 feature_disabled``), a cancel's reason
must be one of the configured ones (``422``), and its timing follows the settings. Plans marked
``requires_verified_phone`` can be ordered only with a phone verified by SMS (fraud protection,
:mod:`portico.portal.phone`).
"""

from __future__ import annotations

from portico import ids, keys
from portico.billing import customers, invoices, subscriptions
from portico.billing import repository as billing
from portico.billing.models import (
    Card,
    CardSummaryView,
    CustomerPatch,
    InvoiceView,
    PaymentMethodView,
    SubscriptionCreate,
)
from portico.billing.records import Invoice, Plan, PlanTerms, Subscription
from portico.errors import NotFound, ValidationFailed, define
from portico.portal import config, phone
from portico.portal.login import actor
from portico.portal.models import (
    PortalCancel,
    PortalInvoiceList,
    PortalMe,
    PortalOrder,
    PortalPause,
    PortalPaymentMethodList,
    PortalPlan,
    PortalPlanList,
    PortalSubscription,
    PortalSubscriptionDetail,
    PortalSubscriptionList,
)
from portico.portal.sessions import PortalSession

EmailChangeNotAllowed = define("EmailChangeNotAllowed", 403, "email_change_not_allowed", "Email Change Not Allowed")
FeatureDisabled = define("FeatureDisabled", 403, "feature_disabled", "Feature Disabled")
PhoneVerificationRequired = define(
    "PhoneVerificationRequired", 403, "phone_verification_required", "Phone Verification Required"
)


# ----------------------------------------------------------------- me


def me(session: PortalSession) -> PortalMe:
    return PortalMe.of(customers.get(session.account_id, session.customer_id))


def update_me(session: PortalSession, patch: CustomerPatch) -> PortalMe:
    """Change the customer's details. A new phone number is checked as ``PUT /portal/me/phone``
    checks it and is unverified until confirmed by SMS. The email address is how the customer logs
    in: changing it here would let a customer take over the address of another customer of the
    merchant (whose codes would then log in to theirs), so it is refused (``403
    email_change_not_allowed``); the merchant changes it."""
    if patch.email is not None:
        current = customers.get(session.account_id, session.customer_id)
        if keys.normalise_email(patch.email) != keys.normalise_email(current.email):
            raise EmailChangeNotAllowed("Your email address is how you log in: ask the merchant to change it.")
    if patch.phone is not None:
        _, settings = config.enabled_account(session.account_id)
        patch = patch.model_copy(update={"phone": phone.allowed(patch.phone, settings.blocked_phone_prefixes, "phone")})
    changed = customers.update(session.account_id, session.customer_id, patch, source="portal", actor=actor(session))
    return PortalMe.of(changed)


# ----------------------------------------------------------------- subscriptions


def _plan(plan: Plan | PlanTerms) -> PortalPlan:
    """A plan as the portal shows it: a catalog plan, or the terms a subscription keeps of one."""
    return PortalPlan(
        plan_id=plan.plan_id,
        name=plan.name,
        amount=plan.amount,
        currency=plan.currency,
        interval_unit=plan.interval_unit,
        interval_count=plan.interval_count,
    )


def _view(subscription: Subscription) -> PortalSubscription:
    plan = subscription.plan
    card = subscription.card
    return PortalSubscription(
        subscription_id=subscription.subscription_id,
        plan=_plan(plan),
        state=subscription.state,
        current_period_start=subscription.current_period_start,
        current_period_end=subscription.current_period_end,
        trial_end=subscription.trial_end,
        ends_at=subscription.ends_at,
        paused_at=subscription.paused_at,
        resume_at=subscription.resume_at,
        payment_method=CardSummaryView(**card.to_item()) if card else None,
        payment_failed=subscription.dunning is not None,
    )


def _own_subscriptions(session: PortalSession) -> list[Subscription]:
    return [s for s in billing.subscriptions_of_customer(session.customer_id) if s.account_id == session.account_id]


def subscription_list(session: PortalSession) -> PortalSubscriptionList:
    return PortalSubscriptionList(items=[_view(s) for s in _own_subscriptions(session)])


def _own_invoices(session: PortalSession) -> list[Invoice]:
    return [i for i in billing.invoices_of_customer(session.customer_id) if i.account_id == session.account_id]


def subscription_detail(session: PortalSession, subscription_id: str) -> PortalSubscriptionDetail:
    subscription, own_invoices = billing.subscription_with_invoices(session.customer_id, subscription_id)
    if subscription is None or subscription.account_id != session.account_id:
        raise NotFound("No such subscription.")
    return PortalSubscriptionDetail(
        **_view(subscription).model_dump(), invoices=[invoices.summary(i) for i in own_invoices]
    )


def pause(session: PortalSession, subscription_id: str, body: PortalPause) -> PortalSubscription:
    account, settings = config.enabled_account(session.account_id)
    if not settings.allow_pause:
        raise FeatureDisabled("Pausing is not offered in this portal; contact the merchant.")
    changed = subscriptions.act(
        account,
        subscription_id,
        "pause",
        source="portal",
        actor=actor(session),
        resume_at=body.resume_at,
        customer_id=session.customer_id,
    )
    return _view(changed)


def resume(session: PortalSession, subscription_id: str) -> PortalSubscription:
    account, _ = config.enabled_account(session.account_id)
    changed = subscriptions.act(
        account, subscription_id, "resume", source="portal", actor=actor(session), customer_id=session.customer_id
    )
    return _view(changed)


def cancel(session: PortalSession, subscription_id: str, body: PortalCancel) -> PortalSubscription:
    account, settings = config.enabled_account(session.account_id)
    if not settings.allow_cancel:
        raise FeatureDisabled("Cancelling is not offered in this portal; contact the merchant.")
    if not ids.is_id(subscription_id, "sub"):
        raise NotFound("No such subscription.")
    if body.reason is not None and body.reason not in {r.id for r in settings.cancellation_reasons}:
        raise ValidationFailed(
            [{"loc": ["body", "reason"], "msg": "not one of this portal's cancellation reasons", "type": "value_error"}]
        )
    changed = subscriptions.act(
        account,
        subscription_id,
        "cancel",
        customer_id=session.customer_id,
        source="portal",
        actor=actor(session),
        at="now" if settings.cancel_timing == "immediately" else "period_end",
        reason=body.reason,
        comment=body.comment,
    )
    return _view(changed)


def change_payment_method(session: PortalSession, subscription_id: str, payment_method_id: str) -> PortalSubscription:
    account, _ = config.enabled_account(session.account_id)
    changed = subscriptions.change_payment_method(
        account,
        subscription_id,
        payment_method_id,
        source="portal",
        actor=actor(session),
        customer_id=session.customer_id,
    )
    return _view(changed)


# ----------------------------------------------------------------- ordering


def _orderable(account_id: str) -> list[Plan]:
    return [p for p in billing.catalog_all(Plan, account_id) if p.portal_orderable and p.state == "active"]


def plans(session: PortalSession) -> PortalPlanList:
    return PortalPlanList(items=[_plan(p) for p in _orderable(session.account_id)])


def order(session: PortalSession, body: PortalOrder, *, request_key: str | None = None) -> PortalSubscription:
    account, _ = config.enabled_account(session.account_id)
    plan = billing.catalog_get(Plan, session.account_id, body.plan_id) if len(body.plan_id) <= 64 else None
    if plan is None or not plan.portal_orderable or plan.state != "active":
        raise NotFound("No such plan in this portal.")
    customer = customers.get(session.account_id, session.customer_id)
    if plan.requires_verified_phone and not customer.phone_verified:
        raise PhoneVerificationRequired("This plan needs a phone number verified by SMS first.")
    request = SubscriptionCreate(
        customer_id=customer.customer_id, plan_id=plan.plan_id, payment_method_id=body.payment_method_id
    )
    created, _ = subscriptions.create(account, request, source="portal", actor=actor(session), request_key=request_key)
    return _view(created)


# ----------------------------------------------------------------- payment methods and invoices


def payment_methods(session: PortalSession) -> PortalPaymentMethodList:
    return PortalPaymentMethodList(items=customers.payment_methods(session.account_id, session.customer_id).items)


def add_payment_method(session: PortalSession, card: Card) -> PaymentMethodView:
    method, customer = customers.add_payment_method(
        session.account_id, session.customer_id, card, source="portal", actor=actor(session)
    )
    return customers.payment_method_view(method, customer)


def remove_payment_method(session: PortalSession, payment_method_id: str) -> None:
    customers.remove_payment_method(
        session.account_id, session.customer_id, payment_method_id, source="portal", actor=actor(session)
    )


def invoice_list(session: PortalSession) -> PortalInvoiceList:
    return PortalInvoiceList(items=[invoices.summary(i) for i in _own_invoices(session)])


def invoice(session: PortalSession, invoice_id: str) -> InvoiceView:
    found = invoices.get(session.account_id, invoice_id)
    if found.customer_id != session.customer_id:
        raise NotFound("No such invoice.")
    return invoices.view(found)
