"""Invoices through the API: lines, discounts, VAT rounded half-up once per invoice in minor units,
currencies with 0, 2 and 3 decimals, lists and their filters."""

from __future__ import annotations

import pytest

from tests.integration.test_subscriptions import Shop, move_to, open_shop, problem


@pytest.fixture
def shop(api, person, login, clock) -> Shop:
    return open_shop(api, person, login, clock)


def lines(invoice: dict) -> list[tuple[str, int, int, int]]:
    return [(x["description"], x["quantity"], x["unit_amount"], x["amount"]) for x in invoice["lines"]]


def sums(invoice: dict) -> tuple[int, int, float, int, int]:
    """(subtotal, discount_amount, vat_percent, vat_amount, amount)"""
    return (
        invoice["subtotal"],
        invoice["discount_amount"],
        invoice["vat_percent"],
        invoice["vat_amount"],
        invoice["amount"],
    )


def only_invoice(shop: Shop, subscription_id: str) -> dict:
    [invoice] = shop.invoices(f"?subscription_id={subscription_id}")
    return shop.invoice(invoice["invoice_id"])


def test_lines_a_percent_discount_and_vat_worked_by_hand(shop):
    assert shop.settings(vat_percent=19)["vat_percent"] == 19
    plan = shop.plan(1999, name="Gold")
    seat = shop.addon(500, name="Extra seat")
    code = shop.coupon(name="Welcome 20", percent=20, duration="forever")
    sub = shop.subscription(shop.paying_customer(), plan, addons=[{"addon_id": seat, "quantity": 2}], coupon_code=code)[
        "subscription_id"
    ]
    invoice = only_invoice(shop, sub)
    # subtotal 1999 + 2 x 500 = 2999; 20 % = 599.8 -> 600; net 2399; 19 % VAT = 455.81 -> 456
    assert lines(invoice) == [
        ("Gold", 1, 1999, 1999),
        ("Extra seat", 2, 500, 1000),
        ("Welcome 20", 1, -600, -600),
    ]
    assert sums(invoice) == (2999, 600, 19, 456, 2855)
    assert invoice["currency"] == "EUR" and invoice["state"] == "paid"
    assert [t["amount"] for t in invoice["transactions"]] == [2855]


def test_vat_is_rounded_half_up_once_per_invoice_not_per_line(shop):
    shop.settings(vat_percent=10)
    plan = shop.plan(5, name="Tiny")
    addon = shop.addon(5, name="Tinier")
    sub = shop.subscription(shop.paying_customer(), plan, addons=[{"addon_id": addon, "quantity": 1}])
    # per line 0.5 + 0.5 would round to 1 + 1; once per invoice, 10 % of 10 is 1
    assert sums(only_invoice(shop, sub["subscription_id"])) == (10, 0, 10, 1, 11)

    tie = shop.subscription(shop.paying_customer(), shop.plan(1225))["subscription_id"]
    assert sums(only_invoice(shop, tie)) == (1225, 0, 10, 123, 1348)  # 122.5 -> 123 (half-up, not to even)

    shop.settings(vat_percent=7.75)
    odd = shop.subscription(shop.paying_customer(), shop.plan(1999))["subscription_id"]
    assert sums(only_invoice(shop, odd)) == (1999, 0, 7.75, 155, 2154)  # 154.9225 -> 155


def test_a_percent_discount_is_rounded_half_up_and_vat_charged_on_what_remains(shop):
    shop.settings(vat_percent=19)
    code = shop.coupon(name="Tenth", percent=10)
    sub = shop.subscription(shop.paying_customer(), shop.plan(1225), coupon_code=code)["subscription_id"]
    invoice = only_invoice(shop, sub)
    # 10 % of 1225 = 122.5 -> 123; net 1102; 19 % = 209.38 -> 209
    assert lines(invoice)[-1] == ("Tenth", 1, -123, -123)
    assert sums(invoice) == (1225, 123, 19, 209, 1311)


