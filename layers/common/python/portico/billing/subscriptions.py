"""Subscriptions: creating one, and its state machine.

States and transitions::

    trialing ──(trial ends: first charge)──▶ active
    active ──pause──▶ paused ──resume──▶ active
    trialing | active | paused ──cancel──▶ cancelled ──uncancel (before ends_at)──▶ as before
    any but expired ──expire──▶ expired          (also a cancelled one at ends_at)

Any other action is ``409 invalid_state_transition``. :func:`transition` is the machine itself, a
pure function of a subscription, an action and the time; every applied transition is one write
conditional on the version it was read at, with one timeline event in the same transaction, so
concurrent actions on one subscription leave one consistent state and one event per transition
applied.

* Creating one without a trial charges its first period at once: the invoice is written
  ``pending`` first, then charged, and the subscription is written only when the charge succeeded.
  A declined first charge creates no subscription: ``402 payment_declined``, and the failed invoice
  with its declined transaction stay for the merchant to see (:mod:`portico.billing.invoices`).
* Periods follow the calendar in the account's time zone and keep their anchor day
  (:mod:`portico.billing.periods`): 31 January, 28 February, 31 March.
* Cancelling ends it at the end of the period (``ends_at``), or at once with ``at: "now"`` (it is
  then ``expired`` straight away); uncancelling before ``ends_at`` returns it to the state it was
  cancelled from.
* Pausing stops billing. Resuming before the paid period ran out keeps that period; resuming after
  it starts a new period on the day of resumption, charged at once, with the new anchor.
* What the renewal job does next, and when, is on the subscription (``due_action``, ``due_at``):
  renew at the period's end, start the first charge at the trial's end, expire a cancelled one at
  ``ends_at``, resume a paused one at ``resume_at``, retry a declined charge (dunning).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any, Literal

from portico import clock, ids
from portico.accounts.records import Account
from portico.billing import catalog, customers, dunning, invoices, periods, repository
from portico.billing.gateway import Charge
from portico.billing.models import (
    AddonLine,
    DiscountSummary,
    DunningView,
    PlanSummary,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionView,
)
from portico.billing.records import (
    Addon,
    AddonTerms,
    CardSummary,
    Coupon,
    Discount,
    DiscountTerms,
    Dunning,
    Invoice,
    PaymentMethod,
    Plan,
    PlanTerms,
    Subscription,
)
from portico.errors import NotFound, PorticoError, ServiceUnavailable, ValidationFailed, define
from portico.keys import Write
from portico.observability import logger

Action = Literal["pause", "resume", "cancel", "uncancel", "expire"]
Source = Literal["portal", "admin", "system"]

InvalidTransition = define("InvalidTransition", 409, "invalid_state_transition", "Invalid State Transition")
CouponExhausted = define("CouponExhausted", 409, "coupon_exhausted", "Coupon Exhausted")
CouponInvalid = define("CouponInvalid", 422, "coupon_invalid", "Coupon Invalid")
PaymentMethodRequired = define("PaymentMethodRequired", 422, "payment_method_required", "Payment Method Required")
Conflict = define("Conflict", 409, "conflict", "Conflict")

FROM: dict[str, frozenset[str]] = {
    "pause": frozenset({"active"}),
    "resume": frozenset({"paused"}),
    "cancel": frozenset({"trialing", "active", "paused"}),
    "uncancel": frozenset({"cancelled"}),
    "expire": frozenset({"trialing", "active", "paused", "cancelled"}),
}
_ATTEMPTS = 5


def _iso(moment: datetime) -> str:
    return clock.iso(moment)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def renewal_due(subscription: Subscription) -> dict[str, Any]:
    """What an active subscription waits for next: its period's end."""
    return {"due_at": subscription.current_period_end, "due_action": "renew"}


# ----------------------------------------------------------------- the machine


