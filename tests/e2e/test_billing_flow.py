"""Billing as a merchant runs it, over HTTP against the local stack: account settings, the product
catalog, customers and their payment methods, subscriptions and their actions, invoices, the renewal
job (a trial ending, dunning after a declined charge, the customer's email with a portal link),
going live, and Idempotency-Key on a subscription.

One merchant signs up per module (sign-up hashes with Argon2). The stack's clock is shared by the
whole session and only ever moved forward here, by relative amounts; after a move the merchant's
session may have run out, and :class:`Merchant` logs in again when it gets ``401``.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.support import bearer, log_in, now, sign_up, unique_email, verify
from tests.localstack import LocalStack, Reply

DAY = 86400
HOUR = 3600
PROBLEM = "application/problem+json"
CARD_NUMBER = "4242424242424242"  # Luhn-valid: never to be accepted in a body


# ----------------------------------------------------------------- helpers


def problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 answer every error is: its content type, and a stable ``code``."""
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].split(";")[0].strip() == PROBLEM, reply.headers["Content-Type"]
    body = reply.json
    assert body["code"] == code, body
    assert body["status"] == status and body["type"] == "about:blank" and body["title"], body
    return body


def iso_z(text: str) -> datetime:
    assert isinstance(text, str) and text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def moment(stack: LocalStack, after: timedelta) -> str:
    """A time relative to the stack's clock, as the API writes times."""
    return (datetime.fromtimestamp(now(stack), UTC) + after).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Merchant:
    """The signed-up owner of a test account, with a session renewed when the clock ran it out."""

    stack: LocalStack
    email: str
    account_id: str
    token: str = ""
    catalog: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/accounts/{self.account_id}"

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Reply:
        for _ in range(2):
            if not self.token:
                self.token = log_in(self.stack, self.email)
            reply = self.stack.request(method, path, headers={**bearer(self.token), **(headers or {})}, **kwargs)
            if reply.status != 401:
                return reply
            self.token = ""  # the session ended (idle or absolute lifetime after a clock move)
        return reply

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Reply:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.call("DELETE", path, **kwargs)

    # a merchant's usual steps

    def customer(self, email: str | None = None, **fields: Any) -> dict[str, Any]:
        reply = self.post(f"{self.base}/customers", json={"email": email or unique_email("customer"), **fields})
        assert reply.status == 201, reply.text
        return reply.json

    def card(self, customer_id: str, token: str = "tok_visa", last4: str = "4242") -> dict[str, Any]:
        year = datetime.fromtimestamp(now(self.stack), UTC).year + 3
        body = {"card": {"token": token, "brand": "visa", "last4": last4, "exp_month": 12, "exp_year": year}}
        reply = self.post(f"{self.base}/customers/{customer_id}/payment-methods", json=body)
        assert reply.status == 201, reply.text
        return reply.json

    def subscribe(self, customer_id: str, plan_id: str, **fields: Any) -> Reply:
        return self.post(f"{self.base}/subscriptions", json={"customer_id": customer_id, "plan_id": plan_id, **fields})

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        reply = self.get(f"{self.base}/subscriptions/{subscription_id}")
        assert reply.status == 200, reply.text
        return reply.json

    def invoices(self, **query: str) -> list[dict[str, Any]]:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        reply = self.get(f"{self.base}/invoices?{params}")
        assert reply.status == 200, reply.text
        return reply.json["items"]

    def run_renewal(self) -> dict[str, Any]:
        reply = self.stack.run_job("subscription-renewal")
        assert reply.status == 200, reply.text
        assert reply.json["failed"] == 0, reply.json
        return reply.json


