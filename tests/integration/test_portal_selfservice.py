"""What a customer does in the portal (README "Customer portal"): their details (each change on the
timeline the merchant reads, as the customer), their subscriptions (pause, resume, cancel, the card
they pay with) within what the merchant's portal settings allow, their payment methods and invoices,
and ordering a plan, with a phone verified by SMS for the plans that need one.

Everything is scoped to the session's customer: anything of another customer, of the same account
or of another, answers 404 as if it did not exist, and stays as it was. Asserted through the API,
as the customer and the merchant see it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from portico import aws, clock, config, store
from tests.integration.flows import CARD, Subject, World, code_in, fresh_table, owner, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.support import Answer

PAN = "4111111111111111"  # Luhn-valid, as every test card number is
PLAN = {"name": "Gold", "amount": 1990, "currency": "EUR", "interval_unit": "month"}
OTHER_CARD = {"token": "tok_mastercard_4444", "brand": "mastercard", "last4": "4444", "exp_month": 6, "exp_year": 2031}


# ----------------------------------------------------------------- a merchant and its customers


@dataclass
class Shop:
    """A signed-up merchant (the owner logged in) with a monthly plan, its portal on."""

    world: World
    s: Subject
    plan_id: str = ""

    @property
    def account_id(self) -> str:
        return self.s.person.account_id

    def admin(self, method: str, rest: str, body: Any = None) -> Answer:
        """A merchant request, logging in again when the clock moved the session past its idle time."""
        path = f"/accounts/{self.account_id}{rest}"
        answer = self.world.api.call(method, path, body, token=self.s.token)
        if answer.status == 401:
            self.s.token = self.world.login(self.s.person)
            answer = self.world.api.call(method, path, body, token=self.s.token)
        return answer

    def made(self, rest: str, body: Any = None) -> dict:
        answer = self.admin("POST", rest, body)
        assert answer.status == 201, answer.body
        return dict(answer.body)

    def portal(self, **settings: Any) -> None:
        answer = self.admin("PUT", "/portal", settings)
        assert answer.status == 200, answer.body

    def plan(self, **extra: Any) -> str:
        return str(self.made("/plans", {"handle": f"plan-{Subject().n}", **PLAN, **extra})["plan_id"])

    def customer(self, name: str = "Grace Hopper", *, subscribed: bool = True) -> Customer:
        """A customer with a card (and a paid subscription to the shop's plan), logged in to the
        portal through the merchant's link."""
        email = f"customer{Subject().n}@example.com"
        customer_id = str(self.made("/customers", {"email": email, "name": name})["customer_id"])
        card = self.made(f"/customers/{customer_id}/payment-methods", {"card": CARD})
        link = self.made(f"/customers/{customer_id}/portal-session")
        logged = self.world.api.post(f"/portal/{self.account_id}/login/link", {"token": link["token"]})
        assert logged.status == 200, logged.body
        who = Customer(self, customer_id, email, logged.body["token"], card["payment_method_id"])
        if subscribed:
            made = self.made("/subscriptions", {"customer_id": customer_id, "plan_id": self.plan_id})
            who.subscription_id = made["subscription_id"]
            [invoice] = self.admin("GET", f"/invoices?subscription_id={who.subscription_id}").body["items"]
            who.invoice_id = invoice["invoice_id"]
        return who

    def timeline(self, customer_id: str) -> list[dict]:
        answer = self.admin("GET", f"/customers/{customer_id}/timeline?limit=100")
        assert answer.status == 200, answer.body
        return list(answer.body["items"])

    def subscription(self, subscription_id: str) -> dict:
        answer = self.admin("GET", f"/subscriptions/{subscription_id}")
        assert answer.status == 200, answer.body
        return dict(answer.body)

    def payment_methods(self, customer_id: str) -> list[dict]:
        answer = self.admin("GET", f"/customers/{customer_id}/payment-methods")
        assert answer.status == 200, answer.body
        return list(answer.body["items"])


@dataclass
class Customer:
    """A customer logged in to the portal (``token``), with a card and maybe a subscription."""

    shop: Shop
    customer_id: str
    email: str
    token: str
    payment_method_id: str
    subscription_id: str = ""
    invoice_id: str = ""
    phone: str = field(default_factory=lambda: Subject().phone)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        return self.shop.world.api.call(method, path, body, headers, token=self.token)

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        return self.call("POST", path, body, headers)

    def put(self, path: str, body: Any = None) -> Answer:
        return self.call("PUT", path, body)

    def patch(self, path: str, body: Any = None) -> Answer:
        return self.call("PATCH", path, body)

    def delete(self, path: str) -> Answer:
        return self.call("DELETE", path)

    def act(self, action: str, body: Any = None, subscription_id: str | None = None) -> Answer:
        return self.post(f"/portal/subscriptions/{subscription_id or self.subscription_id}/{action}", body)

    def log_in_again(self) -> None:
        """A new portal session through the merchant's link (after the clock ran past the last)."""
        link = self.shop.made(f"/customers/{self.customer_id}/portal-session")
        logged = self.shop.world.api.post(f"/portal/{self.shop.account_id}/login/link", {"token": link["token"]})
        assert logged.status == 200, logged.body
        self.token = logged.body["token"]

    def newest_event(self) -> dict:
        return self.shop.timeline(self.customer_id)[0]


def open_shop(world: World, **portal: Any) -> Shop:
    s = Subject()
    owner(world, s)
    shop = Shop(world, s)
    shop.plan_id = shop.plan()
    if portal:
        shop.portal(**portal)
    return shop


def refused(answer: Answer, status: int, code: str) -> bool:
    return answer.status == status and answer.body["code"] == code


def by_customer(event: dict, who: Customer) -> bool:
    return event["source"] == "portal" and event["actor"] == {"type": "customer", "id": who.customer_id}


def scan() -> list[dict]:
    """The domain table's items, raw (only to show what is never stored)."""
    return list(aws.client("dynamodb").scan(TableName=config.settings().table_name)["Items"])


def iso(epoch: float) -> str:
    return clock.iso_epoch(epoch)


# ----------------------------------------------------------------- me


def test_the_customer_sees_and_changes_their_details_each_change_on_the_timeline(world):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    me = grace.get("/portal/me")
    assert me.status == 200, me.body
    assert me.body == {
        "customer_id": grace.customer_id,
        "email": grace.email,
        "name": "Grace Hopper",
        "phone": None,
        "phone_verified": False,
        "address": None,
        "company": None,
        "vat_id": None,
        "language": None,
    }

    address = {"line1": "Hauptstr. 1", "line2": "Hinterhaus", "postal_code": "10115", "city": "Berlin", "country": "DE"}
    change = {
        "name": "Grace B. Hopper",
        "address": address,
        "company": "Navy",
        "vat_id": "DE123456789",
        "language": "de",
    }
    answer = grace.patch("/portal/me", change)
    assert answer.status == 200, answer.body
    assert answer.body == {**me.body, **change}
    assert grace.get("/portal/me").body == answer.body
    event = grace.newest_event()
    assert event["type"] == "customer.updated" and by_customer(event, grace), event
    assert event["details"]["before"] == {
        "name": "Grace Hopper",
        "address": None,
        "company": None,
        "vat_id": None,
        "language": None,
    }
    assert event["details"]["after"] == change

    events = len(shop.timeline(grace.customer_id))
    assert grace.patch("/portal/me", {"name": "Grace B. Hopper"}).status == 200  # no change: no event
    assert len(shop.timeline(grace.customer_id)) == events

    answer = grace.patch("/portal/me", {"company": None, "phone": grace.phone})
    assert answer.status == 200, answer.body
    assert answer.body["company"] is None and answer.body["phone"] == grace.phone
    assert answer.body["phone_verified"] is False  # a number set here is not a verified one
    event = grace.newest_event()
    assert event["details"] == {
        "before": {"company": "Navy", "phone": None, "phone_verified": False},
        "after": {"company": None, "phone": grace.phone, "phone_verified": False},
    }
    assert by_customer(event, grace)

    for bad in ({"email": None}, {"language": "fr"}, {"address": {"country": "Germany"}}, {"customer_id": "cus_x"}):
        answer = grace.patch("/portal/me", bad)
        assert refused(answer, 422, "validation_error"), (bad, answer.body)
    answer = grace.patch("/portal/me", {"address": {"line2": f"pay with {PAN} please"}})
    assert refused(answer, 422, "raw_card_data_rejected"), answer.body
    assert PAN not in json.dumps(answer.body)
    assert grace.get("/portal/me").body["address"] == address
    assert len(shop.timeline(grace.customer_id)) == events + 1


def test_a_customer_cannot_take_another_address_but_may_resend_their_own(world):
    """The address is the login: a customer who could set it to another customer's address would
    have that customer's codes open their own portal (and receive the victim's card). The portal
    refuses a new address; the same one (in any case) is no change."""
    shop = open_shop(world)
    grace, alan = shop.customer("Grace Hopper"), shop.customer("Alan Turing")
    taken = grace.patch("/portal/me", {"email": alan.email})
    assert refused(taken, 403, "email_change_not_allowed"), taken.body
    assert grace.get("/portal/me").body["email"] == grace.email
    same = grace.patch("/portal/me", {"email": grace.email.upper(), "name": "Grace B. Hopper"})
    assert same.status == 200 and same.body["name"] == "Grace B. Hopper", same.body
    asked = world.api.post(f"/portal/{shop.account_id}/login", {"email": alan.email})
    assert asked.status == 202, asked.body
    code = code_in(world.outbox(alan.email)[0])
    logged = world.api.post(f"/portal/{shop.account_id}/login/verify", {"email": alan.email, "code": code})
    assert logged.status == 200 and logged.body["customer"]["customer_id"] == alan.customer_id, logged.body


def test_a_phone_set_in_the_details_is_checked_and_unverified(world):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    shop.portal(blocked_phone_prefixes=["+234"])
    assert refused(grace.patch("/portal/me", {"phone": "+2348031234567"}), 422, "phone_not_allowed")
    assert refused(grace.patch("/portal/me", {"phone": "+4900000"}), 422, "validation_error")
    changed = grace.patch("/portal/me", {"phone": "+4915123456789"})
    assert changed.status == 200 and changed.body["phone"] == "+4915123456789", changed.body
    assert changed.body["phone_verified"] is False


# ----------------------------------------------------------------- scope


def test_another_customers_things_do_not_exist_for_a_customer(world):
    shop = open_shop(world)
    grace, alan = shop.customer("Grace Hopper"), shop.customer("Alan Turing")
    elsewhere = open_shop(world).customer("Eve Elsewhere")
    orderable = shop.plan(portal_orderable=True)
    assert shop.admin("POST", f"/customers/{alan.customer_id}/payment-methods", {"card": OTHER_CARD}).status == 201

    for other in (alan, elsewhere):
        sub, inv, pm = other.subscription_id, other.invoice_id, other.payment_method_id
        before = (other.get(f"/portal/subscriptions/{sub}").body, other.get("/portal/payment-methods").body)
        for answer in (
            grace.get(f"/portal/subscriptions/{sub}"),
            grace.get(f"/portal/invoices/{inv}"),
            grace.act("pause", {}, sub),
            grace.act("resume", None, sub),
            grace.act("cancel", {}, sub),
            grace.put(f"/portal/subscriptions/{sub}/payment-method", {"payment_method_id": grace.payment_method_id}),
            grace.put(f"/portal/subscriptions/{grace.subscription_id}/payment-method", {"payment_method_id": pm}),
            grace.delete(f"/portal/payment-methods/{pm}"),
            grace.post("/portal/subscriptions", {"plan_id": orderable, "payment_method_id": pm}),
        ):
            assert refused(answer, 404, "not_found"), answer.body
        after = (other.get(f"/portal/subscriptions/{sub}").body, other.get("/portal/payment-methods").body)
        assert after == before, "another customer's things changed"

    for unknown in ("sub_doesnotexist", "x" * 65, "x" * 1500):
        assert refused(grace.get(f"/portal/subscriptions/{unknown}"), 404, "not_found"), unknown
        assert refused(grace.get(f"/portal/invoices/{unknown}"), 404, "not_found"), unknown
        assert refused(grace.act("pause", {}, unknown), 404, "not_found"), unknown

    subs = grace.get("/portal/subscriptions").body["items"]
    assert [s["subscription_id"] for s in subs] == [grace.subscription_id]
    invoices = grace.get("/portal/invoices").body["items"]
    assert [i["invoice_id"] for i in invoices] == [grace.invoice_id]
    methods = grace.get("/portal/payment-methods").body["items"]
    assert [m["payment_method_id"] for m in methods] == [grace.payment_method_id]
    assert grace.get(f"/portal/subscriptions/{grace.subscription_id}").body["state"] == "active"


# ----------------------------------------------------------------- subscription actions


def test_pause_and_resume_are_the_customers_on_the_timeline(world):
    shop = open_shop(world)
    grace = shop.customer()
    paused = grace.act("pause", {})
    assert paused.status == 200, paused.body
    assert paused.body["state"] == "paused" and paused.body["paused_at"] == iso(world.clock.now)
    assert shop.subscription(grace.subscription_id)["state"] == "paused"
    event = grace.newest_event()
    assert event["type"] == "subscription.paused" and by_customer(event, grace), event
    assert event["details"]["before"] == {"state": "active"} and event["details"]["after"] == {"state": "paused"}

    again = grace.act("pause", {})
    assert refused(again, 409, "invalid_state_transition"), again.body
    world.clock.advance(60)
    resumed = grace.act("resume")  # no body: the action with its defaults
    assert resumed.status == 200 and resumed.body["state"] == "active", resumed.body
    assert resumed.body["current_period_end"] == paused.body["current_period_end"]  # the paid period goes on
    event = grace.newest_event()
    assert event["type"] == "subscription.resumed" and by_customer(event, grace), event
    assert refused(grace.act("resume", {}), 409, "invalid_state_transition")

    past = grace.act("pause", {"resume_at": iso(world.clock.now - 60)})
    assert refused(past, 422, "validation_error"), past.body
    later = iso(world.clock.now + 7 * 86400)
    paused = grace.act("pause", {"resume_at": later})
    assert paused.status == 200 and paused.body["resume_at"] == later, paused.body
    assert grace.get(f"/portal/subscriptions/{grace.subscription_id}").body["resume_at"] == later


def test_cancel_ends_at_the_period_end_with_one_of_the_configured_reasons(world):
    shop = open_shop(world)
    grace = shop.customer()
    unknown = grace.act("cancel", {"reason": "no_reason_like_this"})
    assert refused(unknown, 422, "validation_error"), unknown.body
    assert shop.subscription(grace.subscription_id)["state"] == "active"

    answer = grace.act("cancel", {"reason": "too_expensive", "comment": "Half the price, please."})
    assert answer.status == 200, answer.body
    assert answer.body["state"] == "cancelled"
    assert answer.body["ends_at"] == answer.body["current_period_end"]
    event = grace.newest_event()
    assert event["type"] == "subscription.cancelled" and by_customer(event, grace), event
    assert event["details"]["reason"] == "too_expensive"
    assert event["details"]["comment"] == "Half the price, please."
    assert refused(grace.act("cancel", {}), 409, "invalid_state_transition")
    assert refused(grace.act("pause", {}), 409, "invalid_state_transition")

    shop.portal(cancellation_reasons=[{"id": "price", "labels": {"en": "Price", "de": "Preis"}}])
    alan = shop.customer("Alan Turing")
    assert refused(alan.act("cancel", {"reason": "too_expensive"}), 422, "validation_error")
    assert alan.act("cancel", {"reason": "price"}).status == 200


def test_a_card_number_in_a_cancellation_comment_is_refused_and_not_stored(world):
    shop = open_shop(world)
    grace = shop.customer()
    answer = grace.act("cancel", {"reason": "other", "comment": f"Charge my new card {PAN} instead"})
    on_timeline = PAN in json.dumps(shop.timeline(grace.customer_id))
    assert not on_timeline, "the card number is on the timeline"
    assert refused(answer, 422, "raw_card_data_rejected"), answer.body
    assert shop.subscription(grace.subscription_id)["state"] == "active"


def test_resuming_after_the_paid_period_starts_a_new_one_charged_at_once(world):
    shop = open_shop(world)
    grace = shop.customer()
    paused = grace.act("pause", {})
    assert paused.status == 200, paused.body
    world.clock.advance(40 * 86400)  # the paid month ran out while paused
    grace.log_in_again()
    resumed = grace.act("resume")
    assert resumed.status == 200, resumed.body
    assert resumed.body["state"] == "active"
    assert resumed.body["current_period_start"] == iso(world.clock.now)
    assert resumed.body["current_period_end"] > paused.body["current_period_end"]
    invoices = grace.get("/portal/invoices").body["items"]
    assert len(invoices) == 2 and all(i["state"] == "paid" for i in invoices), invoices
    detail = grace.get(f"/portal/subscriptions/{grace.subscription_id}").body
    assert {i["invoice_id"] for i in detail["invoices"]} == {i["invoice_id"] for i in invoices}


def test_cancel_at_once_when_the_merchant_says_so(world):
    shop = open_shop(world, cancel_timing="immediately")
    grace = shop.customer()
    answer = grace.act("cancel")
    assert answer.status == 200, answer.body
    assert answer.body["state"] == "expired" and answer.body["ends_at"] == iso(world.clock.now)
    assert shop.subscription(grace.subscription_id)["state"] == "expired"
    assert refused(grace.act("resume"), 409, "invalid_state_transition")
    assert refused(grace.act("cancel"), 409, "invalid_state_transition")
    gone = grace.delete(f"/portal/payment-methods/{grace.payment_method_id}")
    assert gone.status == 204, gone.body  # the subscription has ended: its card is no longer in use


def test_the_merchant_can_turn_pausing_and_cancelling_off(world):
    shop = open_shop(world)
    grace = shop.customer()
    assert grace.act("pause", {}).status == 200
    shop.portal(allow_pause=False, allow_cancel=False)
    for action in ("pause", "cancel"):
        answer = grace.act(action, {})
        assert refused(answer, 403, "feature_disabled"), answer.body
    assert shop.subscription(grace.subscription_id)["state"] == "paused"
    assert grace.act("resume").status == 200  # a paused subscription can always be resumed
    assert refused(grace.act("pause", {}), 403, "feature_disabled")
    assert shop.subscription(grace.subscription_id)["state"] == "active"
    features = world.api.get(f"/portal/{shop.account_id}/config").body["features"]
    assert features["pause"] is False and features["cancel"] is False


def test_the_customer_pays_with_another_of_their_own_cards(world):
    shop = open_shop(world)
    grace, alan = shop.customer("Grace Hopper"), shop.customer("Alan Turing", subscribed=False)
    added = grace.post("/portal/payment-methods", {"card": OTHER_CARD})
    assert added.status == 201, added.body
    new = added.body["payment_method_id"]
    path = f"/portal/subscriptions/{grace.subscription_id}/payment-method"
    answer = grace.put(path, {"payment_method_id": new})
    assert answer.status == 200, answer.body
    assert answer.body["payment_method"]["payment_method_id"] == new
    assert answer.body["payment_method"]["last4"] == "4444"
    assert shop.subscription(grace.subscription_id)["payment_method_id"] == new
    event = grace.newest_event()
    assert event["type"] == "subscription.payment_method_changed" and by_customer(event, grace), event
    assert event["details"]["before"] == {"payment_method_id": grace.payment_method_id}

    for theirs in (alan.payment_method_id, "pm_doesnotexist"):
        assert refused(grace.put(path, {"payment_method_id": theirs}), 404, "not_found")
    assert shop.subscription(grace.subscription_id)["payment_method_id"] == new

    shop.portal(cancel_timing="immediately")
    assert grace.act("cancel").status == 200
    ended = grace.put(path, {"payment_method_id": grace.payment_method_id})
    assert refused(ended, 409, "invalid_state_transition"), ended.body


# ----------------------------------------------------------------- payment methods


def test_the_customer_adds_a_card_and_a_card_number_is_refused_unechoed(world):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    added = grace.post("/portal/payment-methods", {"card": OTHER_CARD})
    assert added.status == 201, added.body
    assert {k: added.body[k] for k in ("brand", "last4", "exp_month", "exp_year")} == {
        k: OTHER_CARD[k] for k in ("brand", "last4", "exp_month", "exp_year")
    }
    assert added.body["default"] is False  # the first card stays the default
    assert "token" not in added.body
    listed = grace.get("/portal/payment-methods").body["items"]
    assert {m["payment_method_id"] for m in listed} == {grace.payment_method_id, added.body["payment_method_id"]}
    event = grace.newest_event()
    assert event["type"] == "payment_method.added" and by_customer(event, grace), event

    for body in (
        {"card": {**OTHER_CARD, "token": PAN}},
        {"card": OTHER_CARD, "number": PAN},
        {"card": {**OTHER_CARD, "brand": f"visa {PAN[:4]} {PAN[4:8]} {PAN[8:12]} {PAN[12:]}"}},
        {"card": {**OTHER_CARD, "token": f"tok_{PAN}"}},
    ):
        answer = grace.post("/portal/payment-methods", body)
        assert refused(answer, 422, "raw_card_data_rejected"), (body, answer.body)
        assert PAN not in json.dumps(answer.body) and PAN[12:] not in answer.body.get("detail", "")
    assert len(grace.get("/portal/payment-methods").body["items"]) == 2

    key = {"Idempotency-Key": f"card-{Subject().n}"}
    third = {"card": {**OTHER_CARD, "last4": "1881", "token": "tok_visa_1881"}}
    first = grace.post("/portal/payment-methods", third, key)
    assert first.status == 201, first.body
    assert grace.post("/portal/payment-methods", third, key).body == first.body
    assert len(grace.get("/portal/payment-methods").body["items"]) == 3
    items = [store.deserialize(i) for i in scan()]
    assert PAN not in json.dumps(items, default=str), "a card number was stored"


def test_a_card_in_use_stays_and_an_unused_one_goes(world):
    shop = open_shop(world)
    grace = shop.customer()
    in_use = grace.delete(f"/portal/payment-methods/{grace.payment_method_id}")
    assert refused(in_use, 409, "payment_method_in_use"), in_use.body
    spare = grace.post("/portal/payment-methods", {"card": OTHER_CARD}).body["payment_method_id"]
    gone = grace.delete(f"/portal/payment-methods/{spare}")
    assert gone.status == 204, gone.body
    assert [m["payment_method_id"] for m in grace.get("/portal/payment-methods").body["items"]] == [
        grace.payment_method_id
    ]
    assert [m["payment_method_id"] for m in shop.payment_methods(grace.customer_id)] == [grace.payment_method_id]
    event = grace.newest_event()
    assert event["type"] == "payment_method.removed" and by_customer(event, grace), event
    assert refused(grace.delete(f"/portal/payment-methods/{spare}"), 404, "not_found")

    assert grace.act("cancel").status == 200  # cancelled, running to the period's end: still in use
    assert refused(grace.delete(f"/portal/payment-methods/{grace.payment_method_id}"), 409, "payment_method_in_use")
    assert shop.admin("POST", f"/subscriptions/{grace.subscription_id}/expire").status == 200
    assert grace.delete(f"/portal/payment-methods/{grace.payment_method_id}").status == 204  # ended: free
    assert grace.get("/portal/payment-methods").body["items"] == []


# ----------------------------------------------------------------- invoices


def test_the_customer_reads_their_invoices_with_lines_and_transactions(world):
    shop = open_shop(world)
    grace = shop.customer()
    listed = grace.get("/portal/invoices")
    assert listed.status == 200, listed.body
    [summary] = listed.body["items"]
    assert summary["invoice_id"] == grace.invoice_id and summary["state"] == "paid"
    assert summary["amount"] >= 1990 and summary["currency"] == "EUR"
    assert summary["customer_id"] == grace.customer_id and summary["subscription_id"] == grace.subscription_id

    detail = grace.get(f"/portal/invoices/{grace.invoice_id}")
    assert detail.status == 200, detail.body
    assert detail.body == shop.admin("GET", f"/invoices/{grace.invoice_id}").body  # what the merchant sees
    assert [line["unit_amount"] for line in detail.body["lines"]] == [1990]
    [transaction] = detail.body["transactions"]
    assert transaction["state"] == "succeeded" and transaction["amount"] == detail.body["amount"]

    sub = grace.get(f"/portal/subscriptions/{grace.subscription_id}")
    assert sub.status == 200, sub.body
    assert [i["invoice_id"] for i in sub.body["invoices"]] == [grace.invoice_id]
    assert sub.body["plan"]["plan_id"] == shop.plan_id and sub.body["payment_method"]["last4"] == "4242"
    assert sub.body["payment_failed"] is False


# ----------------------------------------------------------------- ordering


def test_the_customer_orders_one_of_the_plans_the_portal_offers(world):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    silver = shop.plan(name="Silver", amount=990, portal_orderable=True)
    archived = shop.plan(name="Old", portal_orderable=True)
    assert shop.admin("DELETE", f"/plans/{archived}").status == 200
    listed = grace.get("/portal/plans")
    assert listed.status == 200, listed.body
    assert [p["plan_id"] for p in listed.body["items"]] == [silver]
    assert listed.body["items"][0] == {
        "plan_id": silver,
        "name": "Silver",
        "amount": 990,
        "currency": "EUR",
        "interval_unit": "month",
        "interval_count": 1,
    }

    for plan_id in (shop.plan_id, archived, "pln_doesnotexist"):  # not orderable, archived, unknown
        answer = grace.post("/portal/subscriptions", {"plan_id": plan_id, "payment_method_id": grace.payment_method_id})
        assert refused(answer, 404, "not_found"), (plan_id, answer.body)
    answer = grace.post("/portal/subscriptions", {"plan_id": silver, "payment_method_id": "pm_doesnotexist"})
    assert refused(answer, 404, "not_found"), answer.body
    assert grace.get("/portal/subscriptions").body["items"] == []

    ordered = grace.post("/portal/subscriptions", {"plan_id": silver, "payment_method_id": grace.payment_method_id})
    assert ordered.status == 201, ordered.body
    assert ordered.body["state"] == "active" and ordered.body["plan"]["plan_id"] == silver
    assert [s["subscription_id"] for s in grace.get("/portal/subscriptions").body["items"]] == [
        ordered.body["subscription_id"]
    ]
    [invoice] = grace.get("/portal/invoices").body["items"]
    assert invoice["state"] == "paid" and invoice["subscription_id"] == ordered.body["subscription_id"]
    created = [e for e in shop.timeline(grace.customer_id) if e["type"] == "subscription.created"]
    assert len(created) == 1 and by_customer(created[0], grace), created


def test_an_order_sent_again_with_its_idempotency_key_is_not_charged_again(world):
    shop = open_shop(world)
    grace, alan = shop.customer("Grace Hopper", subscribed=False), shop.customer("Alan Turing", subscribed=False)
    silver = shop.plan(name="Silver", amount=990, portal_orderable=True)
    key = {"Idempotency-Key": f"order-{Subject().n}"}
    body = {"plan_id": silver, "payment_method_id": grace.payment_method_id}
    first = grace.post("/portal/subscriptions", body, key)
    assert first.status == 201, first.body
    again = grace.post("/portal/subscriptions", body, key)
    assert (again.status, again.body) == (201, first.body)
    reused = grace.post("/portal/subscriptions", {**body, "payment_method_id": "pm_other0"}, key)
    assert refused(reused, 422, "idempotency_key_reused"), reused.body
    assert len(grace.get("/portal/subscriptions").body["items"]) == 1
    invoices = shop.admin("GET", f"/invoices?customer_id={grace.customer_id}").body["items"]
    assert len(invoices) == 1 and len(invoices[0]["transactions"]) == 1, invoices

    theirs = alan.post("/portal/subscriptions", {**body, "payment_method_id": alan.payment_method_id}, key)
    assert theirs.status == 201 and theirs.body["subscription_id"] != first.body["subscription_id"], theirs.body


def test_a_plan_that_needs_a_verified_phone_is_ordered_after_the_sms_code(world):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    protected = shop.plan(name="Premium", portal_orderable=True, requires_verified_phone=True)
    order = {"plan_id": protected, "payment_method_id": grace.payment_method_id}
    answer = grace.post("/portal/subscriptions", order)
    assert refused(answer, 403, "phone_verification_required"), answer.body

    spaced = f"{grace.phone[:3]} {grace.phone[3:6]} {grace.phone[6:]}"
    sent = grace.put("/portal/me/phone", {"number": spaced})
    assert sent.status == 202, sent.body
    assert sent.body == {"number": grace.phone, "resend_after_seconds": 60, "expires_in_seconds": 600}
    [sms] = world.outbox(grace.phone)
    assert "Analytical Engines" in sms["text"] and "10 minutes" in sms["text"]
    stored = json.dumps([store.deserialize(i) for i in scan()], default=str)
    assert not re.search(rf"(?<![0-9A-Za-z]){code_in(sms)}(?![0-9A-Za-z])", stored), "the SMS code is stored in clear"
    assert grace.get("/portal/me").body["phone_verified"] is False
    assert refused(grace.post("/portal/subscriptions", order), 403, "phone_verification_required")

    verified = grace.post("/portal/me/phone/verify", {"code": code_in(sms)})
    assert verified.status == 200, verified.body
    assert verified.body["phone"] == grace.phone and verified.body["phone_verified"] is True
    event = grace.newest_event()
    assert event["type"] == "customer.phone_verified" and by_customer(event, grace), event
    assert event["details"]["after"] == {"phone": grace.phone, "phone_verified": True}
    again = grace.post("/portal/me/phone/verify", {"code": code_in(sms)})
    assert refused(again, 401, "invalid_code"), again.body

    ordered = grace.post("/portal/subscriptions", order)
    assert ordered.status == 201 and ordered.body["plan"]["plan_id"] == protected, ordered.body

    other = Subject().phone  # a new number is not a verified one
    assert grace.patch("/portal/me", {"phone": other}).body["phone_verified"] is False
    assert refused(grace.post("/portal/subscriptions", order), 403, "phone_verification_required")


def test_the_phone_number_is_checked_and_blocked_prefixes_refused(world):
    shop = open_shop(world, blocked_phone_prefixes=["+234", "+4470"])
    grace = shop.customer(subscribed=False)
    for number in ("+2348031234567", "+447000123456", "+234 803 123 4567"):
        answer = grace.put("/portal/me/phone", {"number": number})
        assert refused(answer, 422, "phone_not_allowed"), (number, answer.body)
        assert world.outbox(number.replace(" ", "")) == []
    for number in ("+49123", "0151 23456789", "not a number", "+999 123", "12"):
        answer = grace.put("/portal/me/phone", {"number": number})
        assert answer.status == 422 and answer.body["code"] == "validation_error", (number, answer.body)

    assert grace.put("/portal/me/phone", {"number": grace.phone}).status == 202
    world.clock.advance(30)
    too_soon = grace.put("/portal/me/phone", {"number": grace.phone})
    assert refused(too_soon, 429, "resend_too_soon") and too_soon.headers["Retry-After"] == "30", too_soon.body
    assert len(world.outbox(grace.phone)) == 1
    world.clock.advance(30)
    other = Subject().phone
    assert grace.put("/portal/me/phone", {"number": other}).status == 202
    first = code_in(world.outbox(grace.phone)[0])
    second = code_in(world.outbox(other)[0])
    if first != second:
        assert refused(grace.post("/portal/me/phone/verify", {"code": first}), 401, "invalid_code")
    verified = grace.post("/portal/me/phone/verify", {"code": second})
    assert verified.status == 200 and verified.body["phone"] == other, verified.body


def test_an_sms_that_cannot_be_sent_leaves_no_code_and_no_cooldown(world, fail_aws):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    with fail_aws("sns", "Publish", "Throttling"):
        answer = grace.put("/portal/me/phone", {"number": grace.phone})
    assert refused(answer, 503, "service_unavailable"), answer.body
    assert world.outbox(grace.phone) == []
    assert refused(grace.post("/portal/me/phone/verify", {"code": "123456"}), 401, "invalid_code")
    world.clock.advance(5)
    retried = grace.put("/portal/me/phone", {"number": grace.phone})
    assert retried.status == 202, retried.body
    verified = grace.post("/portal/me/phone/verify", {"code": code_in(world.outbox(grace.phone)[0])})
    assert verified.status == 200 and verified.body["phone_verified"] is True, verified.body


def test_a_phone_code_is_burnt_by_five_wrong_tries_and_lasts_ten_minutes(world):
    shop = open_shop(world)
    grace = shop.customer(subscribed=False)
    assert grace.put("/portal/me/phone", {"number": grace.phone}).status == 202
    code = code_in(world.outbox(grace.phone)[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert refused(grace.post("/portal/me/phone/verify", {"code": wrong}), 401, "invalid_code")
    answer = grace.post("/portal/me/phone/verify", {"code": code})
    assert refused(answer, 401, "code_exhausted"), answer.body
    assert grace.get("/portal/me").body["phone_verified"] is False

    world.clock.advance(600)
    other = Subject().phone
    assert grace.put("/portal/me/phone", {"number": other}).status == 202  # the old one expired: afresh
    world.clock.advance(601)
    answer = grace.post("/portal/me/phone/verify", {"code": code_in(world.outbox(other)[0])})
    assert refused(answer, 401, "code_expired"), answer.body
    me = grace.get("/portal/me").body
    assert (me["phone"], me["phone_verified"]) == (None, False)

    events = Counter(e["type"] for e in shop.timeline(grace.customer_id))
    assert events["customer.phone_verified"] == 0