def transition(
    subscription: Subscription,
    action: Action,
    now: datetime,
    *,
    tz: str = "UTC",
    resume_at: str | None = None,
    at: str = "period_end",
) -> Subscription:
    """The subscription after ``action`` at ``now`` (``409 invalid_state_transition`` when its
    state does not allow it). Pure: no I/O, no clock. A resume that starts a new period returns
    it ``active`` with that period; charging it is the caller's."""
    if subscription.state not in FROM[action]:
        raise InvalidTransition(f"A {subscription.state} subscription cannot {action}.")
    moment = _iso(now)
    changes: dict[str, Any] = {}
    if action == "pause":
        if resume_at is not None and _at(resume_at) <= now:
            raise ValidationFailed(
                [{"loc": ["body", "resume_at"], "msg": "a time in the future", "type": "value_error"}]
            )
        changes = {"state": "paused", "paused_at": moment, "resume_at": resume_at, "dunning": None}
        changes.update({"due_at": resume_at, "due_action": "resume" if resume_at else None})
    elif action == "resume":
        changes = {"state": "active", "paused_at": None, "resume_at": None}
        if _at(subscription.current_period_end) > now:  # the paid period goes on
            changes.update({"due_at": subscription.current_period_end, "due_action": "renew"})
        else:  # a new period from today, with a new anchor (charged by the caller)
            end = periods.period_end(
                now, subscription.plan.interval_unit, subscription.plan.interval_count, anchor=now, tz=tz
            )
            changes.update({"anchor_at": moment, "current_period_start": moment, "current_period_end": _iso(end)})
            changes.update({"due_at": _iso(end), "due_action": "renew"})
    elif action == "cancel":
        if at == "now":
            changes = {"state": "expired", "cancelled_at": moment, "ends_at": moment, "ended_at": moment}
            changes.update(
                {"state_before_cancel": subscription.state, "due_at": None, "due_action": None, "dunning": None}
            )
        else:
            ends = subscription.trial_end if subscription.state == "trialing" else subscription.current_period_end
            ends_at = max(ends or moment, moment)
            changes = {
                "state": "cancelled",
                "cancelled_at": moment,
                "ends_at": ends_at,
                "state_before_cancel": subscription.state,
            }
            changes.update({"due_at": ends_at, "due_action": "expire"})
    elif action == "uncancel":
        if subscription.ends_at is not None and _at(subscription.ends_at) <= now:
            raise InvalidTransition("The subscription has already ended.")
        before = subscription.state_before_cancel or "active"
        changes = {
            "state": before,
            "cancelled_at": None,
            "ends_at": None,
            "state_before_cancel": None,
            "cancel_reason": None,
        }
        changes.update(_due_in(dataclasses.replace(subscription, state=before)))  # type: ignore[arg-type]
    elif action == "expire":
        changes = {"state": "expired", "ended_at": moment, "ends_at": subscription.ends_at or moment}
        changes.update({"due_at": None, "due_action": None, "dunning": None})
    return dataclasses.replace(subscription, **changes, version=subscription.version + 1)


def _due_in(subscription: Subscription) -> dict[str, Any]:
    """What a subscription in its state waits for next."""
    if subscription.state == "trialing":
        return {"due_at": subscription.trial_end, "due_action": "trial_end"}
    if subscription.state == "paused":
        return {"due_at": subscription.resume_at, "due_action": "resume" if subscription.resume_at else None}
    if subscription.dunning is not None:
        return {"due_at": subscription.dunning.next_retry_at, "due_action": "retry"}
    return renewal_due(subscription)


# ----------------------------------------------------------------- reading


def get(account_id: str, subscription_id: str, *, customer_id: str | None = None) -> Subscription:
    """The subscription; ``404`` when there is none, or when ``customer_id`` is given and it is
    someone else's (the portal: another customer's subscription does not exist for them)."""
    found = repository.subscription_get(account_id, subscription_id) if len(subscription_id) <= 64 else None
    if found is None or (customer_id is not None and found.customer_id != customer_id):
        raise NotFound("No such subscription.")
    return found


def view(subscription: Subscription) -> SubscriptionView:
    plan = subscription.plan
    discount = subscription.discount
    return SubscriptionView(
        subscription_id=subscription.subscription_id,
        state=subscription.state,
        plan_id=plan.plan_id,
        plan=PlanSummary(**plan.to_item()),
        customer_id=subscription.customer_id,
        current_period_start=subscription.current_period_start,
        current_period_end=subscription.current_period_end,
        trial_end=subscription.trial_end,
        payment_method_id=subscription.payment_method_id,
        addons=[AddonLine(**a.to_item()) for a in subscription.addons],
        discount=DiscountSummary(
            discount_id=discount.discount_id,
            name=discount.name,
            percent=discount.percent,
            amount=discount.amount,
            duration=discount.duration,
            periods_left=discount.periods_left,
            coupon_id=discount.coupon_id,
        )
        if discount
        else None,
        paused_at=subscription.paused_at,
        resume_at=subscription.resume_at,
        cancelled_at=subscription.cancelled_at,
        ends_at=subscription.ends_at,
        ended_at=subscription.ended_at,
        dunning=DunningView(**subscription.dunning.to_item()) if subscription.dunning else None,
        created_at=subscription.created_at,
    )


