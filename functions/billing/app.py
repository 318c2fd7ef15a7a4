"""Billing routes: customers and their payment methods and timeline, the portal link,
subscriptions and their actions, invoices (read with ``data:view``, changed with ``data:edit``)."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from portico import access, http, pages
from portico.accounts.rights import Right
from portico.billing import customers, invoices, subscriptions
from portico.billing.models import (
    CancelRequest,
    CustomerCreate,
    CustomerList,
    CustomerPatch,
    CustomerView,
    EmptyBody,
    InvoiceList,
    InvoiceView,
    PauseRequest,
    PaymentMethodCreate,
    PaymentMethodList,
    PaymentMethodView,
    PortalLink,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionView,
    Timeline,
)

boot.ready("dynamodb")

app = http.resolver()

Limit = Annotated[int, Query(ge=1, le=pages.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=pages.MAX_CURSOR_CHARS)]
IdFilter = Annotated[str | None, Query(min_length=4, max_length=64, pattern=r"^[a-z]+_[a-z0-9]+$")]
EmailFilter = Annotated[str | None, Query(min_length=3, max_length=254)]
StateFilter = Annotated[Literal["trialing", "active", "paused", "cancelled", "expired"] | None, Query()]


def _actor() -> dict[str, Any]:
    caller = http.caller(app)
    return {"type": "user", "id": caller.user_id, "email": caller.session.email}


def _scope(kind: str) -> str:
    caller = http.caller(app)
    return f"{kind}#{caller.account_id}#{caller.user_id}"


# ----------------------------------------------------------------- customers


@app.get("/accounts/<account_id>/customers")
@access.member(Right.DATA_VIEW)
def list_customers(
    account_id: str, email: EmailFilter = None, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None
) -> CustomerList:
    """List the account's customers; ``?email=`` finds those with an address."""
    return customers.listing(http.caller(app).account_id, email=email, limit=limit, cursor=cursor)


@app.post("/accounts/<account_id>/customers")
@access.member(Right.DATA_EDIT)
@http.refuses_card_numbers
def create_customer(account_id: str, body: CustomerCreate) -> Response[CustomerView]:
    """Create a customer.

    Errors:
        409 handle_taken: another customer of the account has this ``handle``.
    """
    caller, actor = http.caller(app), _actor()
    return http.idempotent(
        app, _scope("customer"), body, lambda: customers.view(customers.create(caller.account_id, body, actor=actor))
    )


@app.get("/accounts/<account_id>/customers/<customer_id>")
@access.member(Right.DATA_VIEW)
def get_customer(account_id: str, customer_id: str) -> CustomerView:
    """Show one customer."""
    return customers.view(customers.get(http.caller(app).account_id, customer_id))


@app.patch("/accounts/<account_id>/customers/<customer_id>")
@access.member(Right.DATA_EDIT)
@http.refuses_card_numbers
def patch_customer(account_id: str, customer_id: str, body: CustomerPatch) -> CustomerView:
    """Change a customer's details; ``null`` clears an optional one.

    Each change lands on the customer's timeline.

    Errors:
        409 conflict: the customer was changed at the same time; try again.
    """
    changed = customers.update(http.caller(app).account_id, customer_id, body, source="admin", actor=_actor())
    return customers.view(changed)


@app.get("/accounts/<account_id>/customers/<customer_id>/timeline")
@access.member(Right.DATA_VIEW)
def customer_timeline(
    account_id: str, customer_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None
) -> Timeline:
    """Read a customer's timeline, newest first: who changed what, from where, old and new values."""
    return customers.timeline(http.caller(app).account_id, customer_id, limit=limit, cursor=cursor)


@app.get("/accounts/<account_id>/customers/<customer_id>/payment-methods")
@access.member(Right.DATA_VIEW)
def list_payment_methods(account_id: str, customer_id: str) -> PaymentMethodList:
    """List a customer's payment methods."""
    return customers.payment_methods(http.caller(app).account_id, customer_id)