@pytest.fixture(scope="module")
def merchant(local_stack: LocalStack) -> Merchant:
    """One merchant for the module, with the settings a German merchant uses and a small catalog:
    a monthly plan, a monthly plan with a one-day trial, a daily plan, an add-on, a 15 % discount and its
    coupon."""
    email = unique_email("merchant")
    account_id = sign_up(local_stack, email, company="Billing GmbH")["account_id"]
    verify(local_stack, email)
    merchant = Merchant(local_stack, email, account_id)
    settings = {"currency": "EUR", "vat_percent": 19, "timezone": "Europe/Berlin"}
    changed = merchant.patch(f"{merchant.base}/settings", json=settings)
    assert changed.status == 200, changed.text
    assert {k: changed.json[k] for k in settings} == settings

    def create(kind: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = merchant.post(f"{merchant.base}/{kind}", json=body)
        assert reply.status == 201, reply.text
        return reply.json

    merchant.catalog = {
        "plan": create(
            "plans",
            {"handle": "pro", "name": "Pro", "amount": 1000, "currency": "EUR", "interval_unit": "month"},
        ),
        "trial_plan": create(
            "plans",
            {
                "handle": "starter",
                "name": "Starter",
                "amount": 500,
                "currency": "EUR",
                "interval_unit": "month",
                "interval_count": 1,
                "trial_days": 1,
            },
        ),
        "daily": create(
            "plans",
            {"handle": "day-pass", "name": "Day pass", "amount": 1000, "currency": "EUR", "interval_unit": "day"},
        ),
        "addon": create("addons", {"handle": "seat", "name": "Extra seat", "amount": 245, "currency": "EUR"}),
        "discount": create(
            "discounts", {"handle": "welcome", "name": "Welcome 15 %", "percent": 15, "duration": "forever"}
        ),
    }
    merchant.catalog["coupon"] = create(
        "coupons",
        {
            "code": "WELCOME15",
            "discount_id": merchant.catalog["discount"]["discount_id"],
            "valid_until": moment(local_stack, timedelta(days=365)),
        },
    )
    return merchant


# ---------------------------------------------------------------------------- settings


def test_settings_read_and_patch(merchant: Merchant):
    path = f"{merchant.base}/settings"
    shown = merchant.get(path)
    assert shown.status == 200, shown.text
    assert shown.json["currency"] == "EUR" and shown.json["vat_percent"] == 19
    assert shown.json["timezone"] == "Europe/Berlin"
    assert {"name", "language", "logo_url", "terms_url", "company", "payouts_enabled", "dunning_retry_days"} <= set(
        shown.json
    )

    company = {
        "legal_name": "Billing GmbH",
        "address": "Unter den Linden 1, 10117 Berlin",
        "email": "billing@example.com",
        "phone": "+493012345678",
    }
    patched = merchant.patch(path, json={"company": company, "terms_url": "https://example.com/agb"})
    assert patched.status == 200, patched.text
    assert patched.json["company"] == company and patched.json["terms_url"] == "https://example.com/agb"
    # only what is sent changes: the rest is as before
    assert patched.json["currency"] == "EUR" and patched.json["vat_percent"] == 19
    assert patched.json["timezone"] == "Europe/Berlin"

    # one company detail at a time, and null clears an optional field
    again = merchant.patch(path, json={"company": {"phone": "+493087654321"}, "terms_url": None})
    assert again.status == 200, again.text
    assert again.json["company"] == {**company, "phone": "+493087654321"} and again.json["terms_url"] is None
    assert merchant.get(path).json == again.json

    for bad in ({"vat_percent": 101}, {"currency": "eur"}, {"timezone": "Mars/Olympus"}, {"vat_percent": "19"}):
        refused = problem(merchant.patch(path, json=bad), 422, "validation_error")
        assert refused["errors"] and refused["errors"][0]["loc"][0] == "body", refused
    assert merchant.get(path).json == again.json

    problem(merchant.stack.get(path), 401, "unauthenticated")
    problem(merchant.patch(path, body="{oops", headers={"Content-Type": "application/json"}), 400, "malformed_json")


# ---------------------------------------------------------------------------- the catalog


CATALOG = {
    "plans": (
        "plan_id",
        {"handle": "crud-plan", "name": "Basic", "amount": 900, "currency": "EUR", "interval_unit": "year"},
        {"name": "Basic (yearly)", "description": "Everything for a year"},
    ),
    "addons": (
        "addon_id",
        {"handle": "crud-addon", "name": "Storage", "amount": 100, "currency": "EUR"},
        {"name": "Storage 100 GB"},
    ),
    "discounts": (
        "discount_id",
        {"handle": "crud-discount", "name": "Five off", "amount": 500, "currency": "EUR", "duration": "once"},
        {"name": "Five euros off"},
    ),
}


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_catalog_item_create_list_get_patch_archive(merchant: Merchant, kind: str):
    id_field, body, change = CATALOG[kind]
    path = f"{merchant.base}/{kind}"
    created = merchant.post(path, json=body)
    assert created.status == 201, created.text
    item = created.json
    item_id = item[id_field]
    assert item["state"] == "active" and {k: item[k] for k in body} == body
    assert item["created_at"].endswith("Z")

    listed = merchant.get(path)
    assert listed.status == 200 and "next_cursor" in listed.json
    assert item_id in [i[id_field] for i in listed.json["items"]]
    assert merchant.get(f"{path}/{item_id}").json == item

    patched = merchant.patch(f"{path}/{item_id}", json=change)
    assert patched.status == 200, patched.text
    assert {k: patched.json[k] for k in change} == change
    assert patched.json["amount"] == body["amount"]  # a PATCH never changes a price

    problem(merchant.post(path, json=body), 409, "handle_taken")
    problem(merchant.patch(f"{path}/{item_id}", json={"amount": 1}), 422, "validation_error")

    archived = merchant.delete(f"{path}/{item_id}")
    assert archived.status == 200, archived.text
    assert archived.json["state"] == "archived" and archived.json[id_field] == item_id
    assert merchant.get(f"{path}/{item_id}").json["state"] == "archived"
    assert item_id in [i[id_field] for i in merchant.get(path).json["items"]]  # still listed, as archived

    problem(merchant.get(f"{path}/{id_field[:3]}_doesnotexist"), 404, "not_found")


def test_coupon_create_list_get_patch_archive(merchant: Merchant):
    path = f"{merchant.base}/coupons"
    discount_id = merchant.catalog["discount"]["discount_id"]
    created = merchant.post(path, json={"code": "Spring-25", "discount_id": discount_id, "max_redemptions": 3})
    assert created.status == 201, created.text
    coupon = created.json
    assert coupon["code"] == "Spring-25" and coupon["discount_id"] == discount_id
    assert coupon["redemptions"] == 0 and coupon["max_redemptions"] == 3 and coupon["state"] == "active"
    coupon_id = coupon["coupon_id"]

    assert coupon_id in [c["coupon_id"] for c in merchant.get(path).json["items"]]
    assert merchant.get(f"{path}/{coupon_id}").json == coupon
    # codes are unique per account, case-insensitively
    problem(merchant.post(path, json={"code": "SPRING-25", "discount_id": discount_id}), 409, "handle_taken")

    until = moment(merchant.stack, timedelta(days=30))
    patched = merchant.patch(f"{path}/{coupon_id}", json={"max_redemptions": 5, "valid_until": until})
    assert patched.status == 200, patched.text
    assert patched.json["max_redemptions"] == 5 and patched.json["valid_until"] == until

    archived = merchant.delete(f"{path}/{coupon_id}")
    assert archived.status == 200 and archived.json["state"] == "archived"
    assert merchant.get(f"{path}/{coupon_id}").json["state"] == "archived"

    # an archived coupon no longer applies to a new subscription
    customer = merchant.customer()
    merchant.card(customer["customer_id"])
    plan_id = merchant.catalog["plan"]["plan_id"]
    problem(merchant.subscribe(customer["customer_id"], plan_id, coupon_code="spring-25"), 422, "coupon_invalid")
    problem(merchant.subscribe(customer["customer_id"], plan_id, coupon_code="NO-SUCH-CODE"), 422, "coupon_invalid")


def test_archived_plan_stays_on_its_subscriptions_and_is_not_sold_again(merchant: Merchant):
    plans = f"{merchant.base}/plans"
    created = merchant.post(
        plans, json={"handle": "legacy", "name": "Legacy", "amount": 700, "currency": "EUR", "interval_unit": "month"}
    )
    assert created.status == 201, created.text
    plan_id = created.json["plan_id"]
    customer = merchant.customer()
    merchant.card(customer["customer_id"])
    sold = merchant.subscribe(customer["customer_id"], plan_id)
    assert sold.status == 201, sold.text

    assert merchant.delete(f"{plans}/{plan_id}").json["state"] == "archived"
    kept = merchant.subscription(sold.json["subscription_id"])
    assert kept["state"] == "active" and kept["plan_id"] == plan_id
    assert kept["plan"]["name"] == "Legacy" and kept["plan"]["amount"] == 700
    problem(merchant.subscribe(customer["customer_id"], plan_id), 422, "validation_error")


# ---------------------------------------------------------------------------- customers


def test_customers_create_list_get_patch_and_timeline(merchant: Merchant):
    path = f"{merchant.base}/customers"
    email = unique_email("ada")
    created = merchant.post(
        path,
        json={
            "email": email,
            "name": "Ada Lovelace",
            "phone": "+4915112345678",
            "address": {"line1": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin", "country": "DE"},
            "language": "de",
            "handle": f"ada-{uuid.uuid4().hex[:8]}",
        },
    )
    assert created.status == 201, created.text
    ada = created.json
    assert ada["customer_id"].startswith("cus_") and ada["email"] == email and ada["name"] == "Ada Lovelace"
    assert ada["address"]["city"] == "Berlin" and ada["language"] == "de"
    assert ada["default_payment_method_id"] is None
    problem(merchant.post(path, json={"email": unique_email("x"), "handle": ada["handle"]}), 409, "handle_taken")

    # emails need not be unique; ?email= finds every customer with one
    twin = merchant.customer(email, name="Ada's twin")
    other = merchant.customer()
    for query in (email, email.upper()):
        found = merchant.get(f"{path}?email={query}")
        assert found.status == 200, found.text
        assert {c["customer_id"] for c in found.json["items"]} == {ada["customer_id"], twin["customer_id"]}
    listed = merchant.get(f"{path}?limit=100")
    assert listed.status == 200 and "next_cursor" in listed.json
    assert {ada["customer_id"], twin["customer_id"], other["customer_id"]} <= {
        c["customer_id"] for c in listed.json["items"]
    }
    first = merchant.get(f"{path}?limit=1")
    assert len(first.json["items"]) == 1 and first.json["next_cursor"]
    problem(merchant.get(f"{path}?limit=0"), 422, "validation_error")

    assert merchant.get(f"{path}/{ada['customer_id']}").json == ada
    patched = merchant.patch(f"{path}/{ada['customer_id']}", json={"name": "Ada King", "phone": None})
    assert patched.status == 200, patched.text
    assert patched.json["name"] == "Ada King" and patched.json["phone"] is None
    assert merchant.get(f"{path}/{ada['customer_id']}").json == patched.json
    problem(merchant.patch(f"{path}/{ada['customer_id']}", json={"email": None}), 422, "validation_error")
    problem(merchant.patch(f"{path}/{ada['customer_id']}", json={"email": "not-an-email"}), 422, "validation_error")
    problem(merchant.get(f"{path}/cus_doesnotexist"), 404, "not_found")

    timeline = merchant.get(f"{path}/{ada['customer_id']}/timeline")
    assert timeline.status == 200, timeline.text
    events = timeline.json["items"]
    assert [e["type"] for e in events] == ["customer.updated", "customer.created"]  # newest first
    change = events[0]
    assert change["source"] == "admin" and change["actor"]["email"] == merchant.email
    assert change["at"].endswith("Z") and iso_z(change["at"]) >= iso_z(events[1]["at"])
    before, after = change["details"]["before"], change["details"]["after"]
    assert {k: before[k] for k in ("name", "phone")} == {"name": "Ada Lovelace", "phone": "+4915112345678"}
    assert {k: after[k] for k in ("name", "phone")} == {"name": "Ada King", "phone": None}
    problem(merchant.get(f"{path}/cus_doesnotexist/timeline"), 404, "not_found")

    # a card number is refused wherever it turns up in a body, and never echoed
    refused = problem(
        merchant.post(path, json={"email": unique_email("c"), "name": CARD_NUMBER}), 422, "raw_card_data_rejected"
    )
    assert CARD_NUMBER not in str(refused)


def test_payment_methods_add_list_remove_and_refusals(merchant: Merchant):
    customer = merchant.customer()
    customer_id = customer["customer_id"]
    path = f"{merchant.base}/customers/{customer_id}/payment-methods"
    assert merchant.get(path).json["items"] == []

    first = merchant.card(customer_id, "tok_visa_first", "4242")
    assert first["payment_method_id"].startswith("pm_") and first["default"] is True
    assert first["brand"] == "visa" and first["last4"] == "4242" and first["exp_month"] == 12
    second = merchant.card(customer_id, "tok_visa_second", "1881")
    assert second["default"] is False
    listed = merchant.get(path)
    assert listed.status == 200, listed.text
    assert {m["payment_method_id"]: m["default"] for m in listed.json["items"]} == {
        first["payment_method_id"]: True,
        second["payment_method_id"]: False,
    }
    assert (
        merchant.get(f"{merchant.base}/customers/{customer_id}").json["default_payment_method_id"]
        == (first["payment_method_id"])
    )

    # raw card numbers: refused (also as people type them), never stored, never echoed
    year = datetime.fromtimestamp(now(merchant.stack), UTC).year + 3
    raw = {"card": {"token": CARD_NUMBER, "brand": "visa", "last4": "4242", "exp_month": 1, "exp_year": year}}
    spaced = {
        "card": {"token": "tok_ok", "brand": "4242 4242 4242 4242", "last4": "4242", "exp_month": 1, "exp_year": year}
    }
    for body in (raw, spaced):
        refused = merchant.post(path, json=body)
        problem(refused, 422, "raw_card_data_rejected")
        assert CARD_NUMBER not in refused.text and "4242 4242" not in refused.text
    assert len(merchant.get(path).json["items"]) == 2
    problem(merchant.post(path, json={"card": {"token": "tok_x"}}), 422, "validation_error")

    # in use by a subscription that has not ended: 409; once it ended, it may go
    sold = merchant.subscribe(customer_id, merchant.catalog["plan"]["plan_id"])
    assert sold.status == 201, sold.text
    assert sold.json["payment_method_id"] == first["payment_method_id"]  # the default pays
    problem(merchant.delete(f"{path}/{first['payment_method_id']}"), 409, "payment_method_in_use")

    assert merchant.delete(f"{path}/{second['payment_method_id']}").status == 204
    problem(merchant.delete(f"{path}/{second['payment_method_id']}"), 404, "not_found")
    expired = merchant.post(f"{merchant.base}/subscriptions/{sold.json['subscription_id']}/expire")
    assert expired.status == 200 and expired.json["state"] == "expired", expired.text
    assert merchant.delete(f"{path}/{first['payment_method_id']}").status == 204
    assert merchant.get(path).json["items"] == []
    assert merchant.get(f"{merchant.base}/customers/{customer_id}").json["default_payment_method_id"] is None

    types = [e["type"] for e in merchant.get(f"{merchant.base}/customers/{customer_id}/timeline").json["items"]]
    assert types.count("payment_method.added") == 2 and types.count("payment_method.removed") == 2


def test_portal_session_link(merchant: Merchant):
    customer = merchant.customer(name="Portal User")
    path = f"{merchant.base}/customers/{customer['customer_id']}/portal-session"
    issued = merchant.post(path)
    assert issued.status in (200, 201), issued.text
    link = issued.json
    assert link["token"] and link["url"].endswith(f"/portal/{merchant.account_id}?token={link['token']}")
    lifetime = iso_z(link["expires_at"]) - datetime.fromtimestamp(now(merchant.stack), UTC)
    assert timedelta(minutes=4) < lifetime <= timedelta(minutes=5, seconds=5)
    assert merchant.post(path).json["token"] != link["token"]  # one link per call
    problem(merchant.post(f"{merchant.base}/customers/cus_doesnotexist/portal-session"), 404, "not_found")
    types = [
        e["type"] for e in merchant.get(f"{merchant.base}/customers/{customer['customer_id']}/timeline").json["items"]
    ]
    assert "portal.link_issued" in types


# ---------------------------------------------------------------------------- subscriptions and invoices


def test_subscription_with_addon_and_coupon_and_its_first_invoice(merchant: Merchant):
    plan, addon = merchant.catalog["plan"], merchant.catalog["addon"]
    customer = merchant.customer()
    customer_id = customer["customer_id"]
    card = merchant.card(customer_id)
    coupon_id = merchant.catalog["coupon"]["coupon_id"]
    redeemed_before = merchant.get(f"{merchant.base}/coupons/{coupon_id}").json["redemptions"]

    sold = merchant.subscribe(
        customer_id,
        plan["plan_id"],
        payment_method_id=card["payment_method_id"],
        addons=[{"addon_id": addon["addon_id"], "quantity": 2}],
        coupon_code="welcome15",  # codes are case-insensitive
    )
    assert sold.status == 201, sold.text
    subscription = sold.json
    assert subscription["subscription_id"].startswith("sub_") and subscription["state"] == "active"
    assert subscription["plan_id"] == plan["plan_id"] and subscription["customer_id"] == customer_id
    assert subscription["payment_method_id"] == card["payment_method_id"] and subscription["trial_end"] is None
    assert [(a["addon_id"], a["quantity"]) for a in subscription["addons"]] == [(addon["addon_id"], 2)]
    assert subscription["discount"]["discount_id"] == merchant.catalog["discount"]["discount_id"]
    start, end = iso_z(subscription["current_period_start"]), iso_z(subscription["current_period_end"])
    assert timedelta(days=28) <= end - start <= timedelta(days=31)
    assert merchant.get(f"{merchant.base}/coupons/{coupon_id}").json["redemptions"] == redeemed_before + 1

    [invoice] = merchant.invoices(subscription_id=subscription["subscription_id"])
    shown = merchant.get(f"{merchant.base}/invoices/{invoice['invoice_id']}")
    assert shown.status == 200, shown.text
    invoice = shown.json
    # 1000 + 2 x 245 = 1490; 15 % off = 223.5 -> 224 (half-up); net 1266; VAT 19 % = 240.54 -> 241
    assert invoice["invoice_id"].startswith("inv_") and invoice["handle"]
    assert invoice["customer_id"] == customer_id and invoice["subscription_id"] == subscription["subscription_id"]
    assert invoice["state"] == "paid" and invoice["currency"] == "EUR"
    assert [(li["description"], li["quantity"], li["unit_amount"], li["amount"]) for li in invoice["lines"]] == [
        ("Pro", 1, 1000, 1000),
        ("Extra seat", 2, 245, 490),
        ("Welcome 15 %", 1, -224, -224),
    ]
    assert invoice["vat_percent"] == 19 and invoice["vat_amount"] == 241 and invoice["amount"] == 1507
    assert invoice["period_start"] == subscription["current_period_start"]
    assert invoice["period_end"] == subscription["current_period_end"]
    assert invoice["created_at"].endswith("Z")
    [transaction] = invoice["transactions"]
    assert transaction["transaction_id"].startswith("txn_")
    assert transaction["state"] == "succeeded" and transaction["amount"] == 1507

    listed = merchant.get(f"{merchant.base}/subscriptions")
    assert listed.status == 200 and "next_cursor" in listed.json
    assert subscription["subscription_id"] in [s["subscription_id"] for s in listed.json["items"]]
    mine = merchant.get(f"{merchant.base}/subscriptions?customer_id={customer_id}").json["items"]
    assert [s["subscription_id"] for s in mine] == [subscription["subscription_id"]]
    assert merchant.subscription(subscription["subscription_id"])["state"] == "active"
    all_invoices = merchant.get(f"{merchant.base}/invoices?limit=100")
    assert all_invoices.status == 200 and invoice["invoice_id"] in [i["invoice_id"] for i in all_invoices.json["items"]]
    assert [i["invoice_id"] for i in merchant.invoices(customer_id=customer_id)] == [invoice["invoice_id"]]

    types = [e["type"] for e in merchant.get(f"{merchant.base}/customers/{customer_id}/timeline").json["items"]]
    assert {"subscription.created", "invoice.paid"} <= set(types)

    problem(merchant.get(f"{merchant.base}/subscriptions/sub_doesnotexist"), 404, "not_found")
    problem(merchant.get(f"{merchant.base}/invoices/inv_doesnotexist"), 404, "not_found")
    problem(merchant.subscribe("cus_doesnotexist", plan["plan_id"]), 404, "not_found")
    problem(merchant.get(f"{merchant.base}/subscriptions?state=sleeping"), 422, "validation_error")


def test_coupon_redemptions_are_limited(merchant: Merchant):
    coupons = f"{merchant.base}/coupons"
    discount_id = merchant.catalog["discount"]["discount_id"]
    created = merchant.post(coupons, json={"code": "ONCE-ONLY", "discount_id": discount_id, "max_redemptions": 1})
    assert created.status == 201, created.text
    plan_id = merchant.catalog["plan"]["plan_id"]
    first, second = merchant.customer(), merchant.customer()
    merchant.card(first["customer_id"])
    merchant.card(second["customer_id"])
    assert merchant.subscribe(first["customer_id"], plan_id, coupon_code="ONCE-ONLY").status == 201
    problem(merchant.subscribe(second["customer_id"], plan_id, coupon_code="once-only"), 409, "coupon_exhausted")
    assert merchant.get(f"{coupons}/{created.json['coupon_id']}").json["redemptions"] == 1


def test_subscription_actions_and_invalid_transitions(merchant: Merchant):
    customer = merchant.customer()
    merchant.card(customer["customer_id"])
    sold = merchant.subscribe(customer["customer_id"], merchant.catalog["plan"]["plan_id"])
    assert sold.status == 201, sold.text
    subscription_id = sold.json["subscription_id"]
    period_end = sold.json["current_period_end"]
    path = f"{merchant.base}/subscriptions/{subscription_id}"

    def act(action: str, body: Any = None) -> dict[str, Any]:
        reply = merchant.post(f"{path}/{action}", json=body)
        assert reply.status == 200, f"{action}: {reply.text}"
        assert merchant.subscription(subscription_id) == reply.json
        return reply.json

    paused = act("pause")  # an action may be sent without a body
    assert paused["state"] == "paused" and paused["paused_at"].endswith("Z") and paused["resume_at"] is None
    refused = problem(merchant.post(f"{path}/pause"), 409, "invalid_state_transition")
    assert refused["detail"]
    problem(merchant.post(f"{path}/uncancel"), 409, "invalid_state_transition")
    resumed = act("resume")
    assert resumed["state"] == "active" and resumed["paused_at"] is None
    assert resumed["current_period_end"] == period_end  # resumed within the paid period: it goes on
    problem(merchant.post(f"{path}/resume"), 409, "invalid_state_transition")

    cancelled = act("cancel")
    assert cancelled["state"] == "cancelled" and cancelled["ends_at"] == period_end
    assert cancelled["cancelled_at"].endswith("Z")
    assert subscription_id in [
        s["subscription_id"] for s in merchant.get(f"{merchant.base}/subscriptions?state=cancelled").json["items"]
    ]
    problem(merchant.post(f"{path}/pause"), 409, "invalid_state_transition")
    uncancelled = act("uncancel", {})
    assert uncancelled["state"] == "active" and uncancelled["ends_at"] is None

    expired = act("expire")
    assert expired["state"] == "expired" and expired["ended_at"].endswith("Z")
    for action in ("pause", "resume", "cancel", "uncancel", "expire"):
        problem(merchant.post(f"{path}/{action}"), 409, "invalid_state_transition")
    assert merchant.subscription(subscription_id)["state"] == "expired"
    problem(merchant.post(f"{merchant.base}/subscriptions/sub_doesnotexist/pause"), 404, "not_found")
    problem(merchant.post(f"{path}/explode"), 404, "not_found")

    # the timeline tells the story, one event per transition
    events = merchant.get(f"{merchant.base}/customers/{customer['customer_id']}/timeline?limit=100").json["items"]
    story = [e["type"] for e in events if e["type"].startswith("subscription.")]
    assert story == [
        "subscription.expired",
        "subscription.uncancelled",
        "subscription.cancelled",
        "subscription.resumed",
        "subscription.paused",
        "subscription.created",
    ]
    assert events[0]["details"]["before"] == {"state": "active"} and events[0]["details"]["after"]["state"] == "expired"

    # with a body: cancel at once, and pause until a time
    second = merchant.subscribe(customer["customer_id"], merchant.catalog["plan"]["plan_id"])
    assert second.status == 201, second.text
    other = f"{merchant.base}/subscriptions/{second.json['subscription_id']}"
    resume_at = moment(merchant.stack, timedelta(days=3))
    paused = merchant.post(f"{other}/pause", json={"resume_at": resume_at})
    assert paused.status == 200 and paused.json["resume_at"] == resume_at, paused.text
    problem(merchant.post(f"{other}/resume", json={"unexpected": 1}), 422, "validation_error")
    gone = merchant.post(f"{other}/cancel", json={"at": "now"})
    assert gone.status == 200 and gone.json["state"] == "expired", gone.text


def test_declined_first_charge_creates_no_subscription_but_keeps_the_failed_invoice(merchant: Merchant):
    customer = merchant.customer()
    customer_id = customer["customer_id"]
    card = merchant.card(customer_id, "tok_fail_insufficient_funds", "0002")
    coupons = f"{merchant.base}/coupons"
    coupon = merchant.post(
        coupons,
        json={"code": "LAST-ONE", "discount_id": merchant.catalog["discount"]["discount_id"], "max_redemptions": 1},
    )
    assert coupon.status == 201, coupon.text

    declined = merchant.subscribe(
        customer_id,
        merchant.catalog["plan"]["plan_id"],
        payment_method_id=card["payment_method_id"],
        coupon_code="LAST-ONE",
    )
    problem(declined, 402, "payment_declined")
    assert merchant.get(f"{merchant.base}/subscriptions?customer_id={customer_id}").json["items"] == []
    [failed] = merchant.invoices(customer_id=customer_id)
    assert failed["state"] == "failed" and failed["customer_id"] == customer_id
    shown = merchant.get(f"{merchant.base}/invoices/{failed['invoice_id']}").json
    # 1000 - 15 % = 850; VAT 19 % = 161.5 -> 162
    assert shown["amount"] == 1012 and shown["vat_amount"] == 162
    [transaction] = shown["transactions"]
    assert transaction["state"] == "declined" and transaction["amount"] == 1012
    # the declined charge gave the coupon's redemption back
    assert merchant.get(f"{coupons}/{coupon.json['coupon_id']}").json["redemptions"] == 0
    types = [e["type"] for e in merchant.get(f"{merchant.base}/customers/{customer_id}/timeline").json["items"]]
    assert "invoice.failed" in types and "subscription.created" not in types

    # the customer has no card that works: one without any payment method cannot start paying
    bare = merchant.customer()
    problem(
        merchant.subscribe(bare["customer_id"], merchant.catalog["plan"]["plan_id"]), 422, "payment_method_required"
    )


def test_idempotency_key_on_subscription_create(merchant: Merchant):
    customer = merchant.customer()
    customer_id = customer["customer_id"]
    merchant.card(customer_id)
    key = {"Idempotency-Key": f"sub-{uuid.uuid4().hex}"}
    body = {"customer_id": customer_id, "plan_id": merchant.catalog["plan"]["plan_id"]}
    first = merchant.post(f"{merchant.base}/subscriptions", json=body, headers=key)
    again = merchant.post(f"{merchant.base}/subscriptions", json=body, headers=key)
    assert first.status == again.status == 201, (first.text, again.text)
    assert again.json == first.json
    assert [
        s["subscription_id"]
        for s in merchant.get(f"{merchant.base}/subscriptions?customer_id={customer_id}").json["items"]
    ] == [first.json["subscription_id"]]
    assert len(merchant.invoices(customer_id=customer_id)) == 1

    other = {**body, "addons": [{"addon_id": merchant.catalog["addon"]["addon_id"], "quantity": 1}]}
    problem(merchant.post(f"{merchant.base}/subscriptions", json=other, headers=key), 422, "idempotency_key_reused")
    assert len(merchant.invoices(customer_id=customer_id)) == 1

    # without a key, the same body is a second subscription
    assert merchant.post(f"{merchant.base}/subscriptions", json=body).status == 201
    assert len(merchant.invoices(customer_id=customer_id)) == 2


def test_idempotency_key_on_a_declined_subscription_create(merchant: Merchant):
    """The first answer was a 402 with a failed invoice and a declined charge: a retry with the same
    key (a client that lost the answer) gets that answer again and repeats neither (the
    Idempotency-Key rule: "returns the first response and repeats no side effect"; Stripe replays a
    card decline too)."""
    customer = merchant.customer()
    customer_id = customer["customer_id"]
    merchant.card(customer_id, "tok_fail_declined", "0002")
    key = {"Idempotency-Key": f"sub-{uuid.uuid4().hex}"}
    body = {"customer_id": customer_id, "plan_id": merchant.catalog["plan"]["plan_id"]}
    first = problem(merchant.post(f"{merchant.base}/subscriptions", json=body, headers=key), 402, "payment_declined")
    again = merchant.post(f"{merchant.base}/subscriptions", json=body, headers=key)
    failed = merchant.invoices(customer_id=customer_id)
    transactions = [
        t for i in failed for t in merchant.get(f"{merchant.base}/invoices/{i['invoice_id']}").json["transactions"]
    ]
    assert (len(failed), len(transactions)) == (1, 1), "the retry with the same key charged the card again"
    assert problem(again, 402, "payment_declined") == first


def test_concurrent_actions_on_one_subscription_apply_once(merchant: Merchant):
    customer = merchant.customer()
    merchant.card(customer["customer_id"])
    sold = merchant.subscribe(customer["customer_id"], merchant.catalog["plan"]["plan_id"])
    assert sold.status == 201, sold.text
    path = f"{merchant.base}/subscriptions/{sold.json['subscription_id']}/pause"
    assert merchant.get(merchant.base).status == 200  # a live session for the threads
    headers = bearer(merchant.token)
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: merchant.stack.post(path, headers=headers), range(6)))
    assert sorted(r.status for r in replies) == [200, 409, 409, 409, 409, 409], [r.text for r in replies]
    for reply in replies:
        if reply.status == 409:
            problem(reply, 409, "invalid_state_transition")
    assert merchant.subscription(sold.json["subscription_id"])["state"] == "paused"
    events = merchant.get(f"{merchant.base}/customers/{customer['customer_id']}/timeline").json["items"]
    assert [e["type"] for e in events].count("subscription.paused") == 1