def listing(
    account_id: str, *, customer_id: str | None, state: str | None, limit: int, cursor: str | None
) -> SubscriptionList:
    """Newest first; one customer's through the customer's index."""
    if customer_id is not None:
        found = [s for s in repository.subscriptions_of_customer(customer_id) if s.account_id == account_id]
        found = [s for s in found if state is None or s.state == state]
        return SubscriptionList(items=[view(s) for s in found[:limit]])
    items: list[Subscription] = []
    next_cursor = cursor
    for _ in range(5):  # a state filter reads on until the page is full, five pages at most
        page, next_cursor = repository.subscriptions_page(account_id, limit, next_cursor)
        items.extend(s for s in page if state is None or s.state == state)
        if len(items) >= limit or next_cursor is None:
            break
    return SubscriptionList(items=[view(s) for s in items[:limit]], next_cursor=next_cursor)


# ----------------------------------------------------------------- creating one


def _terms(
    account: Account, body: SubscriptionCreate
) -> tuple[Plan, list[AddonTerms], DiscountTerms | None, Coupon | None]:
    plan = catalog.usable(Plan, account.account_id, body.plan_id)
    addons = []
    for order in body.addons:
        addon = catalog.usable(Addon, account.account_id, order.addon_id)
        if addon.currency != plan.currency:
            raise ValidationFailed(
                [
                    {
                        "loc": ["body", "addons"],
                        "msg": "an add-on in another currency than the plan",
                        "type": "value_error",
                    }
                ]
            )
        addons.append(
            AddonTerms(addon_id=addon.addon_id, name=addon.name, amount=addon.amount, quantity=order.quantity)
        )
    coupon = discount_terms = None
    if body.coupon_code is not None:
        coupon = repository.coupon_by_code(account.account_id, body.coupon_code)
        now = clock.iso(clock.now())
        if coupon is None or coupon.state != "active" or (coupon.valid_until is not None and coupon.valid_until <= now):
            raise CouponInvalid("The coupon code does not exist, is archived or has expired.")
        if coupon.max_redemptions is not None and coupon.redemptions >= coupon.max_redemptions:
            raise CouponExhausted("The coupon has been redeemed as often as it may be.")
        discount = repository.catalog_get(Discount, account.account_id, coupon.discount_id)
        if discount is None or discount.state != "active" or (discount.currency not in (None, plan.currency)):
            raise CouponInvalid("The coupon's discount cannot apply to this plan.")
        discount_terms = DiscountTerms(
            discount_id=discount.discount_id,
            name=discount.name,
            duration=discount.duration,
            percent=discount.percent,
            amount=discount.amount,
            periods_left=discount.periods,
            coupon_id=coupon.coupon_id,
        )
    return plan, addons, discount_terms, coupon


