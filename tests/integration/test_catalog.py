"""The product catalog: plans, add-ons, discounts and coupons. Creating, reading, listing page by
page, changing and archiving them; handles unique per account and kind, coupon codes unique
case-insensitively; coupons redeemed by new subscriptions within their limits; who may read and who
may write; and races on the invariants."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest

from portico.billing import catalog as catalog_service
from portico.billing.records import Coupon
from tests.integration.flows import cheap_argon2, fresh_table, template_env  # noqa: F401  (one stack per module)
from tests.integration.support import Api

NEW_PASSWORD = "Copper-Meadow-Falcon-93"

PLAN = {"handle": "gold", "name": "Gold", "amount": 1999, "currency": "EUR", "interval_unit": "month"}
ADDON = {"handle": "seat", "name": "Extra seat", "amount": 500, "currency": "EUR"}
DISCOUNT = {"handle": "ten-off", "name": "10% off", "percent": 10, "duration": "forever"}


@pytest.fixture(autouse=True)
def cheap_hashes():
    with cheap_argon2():
        yield


@pytest.fixture(scope="module")
def handlers(template_env):
    return Api(template_env)


@pytest.fixture
def api(handlers, clock):
    """The handlers loaded once for the module (the table is emptied before each test)."""
    return handlers


@pytest.fixture
def owner(person, login):
    ada = person()
    return ada, login(ada)


def join(api, outbox, owner, email: str, rights=(), name="Bob Builder") -> str:
    """Invite ``email`` with ``rights`` and accept as a new person; their session token."""
    ada, token = owner
    invited = api.post(f"/accounts/{ada.account_id}/users", {"email": email, "rights": list(rights)}, token=token)
    assert invited.status == 201, invited.body
    [message] = [m for m in outbox(email) if "accept-invitation?token=" in m["text"]][:1]
    secret = re.search(r"accept-invitation\?token=([A-Za-z0-9_\-]+)", message["text"]).group(1)
    accepted = api.post(f"/invitations/{secret}/accept", {"name": name, "password": NEW_PASSWORD})
    assert accepted.status == 201, accepted.body
    logged_in = api.post("/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert logged_in.status == 200, logged_in.body
    return logged_in.body["token"]


def base(who) -> str:
    return f"/accounts/{who.account_id}"


def create(api, owner, kind: str, body: dict, expect: int = 201) -> dict:
    ada, token = owner
    answer = api.post(f"{base(ada)}/{kind}", body, token=token)
    assert answer.status == expect, answer.body
    return answer.body


def at_once(*requests):
    """Send the requests from threads released together; their answers, in order."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def send(i, request):
        barrier.wait()
        try:
            answers[i] = request()
        except BaseException as failed:  # re-raised in the test's thread
            answers[i] = failed

    threads = [threading.Thread(target=send, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


def outcomes(answers) -> Counter:
    return Counter(f"{a.status} {a.body['code']}" if a.status >= 400 else str(a.status) for a in answers)


class Shop:
    """A customer with a good card in the owner's account, to redeem coupons with."""

    def __init__(self, api, owner, card_token: str = "tok_visa"):
        self.api, self.owner = api, owner
        ada, token = owner
        customer = api.post(f"{base(ada)}/customers", {"email": "grace@example.com", "name": "Grace"}, token=token)
        assert customer.status == 201, customer.body
        self.customer_id = customer.body["customer_id"]
        card = {"token": card_token, "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
        method = api.post(f"{base(ada)}/customers/{self.customer_id}/payment-methods", {"card": card}, token=token)
        assert method.status == 201, method.body

    def subscribe(self, plan_id: str, coupon_code: str | None = None, **more):
        ada, token = self.owner
        body = {"customer_id": self.customer_id, "plan_id": plan_id, **more}
        if coupon_code is not None:
            body["coupon_code"] = coupon_code
        return self.api.post(f"{base(ada)}/subscriptions", body, token=token)


# ----------------------------------------------------------------- the life of an item


def test_a_plan_is_created_read_listed_changed_and_archived(api, owner, clock):
    ada, token = owner
    created = create(api, owner, "plans", {**PLAN, "description": "Everything", "trial_days": 14})
    plan_id = created["plan_id"]
    assert plan_id.startswith("pln_")
    assert created == {
        "plan_id": plan_id,
        "handle": "gold",
        "name": "Gold",
        "description": "Everything",
        "amount": 1999,
        "currency": "EUR",
        "interval_unit": "month",
        "interval_count": 1,
        "trial_days": 14,
        "portal_orderable": False,
        "requires_verified_phone": False,
        "state": "active",
        "created_at": "2026-09-21T14:13:20Z",
    }
    path = f"{base(ada)}/plans/{plan_id}"
    assert api.get(path, token=token).body == created
    assert api.get(f"{base(ada)}/plans", token=token).body == {"items": [created], "next_cursor": None}

    clock.advance(60)
    changed = api.patch(path, {"name": "Gold 2026", "trial_days": None, "portal_orderable": True}, token=token)
    assert changed.status == 200, changed.body
    assert changed.body == {**created, "name": "Gold 2026", "trial_days": None, "portal_orderable": True}
    for frozen in [{"amount": 1}, {"currency": "USD"}, {"interval_unit": "year"}, {"handle": "platinum"}]:
        answer = api.patch(path, frozen, token=token)  # the price and period are what was sold
        assert answer.status == 422 and answer.body["code"] == "validation_error", (frozen, answer.body)
    nameless = api.patch(path, {"name": None}, token=token)
    assert nameless.status == 422 and nameless.body["code"] == "validation_error"

    archived = api.delete(path, token=token)
    assert archived.status == 200 and archived.body == {**changed.body, "state": "archived"}
    assert api.get(path, token=token).body["state"] == "archived"  # still readable
    assert [p["state"] for p in api.get(f"{base(ada)}/plans", token=token).body["items"]] == ["archived"]
    again = api.delete(path, token=token)
    assert again.status == 200 and again.body["state"] == "archived"

    log = api.get(f"{base(ada)}/audit-log", token=token).body["items"]
    actions = [r["action"] for r in log if r["action"].startswith("catalog.")]
    assert sorted(actions) == ["catalog.archived", "catalog.created", "catalog.updated"]
    [update] = [r for r in log if r["action"] == "catalog.updated"]
    assert update["target"] == {"kind": "plan", "id": plan_id}
    assert update["details"] == {
        "before": {"name": "Gold", "trial_days": 14, "portal_orderable": False},
        "after": {"name": "Gold 2026", "trial_days": None, "portal_orderable": True},
    }


def test_addons_discounts_and_coupons_have_the_same_life(api, owner):
    ada, token = owner
    addon = create(api, owner, "addons", ADDON)
    discount = create(api, owner, "discounts", DISCOUNT)
    coupon = create(api, owner, "coupons", {"code": "SPRING", "discount_id": discount["discount_id"]})
    assert addon["addon_id"].startswith("add_") and addon["state"] == "active"
    assert discount["discount_id"].startswith("dsc_")
    assert discount["percent"] == 10 and discount["amount"] is None and discount["currency"] is None
    assert coupon["coupon_id"].startswith("cpn_")
    assert coupon["code"] == "SPRING" and coupon["redemptions"] == 0 and coupon["max_redemptions"] is None
    for kind, item, id_field, change in [
        ("addons", addon, "addon_id", {"name": "Seat"}),
        ("discounts", discount, "discount_id", {"name": "Ten off"}),
        ("coupons", coupon, "coupon_id", {"max_redemptions": 100, "valid_until": "2027-01-01T00:00:00Z"}),
    ]:
        path = f"{base(ada)}/{kind}/{item[id_field]}"
        assert api.get(path, token=token).body == item
        changed = api.patch(path, change, token=token)
        assert changed.status == 200 and changed.body == {**item, **change}, changed.body
        archived = api.delete(path, token=token)
        assert archived.status == 200 and archived.body == {**item, **change, "state": "archived"}
        assert api.get(path, token=token).body["state"] == "archived"
        [listed] = api.get(f"{base(ada)}/{kind}", token=token).body["items"]
        assert listed["state"] == "archived"
    frozen = api.patch(f"{base(ada)}/addons/{addon['addon_id']}", {"amount": 1}, token=token)
    assert frozen.status == 422
    frozen = api.patch(f"{base(ada)}/discounts/{discount['discount_id']}", {"percent": 100}, token=token)
    assert frozen.status == 422


def test_unknown_items_and_items_of_other_kinds_or_accounts_are_not_found(api, owner, person, login):
    ada, token = owner
    plan = create(api, owner, "plans", PLAN)
    addon = create(api, owner, "addons", ADDON)
    eve = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    eve_token = login(eve)
    create(api, (eve, eve_token), "plans", PLAN)  # the same handle in another account is fine
    for path in [
        f"{base(eve)}/plans/{plan['plan_id']}",
        f"{base(eve)}/addons/{addon['addon_id']}",
        f"{base(eve)}/plans/{addon['addon_id']}",
        f"{base(eve)}/plans/pln_doesnotexist",
    ]:
        for answer in [
            api.get(path, token=eve_token),
            api.patch(path, {"name": "Mine"}, token=eve_token),
            api.delete(path, token=eve_token),
        ]:
            assert answer.status == 404 and answer.body["code"] == "not_found", (path, answer.body)
    assert api.get(f"{base(ada)}/plans/{addon['addon_id']}", token=token).status == 404
    assert api.get(f"{base(ada)}/plans/{plan['plan_id']}", token=token).body == plan  # untouched
    for path in [f"{base(ada)}/plans", f"{base(ada)}/plans/{plan['plan_id']}"]:
        assert api.get(path, token=eve_token).status == 404  # another tenant's account


# ----------------------------------------------------------------- what a body must be


def test_plans_and_addons_are_validated(api, owner):
    for body in [
        {**PLAN, "handle": ""},
        {**PLAN, "handle": "with space"},
        {**PLAN, "handle": "-leading-dash"},
        {**PLAN, "handle": "x" * 65},
        {**PLAN, "name": "Gold\nBcc: x@example.com"},
        {**PLAN, "amount": -1},
        {**PLAN, "amount": 19.99},
        {**PLAN, "amount": "1999"},
        {**PLAN, "amount": 10**12 + 1},
        {**PLAN, "currency": "eur"},
        {**PLAN, "currency": "XAU"},
        {**PLAN, "interval_unit": "week"},
        {**PLAN, "interval_count": 0},
        {**PLAN, "trial_days": 0},
        {**PLAN, "state": "archived"},
        {**PLAN, "plan_id": "pln_chosen"},
        {k: v for k, v in PLAN.items() if k != "amount"},
    ]:
        answer = api.post(f"{base(owner[0])}/plans", body, token=owner[1])
        assert answer.status == 422 and answer.body["code"] == "validation_error", (body, answer.body)
    for body in [
        {**ADDON, "currency": "EURO"},
        {**ADDON, "amount": -5},
        {k: v for k, v in ADDON.items() if k != "name"},
    ]:
        answer = api.post(f"{base(owner[0])}/addons", body, token=owner[1])
        assert answer.status == 422, (body, answer.body)
    assert create(api, owner, "plans", {**PLAN, "currency": "JPY", "amount": 1500})["amount"] == 1500
    assert (
        create(api, owner, "plans", {**PLAN, "handle": "kwd", "currency": "KWD", "amount": 1250})["currency"] == "KWD"
    )
    assert api.get(f"{base(owner[0])}/addons", token=owner[1]).body["items"] == []


def test_a_discount_has_exactly_one_of_percent_and_amount(api, owner):
    ada, token = owner
    for body in [
        {**DISCOUNT, "amount": 500, "currency": "EUR"},  # both
        {k: v for k, v in DISCOUNT.items() if k != "percent"},  # neither
        {**{k: v for k, v in DISCOUNT.items() if k != "percent"}, "amount": 500},  # an amount without currency
        {**DISCOUNT, "currency": "EUR"},  # a percent with a currency
        {**DISCOUNT, "percent": 0},
        {**DISCOUNT, "percent": 100.01},
        {**DISCOUNT, "percent": 12.345},
        {**DISCOUNT, "percent": None},
        {**DISCOUNT, "duration": "periods"},  # how many periods?
        {**DISCOUNT, "periods": 3},  # periods only with duration "periods"
        {**DISCOUNT, "duration": "sometimes"},
    ]:
        answer = api.post(f"{base(ada)}/discounts", body, token=token)
        assert answer.status == 422 and answer.body["code"] == "validation_error", (body, answer.body)
    assert api.get(f"{base(ada)}/discounts", token=token).body["items"] == []
    fixed = create(
        api,
        owner,
        "discounts",
        {"handle": "five", "name": "5 off", "amount": 500, "currency": "EUR", "duration": "periods", "periods": 3},
    )
    assert (fixed["percent"], fixed["amount"], fixed["currency"], fixed["periods"]) == (None, 500, "EUR", 3)
    exact = create(api, owner, "discounts", {**DISCOUNT, "handle": "odd", "percent": 12.5, "duration": "once"})
    assert exact["percent"] == 12.5


# ----------------------------------------------------------------- handles and codes


def test_handles_are_unique_per_account_and_kind(api, owner, person, login, table_items):
    ada, token = owner
    first = create(api, owner, "plans", PLAN)
    before = table_items()
    taken = api.post(f"{base(ada)}/plans", {**PLAN, "name": "Gold again", "amount": 2999}, token=token)
    assert taken.status == 409 and taken.body["code"] == "handle_taken"
    assert table_items() == before  # nothing written
    assert create(api, owner, "addons", {**ADDON, "handle": "gold"})["handle"] == "gold"  # another kind
    assert create(api, owner, "discounts", {**DISCOUNT, "handle": "gold"})["handle"] == "gold"

    api.delete(f"{base(ada)}/plans/{first['plan_id']}", token=token)
    still = api.post(f"{base(ada)}/plans", PLAN, token=token)  # archiving frees no handle
    assert still.status == 409 and still.body["code"] == "handle_taken"
    addon_taken = api.post(f"{base(ada)}/addons", {**ADDON, "handle": "gold"}, token=token)
    assert addon_taken.status == 409 and addon_taken.body["code"] == "handle_taken"

    eve = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    elsewhere = create(api, (eve, login(eve)), "plans", PLAN)
    assert elsewhere["plan_id"] != first["plan_id"]
    assert [p["plan_id"] for p in api.get(f"{base(ada)}/plans", token=token).body["items"]] == [first["plan_id"]]


def test_coupon_codes_are_unique_case_insensitively(api, owner, person, login):
    ada, token = owner
    discount = create(api, owner, "discounts", DISCOUNT)
    first = create(api, owner, "coupons", {"code": "Spring-2026", "discount_id": discount["discount_id"]})
    assert first["code"] == "Spring-2026"  # as the merchant spelled it
    for code in ["Spring-2026", "SPRING-2026", "spring-2026", " spring-2026 "]:
        again = api.post(f"{base(ada)}/coupons", {"code": code, "discount_id": discount["discount_id"]}, token=token)
        assert again.status == 409 and again.body["code"] == "handle_taken", (code, again.body)
    for code in ["ab", "has space", "semi;colon", "x" * 65, "spring\u20102026"]:
        bad = api.post(f"{base(ada)}/coupons", {"code": code, "discount_id": discount["discount_id"]}, token=token)
        assert bad.status == 422, (code, bad.body)
    assert len(api.get(f"{base(ada)}/coupons", token=token).body["items"]) == 1

    eve = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    eve_owner = (eve, login(eve))
    borrowed = api.post(
        f"{base(eve)}/coupons", {"code": "MINE", "discount_id": discount["discount_id"]}, token=eve_owner[1]
    )
    assert borrowed.status == 422, borrowed.body  # another account's discount is no discount of hers
    eve_discount = create(api, eve_owner, "discounts", DISCOUNT)
    create(api, eve_owner, "coupons", {"code": "SPRING-2026", "discount_id": eve_discount["discount_id"]})


def test_a_coupon_needs_an_active_discount_of_the_account(api, owner):
    ada, token = owner
    discount = create(api, owner, "discounts", DISCOUNT)
    api.delete(f"{base(ada)}/discounts/{discount['discount_id']}", token=token)
    for discount_id in [discount["discount_id"], "dsc_doesnotexist"]:
        answer = api.post(f"{base(ada)}/coupons", {"code": "LATE", "discount_id": discount_id}, token=token)
        assert answer.status == 422, answer.body
    assert api.get(f"{base(ada)}/coupons", token=token).body["items"] == []


# ----------------------------------------------------------------- archived items and coupons in use


def test_archived_items_cannot_be_used_for_new_subscriptions(api, owner):
    ada, token = owner
    shop = Shop(api, owner)
    plan = create(api, owner, "plans", PLAN)
    addon = create(api, owner, "addons", ADDON)
    discount = create(api, owner, "discounts", DISCOUNT)
    create(api, owner, "coupons", {"code": "TEN", "discount_id": discount["discount_id"]})
    sold = shop.subscribe(plan["plan_id"], "ten", addons=[{"addon_id": addon["addon_id"], "quantity": 2}])
    assert sold.status == 201, sold.body
    assert sold.body["discount"]["discount_id"] == discount["discount_id"]

    api.delete(f"{base(ada)}/discounts/{discount['discount_id']}", token=token)
    refused = shop.subscribe(plan["plan_id"], "TEN")  # the coupon is active, its discount is not
    assert refused.status == 422 and refused.body["code"] == "coupon_invalid", refused.body
    api.delete(f"{base(ada)}/addons/{addon['addon_id']}", token=token)
    refused = shop.subscribe(plan["plan_id"], addons=[{"addon_id": addon["addon_id"]}])
    assert refused.status == 422, refused.body
    api.delete(f"{base(ada)}/plans/{plan['plan_id']}", token=token)
    refused = shop.subscribe(plan["plan_id"])
    assert refused.status == 422, refused.body

    # what already uses them still shows them
    existing = api.get(f"{base(ada)}/subscriptions/{sold.body['subscription_id']}", token=token).body
    assert existing["state"] == "active" and existing["plan"]["name"] == "Gold"
    assert existing["addons"] == sold.body["addons"] and existing["discount"] == sold.body["discount"]
    listed = api.get(f"{base(ada)}/subscriptions", token=token).body["items"]
    assert [s["subscription_id"] for s in listed] == [sold.body["subscription_id"]]


def test_an_archived_coupon_is_invalid(api, owner):
    ada, token = owner
    shop = Shop(api, owner)
    plan = create(api, owner, "plans", PLAN)
    discount = create(api, owner, "discounts", DISCOUNT)
    coupon = create(api, owner, "coupons", {"code": "TEN", "discount_id": discount["discount_id"]})
    api.delete(f"{base(ada)}/coupons/{coupon['coupon_id']}", token=token)
    refused = shop.subscribe(plan["plan_id"], "TEN")
    assert refused.status == 422 and refused.body["code"] == "coupon_invalid"
    unknown = shop.subscribe(plan["plan_id"], "NOPE")
    assert unknown.status == 422 and unknown.body["code"] == "coupon_invalid"
    assert api.get(f"{base(ada)}/subscriptions", token=token).body["items"] == []


def test_a_coupon_is_redeemed_up_to_its_maximum(api, owner):
    ada, token = owner
    shop = Shop(api, owner)
    plan = create(api, owner, "plans", PLAN)
    discount = create(api, owner, "discounts", DISCOUNT)
    coupon = create(
        api, owner, "coupons", {"code": "TWICE", "discount_id": discount["discount_id"], "max_redemptions": 2}
    )
    path = f"{base(ada)}/coupons/{coupon['coupon_id']}"
    for code in ["TWICE", "twice"]:
        sold = shop.subscribe(plan["plan_id"], code)
        assert sold.status == 201, sold.body
        assert sold.body["discount"]["coupon_id"] == coupon["coupon_id"]
    exhausted = shop.subscribe(plan["plan_id"], "Twice")
    assert exhausted.status == 409 and exhausted.body["code"] == "coupon_exhausted"
    assert api.get(path, token=token).body["redemptions"] == 2
    assert len(api.get(f"{base(ada)}/subscriptions", token=token).body["items"]) == 2

    below = api.patch(path, {"max_redemptions": 1}, token=token)
    assert below.status == 422 and below.body["code"] == "validation_error"
    raised = api.patch(path, {"max_redemptions": 3}, token=token)
    assert raised.status == 200 and raised.body["redemptions"] == 2
    assert shop.subscribe(plan["plan_id"], "TWICE").status == 201
    assert api.get(path, token=token).body["redemptions"] == 3


def test_a_declined_first_charge_gives_the_redemption_back(api, owner):
    ada, token = owner
    shop = Shop(api, owner, card_token="tok_fail_insufficient_funds")
    plan = create(api, owner, "plans", PLAN)
    discount = create(api, owner, "discounts", DISCOUNT)
    coupon = create(
        api, owner, "coupons", {"code": "ONCE", "discount_id": discount["discount_id"], "max_redemptions": 1}
    )
    declined = shop.subscribe(plan["plan_id"], "ONCE")
    assert declined.status == 402 and declined.body["code"] == "payment_declined"
    assert api.get(f"{base(ada)}/coupons/{coupon['coupon_id']}", token=token).body["redemptions"] == 0
    good = Shop(api, owner)
    assert good.subscribe(plan["plan_id"], "ONCE").status == 201


def test_a_coupon_expires_at_its_valid_until(api, owner, clock):
    ada, token = owner
    shop = Shop(api, owner)
    plan = create(api, owner, "plans", PLAN)
    discount = create(api, owner, "discounts", DISCOUNT)
    # the clock stands at 2026-09-21T14:13:20Z
    coupon = create(
        api,
        owner,
        "coupons",
        {"code": "AUTUMN", "discount_id": discount["discount_id"], "valid_until": "2026-09-21T14:23:20Z"},
    )
    assert shop.subscribe(plan["plan_id"], "AUTUMN").status == 201
    clock.advance(600 - 1)
    assert shop.subscribe(plan["plan_id"], "autumn").status == 201
    clock.advance(1)
    expired = shop.subscribe(plan["plan_id"], "AUTUMN")
    assert expired.status == 422 and expired.body["code"] == "coupon_invalid"
    assert api.get(f"{base(ada)}/coupons/{coupon['coupon_id']}", token=token).body["redemptions"] == 2
    extended = api.patch(f"{base(ada)}/coupons/{coupon['coupon_id']}", {"valid_until": None}, token=token)
    assert extended.status == 200 and extended.body["valid_until"] is None
    assert shop.subscribe(plan["plan_id"], "AUTUMN").status == 201
    for bad in ["2026-09-22", "2026-09-22T14:13:20+02:00", "tomorrow", "2026-09-22T14:13:20.000Z"]:
        answer = api.patch(f"{base(ada)}/coupons/{coupon['coupon_id']}", {"valid_until": bad}, token=token)
        assert answer.status == 422, (bad, answer.body)


def test_parallel_redemptions_never_exceed_the_maximum(api, owner):
    ada, token = owner
    shop = Shop(api, owner)
    plan = create(api, owner, "plans", PLAN)
    discount = create(api, owner, "discounts", DISCOUNT)
    coupon = create(
        api, owner, "coupons", {"code": "ONE", "discount_id": discount["discount_id"], "max_redemptions": 1}
    )
    answers = at_once(*(lambda: shop.subscribe(plan["plan_id"], "ONE") for _ in range(5)))
    assert outcomes(answers) == {"201": 1, "409 coupon_exhausted": 4}
    assert api.get(f"{base(ada)}/coupons/{coupon['coupon_id']}", token=token).body["redemptions"] == 1
    assert len(api.get(f"{base(ada)}/subscriptions", token=token).body["items"]) == 1


@pytest.mark.parametrize("change", ["patch", "archive"])
def test_changing_a_coupon_while_it_is_redeemed_loses_no_redemption(api, owner, monkeypatch, change):
    """A coupon change writes the coupon as it read it; a redemption counted between that read and
    that write must survive it, or the coupon is redeemed more often than its maximum allows."""
    ada, token = owner
    shop = Shop(api, owner)
    plan = create(api, owner, "plans", PLAN)
    discount = create(api, owner, "discounts", DISCOUNT)
    coupon = create(
        api, owner, "coupons", {"code": "ONE", "discount_id": discount["discount_id"], "max_redemptions": 1}
    )
    path = f"{base(ada)}/coupons/{coupon['coupon_id']}"

    read, redeemed = threading.Event(), threading.Event()
    real_get = catalog_service.get

    def get_then_wait(cls, caller, item_id):
        found = real_get(cls, caller, item_id)
        if cls is Coupon and not read.is_set():
            read.set()  # the change has read the coupon; a redemption happens now
            redeemed.wait(10)
        return found

    monkeypatch.setattr(catalog_service, "get", get_then_wait)
    answers = []
    if change == "patch":
        request = lambda: api.patch(path, {"valid_until": "2027-01-01T00:00:00Z"}, token=token)  # noqa: E731
    else:
        request = lambda: api.delete(path, token=token)  # noqa: E731
    changer = threading.Thread(target=lambda: answers.append(request()))
    changer.start()
    assert read.wait(10)
    first = shop.subscribe(plan["plan_id"], "ONE")
    redeemed.set()
    changer.join()
    assert first.status == 201, first.body
    assert answers[0].status == 200, answers[0].body
    shown = api.get(path, token=token).body
    assert shown["redemptions"] == 1, f"the coupon shows {shown['redemptions']} redemptions after one"
    if change == "patch":
        second = shop.subscribe(plan["plan_id"], "ONE")
        assert second.status == 409 and second.body["code"] == "coupon_exhausted", "redeemed beyond its maximum"


# ----------------------------------------------------------------- lists


def test_lists_page_through_every_item_once_oldest_first(api, owner, clock):
    ada, token = owner
    made = []
    for n in range(5):
        made.append(create(api, owner, "plans", {**PLAN, "handle": f"plan-{n}"})["plan_id"])
        clock.advance(1)
    pages, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = api.get(f"{base(ada)}/plans{query}", token=token)
        assert answer.status == 200, answer.body
        pages.append([p["plan_id"] for p in answer.body["items"]])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "the cursor never ends"
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == made
    everything = api.get(f"{base(ada)}/plans?limit=100", token=token).body
    assert [p["plan_id"] for p in everything["items"]] == made and everything["next_cursor"] is None
    assert len(api.get(f"{base(ada)}/plans", token=token).body["items"]) == 5  # default limit 50


def test_list_queries_are_validated_and_cursors_stay_in_their_list(api, owner, person, login):
    ada, token = owner
    for n in range(3):
        create(api, owner, "plans", {**PLAN, "handle": f"plan-{n}"})
        create(api, owner, "addons", {**ADDON, "handle": f"addon-{n}"})
    plan_cursor = api.get(f"{base(ada)}/plans?limit=1", token=token).body["next_cursor"]
    addon_cursor = api.get(f"{base(ada)}/addons?limit=1", token=token).body["next_cursor"]
    assert plan_cursor and addon_cursor
    for query in ["limit=0", "limit=101", "limit=abc", "limit=-1", "cursor=garbage", f"cursor={addon_cursor}"]:
        answer = api.get(f"{base(ada)}/plans?{query}", token=token)
        assert answer.status == 422 and answer.body["code"] == "validation_error", (query, answer.body)
    eve = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    eve_token = login(eve)
    create(api, (eve, eve_token), "plans", PLAN)
    stolen = api.get(f"{base(eve)}/plans?cursor={plan_cursor}", token=eve_token)
    assert stolen.status == 422  # a cursor never reads another tenant's partition
    assert api.get(f"{base(ada)}/plans?cursor={plan_cursor}", token=token).status == 200


# ----------------------------------------------------------------- who may read and write


def test_any_member_reads_the_catalog_and_only_settings_writes_it(api, outbox, owner):
    ada, _token = owner
    items = {
        "plans": create(api, owner, "plans", PLAN)["plan_id"],
        "addons": create(api, owner, "addons", ADDON)["addon_id"],
        "discounts": create(api, owner, "discounts", DISCOUNT)["discount_id"],
    }
    items["coupons"] = create(api, owner, "coupons", {"code": "TEN", "discount_id": items["discounts"]})["coupon_id"]
    reader = join(api, outbox, owner, "bob@example.com", rights=())  # a member with no rights at all
    editor = join(api, outbox, owner, "carol@example.com", rights=["data:edit", "users"], name="Carol Shaw")
    new_bodies = {
        "plans": {**PLAN, "handle": "silver"},
        "addons": {**ADDON, "handle": "disk"},
        "discounts": {**DISCOUNT, "handle": "five"},
        "coupons": {"code": "FIVE", "discount_id": items["discounts"]},
    }
    for kind, item_id in items.items():
        for who in [reader, editor]:
            listed = api.get(f"{base(ada)}/{kind}", token=who)
            assert listed.status == 200 and len(listed.body["items"]) == 1, (kind, listed.body)
            assert api.get(f"{base(ada)}/{kind}/{item_id}", token=who).status == 200
            for answer in [
                api.post(f"{base(ada)}/{kind}", new_bodies[kind], token=who),
                api.post(f"{base(ada)}/{kind}", {"nonsense": True}, token=who),  # refused before validation
                api.patch(f"{base(ada)}/{kind}/{item_id}", {"name": "Mine"}, token=who),
                api.delete(f"{base(ada)}/{kind}/{item_id}", token=who),
            ]:
                assert answer.status == 403 and answer.body["code"] == "forbidden", (kind, answer.body)
    settings = join(api, outbox, owner, "dan@example.com", rights=["settings"], name="Dan Dare")
    for kind, body in new_bodies.items():
        assert api.post(f"{base(ada)}/{kind}", body, token=settings).status == 201
    for kind, item_id in items.items():
        assert (
            api.patch(
                f"{base(ada)}/{kind}/{item_id}", {"name": "X"} if kind != "coupons" else {}, token=settings
            ).status
            == 200
        )
        assert api.delete(f"{base(ada)}/{kind}/{item_id}", token=settings).status == 200
    for kind in items:
        assert api.get(f"{base(ada)}/{kind}").status == 401


# ----------------------------------------------------------------- races, repeats and failures


def test_parallel_creations_of_one_handle_make_one_item(api, owner):
    ada, token = owner
    answers = at_once(
        *(lambda n=n: api.post(f"{base(ada)}/plans", {**PLAN, "name": f"Gold {n}"}, token=token) for n in range(6))
    )
    assert outcomes(answers) == {"201": 1, "409 handle_taken": 5}
    [created] = [a.body for a in answers if a.status == 201]
    assert api.get(f"{base(ada)}/plans", token=token).body["items"] == [created]


def test_parallel_coupons_with_one_code_in_different_cases_make_one(api, owner):
    ada, token = owner
    discount = create(api, owner, "discounts", DISCOUNT)
    codes = ["WINTER", "winter", "Winter", "wInTeR", "WINTEr"]
    answers = at_once(
        *(
            lambda code=code: api.post(
                f"{base(ada)}/coupons", {"code": code, "discount_id": discount["discount_id"]}, token=token
            )
            for code in codes
        )
    )
    assert outcomes(answers) == {"201": 1, "409 handle_taken": 4}
    assert len(api.get(f"{base(ada)}/coupons", token=token).body["items"]) == 1


def test_a_repeated_creation_with_one_idempotency_key_makes_one_item(api, owner):
    ada, token = owner
    headers = {"Idempotency-Key": "plan-gold-1"}
    first = api.post(f"{base(ada)}/plans", PLAN, headers=headers, token=token)
    again = api.post(f"{base(ada)}/plans", PLAN, headers=headers, token=token)
    assert first.status == again.status == 201 and again.body == first.body
    assert len(api.get(f"{base(ada)}/plans", token=token).body["items"]) == 1
    other = api.post(f"{base(ada)}/plans", {**PLAN, "handle": "silver"}, headers=headers, token=token)
    assert other.status in (409, 422) and other.body["plan_id" if other.status < 300 else "code"]
    assert len(api.get(f"{base(ada)}/plans", token=token).body["items"]) == 1


def test_a_failing_table_creates_and_changes_nothing(api, owner, fail_aws, table_items, aws_calls):
    ada, token = owner
    plan = create(api, owner, "plans", PLAN)
    before = table_items()
    with fail_aws("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException"):
        for answer in [
            api.post(f"{base(ada)}/plans", {**PLAN, "handle": "silver"}, token=token),
            api.patch(f"{base(ada)}/plans/{plan['plan_id']}", {"name": "Platinum"}, token=token),
            api.delete(f"{base(ada)}/plans/{plan['plan_id']}", token=token),
        ]:
            assert answer.status == 503 and answer.body["code"] == "service_unavailable", answer.body
    assert table_items() == before
    assert api.get(f"{base(ada)}/plans", token=token).body["items"] == [plan]
    with aws_calls() as calls:
        created = api.post(f"{base(ada)}/plans", {**PLAN, "handle": "silver"}, token=token)
    assert created.status == 201
    assert calls == {"dynamodb": 3}  # session, membership and account, one transaction
    with aws_calls() as calls:
        assert api.get(f"{base(ada)}/plans", token=token).status == 200
    assert calls == {"dynamodb": 3}  # session, membership and account, one query
