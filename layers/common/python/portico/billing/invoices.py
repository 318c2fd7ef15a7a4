"""Invoices: their lines and totals, and charging them through the gateway.

An invoice's lines are the plan and its add-ons times their quantities, and the discount as a
negative line; its total follows :func:`portico.money.totals` (a percent discount of the whole
subtotal, a fixed one never below zero, VAT on what remains, each rounded half-up once per
invoice, in minor units). Its number (``handle``) counts up per account.

Charging is the classic write to two systems, made safe by doing it in this order:

1. the invoice is written ``pending``, with the time its charge began (``charging_since``), in the
   transaction of whatever asked for it (a new subscription, a renewal, a retry);
2. the gateway is asked to charge with an idempotency key derived from the invoice and the
   attempt (``<invoice_id>:<attempt>``);
3. the outcome is written: the transaction (``succeeded`` or ``declined``), the invoice ``paid``
   or ``failed``, and what follows for the subscription, in one transaction.

If Portico stops between 2 and 3 (a crash, a timeout), the invoice stays ``pending`` and is listed
under the hour its charge began; the renewal job asks the gateway again with the same key and
writes the outcome. The gateway charges at most once per key, so no invoice is charged twice.
"""

from __future__ import annotations

import dataclasses

from portico import clock, ids, money, pages
from portico.accounts.records import Account
from portico.billing import repository
from portico.billing.gateway import Charge, gateway
from portico.billing.models import InvoiceList, InvoiceSummary, InvoiceView, LineView, TransactionView
from portico.billing.records import Invoice, InvoiceLine, Subscription, Transaction
from portico.errors import NotFound, define
from portico.observability import logger, metrics

PaymentDeclined = define("PaymentDeclined", 402, "payment_declined", "Payment Declined")


def _discount(subscription: Subscription, *, first: bool) -> money.Discount | None:
    """The discount this invoice gets: ``once`` on the first invoice only, ``periods`` while it has
    periods left, ``forever`` always."""
    terms = subscription.discount
    if terms is None:
        return None
    if terms.duration == "once" and not first:
        return None
    if terms.duration == "periods" and not (terms.periods_left or 0) > 0:
        return None
    return money.Discount(percent=terms.percent, amount=terms.amount, description=terms.name)


def build(
    account: Account,
    subscription: Subscription,
    *,
    period_start: str,
    period_end: str,
    purpose: str,
    first: bool,
) -> Invoice:
    """A new invoice for one period of ``subscription``, ``pending`` and about to be charged."""
    plan = subscription.plan
    charged = [money.Line(plan.name, 1, plan.amount)] + [
        money.Line(a.name, a.quantity, a.amount) for a in subscription.addons
    ]
    discount = _discount(subscription, first=first)
    totals = money.totals(charged, discount, account.vat_percent)
    lines = [
        InvoiceLine(description=c.description, quantity=c.quantity, unit_amount=c.unit_amount, amount=c.amount)
        for c in charged
    ]
    if discount is not None and totals.discount:
        lines.append(
            InvoiceLine(
                description=discount.description, quantity=1, unit_amount=-totals.discount, amount=-totals.discount
            )
        )
    now = clock.timestamp()
    number = repository.next_invoice_number(account.account_id)
    return Invoice(
        invoice_id=ids.new_sortable_id("inv", now),
        account_id=account.account_id,
        customer_id=subscription.customer_id,
        subscription_id=subscription.subscription_id,
        handle=f"INV-{number:06d}",
        state="pending",
        currency=plan.currency,
        subtotal=totals.subtotal,
        discount_amount=totals.discount,
        vat_percent=totals.vat_percent,
        vat_amount=totals.vat_amount,
        amount=totals.total,
        period_start=period_start,
        period_end=period_end,
        lines=tuple(lines),
        payment_method_id=subscription.payment_method_id,
        charging_since=clock.iso_epoch(now),
        purpose=purpose,  # type: ignore[arg-type]
        created_at=clock.iso_epoch(now),
    )


def attempt_key(invoice: Invoice) -> str:
    """The gateway's idempotency key of the invoice's current charge attempt."""
    return f"{invoice.invoice_id}:{invoice.charge_attempt}"


def token_of(invoice: Invoice) -> str | None:
    if invoice.payment_method_id is None:
        return None
    method = repository.payment_method_get(invoice.account_id, invoice.customer_id, invoice.payment_method_id)
    return method.token if method else None