def create(
    account: Account,
    body: SubscriptionCreate,
    *,
    source: Source,
    actor: dict[str, Any],
    request_key: str | None = None,
) -> tuple[Subscription, Invoice | None]:
    """A new subscription (with its first invoice when it has no trial); ``402 payment_declined``
    when the first charge is declined (no subscription then). ``request_key`` (the request's
    ``Idempotency-Key`` in its scope) ties the first invoice to the request: the request sent
    again after a fault, a lost answer or a crash finds that invoice and answers as it stands
    (pending: 503 again; paid: the subscription; declined: 402) rather than charging again."""
    customer = customers.get(account.account_id, body.customer_id)
    plan, addons, discount, coupon = _terms(account, body)
    payment_method_id = body.payment_method_id or customer.default_payment_method_id
    card = None
    if payment_method_id is not None:  # 404 if not theirs
        card = card_of(customers.payment_method(account.account_id, customer.customer_id, payment_method_id))
    now = clock.now()
    start = _iso(now)
    unit, count = plan.interval_unit, plan.interval_count
    subscription = Subscription(
        subscription_id=ids.new_sortable_id("sub", now.timestamp()),
        account_id=account.account_id,
        customer_id=customer.customer_id,
        plan=PlanTerms(
            plan_id=plan.plan_id,
            name=plan.name,
            amount=plan.amount,
            currency=plan.currency,
            interval_unit=unit,
            interval_count=count,
        ),
        addons=tuple(addons),
        discount=discount,
        payment_method_id=payment_method_id,
        card=card,
        state="active",
        anchor_at=start,
        current_period_start=start,
        current_period_end=start,
        created_at=start,
    )
    redeem = [repository.redeem_op(coupon, start)] if coupon else []
    created = customers.event_op(
        customer,
        source,
        actor,
        "subscription.created",
        {"subscription_id": subscription.subscription_id, "plan_id": plan.plan_id},
    )
    if plan.trial_days:
        trial_end = _iso(periods.nth_boundary(now, 1, "day", plan.trial_days, account.timezone))
        subscription = dataclasses.replace(
            subscription,
            state="trialing",
            trial_end=trial_end,
            current_period_end=trial_end,
            due_at=trial_end,
            due_action="trial_end",
        )
        if not repository.write([repository.subscription_put_op(subscription, seen=None), *redeem, created]):
            raise CouponExhausted("The coupon has been redeemed as often as it may be.")
        return subscription, None
    if payment_method_id is None:
        raise PaymentMethodRequired("The customer has no payment method to charge the first period to.")
    end = _iso(periods.period_end(now, unit, count, anchor=now, tz=account.timezone))
    subscription = dataclasses.replace(
        subscription, current_period_end=end, **renewal_due(dataclasses.replace(subscription, current_period_end=end))
    )
    invoice = invoices.build(account, subscription, period_start=start, period_end=end, purpose="first", first=True)
    invoice = dataclasses.replace(
        invoice,
        pending_subscription=_after_first_charge(subscription).to_item(),
        coupon_id=coupon.coupon_id if coupon else None,
    )
    guard = (
        [
            repository.charge_request_op(
                account.account_id, request_key, invoice.invoice_id, int(now.timestamp()) + 2 * 86400
            )
        ]
        if request_key
        else []
    )
    if not repository.write([repository.invoice_put_op(invoice, seen=None), *redeem, *guard]):
        earlier = repository.charge_request_invoice(account.account_id, request_key) if request_key else None
        if earlier is not None:
            return _as_it_stands(earlier)
        raise CouponExhausted("The coupon has been redeemed as often as it may be.")
    result = invoices.charge(invoice)
    if result is None:
        raise _pending(invoice)
    return settle_first(invoice, result, source=source, actor=actor)


def _pending(invoice: Invoice) -> PorticoError:
    return ServiceUnavailable(
        "The payment provider did not answer; the charge is being confirmed, and the subscription appears once it is.",
        headers={"Retry-After": "60"},
        invoice_id=invoice.invoice_id,
    )


def _as_it_stands(invoice: Invoice) -> tuple[Subscription, Invoice | None]:
    """The answer to a request sent again whose first invoice exists: what became of its charge."""
    if invoice.state == "paid" and invoice.subscription_id is not None:
        found = repository.subscription_get(invoice.account_id, invoice.subscription_id)
        if found is not None:
            return found, invoice
    if invoice.state == "failed":
        raise invoices.PaymentDeclined(
            "The payment method was declined; no subscription was created.", invoice_id=invoice.invoice_id
        )
    raise _pending(invoice)


def card_of(method: PaymentMethod) -> CardSummary:
    return CardSummary(
        payment_method_id=method.payment_method_id,
        brand=method.brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
    )