def test_concurrent_redemptions_of_a_coupon_stop_at_its_limit(merchant: Merchant):
    coupons = f"{merchant.base}/coupons"
    created = merchant.post(
        coupons,
        json={"code": "RACE-1", "discount_id": merchant.catalog["discount"]["discount_id"], "max_redemptions": 1},
    )
    assert created.status == 201, created.text
    customers = [merchant.customer() for _ in range(5)]
    for customer in customers:
        merchant.card(customer["customer_id"])
    plan_id = merchant.catalog["plan"]["plan_id"]
    assert merchant.get(merchant.base).status == 200
    headers = bearer(merchant.token)

    def subscribe(customer: dict[str, Any]) -> Reply:
        body = {"customer_id": customer["customer_id"], "plan_id": plan_id, "coupon_code": "race-1"}
        return merchant.stack.post(f"{merchant.base}/subscriptions", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(subscribe, customers))
    assert sorted(r.status for r in replies) == [201, 409, 409, 409, 409], [r.text for r in replies]
    for reply in replies:
        if reply.status == 409:
            problem(reply, 409, "coupon_exhausted")
    assert merchant.get(f"{coupons}/{created.json['coupon_id']}").json["redemptions"] == 1
    assert sum(len(merchant.invoices(customer_id=c["customer_id"])) for c in customers) == 1


