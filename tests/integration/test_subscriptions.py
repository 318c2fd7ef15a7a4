"""Subscriptions through the API."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from portico.jobs import JOBS
from tests.integration.support import Answer, Api, FakeClock

CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
DAY = 86_400


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def move_to(clock: FakeClock, when: str) -> None:
    """Move the clock forward to ``when`` (ISO 8601 UTC)."""
    target = at(when).timestamp()
    assert target >= clock.now, f"the clock only moves forward: {when}"
    clock.now = target


@dataclass
class Shop:
    """One merchant account, logged in, with shorthands for its billing routes."""

    api: Api
    log_in: Callable[[], str]
    account_id: str
    clock: FakeClock

    def __post_init__(self) -> None:
        self._n = itertools.count(1)
        self.coupon_ids: dict[str, str] = {}
        self.token = self.log_in()

    def never_expire_passwords(self) -> None:
        """For tests where more than 90 days pass: the owner's password does not expire."""
        self.ok(self.call("PUT", "/security", {"password_policy": {"max_age_days": 0}}))

    @property
    def base(self) -> str:
        return f"/accounts/{self.account_id}"

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Answer:
        """A call to the account's routes; the session is opened again when time moved past it."""
        headers = {"Idempotency-Key": key} if key else None
        answer = self.api.call(method, self.base + path, body, headers, self.token)
        if answer.status == 401 and answer.body["code"] == "unauthenticated":
            self.token = self.log_in()
            answer = self.api.call(method, self.base + path, body, headers, self.token)
        return answer

    def post(self, path: str, body: Any = None, key: str | None = None) -> Answer:
        return self.call("POST", path, body, key)

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def ok(self, answer: Answer, status: int = 200) -> Any:
        assert answer.status == status, answer.body
        return answer.body

    def settings(self, **patch: Any) -> dict:
        return self.ok(self.call("PATCH", "/settings", patch))

    def plan(self, amount: int = 1999, currency: str = "EUR", unit: str = "month", count: int = 1, **extra) -> str:
        body = {"handle": f"plan-{next(self._n)}", "name": extra.pop("name", "Gold"), "amount": amount}
        body.update(currency=currency, interval_unit=unit, interval_count=count, **extra)
        return self.ok(self.post("/plans", body), 201)["plan_id"]

    def addon(self, amount: int = 500, currency: str = "EUR", name: str = "Extra seat") -> str:
        body = {"handle": f"addon-{next(self._n)}", "name": name, "amount": amount, "currency": currency}
        return self.ok(self.post("/addons", body), 201)["addon_id"]

    def coupon(self, code: str | None = None, name: str = "Welcome", **discount: Any) -> str:
        """A coupon code for a new discount (``percent=`` or ``amount=``+``currency=``, ``duration=``)."""
        discount.setdefault("duration", "forever")
        body = {"handle": f"discount-{next(self._n)}", "name": name, **discount}
        discount_id = self.ok(self.post("/discounts", body), 201)["discount_id"]
        code = code or f"CODE{next(self._n)}"
        self.coupon_ids[code] = self.ok(self.post("/coupons", {"code": code, "discount_id": discount_id}), 201)[
            "coupon_id"
        ]
        return code

    def redemptions(self, code: str) -> int:
        return self.ok(self.get(f"/coupons/{self.coupon_ids[code]}"))["redemptions"]

    def customer(self, email: str | None = None, name: str = "Grace Hopper", **extra: Any) -> str:
        email = email or f"customer{next(self._n)}@example.com"
        return self.ok(self.post("/customers", {"email": email, "name": name, **extra}), 201)["customer_id"]

    def card(self, customer_id: str, token: str = "tok_visa") -> str:
        answer = self.post(f"/customers/{customer_id}/payment-methods", {"card": {"token": token, **CARD}})
        return self.ok(answer, 201)["payment_method_id"]

    def paying_customer(self, email: str | None = None, token: str = "tok_visa") -> str:
        customer_id = self.customer(email)
        self.card(customer_id, token)
        return customer_id

    def subscribe(self, customer_id: str, plan_id: str, key: str | None = None, **extra: Any) -> Answer:
        return self.post("/subscriptions", {"customer_id": customer_id, "plan_id": plan_id, **extra}, key=key)

    def subscription(self, customer_id: str, plan_id: str, **extra: Any) -> dict:
        return self.ok(self.subscribe(customer_id, plan_id, **extra), 201)

    def sub(self, subscription_id: str) -> dict:
        return self.ok(self.get(f"/subscriptions/{subscription_id}"))

    def act(self, subscription_id: str, action: str, body: Any = None, key: str | None = None) -> Answer:
        return self.post(f"/subscriptions/{subscription_id}/{action}", body, key=key)

    def subscriptions(self, query: str = "") -> list[dict]:
        return self.ok(self.get(f"/subscriptions{query}"))["items"]

    def invoices(self, query: str = "") -> list[dict]:
        return self.ok(self.get(f"/invoices{query}"))["items"]

    def invoices_of(self, subscription_id: str) -> list[dict]:
        """The subscription's invoices, oldest first."""
        return list(reversed(self.invoices(f"?subscription_id={subscription_id}&limit=100")))

    def invoice(self, invoice_id: str) -> dict:
        return self.ok(self.get(f"/invoices/{invoice_id}"))

    def timeline(self, customer_id: str) -> list[dict]:
        """The customer's timeline, oldest first."""
        return list(reversed(self.ok(self.get(f"/customers/{customer_id}/timeline?limit=100"))["items"]))

    def events(self, customer_id: str, prefix: str = "subscription.") -> list[str]:
        return [e["type"] for e in self.timeline(customer_id) if e["type"].startswith(prefix)]

    def run_job(self) -> dict:
        return JOBS["subscription-renewal"]()