def change_payment_method(
    account: Account,
    subscription_id: str,
    payment_method_id: str,
    *,
    source: Source,
    actor: dict[str, Any],
    customer_id: str | None = None,
) -> Subscription:
    """Charge the subscription to another of its customer's cards from now on (``409
    invalid_state_transition`` once it has ended). In dunning, the failed invoice is retried on
    the new card at the job's next run rather than on the old schedule. With ``customer_id``,
    only a subscription of that customer is found."""
    for _ in range(_ATTEMPTS):
        before = get(account.account_id, subscription_id, customer_id=customer_id)
        if before.state == "expired":
            raise InvalidTransition("An expired subscription has no payment method to change.")
        method = customers.payment_method(account.account_id, before.customer_id, payment_method_id)
        if before.payment_method_id == method.payment_method_id:
            return before
        after = dataclasses.replace(
            before, payment_method_id=method.payment_method_id, card=card_of(method), version=before.version + 1
        )
        if after.dunning is not None and after.due_action == "retry":
            after = dataclasses.replace(after, due_at=_iso(clock.now()))
        details = {
            "subscription_id": subscription_id,
            "before": {"payment_method_id": before.payment_method_id},
            "after": {"payment_method_id": method.payment_method_id, "brand": method.brand, "last4": method.last4},
        }
        event = customers.event_op(before, source, actor, "subscription.payment_method_changed", details)
        if repository.write([repository.subscription_put_op(after, seen=before.version), event]):
            return after
    raise Conflict("The subscription was changed at the same time; try again.")


def _after_first_charge(subscription: Subscription) -> Subscription:
    """The subscription as it is once its first period is paid (one coupon-discounted invoice
    spent)."""
    return dataclasses.replace(subscription, discount=_spent(subscription.discount))


def _spent(discount: DiscountTerms | None) -> DiscountTerms | None:
    """A discount after one more invoice had it."""
    if discount is None:
        return None
    if discount.duration == "once":
        return None
    if discount.duration == "periods":
        left = (discount.periods_left or 0) - 1
        return dataclasses.replace(discount, periods_left=left) if left > 0 else None
    return discount


def settle_first(
    invoice: Invoice, result: Charge, *, source: Source, actor: dict[str, Any]
) -> tuple[Subscription, Invoice]:
    """Write a first charge's outcome: the subscription created (paid), or nothing but the failed
    invoice (declined, and the coupon's redemption given back). Used by the request that charged
    and by the renewal job recovering a lost answer; the invoice's version makes it happen once."""
    settled = invoices.settled(invoice, result)
    subscription = Subscription.from_item(dict(invoice.pending_subscription or {}))
    ops: list[Write] = [
        repository.invoice_put_op(dataclasses.replace(settled, pending_subscription=None), seen=invoice.version)
    ]
    if result.status == "succeeded":
        ops += [
            repository.subscription_put_op(subscription, seen=None),
            customers.event_op(
                invoice,
                source,
                actor,
                "subscription.created",
                {"subscription_id": subscription.subscription_id, "plan_id": subscription.plan.plan_id},
            ),
            customers.event_op(
                invoice,
                "system",
                _SYSTEM,
                "invoice.paid",
                {"invoice_id": invoice.invoice_id, "amount": invoice.amount},
            ),
        ]
    else:
        if invoice.coupon_id:
            ops.append(repository.unredeem_op(invoice.coupon_id, invoice.account_id))
        ops.append(
            customers.event_op(
                invoice,
                "system",
                _SYSTEM,
                "invoice.failed",
                {"invoice_id": invoice.invoice_id, "amount": invoice.amount},
            )
        )
    if not repository.write(ops):
        raise Conflict("The first charge was recorded meanwhile.")
    if result.status != "succeeded":
        raise invoices.PaymentDeclined(
            "The payment method was declined; no subscription was created.", invoice_id=invoice.invoice_id
        )
    return subscription, settled


_SYSTEM = {"type": "system"}


# ----------------------------------------------------------------- actions


def act(
    account: Account,
    subscription_id: str,
    action: Action,
    *,
    source: Source,
    actor: dict[str, Any],
    resume_at: str | None = None,
    at: str = "period_end",
    reason: str | None = None,
    comment: str | None = None,
    customer_id: str | None = None,
    effective: datetime | None = None,
) -> Subscription:
    """Apply ``action``: one conditional write with its timeline event (and, for a resume that
    starts a new period, its invoice and charge). With ``customer_id``, only a subscription of
    that customer is found. ``effective`` is when the action takes effect (now, unless the
    renewal job applies one that was due earlier: an expiry at ``ends_at``, a resume at
    ``resume_at``)."""
    for _ in range(_ATTEMPTS):
        before = get(account.account_id, subscription_id, customer_id=customer_id)
        moment = effective or clock.now()
        after = transition(before, action, moment, tz=account.timezone, resume_at=resume_at, at=at)
        if action == "cancel" and reason is not None:
            after = dataclasses.replace(after, cancel_reason=reason)
        details: dict[str, Any] = {"before": {"state": before.state}, "after": {"state": after.state}}
        details.update({k: v for k, v in {"resume_at": resume_at, "reason": reason, "comment": comment}.items() if v})
        if action == "cancel":
            details["after"]["ends_at"] = after.ends_at
        event = customers.event_op(
            before, source, actor, f"subscription.{_PAST[action]}", {"subscription_id": subscription_id, **details}
        )
        starts_period = action == "resume" and after.current_period_start != before.current_period_start
        if not starts_period:
            if repository.write([repository.subscription_put_op(after, seen=before.version), event]):
                return after
            continue
        return _resume_with_charge(account, before, after, event)
    raise Conflict("The subscription was changed at the same time; try again.")