def test_a_fixed_discount_is_taken_before_vat(shop):
    shop.settings(vat_percent=19)
    code = shop.coupon(name="Five off", amount=500, currency="EUR", duration="forever")
    sub = shop.subscription(shop.paying_customer(), shop.plan(1999), coupon_code=code)["subscription_id"]
    invoice = only_invoice(shop, sub)
    assert lines(invoice)[-1] == ("Five off", 1, -500, -500)
    assert sums(invoice) == (1999, 500, 19, 285, 1784)  # 19 % of 1499 = 284.81 -> 285


def test_a_fixed_discount_never_takes_an_invoice_below_zero(shop, clock):
    shop.settings(vat_percent=19)
    code = shop.coupon(name="Big gift", amount=1500, currency="EUR", duration="forever")
    plan = shop.plan(1000, unit="day")
    sub = shop.subscription(shop.paying_customer(), plan, coupon_code=code)
    assert sub["state"] == "active"
    invoice = only_invoice(shop, sub["subscription_id"])
    assert lines(invoice) == [("Gold", 1, 1000, 1000), ("Big gift", 1, -1000, -1000)]
    assert sums(invoice) == (1000, 1000, 19, 0, 0)
    assert invoice["state"] == "paid"
    assert invoice["transactions"] == []  # nothing to charge
    move_to(clock, sub["current_period_end"])
    assert shop.run_job()["paid"] == 1
    assert [i["amount"] for i in shop.invoices_of(sub["subscription_id"])] == [0, 0]


def test_a_new_vat_rate_applies_to_later_invoices_only(shop, clock):
    plan = shop.plan(1000, unit="day")
    sub = shop.subscription(shop.paying_customer(), plan)
    shop.settings(vat_percent=19)
    move_to(clock, sub["current_period_end"])
    assert shop.run_job()["renewed"] == 1
    first, second = shop.invoices_of(sub["subscription_id"])
    assert sums(first) == (1000, 0, 0, 0, 1000)
    assert sums(second) == (1000, 0, 19, 190, 1190)


def test_yen_have_no_decimals(shop):
    settings = shop.settings(currency="JPY", vat_percent=10)
    assert settings["currency"] == "JPY"
    plan = shop.plan(1000, currency="JPY", name="Matcha")
    addon = shop.addon(300, currency="JPY", name="Extra tin")
    code = shop.coupon(name="Spring", percent=15)
    sub = shop.subscription(
        shop.paying_customer(), plan, addons=[{"addon_id": addon, "quantity": 3}], coupon_code=code
    )["subscription_id"]
    invoice = only_invoice(shop, sub)
    assert invoice["currency"] == "JPY"
    # 1000 + 3 x 300 = 1900 yen; 15 % = 285; net 1615; 10 % VAT = 161.5 -> 162
    assert lines(invoice) == [("Matcha", 1, 1000, 1000), ("Extra tin", 3, 300, 900), ("Spring", 1, -285, -285)]
    assert sums(invoice) == (1900, 285, 10, 162, 1777)
    assert invoice["transactions"][0]["amount"] == 1777


def test_a_three_decimal_currency_rounds_to_fils(shop):
    shop.settings(currency="BHD", vat_percent=5)
    plan = shop.plan(12350, currency="BHD", name="Pearl")  # 12.350 BHD
    addon = shop.addon(1250, currency="BHD", name="Polish")  # 1.250 BHD
    code = shop.coupon(name="Tenth of a dinar", amount=100, currency="BHD", duration="once")
    sub = shop.subscription(
        shop.paying_customer(), plan, addons=[{"addon_id": addon, "quantity": 2}], coupon_code=code
    )["subscription_id"]
    invoice = only_invoice(shop, sub)
    assert invoice["currency"] == "BHD"
    # 12.350 + 2 x 1.250 = 14.850; less 0.100 = 14.750; 5 % VAT = 0.7375 -> 0.738; total 15.488
    assert sums(invoice) == (14850, 100, 5, 738, 15488)
    assert lines(invoice)[-1] == ("Tenth of a dinar", 1, -100, -100)