@app.post("/accounts/<account_id>/customers/<customer_id>/payment-methods")
@access.member(Right.DATA_EDIT)
@http.refuses_card_numbers
def add_payment_method(account_id: str, customer_id: str, body: PaymentMethodCreate) -> Response[PaymentMethodView]:
    """Add a card to a customer, as the payment provider's token and what may be shown of it.

    The first payment method becomes the default.

    Errors:
        409 conflict: the customer was changed at the same time; try again.
    """
    caller, actor = http.caller(app), _actor()

    def add() -> PaymentMethodView:
        method, customer = customers.add_payment_method(
            caller.account_id, customer_id, body.card, source="admin", actor=actor
        )
        return customers.payment_method_view(method, customer)

    return http.idempotent(app, _scope(f"payment-method#{customer_id}"), body, add)


@app.delete("/accounts/<account_id>/customers/<customer_id>/payment-methods/<payment_method_id>")
@access.member(Right.DATA_EDIT)
def remove_payment_method(account_id: str, customer_id: str, payment_method_id: str) -> Response[None]:
    """Remove a customer's payment method.

    Errors:
        409 payment_method_in_use: a subscription that has not ended pays with it.
        409 conflict: the customer was changed at the same time; try again.
    """
    caller = http.caller(app)
    customers.remove_payment_method(caller.account_id, customer_id, payment_method_id, source="admin", actor=_actor())
    return http.no_content()


@app.post("/accounts/<account_id>/customers/<customer_id>/portal-session")
@access.member(Right.DATA_EDIT)
def portal_session(account_id: str, customer_id: str) -> Response[PortalLink]:
    """Make a one-time portal login link for a customer (5 minutes).

    Exchange its ``token`` with ``POST /portal/{account_id}/login/link``.
    """
    link = customers.portal_link(http.caller(app).account_id, customer_id, actor=_actor())
    return http.created(link)


# ----------------------------------------------------------------- subscriptions


