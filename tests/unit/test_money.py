"""portico.money: currencies and minor units, half-up rounding, an invoice's totals, and plain
formatting. Worked examples first, then properties checked against oracles written in integer
arithmetic."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portico import money
from portico.money import CURRENCIES, Discount, Line, Totals, exponent, format_minor, is_currency, round_half_up, totals

# --- oracles: the same rules in plain integer arithmetic, without Decimal ---------------------


def half_up_ratio(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (denominator > 0)."""
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def hundredths(percent: Decimal) -> int:
    """A percentage with at most two decimals as an int of hundredths of a percent."""
    scaled = percent * 100
    assert scaled == int(scaled)
    return int(scaled)


def percent_oracle(amount: int, percent: Decimal) -> int:
    return half_up_ratio(amount * hundredths(percent), 10_000)


# --- strategies --------------------------------------------------------------------------------

percents = st.integers(min_value=0, max_value=10_000).map(lambda h: Decimal(h) / 100)
positive_percents = st.integers(min_value=1, max_value=10_000).map(lambda h: Decimal(h) / 100)
lines = st.lists(
    st.builds(
        Line,
        description=st.sampled_from(["Plan", "Seats", "Storage"]),
        quantity=st.integers(min_value=0, max_value=50),
        unit_amount=st.integers(min_value=0, max_value=10_000_000),
    ),
    max_size=6,
)
discounts = (
    st.none()
    | st.builds(Discount, percent=positive_percents, amount=st.none(), description=st.just("Percent off"))
    | st.builds(
        Discount,
        percent=st.none(),
        amount=st.integers(min_value=1, max_value=50_000_000),
        description=st.just("Fixed off"),
    )
)


# --- currencies ----------------------------------------------------------------------------------


def test_the_table_holds_the_active_iso_4217_currencies_with_their_exponents():
    assert 150 <= len(CURRENCIES) <= 190
    expected = {"JPY": 0, "KRW": 0, "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "CLF": 4, "UYW": 4}
    assert expected.items() <= CURRENCIES.items()
    for code in ("BHD", "KWD", "JOD", "OMR", "TND", "IQD", "LYD"):
        assert CURRENCIES[code] == 3, code
    for code in ("CLP", "ISK", "VND", "XOF", "XAF", "XPF", "PYG", "UGX"):
        assert CURRENCIES[code] == 0, code
    assert set(CURRENCIES.values()) == {0, 2, 3, 4}
    assert all(len(code) == 3 and code.isascii() and code.isupper() and code.isalpha() for code in CURRENCIES)


@pytest.mark.parametrize(
    "code", ["XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"]
)
def test_metals_testing_codes_and_supranational_units_are_not_billing_currencies(code):
    assert code not in CURRENCIES
    assert not is_currency(code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("EUR", True),
        ("JPY", True),
        ("BHD", True),
        ("eur", False),  # no case folding: the API takes "EUR"
        ("Eur", False),
        (" EUR", False),
        ("EUR\n", False),
        ("EURO", False),
        ("EU", False),
        ("", False),
        ("ABC", False),
        ("HRK", False),  # withdrawn
        (None, False),
        (978, False),
    ],
)
def test_is_currency(code, expected):
    assert is_currency(code) is expected


def test_exponent_of_a_currency_and_of_something_else():
    assert (exponent("JPY"), exponent("EUR"), exponent("KWD"), exponent("CLF")) == (0, 2, 3, 4)
    for bad in ("eur", "XAU", "", "EURO"):
        with pytest.raises(ValueError):
            exponent(bad)


# --- rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),  # half up, not to even (round() would give 2)
        ("2.4999999", 2),
        ("2.5000001", 3),
        ("299.9", 300),
        ("-0.5", -1),  # symmetric: a tie goes away from zero
        ("-2.5", -3),
        ("-2.4", -2),
        ("-2.6", -3),
        ("0", 0),
        ("-0", 0),
        ("7", 7),
        ("123456789012345678901234567890.5", 123456789012345678901234567891),
    ],
)
def test_round_half_up_examples(value, expected):
    assert round_half_up(Decimal(value)) == expected


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"), 2.5, 3])
def test_round_half_up_refuses_what_is_not_a_finite_decimal(bad):
    with pytest.raises(ValueError):
        round_half_up(bad)


@settings(max_examples=200)
@given(numerator=st.integers(min_value=-(10**15), max_value=10**15), places=st.integers(min_value=0, max_value=6))
def test_round_half_up_matches_integer_rounding(numerator, places):
    value = Decimal(numerator).scaleb(-places)
    rounded = round_half_up(value)
    assert rounded == half_up_ratio(numerator, 10**places)
    assert abs(value - rounded) <= Decimal("0.5")
    assert round_half_up(-value) == -rounded


@settings(max_examples=100)
@given(whole=st.integers(min_value=-(10**12), max_value=10**12))
def test_every_exact_half_rounds_away_from_zero(whole):
    tie = Decimal(whole) + (Decimal("0.5") if whole >= 0 else Decimal("-0.5"))
    assert round_half_up(tie) == (whole + 1 if whole >= 0 else whole - 1)


