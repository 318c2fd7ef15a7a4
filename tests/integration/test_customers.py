"""Customers, their payment methods and timeline, and the portal link.

Emails need not be unique and ``?email=`` finds every customer with one through the index (never a
scan); every change is on the timeline with its old and new values; a customer has at most one
default payment method, and one that a running subscription pays with cannot be removed; card
numbers are refused wherever they hide in a body, and are never echoed, logged or stored; the portal
link lasts five minutes and is stored only as a hash."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import threading

import pytest

from portico import aws
from portico.observability import logger as powertools_logger
from tests.integration.flows import cheap_argon2, fresh_table, template_env  # noqa: F401  (one stack per module)
from tests.integration.support import Api

NEW_PASSWORD = "Copper-Meadow-Falcon-93"
CARD = {"token": "tok_visa", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
PLAN = {"handle": "gold", "name": "Gold", "amount": 1999, "currency": "EUR", "interval_unit": "month"}
PAN = "4111111111111111"  # Luhn-valid, as every test card number is


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


class _Stdout:
    """Whatever ``sys.stdout`` is when a line is written, as a Lambda function's stdout."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def captured(capsys, caplog):
    """The handlers' log lines as Lambda would ship them, and every log record (Powertools keeps
    the stream of the moment it was created: point it at the current, captured one)."""
    caplog.set_level(logging.DEBUG)
    handlers = [h for h in powertools_logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Powertools Logger has no stream handler to capture"
    saved = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = _Stdout()

    def read() -> str:
        out = capsys.readouterr()
        records = [
            f"{vars(r)!r} {logging.Formatter().formatException(r.exc_info) if r.exc_info else ''}"
            for r in caplog.records
        ]
        return "\n".join([out.out, out.err, *records])

    yield read
    for handler, stream in zip(handlers, saved, strict=True):
        handler.stream = stream


def base(who) -> str:
    return f"/accounts/{who.account_id}"


def join(api, outbox, owner, email: str, rights=(), name="Bob Builder") -> str:
    """Invite ``email`` with ``rights`` and accept as a new person; their session token."""
    ada, token = owner
    invited = api.post(f"{base(ada)}/users", {"email": email, "rights": list(rights)}, token=token)
    assert invited.status == 201, invited.body
    [message] = [m for m in outbox(email) if "accept-invitation?token=" in m["text"]][:1]
    secret = re.search(r"accept-invitation\?token=([A-Za-z0-9_\-]+)", message["text"]).group(1)
    accepted = api.post(f"/invitations/{secret}/accept", {"name": name, "password": NEW_PASSWORD})
    assert accepted.status == 201, accepted.body
    logged_in = api.post("/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert logged_in.status == 200, logged_in.body
    return logged_in.body["token"]


def new_customer(api, owner, **body) -> dict:
    ada, token = owner
    answer = api.post(f"{base(ada)}/customers", {"email": "grace@example.com", **body}, token=token)
    assert answer.status == 201, answer.body
    return answer.body


def add_card(api, owner, customer_id: str, **card) -> dict:
    ada, token = owner
    answer = api.post(f"{base(ada)}/customers/{customer_id}/payment-methods", {"card": {**CARD, **card}}, token=token)
    assert answer.status == 201, answer.body
    return answer.body


def methods(api, owner, customer_id: str) -> list[dict]:
    ada, token = owner
    answer = api.get(f"{base(ada)}/customers/{customer_id}/payment-methods", token=token)
    assert answer.status == 200, answer.body
    return answer.body["items"]


def timeline(api, owner, customer_id: str, query: str = "") -> dict:
    ada, token = owner
    answer = api.get(f"{base(ada)}/customers/{customer_id}/timeline{query}", token=token)
    assert answer.status == 200, answer.body
    return answer.body


class Counting:
    """DynamoDB operations by name while inside (``before-call`` events of the shared client)."""

    def __init__(self):
        self.seen: list[str] = []

    def __enter__(self):
        self.client = aws.client("dynamodb")
        self.client.meta.events.register("before-call.dynamodb", self._count, unique_id="customers-ops")
        return self

    def _count(self, model, **_):
        self.seen.append(model.name)

    def __exit__(self, *_):
        self.client.meta.events.unregister("before-call.dynamodb", unique_id="customers-ops")


# ----------------------------------------------------------------- customers and the email lookup


def test_a_customer_is_created_read_and_listed(api, owner):
    ada, token = owner
    body = {
        "email": "grace@example.com",
        "name": "Grace Hopper",
        "phone": "+4915112345678",  # passes Luhn's check, and is a phone number: not refused
        "address": {"line1": "1 Navy Yard", "postal_code": "20374", "city": "Washington", "country": "US"},
        "company": "US Navy",
        "vat_id": "US123",
        "language": "en",
        "handle": "grace-1",
    }
    created = new_customer(api, owner, **body)
    assert created["customer_id"].startswith("cus_")
    assert created == {
        **body,
        "customer_id": created["customer_id"],
        "address": {**body["address"], "line2": None},
        "phone_verified": False,
        "default_payment_method_id": None,
        "created_at": "2026-09-21T14:13:20Z",
    }
    assert api.get(f"{base(ada)}/customers/{created['customer_id']}", token=token).body == created
    listed = api.get(f"{base(ada)}/customers", token=token).body
    assert listed == {"items": [created], "next_cursor": None}
    taken = api.post(f"{base(ada)}/customers", {"email": "other@example.com", "handle": "grace-1"}, token=token)
    assert taken.status == 409 and taken.body["code"] == "handle_taken"


def test_customers_may_share_an_email_and_the_lookup_finds_them_all_through_the_index(api, owner, person, login):
    ada, token = owner
    spellings = ["grace@example.com", "Grace@Example.com", "GRACE@EXAMPLE.COM"]
    same = [new_customer(api, owner, email=e, name=f"Grace {n}")["customer_id"] for n, e in enumerate(spellings)]
    assert len(set(same)) == 3  # three customers, not one
    new_customer(api, owner, email="grace.hopper@example.com")
    eve = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    eve_token = login(eve)
    assert api.post(f"{base(eve)}/customers", {"email": "grace@example.com"}, token=eve_token).status == 201

    for query in ["grace@example.com", "GRACE@example.com", "Grace@EXAMPLE.com", "%20grace@example.com%20"]:
        with Counting() as ops:
            answer = api.get(f"{base(ada)}/customers?email={query}", token=token)
        assert answer.status == 200, answer.body
        assert [c["customer_id"] for c in answer.body["items"]] == same, query  # oldest first
        assert "Scan" not in ops.seen and ops.seen.count("Query") == 1, ops.seen
        assert ops.seen == ["GetItem", "BatchGetItem", "Query"]
    nobody = api.get(f"{base(ada)}/customers?email=nobody@example.com", token=token)
    assert nobody.status == 200 and nobody.body["items"] == []
    theirs = api.get(f"{base(eve)}/customers?email=grace@example.com", token=eve_token).body["items"]
    assert len(theirs) == 1 and theirs[0]["customer_id"] not in same


def test_the_email_lookup_pages_like_every_list(api, owner):
    """``?limit=`` with ``?email=``: every customer with the address must be reachable, a page at a
    time, as in every list of the API."""
    ada, token = owner
    same = [new_customer(api, owner, name=f"Grace {n}")["customer_id"] for n in range(3)]
    seen, cursor = [], None
    for _ in range(4):
        query = "?email=grace@example.com&limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = api.get(f"{base(ada)}/customers{query}", token=token)
        assert answer.status == 200, answer.body
        seen += [c["customer_id"] for c in answer.body["items"]]
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break
    assert seen == same, f"{len(seen)} of the {len(same)} customers with the address could be read"


def test_the_customer_list_pages_oldest_first(api, owner):
    ada, token = owner
    made = [new_customer(api, owner, email=f"c{n}@example.com")["customer_id"] for n in range(5)]
    first = api.get(f"{base(ada)}/customers?limit=3", token=token).body
    assert [c["customer_id"] for c in first["items"]] == made[:3] and first["next_cursor"]
    rest = api.get(f"{base(ada)}/customers?limit=3&cursor={first['next_cursor']}", token=token).body
    assert [c["customer_id"] for c in rest["items"]] == made[3:] and rest["next_cursor"] is None
    for query in ["limit=0", "limit=101", "cursor=nonsense", "email=x"]:
        answer = api.get(f"{base(ada)}/customers?{query}", token=token)
        assert answer.status == 422, (query, answer.body)


def test_a_change_of_email_moves_the_customer_in_the_lookup(api, owner):
    ada, token = owner
    grace = new_customer(api, owner)
    changed = api.patch(f"{base(ada)}/customers/{grace['customer_id']}", {"email": "hopper@example.com"}, token=token)
    assert changed.status == 200 and changed.body["email"] == "hopper@example.com"
    assert api.get(f"{base(ada)}/customers?email=grace@example.com", token=token).body["items"] == []
    [found] = api.get(f"{base(ada)}/customers?email=HOPPER@example.com", token=token).body["items"]
    assert found["customer_id"] == grace["customer_id"]


# ----------------------------------------------------------------- changes and the timeline


def test_changes_show_on_the_timeline_with_old_and_new_values_newest_first(api, owner, clock):
    ada, token = owner
    grace = new_customer(api, owner, name="Grace", phone="+4915112345678")
    path = f"{base(ada)}/customers/{grace['customer_id']}"
    clock.advance(60)
    first = api.patch(path, {"name": "Grace Hopper", "address": {"city": "Arlington", "country": "US"}}, token=token)
    assert first.status == 200, first.body
    assert first.body["name"] == "Grace Hopper" and first.body["address"]["city"] == "Arlington"
    clock.advance(60)
    second = api.patch(path, {"phone": "+4915199999999", "language": "de"}, token=token)
    assert second.status == 200 and second.body["phone_verified"] is False
    clock.advance(60)
    third = api.patch(path, {"phone": None, "address": None}, token=token)
    assert third.status == 200 and third.body["phone"] is None and third.body["address"] is None
    nothing = api.patch(path, {"name": "Grace Hopper"}, token=token)  # no change, no event
    assert nothing.status == 200
    refused = api.patch(path, {"email": None}, token=token)
    assert refused.status == 422 and refused.body["code"] == "validation_error"

    items = timeline(api, owner, grace["customer_id"])["items"]
    assert [e["type"] for e in items] == ["customer.updated"] * 3 + ["customer.created"]
    assert [e["at"] for e in items] == [
        "2026-09-21T14:16:20Z",
        "2026-09-21T14:15:20Z",
        "2026-09-21T14:14:20Z",
        "2026-09-21T14:13:20Z",
    ]
    actor = {"type": "user", "id": ada.user_id, "email": ada.email}
    assert all(e["source"] == "admin" and e["actor"] == actor for e in items)
    address = {"city": "Arlington", "country": "US"}
    assert items[2]["details"] == {
        "before": {"name": "Grace", "address": None},
        "after": {"name": "Grace Hopper", "address": address},
    }
    assert items[1]["details"] == {
        "before": {"phone": "+4915112345678", "language": None, "phone_verified": False},
        "after": {"phone": "+4915199999999", "language": "de", "phone_verified": False},
    } or items[1]["details"] == {
        "before": {"phone": "+4915112345678", "language": None},
        "after": {"phone": "+4915199999999", "language": "de"},
    }
    assert items[0]["details"]["before"]["address"] == address
    assert items[0]["details"]["after"] == {"phone": None, "address": None, **items[0]["details"]["after"]}

    page1 = timeline(api, owner, grace["customer_id"], "?limit=3")
    assert page1["items"] == items[:3] and page1["next_cursor"]
    page2 = timeline(api, owner, grace["customer_id"], f"?limit=3&cursor={page1['next_cursor']}")
    assert page2["items"] == items[3:] and page2["next_cursor"] is None


# ----------------------------------------------------------------- payment methods


def test_the_first_payment_method_is_the_default_and_there_is_only_one(api, owner):
    ada, token = owner
    grace = new_customer(api, owner)
    first = add_card(api, owner, grace["customer_id"])
    assert first["payment_method_id"].startswith("pm_") and first["default"] is True
    assert set(first) == {"payment_method_id", "brand", "last4", "exp_month", "exp_year", "default", "created_at"}
    second = add_card(api, owner, grace["customer_id"], token="tok_mastercard", brand="mastercard", last4="4444")
    assert second["default"] is False
    listed = methods(api, owner, grace["customer_id"])
    assert [(m["payment_method_id"], m["default"]) for m in listed] == [
        (first["payment_method_id"], True),
        (second["payment_method_id"], False),
    ]
    assert "tok_" not in json.dumps(listed)  # the provider's token is never shown
    customer = api.get(f"{base(ada)}/customers/{grace['customer_id']}", token=token).body
    assert customer["default_payment_method_id"] == first["payment_method_id"]
    types = [e["type"] for e in timeline(api, owner, grace["customer_id"])["items"]]
    assert types == ["payment_method.added", "payment_method.added", "customer.created"]


def test_parallel_first_payment_methods_make_one_default(api, owner):
    grace = new_customer(api, owner)
    answers = [None] * 4
    barrier = threading.Barrier(4)

    def add(i):
        barrier.wait()
        answers[i] = api.post(
            f"{base(owner[0])}/customers/{grace['customer_id']}/payment-methods",
            {"card": {**CARD, "last4": f"000{i}"}},
            token=owner[1],
        )

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status for a in answers] == [201] * 4, [a.body for a in answers]
    listed = methods(api, owner, grace["customer_id"])
    assert len(listed) == 4 and sum(m["default"] for m in listed) == 1
    assert sum(a.body["default"] for a in answers) == 1


def test_removing_the_default_makes_the_newest_other_the_default(api, owner):
    ada, token = owner
    grace = new_customer(api, owner)
    cus = grace["customer_id"]
    first = add_card(api, owner, cus)["payment_method_id"]
    second = add_card(api, owner, cus, last4="0002")["payment_method_id"]
    third = add_card(api, owner, cus, last4="0003")["payment_method_id"]
    path = f"{base(ada)}/customers/{cus}/payment-methods"

    removed = api.delete(f"{path}/{second}", token=token)  # not the default: the default stays
    assert removed.status == 204 and removed.body is None
    assert [(m["payment_method_id"], m["default"]) for m in methods(api, owner, cus)] == [(first, True), (third, False)]
    assert api.delete(f"{path}/{first}", token=token).status == 204
    assert [(m["payment_method_id"], m["default"]) for m in methods(api, owner, cus)] == [(third, True)]
    assert api.get(f"{base(ada)}/customers/{cus}", token=token).body["default_payment_method_id"] == third
    assert api.delete(f"{path}/{third}", token=token).status == 204
    assert methods(api, owner, cus) == []
    assert api.get(f"{base(ada)}/customers/{cus}", token=token).body["default_payment_method_id"] is None
    again = api.delete(f"{path}/{third}", token=token)
    assert again.status == 404 and again.body["code"] == "not_found"
    fresh = add_card(api, owner, cus)
    assert fresh["default"] is True
    removals = [e for e in timeline(api, owner, cus)["items"] if e["type"] == "payment_method.removed"]
    assert [e["details"]["payment_method_id"] for e in removals] == [third, first, second]


def test_a_payment_method_a_running_subscription_uses_cannot_be_removed(api, owner):
    ada, token = owner
    plan = api.post(f"{base(ada)}/plans", PLAN, token=token).body
    trial = api.post(f"{base(ada)}/plans", {**PLAN, "handle": "trial", "trial_days": 14}, token=token).body
    grace = new_customer(api, owner)
    cus = grace["customer_id"]
    card = add_card(api, owner, cus)["payment_method_id"]
    spare = add_card(api, owner, cus, last4="0002")["payment_method_id"]
    path = f"{base(ada)}/customers/{cus}/payment-methods"
    active = api.post(f"{base(ada)}/subscriptions", {"customer_id": cus, "plan_id": plan["plan_id"]}, token=token)
    assert active.status == 201 and active.body["payment_method_id"] == card, active.body
    trialing = api.post(
        f"{base(ada)}/subscriptions",
        {"customer_id": cus, "plan_id": trial["plan_id"], "payment_method_id": spare},
        token=token,
    )
    assert trialing.status == 201 and trialing.body["state"] == "trialing", trialing.body

    for pm in [card, spare]:
        refused = api.delete(f"{path}/{pm}", token=token)
        assert refused.status == 409 and refused.body["code"] == "payment_method_in_use", refused.body
    assert len(methods(api, owner, cus)) == 2
    cancelled = api.post(f"{base(ada)}/subscriptions/{active.body['subscription_id']}/cancel", {}, token=token)
    assert cancelled.status == 200 and cancelled.body["state"] == "cancelled"
    still = api.delete(f"{path}/{card}", token=token)  # it runs until the end of its period
    assert still.status == 409 and still.body["code"] == "payment_method_in_use"
    ended = api.post(f"{base(ada)}/subscriptions/{active.body['subscription_id']}/expire", {}, token=token)
    assert ended.status == 200 and ended.body["state"] == "expired"
    assert api.delete(f"{path}/{card}", token=token).status == 204
    assert [(m["payment_method_id"], m["default"]) for m in methods(api, owner, cus)] == [(spare, True)]


def test_a_subscription_cannot_pay_with_another_customers_payment_method(api, owner):
    ada, token = owner
    plan = api.post(f"{base(ada)}/plans", PLAN, token=token).body
    grace = new_customer(api, owner)
    alan = new_customer(api, owner, email="alan@example.com")
    alans_card = add_card(api, owner, alan["customer_id"])["payment_method_id"]
    answer = api.post(
        f"{base(ada)}/subscriptions",
        {"customer_id": grace["customer_id"], "plan_id": plan["plan_id"], "payment_method_id": alans_card},
        token=token,
    )
    assert answer.status == 404 and answer.body["code"] == "not_found"
    assert api.get(f"{base(ada)}/subscriptions", token=token).body["items"] == []


def test_card_data_is_validated(api, owner):
    ada, token = owner
    grace = new_customer(api, owner)
    path = f"{base(ada)}/customers/{grace['customer_id']}/payment-methods"
    for card in [
        {**CARD, "last4": "42"},
        {**CARD, "last4": "abcd"},
        {**CARD, "exp_month": 13},
        {**CARD, "exp_year": 1999},
        {**CARD, "token": "tok visa"},
        {**CARD, "token": "<script>"},
        {**CARD, "cvc": "123"},
        {k: v for k, v in CARD.items() if k != "token"},
    ]:
        answer = api.post(path, {"card": card}, token=token)
        assert answer.status == 422 and answer.body["code"] == "validation_error", (card, answer.body)
    assert methods(api, owner, grace["customer_id"]) == []


# ----------------------------------------------------------------- raw card numbers


def test_raw_card_numbers_are_refused_anywhere_and_never_echoed_logged_or_stored(api, owner, captured, table_items):
    ada, token = owner
    grace = new_customer(api, owner)
    cus = grace["customer_id"]
    spaced, dashed = "4111 1111 1111 1111", "5555-5555-5555-4444"
    amex, visa13 = "378282246310005", "4222222222222"
    numbers = [PAN, spaced, dashed, amex, visa13]
    before = table_items()
    captured()  # what the set-up wrote is not the question
    attempts = [
        ("POST", f"{base(ada)}/customers", {"email": "pan@example.com", "name": f"Card {PAN}"}),
        ("POST", f"{base(ada)}/customers", {"email": "pan@example.com", "address": {"line1": spaced, "city": "X"}}),
        ("POST", f"{base(ada)}/customers", {"email": "pan@example.com", "company": f"{amex} Ltd"}),
        ("POST", f"{base(ada)}/customers", {"email": "pan@example.com", "vat_id": visa13}),
        ("POST", f"{base(ada)}/customers", {"email": f"{PAN}@example.com"}),
        ("PATCH", f"{base(ada)}/customers/{cus}", {"name": dashed}),
        ("PATCH", f"{base(ada)}/customers/{cus}", {"address": {"line2": f"pay with {PAN} please"}}),
        ("POST", f"{base(ada)}/customers/{cus}/payment-methods", {"card": {**CARD, "token": PAN}}),
        ("POST", f"{base(ada)}/customers/{cus}/payment-methods", {"card": {**CARD, "token": f"tok_{dashed}"}}),
        ("POST", f"{base(ada)}/customers/{cus}/payment-methods", {"card": {**CARD, "brand": spaced}}),
        ("POST", f"{base(ada)}/customers/{cus}/payment-methods", {"card": CARD, "number": PAN}),
        ("POST", f"{base(ada)}/customers/{cus}/payment-methods", {"card": {**CARD, "number": amex, "cvc": "123"}}),
        ("POST", f"{base(ada)}/subscriptions", {"customer_id": cus, "plan_id": "pln_x", "coupon_code": PAN}),
    ]
    for method, path, body in attempts:
        answer = api.call(method, path, body, token=token)
        assert answer.status == 422 and answer.body["code"] == "raw_card_data_rejected", (path, body, answer.body)
        text = json.dumps(answer.body)
        for number in numbers:
            assert number not in text and number.replace(" ", "").replace("-", "") not in text
    logs = captured()
    assert "raw_card" in logs or "422" in logs or logs.strip(), "the capture saw nothing: it would prove nothing"
    stored = json.dumps(table_items(), default=str)
    for number in numbers:
        digits = re.sub(r"\D", "", number)
        assert number not in logs and digits not in logs, f"{number} is in the log output"
        assert digits not in stored and number not in stored, f"{number} was stored"
    assert table_items() == before
    assert methods(api, owner, cus) == []
    assert api.get(f"{base(ada)}/customers/{cus}", token=token).body == grace


def test_numbers_that_are_not_card_numbers_are_accepted(api, owner):
    grace = new_customer(
        api,
        owner,
        phone="+4915112345678",  # Luhn-valid: a phone number in international form is not a card
        name="Grace 4111111111111112",  # 16 digits, not Luhn-valid
        address={"line1": "Order 411111111111", "line2": "Ref 41111111111111111111", "city": "Berlin"},  # 12 and 20
        vat_id="DE123456789",
    )
    assert grace["phone"] == "+4915112345678"
    assert grace["name"] == "Grace 4111111111111112"
    add_card(api, owner, grace["customer_id"], token="tok_1111222233334445", last4="1111")  # not Luhn-valid


def test_a_card_number_hidden_in_json_escapes_is_refused(api, owner, table_items):
    """JSON may spell any character as ``\\uXXXX``: the body a handler reads then holds the card
    number though its raw text shows no run of digits. The check must see the decoded body."""
    ada, token = owner
    escaped = "".join(f"\\u{ord(c):04x}" for c in PAN)
    before = table_items()
    raw = '{"email": "pan@example.com", "name": "' + escaped + '"}'
    answer = api.post(f"{base(ada)}/customers", raw, token=token)
    stored = json.dumps(table_items(), default=str)
    assert answer.status == 422 and answer.body.get("code") == "raw_card_data_rejected", (
        f"{answer.status}: a card number spelled with JSON escapes was accepted"
        + (" and stored" if PAN in stored else "")
    )
    assert table_items() == before


# ----------------------------------------------------------------- tenants and rights


def test_another_tenants_customer_is_not_found(api, owner, person, login):
    ada, token = owner
    grace = new_customer(api, owner)
    card = add_card(api, owner, grace["customer_id"])
    eve = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    eve_token = login(eve)
    theirs = f"{base(eve)}/customers/{grace['customer_id']}"
    for answer in [
        api.get(theirs, token=eve_token),
        api.patch(theirs, {"name": "Owned"}, token=eve_token),
        api.get(f"{theirs}/timeline", token=eve_token),
        api.get(f"{theirs}/payment-methods", token=eve_token),
        api.post(f"{theirs}/payment-methods", {"card": CARD}, token=eve_token),
        api.delete(f"{theirs}/payment-methods/{card['payment_method_id']}", token=eve_token),
        api.post(f"{theirs}/portal-session", token=eve_token),
        api.get(f"{base(ada)}/customers/{grace['customer_id']}", token=eve_token),
    ]:
        assert answer.status == 404 and answer.body["code"] == "not_found", answer.body
    assert api.get(f"{base(eve)}/customers?email=grace@example.com", token=eve_token).body["items"] == []
    assert api.get(f"{base(ada)}/customers/{grace['customer_id']}", token=token).body == {
        **grace,
        "default_payment_method_id": card["payment_method_id"],
    }
    assert len(methods(api, owner, grace["customer_id"])) == 1


def test_viewing_needs_data_view_and_changing_needs_data_edit(api, outbox, owner):
    ada, _token = owner
    grace = new_customer(api, owner)
    card = add_card(api, owner, grace["customer_id"])
    cus = f"{base(ada)}/customers/{grace['customer_id']}"
    nothing = join(api, outbox, owner, "bob@example.com", rights=["settings", "reports"])
    viewer = join(api, outbox, owner, "carol@example.com", rights=["data:view"], name="Carol Shaw")
    for who in [nothing, viewer]:
        for answer in [
            api.post(f"{base(ada)}/customers", {"email": "x@example.com"}, token=who),
            api.post(f"{base(ada)}/customers", {"email": f"{PAN}"}, token=who),  # refused before the body
            api.patch(cus, {"name": "X"}, token=who),
            api.post(f"{cus}/payment-methods", {"card": CARD}, token=who),
            api.delete(f"{cus}/payment-methods/{card['payment_method_id']}", token=who),
            api.post(f"{cus}/portal-session", token=who),
        ]:
            assert answer.status == 403 and answer.body["code"] == "forbidden", answer.body
    for path in [f"{base(ada)}/customers", cus, f"{cus}/timeline", f"{cus}/payment-methods"]:
        assert api.get(path, token=nothing).status == 403
        assert api.get(path, token=viewer).status == 200
    assert api.get(cus).status == 401


# ----------------------------------------------------------------- the portal link


def test_the_portal_link_lasts_five_minutes_and_is_stored_only_hashed(api, outbox, owner, table_items, captured):
    ada, token = owner
    grace = new_customer(api, owner)
    captured()
    answer = api.post(f"{base(ada)}/customers/{grace['customer_id']}/portal-session", token=token)
    assert answer.status in (200, 201), answer.body
    link = answer.body
    assert set(link) >= {"url", "token", "expires_at"}
    secret = link["token"]
    assert len(secret) >= 43  # 256 bits
    assert link["url"] == f"https://app.portico.test/portal/{ada.account_id}?token={secret}"
    assert link["expires_at"] == "2026-09-21T14:18:20Z"  # five minutes after the fixed clock's now
    assert answer.headers["Cache-Control"] == "no-store"
    stored = json.dumps(table_items(), default=str)
    assert secret not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert secret not in captured(), "the portal token is in the log output"
    again = api.post(f"{base(ada)}/customers/{grace['customer_id']}/portal-session", token=token).body
    assert again["token"] != secret
    [event, *_] = timeline(api, owner, grace["customer_id"])["items"]
    assert event["type"] == "portal.link_issued" and secret not in json.dumps(event)
    editor = join(api, outbox, owner, "bob@example.com", rights=["data:edit"])
    assert api.post(f"{base(ada)}/customers/{grace['customer_id']}/portal-session", token=editor).status in (200, 201)
    missing = api.post(f"{base(ada)}/customers/cus_doesnotexist/portal-session", token=token)
    assert missing.status == 404


# ----------------------------------------------------------------- AWS calls and failures


def test_a_failing_table_writes_nothing(api, owner, fail_aws, table_items):
    ada, token = owner
    grace = new_customer(api, owner)
    cus = grace["customer_id"]
    card = add_card(api, owner, cus)
    before = table_items()
    with fail_aws("dynamodb", "TransactWriteItems", "InternalServerError"):
        for answer in [
            api.post(f"{base(ada)}/customers", {"email": "alan@example.com"}, token=token),
            api.patch(f"{base(ada)}/customers/{cus}", {"name": "Grace"}, token=token),
            api.post(f"{base(ada)}/customers/{cus}/payment-methods", {"card": CARD}, token=token),
            api.delete(f"{base(ada)}/customers/{cus}/payment-methods/{card['payment_method_id']}", token=token),
            api.post(f"{base(ada)}/customers/{cus}/portal-session", token=token),
        ]:
            assert answer.status == 503 and answer.body["code"] == "service_unavailable", answer.body
    assert table_items() == before