# ---------------------------------------------------------------------------- the renewal job


def test_trial_ends_and_the_job_charges_the_first_period(merchant: Merchant):
    customer = merchant.customer()
    customer_id = customer["customer_id"]
    merchant.card(customer_id)
    sold = merchant.subscribe(customer_id, merchant.catalog["trial_plan"]["plan_id"])
    assert sold.status == 201, sold.text
    trial = sold.json
    assert trial["state"] == "trialing" and trial["trial_end"].endswith("Z")
    trial_end = iso_z(trial["trial_end"])
    started = iso_z(trial["current_period_start"])
    assert timedelta(hours=23) <= trial_end - started <= timedelta(hours=25)  # a day in Europe/Berlin
    assert merchant.invoices(customer_id=customer_id) == []  # nothing charged during the trial

    merchant.stack.advance_clock(trial_end.timestamp() - now(merchant.stack) + HOUR)
    summary = merchant.run_renewal()
    assert summary["trials_ended"] >= 1 and summary["paid"] >= 1, summary

    active = merchant.subscription(trial["subscription_id"])
    assert active["state"] == "active" and active["dunning"] is None
    assert active["current_period_start"] == trial["trial_end"]
    assert timedelta(days=28) <= iso_z(active["current_period_end"]) - trial_end <= timedelta(days=31)
    [invoice] = merchant.invoices(subscription_id=trial["subscription_id"])
    assert invoice["state"] == "paid" and invoice["amount"] == 595  # 500 + 19 % VAT
    assert invoice["period_start"] == active["current_period_start"]
    assert invoice["period_end"] == active["current_period_end"]
    assert [t["state"] for t in invoice["transactions"]] == ["succeeded"]

    # running it again for the same moment changes nothing more
    merchant.run_renewal()
    assert len(merchant.invoices(subscription_id=trial["subscription_id"])) == 1
    assert merchant.subscription(trial["subscription_id"]) == active
    types = [e["type"] for e in merchant.get(f"{merchant.base}/customers/{customer_id}/timeline").json["items"]]
    assert types.count("subscription.trial_ended") == 1 and types.count("invoice.paid") == 1


