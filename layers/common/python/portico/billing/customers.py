"""Customers, their payment methods and their timeline, and the one-time link that logs a customer
in to the portal.

* Emails need not be unique: several customers may share one. ``?email=`` finds them through an
  index keyed by the address (folded as logins are, :func:`portico.keys.normalise_email`), never by
  a scan. A handle, when given, is unique per account (a guard item).
* A payment method is a reference to a card tokenized by the payment provider (its token, brand,
  last four digits and expiry); a body holding a card number is refused before it is read
  (:mod:`portico.cards`). A customer has at most one default: the first method added, or the
  newest left when the default is removed. A method used by a subscription that has not ended
  cannot be removed (``409 payment_method_in_use``).
* Every change, by the merchant (``admin``), the customer (``portal``) or Portico (``system``),
  is a timeline event with who did it and the old and new values, written in the transaction of the
  change, newest first when read.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any, Literal, Protocol

from portico import clock, ids, pages
from portico.billing import repository
from portico.billing.models import (
    AddressView,
    Card,
    CustomerCreate,
    CustomerList,
    CustomerPatch,
    CustomerView,
    PaymentMethodList,
    PaymentMethodView,
    PortalLink,
    Timeline,
    TimelineEntry,
)
from portico.billing.records import ENDED, Address, Customer, PaymentMethod, TimelineEvent
from portico.config import settings
from portico.errors import NotFound, ValidationFailed, define
from portico.keys import Write
from portico.tokens import links

Source = Literal["portal", "admin", "system"]
HandleTaken = define("HandleTaken", 409, "handle_taken", "Handle Taken")
PaymentMethodInUse = define("PaymentMethodInUse", 409, "payment_method_in_use", "Payment Method In Use")
Conflict = define("Conflict", 409, "conflict", "Conflict")
PORTAL_LINK_VALIDITY = timedelta(minutes=5)
PORTAL_LOGIN = "portal_login"
_ATTEMPTS = 5
_REQUIRED = frozenset({"email"})


class OfCustomer(Protocol):
    """Anything of one customer's (the customer, a subscription, an invoice): enough to place an
    event on their timeline without reading the customer."""

    @property
    def account_id(self) -> str: ...

    @property
    def customer_id(self) -> str: ...


def event_op(
    customer: OfCustomer, source: Source, actor: dict[str, Any], kind: str, details: dict[str, Any] | None = None
) -> Write:
    """A timeline event for the transaction of the change it tells of."""
    now = clock.timestamp()
    return repository.event_put_op(
        TimelineEvent(
            event_id=ids.new_sortable_id("evt", now),
            account_id=customer.account_id,
            customer_id=customer.customer_id,
            at=clock.iso_epoch(now),
            source=source,
            type=kind,
            actor=actor,
            details=details or {},
        )
    )


def get(account_id: str, customer_id: str) -> Customer:
    found = repository.customer_get(account_id, customer_id) if len(customer_id) <= 64 else None
    if found is None:
        raise NotFound("No such customer.")
    return found


def create(account_id: str, body: CustomerCreate, *, actor: dict[str, Any]) -> Customer:
    now = clock.timestamp()
    fields = body.model_dump(exclude={"address"})
    customer = Customer(
        customer_id=ids.new_sortable_id("cus", now),
        account_id=account_id,
        created_at=clock.iso_epoch(now),
        address=Address.from_item(body.address.model_dump()) if body.address else None,
        **fields,
    )
    guards = (
        [repository.handle_guard_op(account_id, "customer", customer.handle, customer.customer_id)]
        if customer.handle
        else []
    )
    ops = [
        *guards,
        repository.customer_put_op(customer, seen=None),
        event_op(customer, "admin", actor, "customer.created"),
    ]
    if not repository.write(ops):
        raise HandleTaken(f"A customer with the handle {customer.handle!r} exists in this account.")
    return customer


def update(
    account_id: str,
    customer_id: str,
    patch: CustomerPatch,
    *,
    source: Source,
    actor: dict[str, Any],
    extra: tuple[Write, ...] = (),
) -> Customer:
    """Change what ``patch`` sent (``null`` clears an optional field), with one timeline event that
    holds the old and the new values."""
    sent = patch.model_fields_set
    refused = [name for name in sent if getattr(patch, name) is None and name in _REQUIRED]
    if refused:
        raise ValidationFailed([{"loc": ["body", n], "msg": "may not be null", "type": "value_error"} for n in refused])
    for _ in range(_ATTEMPTS):
        before = get(account_id, customer_id)
        changes: dict[str, Any] = {}
        for name in sent:
            value = getattr(patch, name)
            if name == "address":
                value = Address.from_item(value.model_dump()) if value is not None else None
            if getattr(before, name) != value:
                changes[name] = value
        if "phone" in changes:
            changes["phone_verified"] = False  # a new number is not the one verified
        if not changes:
            return before
        after = dataclasses.replace(before, **changes, version=before.version + 1)
        details = {
            "before": {k: _shown(getattr(before, k)) for k in changes},
            "after": {k: _shown(v) for k, v in changes.items()},
        }
        ops = [
            repository.customer_put_op(after, seen=before.version),
            event_op(after, source, actor, "customer.updated", details),
            *extra,
        ]
        if repository.write(ops):
            return after
    raise Conflict("The customer was changed at the same time; try again.")


def verify_phone(
    account_id: str,
    customer_id: str,
    number: str,
    *,
    source: Source,
    actor: dict[str, Any],
    extra: tuple[Write, ...] = (),
) -> Customer | None:
    """Set the customer's phone to ``number``, verified (by an SMS code: ``extra`` uses it up in the
    same transaction), with a timeline event; None when ``extra``'s condition failed."""
    for _ in range(_ATTEMPTS):
        before = get(account_id, customer_id)
        after = dataclasses.replace(before, phone=number, phone_verified=True, version=before.version + 1)
        details = {
            "before": {"phone": before.phone, "phone_verified": before.phone_verified},
            "after": {"phone": number, "phone_verified": True},
        }
        ops = [
            repository.customer_put_op(after, seen=before.version),
            event_op(after, source, actor, "customer.phone_verified", details),
            *extra,
        ]
        if repository.write(ops):
            return after
        fresh = get(account_id, customer_id)
        if fresh.version == before.version:
            return None  # the customer did not change: ``extra`` failed
    raise Conflict("The customer was changed at the same time; try again.")