# --- lines and discounts -------------------------------------------------------------------------


def test_a_line_is_quantity_times_unit_amount():
    assert Line("Seats", 3, 1250).amount == 3750
    assert Line("Plan", 1, 1999).amount == 1999
    assert Line("Unused", 0, 500).amount == 0


@pytest.mark.parametrize(
    ("quantity", "unit_amount"), [(-1, 100), (1.0, 100), (True, 100), (1, 19.99), (1, "100"), (1, Decimal("1"))]
)
def test_a_line_refuses_a_negative_or_non_int_quantity_and_a_non_int_unit_amount(quantity, unit_amount):
    with pytest.raises(ValueError):
        Line("x", quantity, unit_amount)


@pytest.mark.parametrize(
    ("percent", "amount"),
    [
        (None, None),  # neither
        (Decimal("10"), 100),  # both
        (Decimal("0"), None),  # 0 < p
        (Decimal("-5"), None),
        (Decimal("100.01"), None),  # p <= 100
        (Decimal("12.345"), None),  # two decimals at most
        (Decimal("NaN"), None),
        (10.0, None),  # a float is refused, never guessed at
        (None, 0),  # a fixed amount above 0
        (None, -100),
        (None, 10.5),
        (None, True),
    ],
)
def test_a_discount_has_exactly_one_valid_percent_or_amount(percent, amount):
    with pytest.raises(ValueError):
        Discount(percent=percent, amount=amount, description="x")


def test_valid_discounts():
    assert Discount(percent=Decimal("100"), amount=None, description="free").off(4999) == 4999
    assert Discount(percent=Decimal("0.01"), amount=None, description="tiny").off(5000) == 1  # 0.5 -> 1
    assert Discount(percent=Decimal("12.50"), amount=None, description="trailing zero").off(1000) == 125
    assert Discount(percent=None, amount=700, description="7 off").off(500) == 500
    assert Discount(percent=None, amount=700, description="7 off").line(5000) == Line("7 off", 1, -700)


# --- totals: worked examples ---------------------------------------------------------------------


def test_plan_and_add_ons_times_quantity_with_a_percent_discount_and_vat():
    # Plan 19.99 and 2 seats at 5.00: subtotal 29.99; 10 % off is 2.999, rounded half-up to 3.00;
    # net 26.99; 19 % VAT on it is 5.1281, rounded to 5.13; total 32.12.
    result = totals(
        [Line("Pro plan", 1, 1999), Line("Seat", 2, 500)],
        Discount(percent=Decimal("10"), amount=None, description="10 % off"),
        Decimal("19"),
    )
    assert result == Totals(
        subtotal=2999, discount=300, net=2699, vat_percent=Decimal("19"), vat_amount=513, total=3212
    )


def test_a_percent_discount_applies_to_the_whole_subtotal_not_to_each_line():
    # Three lines of 0.05 at 10 % off: per line 0.005 would round to 0.01 each (0.03 in all);
    # on the whole subtotal of 0.15 it is 0.015, rounded once to 0.02.
    three = [Line("a", 1, 5), Line("b", 1, 5), Line("c", 1, 5)]
    ten = Discount(percent=Decimal("10"), amount=None, description="10 %")
    assert totals(three, ten, Decimal("0")).discount == 2
    assert sum(ten.off(line.amount) for line in three) == 3


def test_a_fixed_discount_never_takes_the_net_below_zero():
    result = totals([Line("Plan", 1, 500)], Discount(percent=None, amount=2000, description="20 off"), Decimal("19"))
    assert result == Totals(subtotal=500, discount=500, net=0, vat_percent=Decimal("19"), vat_amount=0, total=0)


def test_vat_is_rounded_once_per_invoice_not_per_line():
    # Two lines of 0.05 at 10 % VAT: per line 0.005 rounds half-up to 0.01 each, 0.02 in all;
    # once on the net of 0.10 it is exactly 0.01.
    two = [Line("a", 1, 5), Line("b", 1, 5)]
    result = totals(two, None, Decimal("10"))
    assert result.vat_amount == 1
    assert result.total == 11
    per_line = sum(round_half_up(Decimal(line.amount) * Decimal("10") / 100) for line in two)
    assert per_line == 2 != result.vat_amount


def test_vat_ties_round_half_up_and_fractional_rates_work():
    assert totals([Line("Plan", 1, 250)], None, Decimal("19")).vat_amount == 48  # 47.5
    assert totals([Line("Plan", 1, 1000)], None, Decimal("7.7")).vat_amount == 77
    assert totals([Line("Plan", 1, 1001)], None, Decimal("8.25")).vat_amount == 83  # 82.5825
    assert totals([Line("Plan", 1, 1000)], None, Decimal("0")).total == 1000
    assert totals([Line("Plan", 1, 1000)], None, Decimal("100")).total == 2000


def test_no_lines_is_all_zero():
    assert totals([], None, Decimal("19")) == Totals(0, 0, 0, Decimal("19"), 0, 0)