def test_trial_with_failing_card_goes_to_dunning_emails_the_customer_and_expires(merchant: Merchant):
    email = unique_email("dunned")
    customer = merchant.customer(email, name="Dora Dunning", language="en")
    customer_id = customer["customer_id"]
    merchant.card(customer_id, "tok_will_fail", "0341")
    sold = merchant.subscribe(customer_id, merchant.catalog["trial_plan"]["plan_id"])
    assert sold.status == 201 and sold.json["state"] == "trialing", sold.text
    subscription_id = sold.json["subscription_id"]
    retry_days = merchant.get(f"{merchant.base}/settings").json["dunning_retry_days"]
    assert retry_days == [1, 3, 5]  # the default schedule

    merchant.stack.advance_clock(iso_z(sold.json["trial_end"]).timestamp() - now(merchant.stack) + HOUR)
    failed_at = datetime.fromtimestamp(now(merchant.stack), UTC)
    summary = merchant.run_renewal()
    assert summary["declined"] >= 1, summary

    dunned = merchant.subscription(subscription_id)
    assert dunned["state"] == "active" and dunned["dunning"]["attempt"] == 1, dunned
    next_retry = iso_z(dunned["dunning"]["next_retry_at"])
    assert timedelta(days=1) - timedelta(minutes=5) <= next_retry - failed_at <= timedelta(days=1, minutes=5)
    [invoice] = merchant.invoices(subscription_id=subscription_id)
    assert invoice["state"] == "failed" and [t["state"] for t in invoice["transactions"]] == ["declined"]

    [message] = merchant.stack.outbox(email)
    assert message["channel"] == "email" and message["to"] == [email]
    portal = f"/portal/{merchant.account_id}"
    assert portal in message["text"] and portal in message["html"]

    # the retries: 1, 3 and 5 days after the first failure, an email each time, expired after the last
    for attempt, day in enumerate(retry_days, start=2):
        due = failed_at + timedelta(days=day, minutes=10)
        merchant.stack.advance_clock(due.timestamp() - now(merchant.stack))
        merchant.run_renewal()
        after = merchant.subscription(subscription_id)
        assert len(merchant.stack.outbox(email)) == attempt
        [invoice] = merchant.invoices(subscription_id=subscription_id)
        assert invoice["state"] == "failed" and len(invoice["transactions"]) == attempt
        if attempt <= len(retry_days):
            assert after["state"] == "active" and after["dunning"]["attempt"] == attempt, after
        else:
            assert after["state"] == "expired" and after["dunning"] is None, after
    assert portal in merchant.stack.outbox(email)[0]["text"]


