"""Storage of billing items: the only module of :mod:`portico.billing` that talks to the table.

Every item lives in its account's partition (``ACCOUNT#<account_id>``), keyed by kind and id;
subscriptions and invoices are also listed under their customer (``gsi2``), customers by email and
billing work by the hour it is due (``gsi1``). Ids sort by creation time, so lists read in key
order are in creation order.

Invariants are conditions on the writes: a handle is unique per account and kind and a coupon code
per account, case-insensitively (guard items put with ``attribute_not_exists`` in the transaction
that creates the item); every change of a catalog item, customer, subscription or invoice is
conditional on the ``version`` it was read at; a coupon's redemptions are counted with a condition
that keeps them within its maximum.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from portico import keys, pages, store
from portico.billing.records import (
    Addon,
    Coupon,
    Customer,
    Discount,
    Invoice,
    PaymentMethod,
    Plan,
    Subscription,
    TimelineEvent,
)
from portico.keys import Write
from portico.records import Record

CatalogRecord = Plan | Addon | Discount | Coupon
KINDS: dict[type[Record], str] = {Plan: "PLAN", Addon: "ADDON", Discount: "DISCOUNT", Coupon: "COUPON"}
ID_FIELD: dict[type[Record], str] = {Plan: "plan_id", Addon: "addon_id", Discount: "discount_id", Coupon: "coupon_id"}
R = TypeVar("R", bound=Record)

write = store.try_transact  # one transaction of the writes given; False when a condition no longer held


class Taken(Exception):
    """A handle or coupon code already in use in the account."""


def _typed(cls: type[R], item: dict[str, Any] | None) -> R | None:
    return cls.from_item(store.plain(item)) if item else None


def _versioned_put(key: keys.Key, record: Record, index: keys.Key, seen: int | None) -> Write:
    """Write the whole item; a new one only if absent, a changed one only at the version read."""
    item = {**key, **index, **record.to_item()}
    if seen is None:
        return store.put_op(item, condition="attribute_not_exists(pk)")
    return store.put_op(item, condition="#v = :seen", values={":seen": seen}, names={"#v": "version"})


def _page(
    cls: type[R], query: keys.Query, limit: int, cursor: str | None, *, newest_first: bool
) -> tuple[list[R], str | None]:
    start = pages.decode_cursor(cursor, query) if cursor is not None else None
    items, last = store.query(query, limit=limit, start=start, forward=not newest_first)
    return [cls.from_item(store.plain(i)) for i in items], pages.encode_cursor(last) if last else None


# ----------------------------------------------------------------- the catalog


def catalog_get(cls: type[R], account_id: str, item_id: str) -> R | None:
    return _typed(cls, store.get(keys.catalog_item(account_id, KINDS[cls], item_id), consistent=True))


def catalog_page(cls: type[R], account_id: str, limit: int, cursor: str | None) -> tuple[list[R], str | None]:
    return _page(cls, keys.catalog_of(account_id, KINDS[cls]), limit, cursor, newest_first=False)


def catalog_all(cls: type[R], account_id: str) -> list[R]:
    return [cls.from_item(store.plain(i)) for i in store.query_all(keys.catalog_of(account_id, KINDS[cls]))]


def catalog_put_op(record: CatalogRecord, *, seen: int | None) -> Write:
    kind = KINDS[type(record)]
    key = keys.catalog_item(record.account_id, kind, getattr(record, ID_FIELD[type(record)]))
    return _versioned_put(key, record, {}, seen)


def handle_guard_op(account_id: str, kind: str, handle: str, item_id: str) -> Write:
    return _guard_op(keys.handle(account_id, kind, handle), item_id)


def coupon_code_guard_op(coupon: Coupon) -> Write:
    return _guard_op(keys.coupon_code(coupon.account_id, coupon.code), coupon.coupon_id)


def _guard_op(key: keys.Key, item_id: str, *, or_own: bool = False) -> Write:
    """A handle's or code's guard: free, or (``or_own``) already held by this very item."""
    condition = "attribute_not_exists(pk)" + (" OR item_id = :id" if or_own else "")
    return store.put_op({**key, "item_id": item_id}, condition=condition, values={":id": item_id} if or_own else None)


def create_catalog_item(record: CatalogRecord, guards: list[Write], extra: list[Write]) -> None:
    """Create a catalog item with its guards; :class:`Taken` when a guard's handle or code is used."""
    try:
        store.transact([*guards, catalog_put_op(record, seen=None), *extra])
    except store.TransactionFailed as failed:
        if any(failed.failed(i) for i in range(len(guards))):
            raise Taken() from None
        raise