@pytest.mark.parametrize(
    "vat", [Decimal("-1"), Decimal("100.01"), Decimal("19.999"), Decimal("NaN"), Decimal("Infinity"), 19.0, 19, "19"]
)
def test_vat_percent_must_be_a_decimal_from_0_to_100_with_two_decimals_at_most(vat):
    with pytest.raises(ValueError):
        totals([Line("Plan", 1, 1000)], None, vat)


def test_trailing_zeros_in_vat_percent_are_fine():
    assert totals([Line("Plan", 1, 1000)], None, Decimal("19.000")).vat_amount == 190


def test_a_negative_charge_line_is_refused_the_discount_comes_as_a_discount():
    with pytest.raises(ValueError):
        totals([Line("Plan", 1, 1000), Line("Refund", 1, -100)], None, Decimal("19"))


# --- totals: properties --------------------------------------------------------------------------


@settings(max_examples=200)
@given(lines=lines, discount=discounts, vat=percents)
def test_totals_follow_the_contract(lines, discount, vat):
    result = totals(lines, discount, vat)
    subtotal = sum(line.quantity * line.unit_amount for line in lines)
    if discount is None:
        off = 0
    elif discount.percent is not None:
        off = percent_oracle(subtotal, discount.percent)
    else:
        off = min(discount.amount, subtotal)
    assert result.subtotal == subtotal
    assert result.discount == off
    assert result.net == subtotal - off
    assert result.vat_amount == percent_oracle(result.net, vat)
    assert result.total == result.net + result.vat_amount
    assert result.vat_percent == vat
    assert all(isinstance(v, int) for v in (result.subtotal, result.discount, result.net, result.vat_amount))
    # never negative, the discount never more than the subtotal
    assert 0 <= result.discount <= result.subtotal
    assert 0 <= result.net <= result.total
    assert result.vat_amount >= 0


@settings(max_examples=120)
@given(lines=lines, amount=st.integers(min_value=1, max_value=10**9), vat=percents)
def test_a_fixed_discount_never_goes_below_zero(lines, amount, vat):
    result = totals(lines, Discount(percent=None, amount=amount, description="off"), vat)
    assert result.net == max(0, result.subtotal - amount)
    assert result.total >= 0
    if amount >= result.subtotal:
        assert result.total == 0


@settings(max_examples=100)
@given(lines=lines, discount=discounts, vat=percents, extra=st.integers(min_value=1, max_value=100))
def test_a_higher_vat_rate_never_lowers_the_total(lines, discount, vat, extra):
    higher = min(Decimal(100), vat + Decimal(extra) / 100)
    assert totals(lines, discount, higher).total >= totals(lines, discount, vat).total


@settings(max_examples=100)
@given(amount=st.integers(min_value=-(10**30), max_value=10**30), percent=percents)
def test_percent_of_is_exact_for_any_size(amount, percent):
    assert money.percent_of(amount, percent) == percent_oracle(amount, percent)


# --- formatting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1999, "EUR", "19.99"),
        (500, "JPY", "500"),
        (1234, "BHD", "1.234"),
        (5, "EUR", "0.05"),
        (-5, "EUR", "-0.05"),
        (0, "EUR", "0.00"),
        (0, "JPY", "0"),
        (-1500, "KRW", "-1500"),
        (100000000, "USD", "1000000.00"),
        (7, "KWD", "0.007"),
        (12345, "CLF", "1.2345"),
    ],
)
def test_format_minor_examples(amount, currency, expected):
    assert format_minor(amount, currency) == expected


def test_format_minor_refuses_unknown_currencies_and_non_int_amounts():
    with pytest.raises(ValueError):
        format_minor(100, "eur")
    with pytest.raises(ValueError):
        format_minor(19.99, "EUR")
    with pytest.raises(ValueError):
        format_minor(True, "EUR")


@settings(max_examples=200)
@given(
    amount=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["JPY", "KRW", "EUR", "USD", "GBP", "BHD", "KWD", "TND", "CLF"]),
)
def test_format_minor_is_the_exact_decimal_with_the_currencys_places(amount, currency):
    text = format_minor(amount, currency)
    places = CURRENCIES[currency]
    assert Decimal(text) == Decimal(amount).scaleb(-places)
    assert ("." in text) is (places > 0)
    if places:
        assert len(text.rsplit(".", 1)[1]) == places
    assert text.startswith("-") is (amount < 0)
    whole = text.lstrip("-").split(".")[0]
    assert whole.isdigit() and whole == str(int(whole))  # no grouping, no leading zeros


def test_a_callers_decimal_context_changes_nothing():
    with localcontext() as context:
        context.prec = 2
        result = totals([Line("Plan", 1, 123_456_789)], Discount(Decimal("12.34"), None, "off"), Decimal("19.25"))
    assert result == totals([Line("Plan", 1, 123_456_789)], Discount(Decimal("12.34"), None, "off"), Decimal("19.25"))
    assert result.discount == percent_oracle(123_456_789, Decimal("12.34"))