def open_shop(api: Api, person, login, clock: FakeClock, email: str = "ada@example.com", company: str = "Analytical"):
    owner = person(email, company=company)
    return Shop(api, lambda: login(owner), owner.account_id, clock)


@pytest.fixture
def shop(api, person, login, clock) -> Shop:
    return open_shop(api, person, login, clock)


def problem(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.body["code"] == code, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"


def me(shop: Shop) -> dict:
    return shop.ok(shop.api.get("/me", token=shop.token))


# ----------------------------------------------------------------- creating one


def test_a_subscription_without_trial_is_charged_at_once(shop, clock):
    plan = shop.plan(1999)
    customer = shop.customer("grace@example.com")
    card = shop.card(customer)
    created = shop.subscription(customer, plan)

    assert created["state"] == "active"
    assert created["customer_id"] == customer and created["plan_id"] == plan
    assert created["payment_method_id"] == card  # the customer's default
    assert created["trial_end"] is None
    assert created["current_period_start"] == "2026-09-21T14:13:20Z"
    assert created["current_period_end"] == "2026-10-21T14:13:20Z"
    assert shop.sub(created["subscription_id"]) == created

    [invoice] = shop.invoices()
    assert invoice["subscription_id"] == created["subscription_id"] and invoice["customer_id"] == customer
    assert invoice["state"] == "paid" and invoice["amount"] == 1999 and invoice["currency"] == "EUR"
    assert (invoice["period_start"], invoice["period_end"]) == ("2026-09-21T14:13:20Z", "2026-10-21T14:13:20Z")
    [transaction] = invoice["transactions"]
    assert transaction["state"] == "succeeded" and transaction["amount"] == 1999
    assert transaction["transaction_id"].startswith("txn_")
    assert shop.invoice(invoice["invoice_id"]) == invoice

    user = me(shop)
    created_event = [e for e in shop.timeline(customer) if e["type"] == "subscription.created"]
    assert created_event == [
        {
            "at": "2026-09-21T14:13:20Z",
            "source": "admin",
            "actor": {"type": "user", "id": user["user_id"], "email": "ada@example.com"},
            "type": "subscription.created",
            "details": {"subscription_id": created["subscription_id"], "plan_id": plan},
        }
    ]
    assert shop.events(customer, "invoice.") == ["invoice.paid"]


def test_a_chosen_payment_method_is_charged_rather_than_the_default(shop):
    plan = shop.plan(1999)
    customer = shop.customer()
    shop.card(customer, "tok_fail_default")
    second = shop.card(customer, "tok_visa")
    created = shop.subscription(customer, plan, payment_method_id=second)
    assert created["state"] == "active" and created["payment_method_id"] == second
    other = shop.customer()
    stranger = shop.card(other)
    problem(shop.subscribe(customer, plan, payment_method_id=stranger), 404, "not_found")


def test_a_trial_starts_without_an_invoice(shop, clock):
    plan = shop.plan(1999, trial_days=14)
    customer = shop.paying_customer()
    created = shop.subscription(customer, plan)

    assert created["state"] == "trialing"
    assert created["trial_end"] == "2026-10-05T14:13:20Z"
    assert created["current_period_start"] == "2026-09-21T14:13:20Z"
    assert created["current_period_end"] == created["trial_end"]
    assert shop.invoices() == []
    clock.advance(13 * DAY)
    assert shop.run_job()["trials_ended"] == 0
    assert shop.invoices() == [] and shop.sub(created["subscription_id"])["state"] == "trialing"
    assert shop.events(customer) == ["subscription.created"]


def test_a_trial_needs_no_payment_method_but_a_charge_does(shop):
    trial, paid = shop.plan(trial_days=7), shop.plan()
    customer = shop.customer()
    assert shop.subscription(customer, trial)["payment_method_id"] is None
    problem(shop.subscribe(customer, paid), 422, "payment_method_required")
    assert [s["state"] for s in shop.subscriptions()] == ["trialing"]


def test_a_declined_first_charge_creates_no_subscription_and_keeps_the_failed_invoice(shop):
    plan = shop.plan(1999)
    code = shop.coupon(percent=10, duration="forever")
    customer = shop.paying_customer(token="tok_fail")
    answer = shop.subscribe(customer, plan, coupon_code=code)

    problem(answer, 402, "payment_declined")
    assert shop.subscriptions() == []
    assert shop.subscriptions(f"?customer_id={customer}") == []
    [invoice] = shop.invoices()
    assert answer.body["invoice_id"] == invoice["invoice_id"]
    assert invoice["state"] == "failed" and invoice["amount"] == 1799 and invoice["customer_id"] == customer
    [transaction] = invoice["transactions"]
    assert transaction["state"] == "declined" and transaction["amount"] == 1799
    assert shop.invoice(invoice["invoice_id"])["transactions"] == [transaction]
    assert shop.events(customer, "invoice.") == ["invoice.failed"]
    assert shop.events(customer) == []
    assert shop.redemptions(code) == 0  # given back: nothing was bought with it


def test_unknown_or_archived_plans_and_bad_coupons_are_refused(shop):
    plan = shop.plan()
    customer = shop.paying_customer()
    problem(shop.subscribe(customer, "pln_00000000000000000000000000"), 422, "validation_error")
    problem(shop.subscribe("cus_00000000000000000000000000", plan), 404, "not_found")
    problem(shop.subscribe(customer, plan, coupon_code="NOPE"), 422, "coupon_invalid")
    usd = shop.plan(currency="USD")
    euros_off = shop.coupon(amount=500, currency="EUR", duration="once")
    problem(shop.subscribe(customer, usd, coupon_code=euros_off), 422, "coupon_invalid")
    archived = shop.plan()
    shop.ok(shop.call("DELETE", f"/plans/{archived}"))
    problem(shop.subscribe(customer, archived), 422, "validation_error")
    assert shop.subscriptions() == [] and shop.invoices() == []


def test_add_ons_with_quantities_and_a_coupon_are_on_the_subscription(shop):
    plan = shop.plan(1999)
    seat, support = shop.addon(500, name="Extra seat"), shop.addon(250, name="Support")
    code = shop.coupon(name="Welcome 20", percent=20, duration="periods", periods=3)
    customer = shop.paying_customer()
    created = shop.subscription(
        customer,
        plan,
        addons=[{"addon_id": seat, "quantity": 2}, {"addon_id": support, "quantity": 1}],
        coupon_code=code.lower(),  # codes compare case-insensitively
    )
    assert created["addons"] == [
        {"addon_id": seat, "name": "Extra seat", "amount": 500, "quantity": 2},
        {"addon_id": support, "name": "Support", "amount": 250, "quantity": 1},
    ]
    assert created["discount"]["name"] == "Welcome 20" and created["discount"]["percent"] == 20
    assert created["discount"]["duration"] == "periods"
    assert created["discount"]["periods_left"] == 2  # the first of its three invoices is paid
    assert created["discount"]["coupon_id"] == shop.coupon_ids[code]
    assert shop.redemptions(code) == 1
    [invoice] = shop.invoices()
    assert [(x["description"], x["quantity"], x["amount"]) for x in invoice["lines"]] == [
        ("Gold", 1, 1999),
        ("Extra seat", 2, 1000),
        ("Support", 1, 250),
        ("Welcome 20", 1, -650),  # 20 % of 3249 = 649.8
    ]
    assert invoice["amount"] == 2599


def test_an_add_on_in_another_currency_is_refused(shop):
    plan = shop.plan(currency="EUR")
    dollars = shop.addon(currency="USD")
    problem(shop.subscribe(shop.paying_customer(), plan, addons=[{"addon_id": dollars}]), 422, "validation_error")


def test_a_coupon_is_redeemed_at_most_max_redemptions_times(shop):
    plan = shop.plan()
    code = shop.coupon(percent=50, duration="once")
    shop.ok(shop.call("PATCH", f"/coupons/{shop.coupon_ids[code]}", {"max_redemptions": 1}))
    shop.subscription(shop.paying_customer(), plan, coupon_code=code)
    problem(shop.subscribe(shop.paying_customer(), plan, coupon_code=code), 409, "coupon_exhausted")
    assert shop.redemptions(code) == 1


def _discount_lines(shop: Shop, subscription_id: str) -> list[int]:
    """Each invoice's discount, oldest first (0 when it had none)."""
    return [
        -sum(line["amount"] for line in invoice["lines"] if line["amount"] < 0)
        for invoice in shop.invoices_of(subscription_id)
    ]


def test_a_discount_applies_on_exactly_the_renewals_its_duration_says(shop, clock):
    daily = shop.plan(2000, unit="day")  # daily periods: the same rules as monthly ones, in less time
    daily_trial = shop.plan(2000, unit="day", trial_days=1)
    codes = {
        "once": shop.coupon(percent=10, duration="once"),
        "forever": shop.coupon(percent=10, duration="forever"),
        "periods": shop.coupon(amount=300, currency="EUR", duration="periods", periods=2),
    }
    subs = {
        name: shop.subscription(shop.paying_customer(), daily, coupon_code=code)["subscription_id"]
        for name, code in codes.items()
    }
    once_after_trial = shop.coupon(percent=25, duration="once")
    trial_once = shop.subscription(shop.paying_customer(), daily_trial, coupon_code=once_after_trial)
    assert shop.sub(subs["periods"])["discount"]["periods_left"] == 1
    for when in ("2026-09-22T14:13:20Z", "2026-09-23T14:13:20Z", "2026-09-24T14:13:20Z"):
        move_to(clock, when)
        summary = shop.run_job()
        assert summary["failed"] == 0 and summary["declined"] == 0, summary

    assert _discount_lines(shop, subs["once"]) == [200, 0, 0, 0]
    assert _discount_lines(shop, subs["forever"]) == [200, 200, 200, 200]
    assert _discount_lines(shop, subs["periods"]) == [300, 300, 0, 0]
    assert [i["amount"] for i in shop.invoices_of(subs["periods"])] == [1700, 1700, 2000, 2000]
    # a trial's first charged invoice is the first one a once-discount is for
    assert _discount_lines(shop, trial_once["subscription_id"]) == [500, 0, 0]
    assert shop.sub(subs["once"])["discount"] is None
    assert shop.sub(subs["forever"])["discount"]["duration"] == "forever"
    assert shop.sub(subs["periods"])["discount"] is None
    assert shop.sub(trial_once["subscription_id"])["discount"] is None


# ----------------------------------------------------------------- the state machine

EXPECTED = {
    "trialing": {"cancel": "cancelled", "expire": "expired"},
    "active": {"pause": "paused", "cancel": "cancelled", "expire": "expired"},
    "paused": {"resume": "active", "cancel": "cancelled", "expire": "expired"},
    "cancelled": {"uncancel": "active", "expire": "expired"},
    "expired": {},
}
ACTIONS = ("pause", "resume", "cancel", "uncancel", "expire")
PAST = {"pause": "paused", "resume": "resumed", "cancel": "cancelled", "uncancel": "uncancelled", "expire": "expired"}


def in_state(shop: Shop, state: str, plans: dict[str, str]) -> tuple[str, str]:
    """A new customer's subscription in ``state``: (customer_id, subscription_id)."""
    customer = shop.paying_customer()
    sub = shop.subscription(customer, plans["trial" if state == "trialing" else "plain"])["subscription_id"]
    setup = {"paused": "pause", "cancelled": "cancel", "expired": "expire"}.get(state)
    if setup:
        assert shop.ok(shop.act(sub, setup))["state"] == state
    return customer, sub


def test_every_action_from_every_state(shop):
    plans = {"plain": shop.plan(), "trial": shop.plan(trial_days=14)}
    user = me(shop)
    for state, allowed in EXPECTED.items():
        customer, sub = in_state(shop, state, plans)
        before, events = shop.sub(sub), shop.timeline(customer)
        for action in (a for a in ACTIONS if a not in allowed):
            problem(shop.act(sub, action), 409, "invalid_state_transition")
            assert shop.sub(sub) == before, (state, action)
        assert shop.timeline(customer) == events, state  # a refused action leaves no event
        for action, after in allowed.items():
            customer, sub = in_state(shop, state, plans)
            events = shop.timeline(customer)
            answer = shop.act(sub, action)
            assert answer.status == 200, (state, action, answer.body)
            assert answer.body["state"] == after, (state, action)
            assert shop.sub(sub) == answer.body
            [event] = shop.timeline(customer)[len(events) :]
            assert event["type"] == f"subscription.{PAST[action]}"
            assert event["source"] == "admin"
            assert event["actor"] == {"type": "user", "id": user["user_id"], "email": "ada@example.com"}
            assert event["details"]["subscription_id"] == sub
            assert event["details"]["before"]["state"] == state and event["details"]["after"]["state"] == after


def test_actions_on_an_unknown_subscription_are_404(shop):
    for action in ACTIONS:
        problem(shop.act("sub_00000000000000000000000000", action), 404, "not_found")


def test_pause_with_and_without_resume_at(shop, clock):
    plan = shop.plan()
    sub = shop.subscription(shop.paying_customer(), plan)["subscription_id"]
    paused = shop.ok(shop.act(sub, "pause"))
    assert paused["state"] == "paused" and paused["paused_at"] == "2026-09-21T14:13:20Z"
    assert paused["resume_at"] is None

    other = shop.subscription(shop.paying_customer(), plan)["subscription_id"]
    problem(shop.act(other, "pause", {"resume_at": "2026-09-20T00:00:00Z"}), 422, "validation_error")
    problem(shop.act(other, "pause", {"resume_at": "next week"}), 422, "validation_error")
    assert shop.sub(other)["state"] == "active"
    paused = shop.ok(shop.act(other, "pause", {"resume_at": "2026-10-01T08:00:00Z"}))
    assert paused["state"] == "paused" and paused["resume_at"] == "2026-10-01T08:00:00Z"


def test_a_paused_subscription_is_not_billed_and_resuming_after_its_period_starts_a_new_one(shop, clock):
    plan = shop.plan(1999)
    customer = shop.paying_customer()
    sub = shop.subscription(customer, plan)["subscription_id"]
    clock.advance(5 * DAY)
    shop.ok(shop.act(sub, "pause"))
    move_to(clock, "2026-11-02T09:30:00Z")  # past the paid period's end (21 October)
    summary = shop.run_job()
    assert summary["renewed"] == 0 and summary["failed"] == 0
    assert len(shop.invoices()) == 1 and shop.sub(sub)["state"] == "paused"

    resumed = shop.ok(shop.act(sub, "resume"))
    assert resumed["state"] == "active" and resumed["paused_at"] is None
    assert resumed["current_period_start"] == "2026-11-02T09:30:00Z"
    assert resumed["current_period_end"] == "2026-12-02T09:30:00Z"
    _first, second = shop.invoices_of(sub)
    assert second["state"] == "paid" and second["amount"] == 1999
    assert (second["period_start"], second["period_end"]) == ("2026-11-02T09:30:00Z", "2026-12-02T09:30:00Z")
    assert [t["state"] for t in second["transactions"]] == ["succeeded"]
    assert shop.events(customer) == ["subscription.created", "subscription.paused", "subscription.resumed"]


def test_resuming_within_the_paid_period_keeps_that_period(shop, clock):
    plan = shop.plan(1999)
    sub = shop.subscription(shop.paying_customer(), plan)["subscription_id"]
    clock.advance(3 * DAY)
    shop.ok(shop.act(sub, "pause"))
    clock.advance(4 * DAY)
    resumed = shop.ok(shop.act(sub, "resume"))
    assert resumed["state"] == "active"
    assert resumed["current_period_end"] == "2026-10-21T14:13:20Z"
    assert len(shop.invoices()) == 1


def test_cancel_at_period_end_runs_until_then(shop, clock):
    plan, trial_plan = shop.plan(), shop.plan(trial_days=14)
    customer = shop.paying_customer()
    sub = shop.subscription(customer, plan)["subscription_id"]
    clock.advance(DAY)
    cancelled = shop.ok(shop.act(sub, "cancel", {"reason": "too_expensive", "comment": "Cheaper elsewhere"}))
    assert cancelled["state"] == "cancelled"
    assert cancelled["cancelled_at"] == "2026-09-22T14:13:20Z"
    assert cancelled["ends_at"] == cancelled["current_period_end"] == "2026-10-21T14:13:20Z"
    assert cancelled["ended_at"] is None
    [event] = [e for e in shop.timeline(customer) if e["type"] == "subscription.cancelled"]
    assert event["details"]["after"] == {"state": "cancelled", "ends_at": "2026-10-21T14:13:20Z"}
    assert event["details"]["reason"] == "too_expensive" and event["details"]["comment"] == "Cheaper elsewhere"

    trialing = shop.subscription(shop.paying_customer(), trial_plan)
    cancelled = shop.ok(shop.act(trialing["subscription_id"], "cancel", {"at": "period_end"}))
    assert cancelled["ends_at"] == trialing["trial_end"]


def test_cancel_now_ends_it_at_once(shop, clock):
    sub = shop.subscription(shop.paying_customer(), shop.plan())["subscription_id"]
    clock.advance(DAY)
    ended = shop.ok(shop.act(sub, "cancel", {"at": "now"}))
    assert ended["state"] == "expired"
    assert ended["ends_at"] == ended["ended_at"] == ended["cancelled_at"] == "2026-09-22T14:13:20Z"
    problem(shop.act(sub, "uncancel"), 409, "invalid_state_transition")
    problem(shop.act(sub, "expire"), 409, "invalid_state_transition")


def test_uncancel_before_ends_at_renews_as_before(shop, clock):
    customer = shop.paying_customer()
    sub = shop.subscription(customer, shop.plan())["subscription_id"]
    shop.ok(shop.act(sub, "cancel"))
    clock.advance(10 * DAY)
    back = shop.ok(shop.act(sub, "uncancel"))
    assert back["state"] == "active" and back["ends_at"] is None and back["cancelled_at"] is None
    move_to(clock, "2026-10-21T14:13:20Z")
    summary = shop.run_job()
    assert (summary["renewed"], summary["expired"]) == (1, 0)
    assert shop.sub(sub)["state"] == "active" and len(shop.invoices_of(sub)) == 2


def test_uncancel_of_a_cancelled_trial_or_pause_returns_to_it(shop):
    trialing = shop.subscription(shop.paying_customer(), shop.plan(trial_days=14))["subscription_id"]
    shop.ok(shop.act(trialing, "cancel"))
    assert shop.ok(shop.act(trialing, "uncancel"))["state"] == "trialing"
    paused = shop.subscription(shop.paying_customer(), shop.plan())["subscription_id"]
    shop.ok(shop.act(paused, "pause"))
    shop.ok(shop.act(paused, "cancel"))
    assert shop.ok(shop.act(paused, "uncancel"))["state"] == "paused"


def test_uncancel_at_or_after_ends_at_is_refused(shop, clock):
    sub = shop.subscription(shop.paying_customer(), shop.plan())["subscription_id"]
    ends_at = shop.ok(shop.act(sub, "cancel"))["ends_at"]
    move_to(clock, ends_at)  # the job has not run yet
    problem(shop.act(sub, "uncancel"), 409, "invalid_state_transition")
    assert shop.run_job()["expired"] == 1
    assert shop.sub(sub)["state"] == "expired"


def test_expire_ends_it_now(shop, clock):
    customer = shop.paying_customer()
    sub = shop.subscription(customer, shop.plan())["subscription_id"]
    clock.advance(2 * DAY)
    expired = shop.ok(shop.act(sub, "expire"))
    assert expired["state"] == "expired" and expired["ended_at"] == "2026-09-23T14:13:20Z"
    move_to(clock, "2026-10-21T14:13:20Z")
    assert shop.run_job()["renewed"] == 0
    assert len(shop.invoices()) == 1


# ----------------------------------------------------------------- Idempotency-Key


def test_the_same_key_and_body_replays_a_creation_without_a_second_charge(shop):
    plan = shop.plan(1999)
    customer = shop.paying_customer()
    first = shop.subscribe(customer, plan, key="create-1")
    again = shop.subscribe(customer, plan, key="create-1")
    assert first.status == again.status == 201
    assert again.body == first.body
    assert len(shop.subscriptions()) == 1
    [invoice] = shop.invoices()
    assert len(invoice["transactions"]) == 1
    assert shop.events(customer) == ["subscription.created"]

    problem(shop.subscribe(customer, shop.plan(500), key="create-1"), 422, "idempotency_key_reused")
    assert len(shop.subscriptions()) == 1 and len(shop.invoices()) == 1
    assert shop.subscribe(customer, plan, key="create-2").status == 201  # another key: another one
    assert len(shop.subscriptions()) == 2


def test_the_same_key_replays_an_action_without_a_second_event(shop, clock):
    customer = shop.paying_customer()
    sub = shop.subscription(customer, shop.plan())["subscription_id"]
    first = shop.act(sub, "cancel", {"at": "period_end"}, key="cancel-1")
    again = shop.act(sub, "cancel", {"at": "period_end"}, key="cancel-1")
    assert first.status == again.status == 200 and again.body == first.body
    problem(shop.act(sub, "cancel", {"at": "now"}, key="cancel-1"), 422, "idempotency_key_reused")
    problem(shop.act(sub, "cancel", key="cancel-2"), 409, "invalid_state_transition")  # a new request
    assert shop.sub(sub)["state"] == "cancelled"
    assert shop.events(customer) == ["subscription.created", "subscription.cancelled"]


def test_the_same_key_replays_a_resume_without_a_second_charge(shop, clock):
    customer = shop.paying_customer()
    sub = shop.subscription(customer, shop.plan(1999))["subscription_id"]
    shop.ok(shop.act(sub, "pause", key="pause-1"))
    shop.ok(shop.act(sub, "pause", key="pause-1"))  # no body, the same key: the first answer
    move_to(clock, "2026-11-01T00:00:00Z")
    first = shop.act(sub, "resume", key="resume-1")
    again = shop.act(sub, "resume", key="resume-1")
    assert first.status == again.status == 200 and again.body == first.body
    assert len(shop.invoices_of(sub)) == 2
    assert shop.events(customer) == ["subscription.created", "subscription.paused", "subscription.resumed"]


def test_the_same_key_after_a_declined_first_charge_charges_no_second_time(shop):
    """The Idempotency-Key rule: the same key within 24 h returns the first response and repeats no
    side effect. A declined first charge has one (a failed invoice, a declined transaction)."""
    plan = shop.plan(1999)
    customer = shop.paying_customer(token="tok_fail")
    first = shop.subscribe(customer, plan, key="declined-1")
    problem(first, 402, "payment_declined")
    again = shop.subscribe(customer, plan, key="declined-1")
    problem(again, 402, "payment_declined")
    assert again.body["invoice_id"] == first.body["invoice_id"]
    assert len(shop.invoices()) == 1


def test_the_same_key_after_a_lost_gateway_answer_charges_no_second_time(shop, clock):
    """A client that got 503 retries with the same key, as it should: the charge that did happen
    (the gateway charged, then its answer was lost) must not be made a second time."""
    plan = shop.plan(1999)
    customer = shop.paying_customer(token="tok_timeout")
    first = shop.subscribe(customer, plan, key="lost-1")
    problem(first, 503, "service_unavailable")
    assert first.headers.get("Retry-After") == "60"
    clock.advance(5)
    shop.subscribe(customer, plan, key="lost-1")
    clock.advance(120)
    shop.run_job()
    assert len(shop.invoices()) == 1
    assert len(shop.subscriptions()) == 1


def test_a_lost_gateway_answer_is_recovered_by_the_job(shop, clock):
    plan = shop.plan(1999)
    customer = shop.paying_customer(token="tok_timeout")
    answer = shop.subscribe(customer, plan)
    problem(answer, 503, "service_unavailable")
    [invoice] = shop.invoices()
    assert answer.body["invoice_id"] == invoice["invoice_id"] and invoice["state"] == "pending"
    assert shop.subscriptions() == []
    clock.advance(30)
    summary = shop.run_job()  # its request may still be waiting: left alone
    assert summary["charges_recovered"] == 0 and shop.subscriptions() == []
    clock.advance(31)
    summary = shop.run_job()
    assert summary["charges_recovered"] == 1 and summary["paid"] == 1
    [sub] = shop.subscriptions()
    assert sub["state"] == "active" and sub["customer_id"] == customer
    assert sub["current_period_start"] == "2026-09-21T14:13:20Z"
    [invoice] = shop.invoices()
    assert invoice["state"] == "paid" and [t["state"] for t in invoice["transactions"]] == ["succeeded"]
    assert shop.events(customer) == ["subscription.created"]
    assert shop.run_job()["charges_recovered"] == 0


# ----------------------------------------------------------------- lists and tenants


def test_list_filters_by_customer_and_state(shop, clock):
    plan, trial = shop.plan(), shop.plan(trial_days=30)
    ada, bob = shop.paying_customer(), shop.paying_customer()
    a1 = shop.subscription(ada, plan)["subscription_id"]
    clock.advance(1)
    a2 = shop.subscription(ada, plan)["subscription_id"]
    clock.advance(1)
    b1 = shop.subscription(bob, trial)["subscription_id"]
    shop.ok(shop.act(a2, "cancel"))

    def ids(query: str) -> list[str]:
        return [s["subscription_id"] for s in shop.subscriptions(query)]

    assert ids("") == [b1, a2, a1]  # newest first
    assert ids(f"?customer_id={ada}") == [a2, a1]
    assert ids(f"?customer_id={bob}") == [b1]
    assert ids("?state=active") == [a1]
    assert ids("?state=cancelled") == [a2]
    assert ids("?state=trialing") == [b1]
    assert ids("?state=expired") == []
    assert ids(f"?customer_id={ada}&state=cancelled") == [a2]
    assert ids("?customer_id=cus_00000000000000000000000000") == []
    problem(shop.get("?state=gone".join(["/subscriptions", ""])), 422, "validation_error")
    assert ids("?limit=2") == [b1, a2]


def test_list_pages_with_a_cursor(shop, clock):
    plan = shop.plan()
    customer = shop.paying_customer()
    made = []
    for _ in range(5):
        made.append(shop.subscription(customer, plan)["subscription_id"])
        clock.advance(1)
    seen, cursor = [], None
    while True:
        page = shop.ok(shop.get("/subscriptions?limit=2" + (f"&cursor={cursor}" if cursor else "")))
        seen += [s["subscription_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made[::-1]


def test_another_tenants_subscription_is_404(shop, api, person, login):
    customer = shop.paying_customer()
    sub = shop.subscription(customer, shop.plan())["subscription_id"]
    [invoice] = shop.invoices()
    theirs = open_shop(api, person, login, shop.clock, "mallory@example.com", "Other Ltd")
    problem(theirs.get(f"/subscriptions/{sub}"), 404, "not_found")
    for action in ACTIONS:
        problem(theirs.act(sub, action), 404, "not_found")
    problem(theirs.get(f"/invoices/{invoice['invoice_id']}"), 404, "not_found")
    assert theirs.subscriptions(f"?customer_id={customer}") == []
    assert theirs.invoices(f"?customer_id={customer}") == []
    assert theirs.invoices(f"?subscription_id={sub}") == []
    problem(theirs.subscribe(customer, theirs.plan()), 404, "not_found")
    # and their own path with our account is not theirs to read
    problem(api.get(f"{shop.base}/subscriptions/{sub}", token=theirs.token), 404, "not_found")
    assert shop.sub(sub)["state"] == "active"


# ----------------------------------------------------------------- calendar periods


def test_a_monthly_subscription_from_31_january_renews_on_28_february_then_31_march(shop, clock):
    shop.never_expire_passwords()
    move_to(clock, "2027-01-31T10:00:00Z")
    sub = shop.subscription(shop.paying_customer(), shop.plan())["subscription_id"]
    assert shop.sub(sub)["current_period_end"] == "2027-02-28T10:00:00Z"
    for when, end in (
        ("2027-02-28T10:00:00Z", "2027-03-31T10:00:00Z"),
        ("2027-03-31T10:00:00Z", "2027-04-30T10:00:00Z"),
    ):
        move_to(clock, when)
        assert shop.run_job()["renewed"] == 1
        current = shop.sub(sub)
        assert (current["current_period_start"], current["current_period_end"]) == (when, end)
    periods = [(i["period_start"], i["period_end"]) for i in shop.invoices_of(sub)]
    assert periods == [
        ("2027-01-31T10:00:00Z", "2027-02-28T10:00:00Z"),
        ("2027-02-28T10:00:00Z", "2027-03-31T10:00:00Z"),
        ("2027-03-31T10:00:00Z", "2027-04-30T10:00:00Z"),
    ]


def test_in_a_leap_year_31_january_renews_on_29_february(shop, clock):
    shop.never_expire_passwords()
    move_to(clock, "2028-01-31T10:00:00Z")
    sub = shop.subscription(shop.paying_customer(), shop.plan())["subscription_id"]
    assert shop.sub(sub)["current_period_end"] == "2028-02-29T10:00:00Z"
    move_to(clock, "2028-02-29T10:00:00Z")
    assert shop.run_job()["renewed"] == 1
    assert shop.sub(sub)["current_period_end"] == "2028-03-31T10:00:00Z"


def test_periods_follow_the_accounts_time_zone_at_month_ends(shop, api, person, login, clock):
    berlin = open_shop(api, person, login, clock, "berlin@example.com", "Berlin GmbH")
    shop.never_expire_passwords()
    berlin.never_expire_passwords()
    assert berlin.settings(timezone="Europe/Berlin")["timezone"] == "Europe/Berlin"
    move_to(clock, "2027-01-30T23:30:00Z")  # 30 January in UTC, already 31 January in Berlin
    utc_sub = shop.subscription(shop.paying_customer(), shop.plan())["subscription_id"]
    berlin_sub = berlin.subscription(berlin.paying_customer(), berlin.plan())["subscription_id"]
    # UTC: day 30, clamped to 28 February; Berlin: day 31, clamped to 28 February 00:30 CET
    assert shop.sub(utc_sub)["current_period_end"] == "2027-02-28T23:30:00Z"
    assert berlin.sub(berlin_sub)["current_period_end"] == "2027-02-27T23:30:00Z"

    move_to(clock, "2027-02-27T23:30:00Z")
    assert shop.run_job()["renewed"] == 1  # Berlin's only
    assert shop.sub(utc_sub)["current_period_end"] == "2027-02-28T23:30:00Z"
    # 31 March 00:30 CEST (summer time from 28 March)
    assert berlin.sub(berlin_sub)["current_period_end"] == "2027-03-30T22:30:00Z"
    move_to(clock, "2027-02-28T23:30:00Z")
    assert shop.run_job()["renewed"] == 1
    assert shop.sub(utc_sub)["current_period_end"] == "2027-03-30T23:30:00Z"
