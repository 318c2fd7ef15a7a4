"""Telling a customer that a charge was declined: an email in the customer's language (else the
account's) with a link to the account's portal, where they change the payment method. Sent after the
outcome is recorded and best effort: a failure is logged and counted, and the next retry emails
again."""

from __future__ import annotations

from portico import money
from portico.accounts.records import Account
from portico.billing.records import Customer, Invoice, Subscription
from portico.config import settings
from portico.notify import email
from portico.observability import logger, metrics


def portal_url(account_id: str) -> str:
    return f"{settings().public_url.rstrip('/')}/portal/{account_id}"


def notify(account: Account, customer: Customer, invoice: Invoice, subscription: Subscription) -> None:
    ended = subscription.state == "expired"
    try:
        email.send(
            customer.email,
            "payment_failed_final" if ended else "payment_failed",
            customer.language or account.language,
            {
                "name": customer.name or "",
                "merchant": account.company.legal_name or account.name,
                "amount": f"{money.format_minor(invoice.amount, invoice.currency)} {invoice.currency}",
                "invoice": invoice.handle,
                "retry_at": (subscription.dunning.next_retry_at if subscription.dunning else "")
                .replace("T", " ")
                .replace("Z", " UTC"),
            },
            links={"link": portal_url(account.account_id)},
        )
    except Exception:
        logger.exception("payment failure email not sent", extra={"invoice_id": invoice.invoice_id})
        metrics.add_metric(name="NoticeFailures", unit="Count", value=1)