_PAST = {"pause": "paused", "resume": "resumed", "cancel": "cancelled", "uncancel": "uncancelled", "expire": "expired"}


def _resume_with_charge(account: Account, before: Subscription, after: Subscription, event: Write) -> Subscription:
    invoice = invoices.build(
        account,
        after,
        period_start=after.current_period_start,
        period_end=after.current_period_end,
        purpose="resume",
        first=False,
    )
    if not repository.write(
        [
            repository.subscription_put_op(after, seen=before.version),
            repository.invoice_put_op(invoice, seen=None),
            event,
        ]
    ):
        raise Conflict("The subscription was changed at the same time; try again.")
    result = invoices.charge(invoice)
    if result is None:
        return after  # the charge is confirmed by the renewal job
    return record_charge(account, after, invoice, result)


# ----------------------------------------------------------------- charges of an existing subscription


def record_charge(account: Account, subscription: Subscription, invoice: Invoice, result: Charge) -> Subscription:
    """Write the outcome of charging one of ``subscription``'s invoices: paid, its discount spent
    and dunning over; or declined, and the subscription in dunning (retried on the account's
    ``dunning_retry_days`` after the first failure, the customer emailed each time, expired after
    the last). Conditional on both versions: a second writer of the same outcome finds them moved
    on and stops."""
    settled = invoices.settled(invoice, result)
    now = clock.now()
    after = subscription
    if result.status == "succeeded":
        after = dataclasses.replace(
            subscription, dunning=None, discount=_spent(subscription.discount), version=subscription.version + 1
        )
        after = dataclasses.replace(after, **_due_in(after))
        kind = "invoice.paid"
    else:
        attempt = subscription.dunning.attempt + 1 if subscription.dunning else 1
        retry_days = account.dunning_retry_days
        first_failed = subscription.dunning.first_failed_at if subscription.dunning else _iso(now)
        if attempt <= len(retry_days):
            retry_at = _iso(_at(first_failed) + timedelta(days=retry_days[attempt - 1]))
            after = dataclasses.replace(
                subscription,
                dunning=Dunning(
                    invoice_id=invoice.invoice_id, attempt=attempt, next_retry_at=retry_at, first_failed_at=first_failed
                ),
                due_at=retry_at,
                due_action="retry",
                version=subscription.version + 1,
            )
        else:
            after = dataclasses.replace(
                subscription,
                state="expired",
                ended_at=_iso(now),
                dunning=None,
                due_at=None,
                due_action=None,
                version=subscription.version + 1,
            )
        kind = "invoice.failed"
    ops = [
        repository.invoice_put_op(settled, seen=invoice.version),
        repository.subscription_put_op(after, seen=subscription.version),
        customers.event_op(
            subscription,
            "system",
            _SYSTEM,
            kind,
            {"invoice_id": invoice.invoice_id, "amount": invoice.amount, "attempt": settled.charge_attempt},
        ),
    ]
    if after.state == "expired" and subscription.state != "expired":
        ops.append(
            customers.event_op(
                subscription,
                "system",
                _SYSTEM,
                "subscription.expired",
                {"subscription_id": subscription.subscription_id, "reason": "dunning_exhausted"},
            )
        )
    if not repository.write(ops):
        logger.info("charge outcome already recorded", extra={"invoice_id": invoice.invoice_id})
        return subscription
    if result.status != "succeeded":
        dunning.notify(account, customers.get(account.account_id, subscription.customer_id), invoice, after)
    return after
