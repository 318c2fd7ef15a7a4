"""Customer portal routes (a portal token): the customer's details and phone, subscriptions and
their actions, ordering a plan, payment methods, invoices, and logging out."""

from __future__ import annotations

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
    login.logout(http.customer(app))
    return http.no_content()


# ----------------------------------------------------------------- me


@app.get("/portal/me")
@access.customer
def get_me() -> PortalMe:
    return selfservice.me(http.customer(app))


@app.patch("/portal/me")
@access.customer
@http.refuses_card_numbers
def patch_me(body: CustomerPatch) -> PortalMe:
    return selfservice.update_me(http.customer(app), body)


@app.put("/portal/me/phone")
@access.customer
def put_phone(body: PhoneRequest) -> Response[PhoneSent]:
    return http.created(phone.request(http.customer(app), body), status=202)


@app.post("/portal/me/phone/verify")
@access.customer
def verify_phone(body: PhoneCode) -> PortalMe:
    return phone.verify(http.customer(app), body)


# ----------------------------------------------------------------- subscriptions


@app.get("/portal/subscriptions")
@access.customer
def list_subscriptions() -> PortalSubscriptionList:
    return selfservice.subscription_list(http.customer(app))


@app.post("/portal/subscriptions")
@access.customer
def order(body: PortalOrder) -> Response[PortalSubscription]:
    customer = http.customer(app)
    scope = _scope("order", customer)
    request_key = http.request_key(app, scope)
    return http.idempotent(app, scope, body, lambda: selfservice.order(customer, body, request_key=request_key))


@app.get("/portal/plans")
@access.customer
def list_plans() -> PortalPlanList:
    return selfservice.plans(http.customer(app))


@app.get("/portal/subscriptions/<subscription_id>")
@access.customer
def get_subscription(subscription_id: str) -> PortalSubscriptionDetail:
    return selfservice.subscription_detail(http.customer(app), subscription_id)


@app.post("/portal/subscriptions/<subscription_id>/pause")
@access.customer
def pause(subscription_id: str, body: OptionalPause = None) -> PortalSubscription:
    return selfservice.pause(http.customer(app), subscription_id, body or PortalPause())


@app.post("/portal/subscriptions/<subscription_id>/resume")
@access.customer
def resume(subscription_id: str, body: OptionalEmpty = None) -> PortalSubscription:
    return selfservice.resume(http.customer(app), subscription_id)


@app.post("/portal/subscriptions/<subscription_id>/cancel")
@access.customer
@http.refuses_card_numbers
def cancel(subscription_id: str, body: OptionalCancel = None) -> PortalSubscription:
    return selfservice.cancel(http.customer(app), subscription_id, body or PortalCancel())


@app.put("/portal/subscriptions/<subscription_id>/payment-method")
@access.customer
def change_payment_method(subscription_id: str, body: PaymentMethodChoice) -> PortalSubscription:
    return selfservice.change_payment_method(http.customer(app), subscription_id, body.payment_method_id)


# ----------------------------------------------------------------- payment methods and invoices


@app.get("/portal/payment-methods")
@access.customer
def list_payment_methods() -> PortalPaymentMethodList:
    return selfservice.payment_methods(http.customer(app))


@app.post("/portal/payment-methods")
@access.customer
@http.refuses_card_numbers
def add_payment_method(body: PaymentMethodCreate) -> Response[PaymentMethodView]:
    customer = http.customer(app)
    return http.idempotent(
        app, _scope("payment-method", customer), body, lambda: selfservice.add_payment_method(customer, body.card)
    )


@app.delete("/portal/payment-methods/<payment_method_id>")
@access.customer
def remove_payment_method(payment_method_id: str) -> Response[None]:
    selfservice.remove_payment_method(http.customer(app), payment_method_id)
    return http.no_content()


@app.get("/portal/invoices")
@access.customer
def list_invoices() -> PortalInvoiceList:
    return selfservice.invoice_list(http.customer(app))


@app.get("/portal/invoices/<invoice_id>")
@access.customer
def get_invoice(invoice_id: str) -> InvoiceView:
    return selfservice.invoice(http.customer(app), invoice_id)


lambda_handler = http.entry_point(app)