@app.get("/accounts/<account_id>/subscriptions")
@access.member(Right.DATA_VIEW)
def list_subscriptions(
    account_id: str,
    customer_id: IdFilter = None,
    state: StateFilter = None,
    limit: Limit = pages.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SubscriptionList:
    """List the account's subscriptions (``?customer_id=``, ``?state=``)."""
    return subscriptions.listing(
        http.caller(app).account_id, customer_id=customer_id, state=state, limit=limit, cursor=cursor
    )


@app.post("/accounts/<account_id>/subscriptions")
@access.member(Right.DATA_EDIT)
@http.refuses_card_numbers
def create_subscription(account_id: str, body: SubscriptionCreate) -> Response[SubscriptionView]:
    """Subscribe a customer to a plan, with add-ons and a coupon.

    Without a trial the first period is charged at once: ``201`` with ``active``, or ``402`` with the
    failed invoice kept. With a trial the subscription is ``trialing`` until ``trial_end``.

    Errors:
        402 payment_declined: the first charge was declined; no subscription is made.
        404 not_found: no such customer, plan, add-on or payment method.
        409 coupon_exhausted: the coupon has been redeemed as often as it may be.
        422 coupon_invalid: the coupon is unknown, archived, expired or does not apply to the plan.
        422 payment_method_required: the customer has no payment method to charge.
        503 service_unavailable: the charge's outcome is unknown; send the request again with its ``Idempotency-Key``.
    """
    caller, actor = http.caller(app), _actor()

    scope = _scope("subscription")
    request_key = http.request_key(app, scope)

    def create() -> SubscriptionView:
        created, _ = subscriptions.create(caller.account, body, source="admin", actor=actor, request_key=request_key)
        return subscriptions.view(created)

    return http.idempotent(app, scope, body, create)


@app.get("/accounts/<account_id>/subscriptions/<subscription_id>")
@access.member(Right.DATA_VIEW)
def get_subscription(account_id: str, subscription_id: str) -> SubscriptionView:
    """Show one subscription."""
    return subscriptions.view(subscriptions.get(http.caller(app).account_id, subscription_id))


def _act(subscription_id: str, action: subscriptions.Action, body: Any, **params: Any) -> Response[SubscriptionView]:
    caller, actor = http.caller(app), _actor()

    def apply() -> SubscriptionView:
        changed = subscriptions.act(caller.account, subscription_id, action, source="admin", actor=actor, **params)
        return subscriptions.view(changed)

    return http.idempotent(app, _scope(f"{action}#{subscription_id}"), body, apply, status=200)


# An action's body is optional: ``POST .../resume`` with none is the action with its defaults.
OptionalPause = Annotated[PauseRequest | None, Body()]
OptionalCancel = Annotated[CancelRequest | None, Body()]
OptionalEmpty = Annotated[EmptyBody | None, Body()]


@app.post("/accounts/<account_id>/subscriptions/<subscription_id>/pause")
@access.member(Right.DATA_EDIT)
def pause_subscription(account_id: str, subscription_id: str, body: OptionalPause = None) -> Response[SubscriptionView]:
    """Pause a subscription (billing and dunning stop), optionally until ``resume_at``.

    Errors:
        409 invalid_state_transition: the subscription cannot be paused in its state.
        409 conflict: the subscription was changed at the same time; try again.
    """
    body = body or PauseRequest()
    return _act(subscription_id, "pause", body, resume_at=body.resume_at)


@app.post("/accounts/<account_id>/subscriptions/<subscription_id>/resume")
@access.member(Right.DATA_EDIT)
def resume_subscription(
    account_id: str, subscription_id: str, body: OptionalEmpty = None
) -> Response[SubscriptionView]:
    """Resume a paused subscription; after its paid period a new period is charged at once.

    Errors:
        402 payment_declined: the new period's charge was declined.
        409 invalid_state_transition: the subscription is not paused.
        409 conflict: the subscription was changed at the same time; try again.
    """
    return _act(subscription_id, "resume", body or EmptyBody())


@app.post("/accounts/<account_id>/subscriptions/<subscription_id>/cancel")
@access.member(Right.DATA_EDIT)
@http.refuses_card_numbers
def cancel_subscription(
    account_id: str, subscription_id: str, body: OptionalCancel = None
) -> Response[SubscriptionView]:
    """Cancel a subscription at the end of its period, or ``at: "now"``.

    Errors:
        409 invalid_state_transition: the subscription cannot be cancelled in its state.
        409 conflict: the subscription was changed at the same time; try again.
    """
    body = body or CancelRequest()
    return _act(subscription_id, "cancel", body, at=body.at, reason=body.reason, comment=body.comment)


@app.post("/accounts/<account_id>/subscriptions/<subscription_id>/uncancel")
@access.member(Right.DATA_EDIT)
def uncancel_subscription(
    account_id: str, subscription_id: str, body: OptionalEmpty = None
) -> Response[SubscriptionView]:
    """Undo a cancellation before ``ends_at``: back to the state it was cancelled from.

    Errors:
        409 invalid_state_transition: the subscription is not cancelled, or has ended.
        409 conflict: the subscription was changed at the same time; try again.
    """
    return _act(subscription_id, "uncancel", body or EmptyBody())


@app.post("/accounts/<account_id>/subscriptions/<subscription_id>/expire")
@access.member(Right.DATA_EDIT)
def expire_subscription(
    account_id: str, subscription_id: str, body: OptionalEmpty = None
) -> Response[SubscriptionView]:
    """End a subscription now.

    Errors:
        409 invalid_state_transition: the subscription has already ended.
        409 conflict: the subscription was changed at the same time; try again.
    """
    return _act(subscription_id, "expire", body or EmptyBody())


# ----------------------------------------------------------------- invoices


@app.get("/accounts/<account_id>/invoices")
@access.member(Right.DATA_VIEW)
def list_invoices(
    account_id: str,
    customer_id: IdFilter = None,
    subscription_id: IdFilter = None,
    limit: Limit = pages.DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> InvoiceList:
    """List the account's invoices (``?customer_id=``, ``?subscription_id=``)."""
    return invoices.listing(
        http.caller(app).account_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        limit=limit,
        cursor=cursor,
    )


@app.get("/accounts/<account_id>/invoices/<invoice_id>")
@access.member(Right.DATA_VIEW)
def get_invoice(account_id: str, invoice_id: str) -> InvoiceView:
    """Show one invoice with its lines and transactions."""
    return invoices.view(invoices.get(http.caller(app).account_id, invoice_id))


lambda_handler = http.entry_point(app)