def test_list_filters_by_customer_and_subscription(shop, clock):
    plan = shop.plan()
    ada, bob = shop.paying_customer(), shop.paying_customer()
    declined = shop.paying_customer(token="tok_fail")
    a1 = shop.subscription(ada, plan)["subscription_id"]
    clock.advance(1)
    a2 = shop.subscription(ada, plan)["subscription_id"]
    clock.advance(1)
    b1 = shop.subscription(bob, plan)["subscription_id"]
    clock.advance(1)
    problem(shop.subscribe(declined, plan), 402, "payment_declined")

    def of(query: str) -> list[tuple[str, str]]:
        return [(i["subscription_id"], i["state"]) for i in shop.invoices(query)]

    everything = shop.invoices()
    assert [i["handle"] for i in everything] == ["INV-000004", "INV-000003", "INV-000002", "INV-000001"]
    assert [i["customer_id"] for i in everything] == [declined, bob, ada, ada]
    assert of(f"?customer_id={ada}") == [(a2, "paid"), (a1, "paid")]
    assert of(f"?customer_id={bob}") == [(b1, "paid")]
    assert [i["state"] for i in shop.invoices(f"?customer_id={declined}")] == ["failed"]
    assert of(f"?subscription_id={a1}") == [(a1, "paid")]
    assert of(f"?customer_id={ada}&subscription_id={a2}") == [(a2, "paid")]
    assert of(f"?customer_id={bob}&subscription_id={a2}") == []
    assert of("?customer_id=cus_00000000000000000000000000") == []
    assert of("?subscription_id=sub_00000000000000000000000000") == []
    problem(shop.get("/invoices?customer_id=not-an-id"), 422, "validation_error")


def test_the_list_pages_with_a_cursor(shop, clock):
    plan = shop.plan()
    customer = shop.paying_customer()
    for _ in range(5):
        shop.subscription(customer, plan)
        clock.advance(1)
    handles, cursor, pages = [], None, 0
    while True:
        page = shop.ok(shop.get("/invoices?limit=2" + (f"&cursor={cursor}" if cursor else "")))
        pages += 1
        assert len(page["items"]) <= 2
        handles += [i["handle"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert handles == [f"INV-00000{n}" for n in (5, 4, 3, 2, 1)]
    assert pages == 3
    problem(shop.get("/invoices?cursor=bm90LWEtY3Vyc29y"), 422, "validation_error")
    problem(shop.get("/invoices?limit=0"), 422, "validation_error")
    problem(shop.get("/invoices?limit=101"), 422, "validation_error")


def test_a_customers_invoices_page_with_a_cursor_too(shop, clock):
    """``?customer_id=`` lists like every list (docs/api.md, "Lists and pagination"): ``limit`` and
    a cursor to the rest; none of a customer's invoices may be out of reach."""
    plan = shop.plan()
    customer = shop.paying_customer()
    for _ in range(3):
        shop.subscription(customer, plan)
        clock.advance(1)
    page = shop.ok(shop.get(f"/invoices?customer_id={customer}&limit=2"))
    assert len(page["items"]) == 2
    assert page["next_cursor"], "two of three invoices shown, and no cursor to the third"
    rest = shop.ok(shop.get(f"/invoices?customer_id={customer}&limit=2&cursor={page['next_cursor']}"))
    assert [i["handle"] for i in page["items"] + rest["items"]] == ["INV-000003", "INV-000002", "INV-000001"]


def test_one_invoice_shows_its_transactions(shop):
    plan = shop.plan(1999)
    problem(shop.subscribe(shop.paying_customer(token="tok_fail"), plan), 402, "payment_declined")
    [failed] = shop.invoices()
    shown = shop.invoice(failed["invoice_id"])
    assert shown["state"] == "failed"
    [transaction] = shown["transactions"]
    assert transaction["state"] == "declined" and transaction["amount"] == 1999
    assert set(transaction) >= {"transaction_id", "amount", "state", "created_at"}
    assert set(shown) >= {
        "invoice_id", "handle", "customer_id", "subscription_id", "state", "amount", "currency", "vat_percent",
        "vat_amount", "period_start", "period_end", "created_at", "lines", "transactions",
    }  # fmt: skip
    problem(shop.get("/invoices/inv_00000000000000000000000000"), 404, "not_found")