def test_a_period_later_the_job_renews_ends_cancelled_and_leaves_paused_unbilled(merchant: Merchant):
    """With a daily plan, so that the clock moves by a day (the job reads every hour it missed)."""
    plan_id = merchant.catalog["daily"]["plan_id"]
    sold = {}
    for name in ("renewed", "cancelled", "paused", "resumes"):
        customer = merchant.customer(name=name)
        merchant.card(customer["customer_id"])
        reply = merchant.subscribe(customer["customer_id"], plan_id)
        assert reply.status == 201, reply.text
        sold[name] = reply.json
    base = f"{merchant.base}/subscriptions"
    assert merchant.post(f"{base}/{sold['cancelled']['subscription_id']}/cancel").json["state"] == "cancelled"
    assert merchant.post(f"{base}/{sold['paused']['subscription_id']}/pause").json["state"] == "paused"
    resume_at = moment(merchant.stack, timedelta(hours=6))
    paused = merchant.post(f"{base}/{sold['resumes']['subscription_id']}/pause", json={"resume_at": resume_at})
    assert paused.status == 200 and paused.json["state"] == "paused", paused.text

    # paused until a day within its paid period: the job resumes it then, and the period goes on
    merchant.stack.advance_clock(iso_z(resume_at).timestamp() - now(merchant.stack) + 10 * 60)
    summary = merchant.run_renewal()
    assert summary["resumed"] >= 1, summary
    resumed = merchant.subscription(sold["resumes"]["subscription_id"])
    assert resumed["state"] == "active" and resumed["resume_at"] is None and resumed["paused_at"] is None
    assert resumed["current_period_end"] == sold["resumes"]["current_period_end"]

    period_end = max(iso_z(s["current_period_end"]) for s in sold.values())
    merchant.stack.advance_clock(period_end.timestamp() - now(merchant.stack) + 10 * 60)
    summary = merchant.run_renewal()
    assert summary["renewed"] >= 2 and summary["expired"] >= 1, summary

    # active: a new period from the old one's end, its own invoice, paid (1000 + 19 % VAT)
    for name in ("renewed", "resumes"):
        renewed = merchant.subscription(sold[name]["subscription_id"])
        assert renewed["state"] == "active"
        assert renewed["current_period_start"] == sold[name]["current_period_end"]
        newest, first = merchant.invoices(subscription_id=renewed["subscription_id"])
        assert newest["state"] == "paid" and newest["amount"] == 1190 and newest["handle"] != first["handle"]
        assert newest["period_start"] == renewed["current_period_start"]
        assert newest["period_end"] == renewed["current_period_end"]

    # cancelled: expired at ends_at, never billed again
    ended = merchant.subscription(sold["cancelled"]["subscription_id"])
    assert ended["state"] == "expired" and ended["ends_at"] == sold["cancelled"]["current_period_end"]
    assert len(merchant.invoices(subscription_id=ended["subscription_id"])) == 1

    # paused: not billed; resuming after its period starts a new period today, charged at once
    still = merchant.subscription(sold["paused"]["subscription_id"])
    assert still["state"] == "paused" and still["current_period_end"] == sold["paused"]["current_period_end"]
    assert len(merchant.invoices(subscription_id=still["subscription_id"])) == 1
    today = datetime.fromtimestamp(now(merchant.stack), UTC)
    back = merchant.post(f"{base}/{still['subscription_id']}/resume")
    assert back.status == 200 and back.json["state"] == "active", back.text
    assert abs(iso_z(back.json["current_period_start"]) - today) < timedelta(minutes=5)
    assert timedelta(hours=23) <= iso_z(back.json["current_period_end"]) - today <= timedelta(hours=25)
    newest, _ = merchant.invoices(subscription_id=still["subscription_id"])
    assert newest["state"] == "paid" and newest["period_start"] == back.json["current_period_start"]


