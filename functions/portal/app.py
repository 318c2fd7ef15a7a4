"""Customer portal routes (a portal token): the customer's details and phone, subscriptions and
their actions, ordering a plan, payment methods, invoices, and logging out."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from portico import access, http
from portico.billing.models import (
    CustomerPatch,
    EmptyBody,
    InvoiceView,
    PaymentMethodChoice,
    PaymentMethodCreate,
    PaymentMethodView,
)
from portico.portal import login, phone, selfservice
from portico.portal.models import (
    PhoneCode,
    PhoneRequest,
    PhoneSent,
    PortalCancel,
    PortalInvoiceList,
    PortalMe,
    PortalOrder,
    PortalPause,
    PortalPaymentMethodList,
    PortalPlanList,
    PortalSubscription,
    PortalSubscriptionDetail,
    PortalSubscriptionList,
)
from portico.portal.sessions import PortalSession

boot.ready("dynamodb")

app = http.resolver()

# An action's body is optional: ``POST .../resume`` with none is the action with its defaults.
OptionalPause = Annotated[PortalPause | None, Body()]
OptionalCancel = Annotated[PortalCancel | None, Body()]
OptionalEmpty = Annotated[EmptyBody | None, Body()]


def _scope(kind: str, customer: PortalSession) -> str:
    """An ``Idempotency-Key`` is the customer's own: the same key from another customer is another
    request."""
    return f"portal-{kind}#{customer.account_id}#{customer.customer_id}"


@app.post("/portal/logout")
@access.customer
def logout() -> Response[None]:
    """Log out of the portal: end the current portal session."""
    login.logout(http.customer(app))
    return http.no_content()


# ----------------------------------------------------------------- me


@app.get("/portal/me")
@access.customer
def get_me() -> PortalMe:
    """Show the logged-in customer's details."""
    return selfservice.me(http.customer(app))


@app.patch("/portal/me")
@access.customer
@http.refuses_card_numbers
def patch_me(body: CustomerPatch) -> PortalMe:
    """Change the customer's own details (name, phone, address, company, VAT id, language).

    Each change lands on the customer's timeline.

    Errors:
        403 email_change_not_allowed: the email address is the login; only the merchant changes it.
    """
    return selfservice.update_me(http.customer(app), body)


@app.put("/portal/me/phone")
@access.customer
def put_phone(body: PhoneRequest) -> Response[PhoneSent]:
    """Set the customer's phone number and text it a 6-digit code.

    Errors:
        422 phone_not_allowed: the number's prefix is blocked by the merchant.
        429 resend_too_soon: a code was sent less than a minute ago; see ``Retry-After``.
    """
    return http.created(phone.request(http.customer(app), body), status=202)


@app.post("/portal/me/phone/verify")
@access.customer
def verify_phone(body: PhoneCode) -> PortalMe:
    """Verify the customer's phone number with the texted code.

    Errors:
        401 invalid_code: the code is not right.
        401 code_expired: the code is older than 10 minutes.
        401 code_exhausted: the code's 5 attempts are used up.
    """
    return phone.verify(http.customer(app), body)


# ----------------------------------------------------------------- subscriptions


@app.get("/portal/subscriptions")
@access.customer
def list_subscriptions() -> PortalSubscriptionList:
    """List the customer's subscriptions."""
    return selfservice.subscription_list(http.customer(app))


@app.post("/portal/subscriptions")
@access.customer
def order(body: PortalOrder) -> Response[PortalSubscription]:
    """Order a plan the portal offers, paid with one of the customer's payment methods.

    Errors:
        402 payment_declined: the first charge was declined.
        403 phone_verification_required: the plan needs a phone verified by SMS first.
        404 not_found: no such orderable plan or payment method.
    """
    customer = http.customer(app)
    scope = _scope("order", customer)
    request_key = http.request_key(app, scope)
    return http.idempotent(app, scope, body, lambda: selfservice.order(customer, body, request_key=request_key))


@app.get("/portal/plans")
@access.customer
def list_plans() -> PortalPlanList:
    """List the plans the portal offers for ordering."""
    return selfservice.plans(http.customer(app))