def copy_catalog_item(record: CatalogRecord) -> bool:
    """Write a go-live copy as the original is now, with its handle's (or code's) guard: new, or
    brought up to date when a resumed go-live copies it again. False when the handle is held in
    the live account by another item (which then stays)."""
    kind = KINDS[type(record)]
    item_id = str(getattr(record, ID_FIELD[type(record)]))
    guard = (
        keys.coupon_code(record.account_id, record.code)
        if isinstance(record, Coupon)
        else keys.handle(record.account_id, kind.lower(), record.handle)
    )
    item = {**keys.catalog_item(record.account_id, kind, item_id), **record.to_item()}
    return write([_guard_op(guard, item_id, or_own=True), store.put_op(item)])


def coupon_by_code(account_id: str, code: str) -> Coupon | None:
    guard = store.get(keys.coupon_code(account_id, code), consistent=True)
    return catalog_get(Coupon, account_id, str(guard["item_id"])) if guard else None


def redeem_op(coupon: Coupon, now_iso: str) -> Write:
    """Count a redemption, if the coupon is active, unexpired and not exhausted (atomically). It
    moves the coupon's version, so a change of the coupon written from an earlier read fails and
    is made again over the new count."""
    clauses = ["#s = :active"]
    values: dict[str, Any] = {":one": 1, ":active": "active"}
    if coupon.max_redemptions is not None:
        clauses.append("(attribute_not_exists(redemptions) OR redemptions < :max)")
        values[":max"] = coupon.max_redemptions
    if coupon.valid_until is not None:
        clauses.append("valid_until > :now")
        values[":now"] = now_iso
    return store.update_op(
        keys.catalog_item(coupon.account_id, "COUPON", coupon.coupon_id),
        "ADD redemptions :one, version :one",
        condition=" AND ".join(clauses),
        values=values,
        names={"#s": "state"},
    )


def unredeem_op(coupon_id: str, account_id: str) -> Write:
    """Give a redemption back (the subscription it was for was not created)."""
    return store.update_op(
        keys.catalog_item(account_id, "COUPON", coupon_id),
        "ADD redemptions :minus, version :one",
        condition="redemptions > :zero",
        values={":minus": -1, ":zero": 0, ":one": 1},
    )


# ----------------------------------------------------------------- customers


def customer_get(account_id: str, customer_id: str) -> Customer | None:
    return _typed(Customer, store.get(keys.customer(account_id, customer_id), consistent=True))


def customer_put_op(customer: Customer, *, seen: int | None) -> Write:
    index = keys.customer_email_index(customer.account_id, customer.email, customer.customer_id)
    return _versioned_put(keys.customer(customer.account_id, customer.customer_id), customer, index, seen)


def customers_page(account_id: str, limit: int, cursor: str | None) -> tuple[list[Customer], str | None]:
    return _page(Customer, keys.customers_of(account_id), limit, cursor, newest_first=False)


def customers_with_email(account_id: str, email: str) -> list[Customer]:
    """Every customer of the account with this address, oldest first (an index: no scan)."""
    found = store.query_all(keys.customers_by_email(account_id, email))
    return [Customer.from_item(store.plain(i)) for i in found if keys.is_customer(i)]


def payment_method_get(account_id: str, customer_id: str, payment_method_id: str) -> PaymentMethod | None:
    key = keys.payment_method(account_id, customer_id, payment_method_id)
    return _typed(PaymentMethod, store.get(key, consistent=True))


def payment_methods(account_id: str, customer_id: str) -> list[PaymentMethod]:
    found = store.query_all(keys.payment_methods_of(account_id, customer_id))
    return [PaymentMethod.from_item(store.plain(i)) for i in found]


def payment_method_put_op(method: PaymentMethod) -> Write:
    key = keys.payment_method(method.account_id, method.customer_id, method.payment_method_id)
    return _versioned_put(key, method, {}, None)


def payment_method_delete_op(method: PaymentMethod) -> Write:
    key = keys.payment_method(method.account_id, method.customer_id, method.payment_method_id)
    return store.delete_op(key, condition="attribute_exists(pk)")


def event_put_op(event: TimelineEvent) -> Write:
    return store.put_op(
        {**keys.timeline_event(event.account_id, event.customer_id, event.event_id), **event.to_item()},
        condition="attribute_not_exists(pk)",
    )


def timeline_page(
    account_id: str, customer_id: str, limit: int, cursor: str | None
) -> tuple[list[TimelineEvent], str | None]:
    return _page(TimelineEvent, keys.timeline_of(account_id, customer_id), limit, cursor, newest_first=True)


# ----------------------------------------------------------------- subscriptions and invoices


def _subscription_index(subscription: Subscription) -> keys.Key:
    index = keys.customer_index(subscription.customer_id, "SUB", subscription.subscription_id)
    if subscription.due_at:
        index.update(keys.due_index(subscription.due_at, subscription.subscription_id))
    return index


def subscription_get(account_id: str, subscription_id: str) -> Subscription | None:
    return _typed(Subscription, store.get(keys.subscription(account_id, subscription_id), consistent=True))


def subscription_put_op(subscription: Subscription, *, seen: int | None) -> Write:
    """Create a subscription, or write its next state if it is still at the version ``seen``."""
    key = keys.subscription(subscription.account_id, subscription.subscription_id)
    return _versioned_put(key, subscription, _subscription_index(subscription), seen)