def _shown(value: Any) -> Any:
    return value.to_item() if isinstance(value, Address) else value


def view(customer: Customer) -> CustomerView:
    return CustomerView(
        customer_id=customer.customer_id,
        email=customer.email,
        name=customer.name,
        phone=customer.phone,
        phone_verified=customer.phone_verified,
        address=AddressView(**customer.address.to_item()) if customer.address else None,
        company=customer.company,
        vat_id=customer.vat_id,
        language=customer.language,
        handle=customer.handle,
        default_payment_method_id=customer.default_payment_method_id,
        created_at=customer.created_at,
    )


def listing(account_id: str, *, email: str | None, limit: int, cursor: str | None) -> CustomerList:
    if email is not None:
        found = repository.customers_with_email(account_id, email)
        page, next_cursor = pages.slice_of(found, lambda c: c.customer_id, limit, cursor)
        return CustomerList(items=[view(c) for c in page], next_cursor=next_cursor)
    found, next_cursor = repository.customers_page(account_id, limit, cursor)
    return CustomerList(items=[view(c) for c in found], next_cursor=next_cursor)


def timeline(account_id: str, customer_id: str, *, limit: int, cursor: str | None) -> Timeline:
    get(account_id, customer_id)
    events, next_cursor = repository.timeline_page(account_id, customer_id, limit, cursor)
    return Timeline(
        items=[TimelineEntry(at=e.at, source=e.source, actor=e.actor, type=e.type, details=e.details) for e in events],
        next_cursor=next_cursor,
    )


# ----------------------------------------------------------------- payment methods