@app.get("/portal/subscriptions/<subscription_id>")
@access.customer
def get_subscription(subscription_id: str) -> PortalSubscriptionDetail:
    """Show one of the customer's subscriptions, with its invoices.

    Errors:
        404 not_found: no such subscription of this customer.
    """
    return selfservice.subscription_detail(http.customer(app), subscription_id)


@app.post("/portal/subscriptions/<subscription_id>/pause")
@access.customer
def pause(subscription_id: str, body: OptionalPause = None) -> PortalSubscription:
    """Pause one of the customer's subscriptions, optionally until ``resume_at``.

    Errors:
        403 feature_disabled: the merchant does not offer pausing.
        404 not_found: no such subscription of this customer.
        409 invalid_state_transition: the subscription cannot be paused in its state.
    """
    return selfservice.pause(http.customer(app), subscription_id, body or PortalPause())


@app.post("/portal/subscriptions/<subscription_id>/resume")
@access.customer
def resume(subscription_id: str, body: OptionalEmpty = None) -> PortalSubscription:
    """Resume one of the customer's paused subscriptions.

    Errors:
        402 payment_declined: resuming after the paid period charged a new period and it was declined.
        404 not_found: no such subscription of this customer.
        409 invalid_state_transition: the subscription is not paused.
    """
    return selfservice.resume(http.customer(app), subscription_id)


@app.post("/portal/subscriptions/<subscription_id>/cancel")
@access.customer
@http.refuses_card_numbers
def cancel(subscription_id: str, body: OptionalCancel = None) -> PortalSubscription:
    """Cancel one of the customer's subscriptions, with the timing the merchant configured.

    Errors:
        403 feature_disabled: the merchant does not offer cancelling.
        404 not_found: no such subscription of this customer.
        409 invalid_state_transition: the subscription cannot be cancelled in its state.
    """
    return selfservice.cancel(http.customer(app), subscription_id, body or PortalCancel())


@app.put("/portal/subscriptions/<subscription_id>/payment-method")
@access.customer
def change_payment_method(subscription_id: str, body: PaymentMethodChoice) -> PortalSubscription:
    """Pay one of the customer's subscriptions with another of their payment methods.

    Errors:
        404 not_found: no such subscription or payment method of this customer.
        409 invalid_state_transition: the subscription has ended.
    """
    return selfservice.change_payment_method(http.customer(app), subscription_id, body.payment_method_id)


# ----------------------------------------------------------------- payment methods and invoices


@app.get("/portal/payment-methods")
@access.customer
def list_payment_methods() -> PortalPaymentMethodList:
    """List the customer's payment methods (cards as their provider's token)."""
    return selfservice.payment_methods(http.customer(app))


@app.post("/portal/payment-methods")
@access.customer
@http.refuses_card_numbers
def add_payment_method(body: PaymentMethodCreate) -> Response[PaymentMethodView]:
    """Add a card, as the payment provider's token and what may be shown of it."""
    customer = http.customer(app)
    return http.idempotent(
        app, _scope("payment-method", customer), body, lambda: selfservice.add_payment_method(customer, body.card)
    )


@app.delete("/portal/payment-methods/<payment_method_id>")
@access.customer
def remove_payment_method(payment_method_id: str) -> Response[None]:
    """Remove one of the customer's payment methods.

    Errors:
        404 not_found: no such payment method of this customer.
        409 payment_method_in_use: a subscription that has not ended pays with it.
    """
    selfservice.remove_payment_method(http.customer(app), payment_method_id)
    return http.no_content()


@app.get("/portal/invoices")
@access.customer
def list_invoices() -> PortalInvoiceList:
    """List the customer's invoices."""
    return selfservice.invoice_list(http.customer(app))


@app.get("/portal/invoices/<invoice_id>")
@access.customer
def get_invoice(invoice_id: str) -> InvoiceView:
    """Show one of the customer's invoices with its lines and transactions.

    Errors:
        404 not_found: no such invoice of this customer.
    """
    return selfservice.invoice(http.customer(app), invoice_id)


lambda_handler = http.entry_point(app)