def subscriptions_page(account_id: str, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
    return _page(Subscription, keys.subscriptions_of(account_id), limit, cursor, newest_first=True)


def subscriptions_of_customer(customer_id: str) -> list[Subscription]:
    found = store.query_all(keys.of_customer(customer_id, "SUB"))
    return sorted(
        (Subscription.from_item(store.plain(i)) for i in found), key=lambda s: s.subscription_id, reverse=True
    )


def _invoice_index(invoice: Invoice) -> keys.Key:
    index = keys.customer_index(invoice.customer_id, "INV", invoice.invoice_id)
    if invoice.charging_since:  # a charge in flight: recovered by the renewal job if it is left so
        index.update(keys.due_index(invoice.charging_since, invoice.invoice_id))
    return index


def invoice_get(account_id: str, invoice_id: str) -> Invoice | None:
    return _typed(Invoice, store.get(keys.invoice(account_id, invoice_id), consistent=True))


def invoice_put_op(invoice: Invoice, *, seen: int | None) -> Write:
    key = keys.invoice(invoice.account_id, invoice.invoice_id)
    return _versioned_put(key, invoice, _invoice_index(invoice), seen)


def invoices_page(account_id: str, limit: int, cursor: str | None) -> tuple[list[Invoice], str | None]:
    return _page(Invoice, keys.invoices_of(account_id), limit, cursor, newest_first=True)


def invoices_of_customer(customer_id: str) -> list[Invoice]:
    found = store.query_all(keys.of_customer(customer_id, "INV"))
    return sorted((Invoice.from_item(store.plain(i)) for i in found), key=lambda i: i.invoice_id, reverse=True)


def subscription_with_invoices(customer_id: str, subscription_id: str) -> tuple[Subscription | None, list[Invoice]]:
    """One of a customer's subscriptions and its invoices (newest first), in one query of the
    customer's index (eventually consistent)."""
    subscription, own = None, []
    for item in store.query_all(keys.all_of_customer(customer_id)):
        plain = store.plain(item)
        if keys.is_subscription(plain):
            if plain.get("subscription_id") == subscription_id:
                subscription = Subscription.from_item(plain)
        elif plain.get("subscription_id") == subscription_id:
            own.append(Invoice.from_item(plain))
    return subscription, sorted(own, key=lambda i: i.invoice_id, reverse=True)


def charge_request_op(account_id: str, request_key: str, invoice_id: str, expires_at: int) -> Write:
    """Remember which first invoice the request with this key made (once: a second one fails)."""
    key = keys.charge_request(account_id, hashlib.sha256(request_key.encode()).hexdigest())
    return store.put_op({**key, "invoice_id": invoice_id, "ttl": expires_at}, condition="attribute_not_exists(pk)")


def charge_request_invoice(account_id: str, request_key: str) -> Invoice | None:
    """The first invoice an earlier request with this key made, if any."""
    guard = store.get(
        keys.charge_request(account_id, hashlib.sha256(request_key.encode()).hexdigest()), consistent=True
    )
    return invoice_get(account_id, str(guard["invoice_id"])) if guard else None


def next_invoice_number(account_id: str) -> int:
    """Reserve the account's next invoice number (a counter; a number whose invoice is then not
    written is a gap, as when an invoice is voided)."""
    answer = store.update(keys.invoice_counter(account_id), "ADD next_number :one", values={":one": 1})
    return int(answer["next_number"])


def due(hour: str, until: str) -> list[Subscription | Invoice]:
    """The subscriptions and invoices with work due in the hour ``hour`` up to ``until``."""
    found: list[Subscription | Invoice] = []
    for item in store.query_all(keys.due_in_hour(hour, until)):
        plain = store.plain(item)
        found.append(Subscription.from_item(plain) if keys.is_subscription(plain) else Invoice.from_item(plain))
    return found


def renewal_mark() -> str | None:
    """The hour from which the next renewal run must read (None before the first run)."""
    item = store.get(keys.job_mark("subscription-renewal"), consistent=True)
    return str(item["hour"]) if item else None


def renewal_mark_put(hour: str) -> None:
    store.put({**keys.job_mark("subscription-renewal"), "hour": hour})


# ----------------------------------------------------------------- the test gateway's own records


def gateway_record(idempotency_key: str) -> dict[str, Any] | None:
    item = store.get(keys.gateway_charge(idempotency_key), consistent=True)
    return store.plain(item) if item else None


def gateway_record_put(idempotency_key: str, record: dict[str, Any]) -> dict[str, Any]:
    """Keep a charge's outcome under its key, once: a repeat finds the first outcome."""
    try:
        store.put({**keys.gateway_charge(idempotency_key), **record}, condition="attribute_not_exists(pk)")
    except store.ConditionFailed:
        return gateway_record(idempotency_key) or record
    return record