# ---------------------------------------------------------------------------- go-live (last: it copies the catalog)


def test_go_live_copies_the_catalog_only(merchant: Merchant):
    test_plans = merchant.get(f"{merchant.base}/plans?limit=100").json["items"]
    test_coupons = merchant.get(f"{merchant.base}/coupons?limit=100").json["items"]
    customer = merchant.customer()

    went = merchant.post(f"{merchant.base}/go-live")
    assert went.status == 201, went.text
    live_id = went.json["live_account_id"]
    assert live_id.startswith("acc_") and live_id != merchant.account_id
    problem(merchant.post(f"{merchant.base}/go-live"), 409, "already_live")

    live = merchant.get(f"/accounts/{live_id}")
    assert live.status == 200, live.text
    assert live.json["mode"] == "live" and live.json["test_account_id"] == merchant.account_id
    test = merchant.get(merchant.base).json
    assert test["mode"] == "test" and test["live_account_id"] == live_id
    problem(merchant.post(f"/accounts/{live_id}/go-live"), 409, "already_live")

    # the catalog is copied, with new ids, archived items too
    live_plans = merchant.get(f"/accounts/{live_id}/plans?limit=100").json["items"]
    assert sorted((p["handle"], p["amount"], p["state"]) for p in live_plans) == sorted(
        (p["handle"], p["amount"], p["state"]) for p in test_plans
    )
    assert not {p["plan_id"] for p in live_plans} & {p["plan_id"] for p in test_plans}
    for kind, handle in (("addons", "seat"), ("discounts", "welcome")):
        assert handle in [i["handle"] for i in merchant.get(f"/accounts/{live_id}/{kind}").json["items"]]
    live_coupons = merchant.get(f"/accounts/{live_id}/coupons?limit=100").json["items"]
    assert sorted(c["code"] for c in live_coupons) == sorted(c["code"] for c in test_coupons)
    assert all(c["redemptions"] == 0 for c in live_coupons)

    # customers, subscriptions, invoices and settings stay in the test account
    assert merchant.get(f"/accounts/{live_id}/customers").json["items"] == []
    assert merchant.get(f"/accounts/{live_id}/subscriptions").json["items"] == []
    assert merchant.get(f"/accounts/{live_id}/invoices").json["items"] == []
    problem(merchant.get(f"/accounts/{live_id}/customers/{customer['customer_id']}"), 404, "not_found")
    live_settings = merchant.get(f"/accounts/{live_id}/settings")
    assert live_settings.status == 200, live_settings.text
    assert live_settings.json["timezone"] != "Europe/Berlin" and live_settings.json["vat_percent"] != 19
    assert live_settings.json["company"].get("legal_name") is None

    # the users come along with their rights
    members = merchant.get(f"/accounts/{live_id}/users")
    assert members.status == 200, members.text
    [owner] = [m for m in members.json["items"] if m["email"] == merchant.email]
    assert owner["owner"] is True and owner["full_access"] is True