def charge(invoice: Invoice) -> Charge | None:
    """Charge the invoice's amount now; None when the gateway could not say what happened (it timed
    out or failed in any way: the invoice stays pending, for the renewal job to recover)."""
    if invoice.amount == 0:
        return Charge("succeeded", "free")
    token = token_of(invoice)
    if token is None:
        return Charge("declined", "none", "no_payment_method")
    try:
        result = gateway().charge(token, invoice.amount, invoice.currency, attempt_key(invoice))
    except Exception as failure:  # a timeout, a reset connection, the provider's SDK failing: unknown
        logger.warning(
            "charge left pending: no answer from the gateway",
            extra={"invoice_id": invoice.invoice_id, "error": type(failure).__name__},
        )
        metrics.add_metric(name="ChargesPending", unit="Count", value=1)
        return None
    metrics.add_metric(
        name="ChargesSucceeded" if result.status == "succeeded" else "ChargesDeclined", unit="Count", value=1
    )
    return result


def recovered(invoice: Invoice) -> Charge | None:
    """What became of a charge whose answer was lost (None: still unknown). The gateway is asked
    for the charge made with the invoice's key; when there was none, the invoice is charged now with
    that key (a renewal is owed; a first charge's request answered 503 saying the subscription
    appears once the charge is confirmed, and sending it again finds this invoice)."""
    try:
        found = gateway().lookup(attempt_key(invoice))
    except Exception:  # still no answer: the next run asks again
        logger.warning("charge still unknown: the gateway did not answer", extra={"invoice_id": invoice.invoice_id})
        return None
    if found is not None:
        return found
    return charge(invoice)


def settled(invoice: Invoice, result: Charge) -> Invoice:
    """The invoice with the charge's outcome: its transaction, ``paid`` or ``failed``."""
    now = clock.timestamp()
    transactions = invoice.transactions
    if result.reference != "free":
        transactions = (
            *transactions,
            Transaction(
                transaction_id=ids.new_sortable_id("txn", now),
                amount=invoice.amount,
                state="succeeded" if result.status == "succeeded" else "declined",
                created_at=clock.iso_epoch(now),
                reference=result.reference,
                decline_code=result.decline_code,
            ),
        )
    return dataclasses.replace(
        invoice,
        state="paid" if result.status == "succeeded" else "failed",
        transactions=transactions,
        charging_since=None,
        charge_attempt=invoice.charge_attempt + 1,
        version=invoice.version + 1,
    )


def retried(invoice: Invoice, payment_method_id: str | None) -> Invoice:
    """The failed invoice about to be charged again (the next attempt, a key of its own), to the
    subscription's card now (the customer may have changed it since the decline)."""
    return dataclasses.replace(
        invoice,
        state="pending",
        payment_method_id=payment_method_id or invoice.payment_method_id,
        charging_since=clock.iso(clock.now()),
        version=invoice.version + 1,
    )


# ----------------------------------------------------------------- reading


def get(account_id: str, invoice_id: str) -> Invoice:
    found = repository.invoice_get(account_id, invoice_id) if len(invoice_id) <= 64 else None
    if found is None:
        raise NotFound("No such invoice.")
    return found


def summary(invoice: Invoice) -> InvoiceSummary:
    return InvoiceSummary(**{k: getattr(invoice, k) for k in InvoiceSummary.model_fields})


def view(invoice: Invoice) -> InvoiceView:
    return InvoiceView(
        **{k: getattr(invoice, k) for k in InvoiceSummary.model_fields},
        subtotal=invoice.subtotal,
        discount_amount=invoice.discount_amount,
        vat_percent=invoice.vat_percent,
        vat_amount=invoice.vat_amount,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        lines=[LineView(**line.to_item()) for line in invoice.lines],
        transactions=[
            TransactionView(transaction_id=t.transaction_id, amount=t.amount, state=t.state, created_at=t.created_at)
            for t in invoice.transactions
        ],
    )


def listing(
    account_id: str, *, customer_id: str | None, subscription_id: str | None, limit: int, cursor: str | None
) -> InvoiceList:
    """Newest first; for one customer or one subscription, their invoices through the customer's
    index (a subscription belongs to one customer)."""
    if subscription_id is not None:
        subscription = repository.subscription_get(account_id, subscription_id) if len(subscription_id) <= 64 else None
        if subscription is None or (customer_id is not None and subscription.customer_id != customer_id):
            return InvoiceList(items=[])  # both filters: the subscription's invoices, if it is that customer's
        customer_id = subscription.customer_id
    if customer_id is not None:
        found = [
            i
            for i in repository.invoices_of_customer(customer_id)
            if i.account_id == account_id and (subscription_id is None or i.subscription_id == subscription_id)
        ]
        page, next_cursor = pages.slice_of(found, lambda i: i.invoice_id, limit, cursor)
        return InvoiceList(items=[view(i) for i in page], next_cursor=next_cursor)
    page, next_cursor = repository.invoices_page(account_id, limit, cursor)
    return InvoiceList(items=[view(i) for i in page], next_cursor=next_cursor)