def payment_method(account_id: str, customer_id: str, payment_method_id: str) -> PaymentMethod:
    found = (
        repository.payment_method_get(account_id, customer_id, payment_method_id)
        if len(payment_method_id) <= 64
        else None
    )
    if found is None:
        raise NotFound("No such payment method.")
    return found


def payment_method_view(method: PaymentMethod, customer: Customer) -> PaymentMethodView:
    return PaymentMethodView(
        payment_method_id=method.payment_method_id,
        brand=method.brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        default=method.payment_method_id == customer.default_payment_method_id,
        created_at=method.created_at,
    )


def payment_methods(account_id: str, customer_id: str) -> PaymentMethodList:
    customer = get(account_id, customer_id)
    return PaymentMethodList(
        items=[payment_method_view(m, customer) for m in repository.payment_methods(account_id, customer_id)]
    )


def add_payment_method(
    account_id: str, customer_id: str, card: Card, *, source: Source, actor: dict[str, Any]
) -> tuple[PaymentMethod, Customer]:
    for _ in range(_ATTEMPTS):
        customer = get(account_id, customer_id)
        now = clock.timestamp()
        method = PaymentMethod(
            payment_method_id=ids.new_sortable_id("pm", now),
            account_id=account_id,
            customer_id=customer_id,
            created_at=clock.iso_epoch(now),
            **card.model_dump(),
        )
        # the first method is the default; the customer's version serializes parallel additions
        default = customer.default_payment_method_id or method.payment_method_id
        after = dataclasses.replace(customer, default_payment_method_id=default, version=customer.version + 1)
        details = {"payment_method_id": method.payment_method_id, "brand": method.brand, "last4": method.last4}
        ops = [
            repository.payment_method_put_op(method),
            repository.customer_put_op(after, seen=customer.version),
            event_op(customer, source, actor, "payment_method.added", details),
        ]
        if repository.write(ops):
            return method, after
    raise Conflict("The customer was changed at the same time; try again.")


def remove_payment_method(
    account_id: str, customer_id: str, payment_method_id: str, *, source: Source, actor: dict[str, Any]
) -> None:
    for _ in range(_ATTEMPTS):
        customer = get(account_id, customer_id)
        method = payment_method(account_id, customer_id, payment_method_id)
        in_use = [
            s.subscription_id
            for s in repository.subscriptions_of_customer(customer_id)
            if s.account_id == account_id and s.payment_method_id == payment_method_id and s.state not in ENDED
        ]
        if in_use:
            raise PaymentMethodInUse("A subscription that has not ended pays with this method; change it there first.")
        default = customer.default_payment_method_id
        if default == payment_method_id:
            others = [
                m
                for m in repository.payment_methods(account_id, customer_id)
                if m.payment_method_id != payment_method_id
            ]
            default = others[-1].payment_method_id if others else None
        after = dataclasses.replace(customer, default_payment_method_id=default, version=customer.version + 1)
        details = {"payment_method_id": method.payment_method_id, "brand": method.brand, "last4": method.last4}
        ops = [
            repository.payment_method_delete_op(method),
            repository.customer_put_op(after, seen=customer.version),
            event_op(customer, source, actor, "payment_method.removed", details),
        ]
        if repository.write(ops):
            return
    raise Conflict("The customer was changed at the same time; try again.")


# ----------------------------------------------------------------- the portal link


def portal_link(account_id: str, customer_id: str, *, actor: dict[str, Any]) -> PortalLink:
    """A one-time link (5 minutes) that logs the customer in to the portal, for the merchant's own
    app to redirect to; only its hash is stored."""
    customer = get(account_id, customer_id)
    secret, link = links.new(
        PORTAL_LOGIN, user_id=customer_id, email=customer.email, valid_for=PORTAL_LINK_VALIDITY, account_id=account_id
    )
    repository.write([links.put_op(link), event_op(customer, "admin", actor, "portal.link_issued")])
    url = f"{settings().public_url.rstrip('/')}/portal/{account_id}?token={secret}"
    return PortalLink(url=url, token=secret, expires_at=clock.iso_epoch(link.expires_at))
