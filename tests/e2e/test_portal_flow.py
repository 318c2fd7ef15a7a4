"""The customer portal as a customer uses it, over HTTP against the local stack: the merchant
configures it, the customer logs in with the code from the outbox (in their language), looks at and
changes their details, subscriptions, payment methods and invoices, orders a plan that needs a
verified phone, and the merchant's one-time link logs in directly.

One merchant signs up per module. The stack's clock is shared by the session and only moved
forward here; the merchant logs in again when a clock move ended its session.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.support import bearer, log_in, now, sign_up, unique_email, verify
from tests.localstack import LocalStack, Reply

PROBLEM = "application/problem+json"


def problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].split(";")[0].strip() == PROBLEM
    assert reply.json["code"] == code, reply.json
    return reply.json


def code_in(message: dict[str, Any]) -> str:
    found = re.search(r"\b(\d{6})\b", message["text"])
    assert found, message["text"]
    return found.group(1)


class Shop:
    """A signed-up merchant, its account and a session renewed when a clock move ended it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.email = unique_email("portal-merchant")
        self.account_id = sign_up(stack, self.email, company="Portal Roasters")["account_id"]
        verify(stack, self.email)
        self.token = ""

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        for _ in range(2):
            if not self.token:
                self.token = log_in(self.stack, self.email)
            reply = self.stack.request(
                method, f"/accounts/{self.account_id}{path}", headers=bearer(self.token), **kwargs
            )
            if reply.status != 401:
                return reply
            self.token = ""
        return reply

    def made(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.call("POST", path, json=body)
        assert reply.status == 201, reply.text
        return reply.json


def card(stack: LocalStack, token: str = "tok_visa_4242", last4: str = "4242") -> dict[str, Any]:
    year = datetime.fromtimestamp(now(stack), UTC).year + 3
    return {"token": token, "brand": "visa", "last4": last4, "exp_month": 12, "exp_year": year}


@pytest.fixture(scope="module")
def shop(local_stack: LocalStack) -> Shop:
    return Shop(local_stack)


def test_a_customer_logs_in_with_a_code_and_serves_themselves(local_stack: LocalStack, shop: Shop):
    stack = local_stack
    # the merchant's catalog and a German-speaking customer with a running subscription
    plan = shop.made(
        "/plans", {"handle": "beans", "name": "Beans", "amount": 1500, "currency": "EUR", "interval_unit": "month"}
    )
    email = unique_email("kunde")
    customer = shop.made("/customers", {"email": email, "name": "Karla Kunde", "language": "de"})
    c = customer["customer_id"]
    shop.made(f"/customers/{c}/payment-methods", {"card": card(stack)})
    subscription = shop.made("/subscriptions", {"customer_id": c, "plan_id": plan["plan_id"]})
    s = subscription["subscription_id"]

    # the configuration: defaults, then a brand colour and reasons of the merchant's own
    defaults = shop.call("GET", "/portal")
    assert defaults.status == 200 and defaults.json["enabled"] is True and defaults.json["allow_pause"] is True
    reasons = [{"id": "roast", "labels": {"en": "Not my roast", "de": "Nicht meine Röstung"}}]
    configured = shop.call("PUT", "/portal", json={"accent_color": "#8A3B12", "cancellation_reasons": reasons})
    assert configured.status == 200 and configured.json["allow_cancel"] is True  # omitted: the default
    public = stack.get(f"/portal/{shop.account_id}/config")
    assert public.status == 200, public.text
    assert public.json["accent_color"] == "#8A3B12" and public.json["company"]["name"] == "Portal Roasters"
    assert public.json["features"] == {"pause": True, "cancel": True, "payment_methods": True, "order": False}
    problem(stack.get("/portal/acc_doesnotexist/config"), 404, "not_found")

    # the code: in the customer's language, once a minute, wrong codes refused
    base = f"/portal/{shop.account_id}"
    problem(stack.post(f"{base}/login", json={"email": unique_email("stranger")}), 404, "unknown_email")
    sent = stack.post(f"{base}/login", json={"email": email})
    assert sent.status == 202 and sent.json == {"resend_after_seconds": 60, "expires_in_seconds": 600}, sent.text
    [message] = stack.outbox(email)
    assert "Portal Roasters" in message["text"] and "Code" in message["text"]
    assert "#8A3B12" in message["html"]
    too_soon = problem(stack.post(f"{base}/login", json={"email": email}), 429, "resend_too_soon")
    assert 1 <= int(stack.post(f"{base}/login", json={"email": email}).headers["Retry-After"]) <= 60, too_soon
    code = code_in(message)
    wrong = "000000" if code != "000000" else "111111"
    problem(stack.post(f"{base}/login/verify", json={"email": email, "code": wrong}), 401, "invalid_code")
    login = stack.post(f"{base}/login/verify", json={"email": email, "code": code})
    assert login.status == 200, login.text
    assert login.json["customer"] == {"customer_id": c, "email": email, "name": "Karla Kunde"}
    problem(stack.post(f"{base}/login/verify", json={"email": email, "code": code}), 401, "invalid_code")  # used
    me = bearer(login.json["token"])

    # a portal token is no merchant token, and the other way round
    problem(stack.get("/me", headers=me), 401, "unauthenticated")
    problem(stack.get("/portal/me", headers=bearer(log_in(stack, shop.email))), 401, "unauthenticated")

    # details, with the change on the timeline the merchant sees
    changed = stack.patch("/portal/me", headers=me, json={"name": "Karla K. Kunde", "vat_id": "DE123456789"})
    assert changed.status == 200 and changed.json["name"] == "Karla K. Kunde", changed.text
    timeline = shop.call("GET", f"/customers/{c}/timeline").json["items"]
    assert timeline[0]["source"] == "portal" and timeline[0]["actor"]["type"] == "customer", timeline[0]

    # subscriptions: list, detail with invoices, pause and resume, cancel with a configured reason
    listed = stack.get("/portal/subscriptions", headers=me)
    assert [x["subscription_id"] for x in listed.json["items"]] == [s], listed.text
    assert listed.json["items"][0]["plan"]["name"] == "Beans"
    detail = stack.get(f"/portal/subscriptions/{s}", headers=me)
    assert detail.status == 200 and [i["state"] for i in detail.json["invoices"]] == ["paid"], detail.text
    with ThreadPoolExecutor(4) as pool:  # four taps at once: one pause, three refusals
        taps = list(pool.map(lambda _: stack.post(f"/portal/subscriptions/{s}/pause", headers=me, json={}), range(4)))
    assert sorted(t.status for t in taps) == [200, 409, 409, 409], [t.text for t in taps]
    assert {t.json["code"] for t in taps if t.status == 409} == {"invalid_state_transition"}
    paused = stack.get(f"/portal/subscriptions/{s}", headers=me)
    assert paused.json["state"] == "paused", paused.text
    events = shop.call("GET", f"/customers/{c}/timeline").json["items"]
    assert [e["type"] for e in events].count("subscription.paused") == 1
    resumed = stack.post(f"/portal/subscriptions/{s}/resume", headers=me)
    assert resumed.status == 200 and resumed.json["state"] == "active", resumed.text
    problem(
        stack.post(f"/portal/subscriptions/{s}/cancel", headers=me, json={"reason": "too_expensive"}),
        422,
        "validation_error",
    )
    cancelled = stack.post(
        f"/portal/subscriptions/{s}/cancel", headers=me, json={"reason": "roast", "comment": "Darker"}
    )
    assert cancelled.status == 200 and cancelled.json["state"] == "cancelled" and cancelled.json["ends_at"]

    # the merchant turns pausing off: the portal says so
    assert shop.call("PUT", "/portal", json={"allow_pause": False}).status == 200
    problem(stack.post(f"/portal/subscriptions/{s}/pause", headers=me, json={}), 403, "feature_disabled")

    # payment methods: add one (never a card number), move the subscription to it, remove the old
    problem(
        stack.post("/portal/payment-methods", headers=me, json={"card": {**card(stack), "token": "4242424242424242"}}),
        422,
        "raw_card_data_rejected",
    )
    added = stack.post("/portal/payment-methods", headers=me, json={"card": card(stack, "tok_mastercard_4444", "4444")})
    assert added.status == 201, added.text
    methods = stack.get("/portal/payment-methods", headers=me).json["items"]
    old = next(m for m in methods if m["last4"] == "4242")
    problem(
        stack.delete(f"/portal/payment-methods/{old['payment_method_id']}", headers=me), 409, "payment_method_in_use"
    )
    moved = stack.put(
        f"/portal/subscriptions/{s}/payment-method",
        headers=me,
        json={"payment_method_id": added.json["payment_method_id"]},
    )
    assert moved.status == 200 and moved.json["payment_method"]["last4"] == "4444", moved.text
    assert stack.delete(f"/portal/payment-methods/{old['payment_method_id']}", headers=me).status == 204

    # invoices: the list and one with its transaction
    invoices = stack.get("/portal/invoices", headers=me).json["items"]
    assert [i["subscription_id"] for i in invoices] == [s]
    one = stack.get(f"/portal/invoices/{invoices[0]['invoice_id']}", headers=me)
    assert one.status == 200 and [t["state"] for t in one.json["transactions"]] == ["succeeded"], one.text

    # logging out ends the token
    assert stack.post("/portal/logout", headers=me).status == 204
    problem(stack.get("/portal/me", headers=me), 401, "unauthenticated")


def test_ordering_a_plan_that_needs_a_verified_phone(local_stack: LocalStack, shop: Shop):
    stack = local_stack
    plan = shop.made(
        "/plans",
        {
            "handle": "reserve",
            "name": "Reserve",
            "amount": 4900,
            "currency": "EUR",
            "interval_unit": "month",
            "portal_orderable": True,
            "requires_verified_phone": True,
        },
    )
    assert shop.call("PUT", "/portal", json={"blocked_phone_prefixes": ["+234"]}).status == 200
    email = unique_email("orderer")
    c = shop.made("/customers", {"email": email, "name": "Otto Order"})["customer_id"]
    link = shop.made(f"/customers/{c}/portal-session", {})
    login = stack.post(f"/portal/{shop.account_id}/login/link", json={"token": link["token"]})
    assert login.status == 200, login.text
    problem(stack.post(f"/portal/{shop.account_id}/login/link", json={"token": link["token"]}), 401, "invalid_token")
    me = bearer(login.json["token"])
    assert stack.get(f"/portal/{shop.account_id}/config").json["features"]["order"] is True
    assert [p["plan_id"] for p in stack.get("/portal/plans", headers=me).json["items"]] == [plan["plan_id"]]
    method = stack.post("/portal/payment-methods", headers=me, json={"card": card(stack)})
    assert method.status == 201, method.text
    order = {"plan_id": plan["plan_id"], "payment_method_id": method.json["payment_method_id"]}

    problem(stack.post("/portal/subscriptions", headers=me, json=order), 403, "phone_verification_required")
    problem(stack.put("/portal/me/phone", headers=me, json={"number": "+2348031234567"}), 422, "phone_not_allowed")
    problem(stack.put("/portal/me/phone", headers=me, json={"number": "12"}), 422, "validation_error")
    number = "+4915123456789"
    sent = stack.put("/portal/me/phone", headers=me, json={"number": "+49 151 23456789"})
    assert sent.status == 202 and sent.json["number"] == number, sent.text
    [sms] = stack.outbox(number)
    verified = stack.post("/portal/me/phone/verify", headers=me, json={"code": code_in(sms)})
    assert verified.status == 200 and verified.json["phone"] == number and verified.json["phone_verified"] is True

    ordered = stack.post("/portal/subscriptions", headers={**me, "Idempotency-Key": "order-1"}, json=order)
    assert ordered.status == 201 and ordered.json["state"] == "active", ordered.text
    again = stack.post("/portal/subscriptions", headers={**me, "Idempotency-Key": "order-1"}, json=order)
    assert again.status == 201 and again.json["subscription_id"] == ordered.json["subscription_id"]
    assert len(stack.get("/portal/subscriptions", headers=me).json["items"]) == 1
    merchant_view = shop.call("GET", f"/subscriptions?customer_id={c}").json["items"]
    assert [x["subscription_id"] for x in merchant_view] == [ordered.json["subscription_id"]]
