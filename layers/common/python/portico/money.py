"""Money: ISO 4217 currencies and their minor units, half-up rounding, and an invoice's totals.

This module owns the money rules of the API: an amount is an ``int`` in the currency's minor units
(cents for EUR, yen for JPY, fils for BHD); the subtotal of an invoice is the sum of its lines; a
percent discount applies to the whole subtotal and is rounded half-up to minor units; a fixed
discount never takes the net below zero; VAT is charged on the net at the account's ``vat_percent``
and rounded half-up once per invoice (never per line); the total is the net plus VAT. It also
formats an amount as a plain decimal string for emails and logs.

It is pure (standard library only): no I/O, no clock, no floats. Every invalid input is a
``ValueError`` so that a pydantic validator can turn it into a ``422 validation_error``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext

# Every active ISO 4217 currency (List One) with its minor-unit exponent: an amount of ``n`` minor
# units is ``n / 10**exponent`` of the currency.
#
# Left out on purpose, because nobody is billed in them: gold, silver, platinum and palladium (XAU,
# XAG, XPT, XPD), the testing and "no currency" codes (XTS, XXX), and the supranational units of
# account (XDR, XBA, XBB, XBC, XBD, XSU, XUA). The national units of account and fund codes that
# ISO lists with a real exponent (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are kept.
# Codes ISO has withdrawn are not accepted for new amounts: ANG (replaced by XCG in 2025), BGN
# (Bulgaria joined the euro in 2026), HRK (euro, 2023), SLL (redenominated as SLE), ZWL (replaced by
# ZWG in 2024), CUC, MRO, STD, VEF, BYR, LTL, LVL.
CURRENCIES: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
    "BAM": 2, "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BOV": 2,
    "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
    "CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2,
    "COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
    "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
    "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2,
    "FJD": 2, "FKP": 2,
    "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
    "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0,
    "JMD": 2, "JOD": 3, "JPY": 0,
    "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2,
    "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3,
    "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2,
    "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2, "MYR": 2, "MZN": 2,
    "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
    "OMR": 3,
    "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0,
    "QAR": 2,
    "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0,
    "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2,
    "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
    "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
    "UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2,
    "VED": 2, "VES": 2, "VND": 0, "VUV": 0,
    "WST": 2,
    "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0,
    "YER": 2,
    "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

_CODE = re.compile(r"[A-Z]{3}")
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
# A context of its own for the checks, so that a caller's decimal context cannot change them.
_CHECKS = Context(prec=40, traps=[InvalidOperation, Overflow, DivisionByZero])


def is_currency(code: object) -> bool:
    """Whether ``code`` is a billing currency of :data:`CURRENCIES`: exactly three upper-case
    letters, no case folding (the API takes ``"EUR"``, never ``"eur"``)."""
    return isinstance(code, str) and _CODE.fullmatch(code) is not None and code in CURRENCIES


def exponent(currency: str) -> int:
    """The currency's minor-unit exponent (2 for EUR, 0 for JPY, 3 for BHD); ``ValueError`` for a
    code that is not a billing currency."""
    if not is_currency(currency):
        raise ValueError(f"not an ISO 4217 billing currency: {currency!r}")
    return CURRENCIES[currency]


def round_half_up(value: Decimal) -> int:
    """``value`` rounded to the nearest integer, a tie rounded away from zero.

    Symmetric for negatives: a negative value rounds as its absolute value does, with the sign
    kept (``2.5 -> 3``, ``-2.5 -> -3``, ``-2.4 -> -2``), so that ``round_half_up(-x) ==
    -round_half_up(x)``. ``ValueError`` for NaN, infinities and anything that is not a Decimal.
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"not a finite Decimal: {value!r}")
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _percent(value: object, *, what: str, zero_allowed: bool) -> Decimal:
    """``value`` checked as a percentage: a finite Decimal, at most 100, at least 0 (or above 0
    when ``zero_allowed`` is false), with at most two decimal places (``19.5`` and ``7.75``, not
    ``19.999``; trailing zeros such as ``19.000`` are fine)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{what} must be a finite Decimal, got {value!r}")
    low_ok = value >= 0 if zero_allowed else value > 0
    if not low_ok or value > _HUNDRED:
        bounds = "between 0 and 100" if zero_allowed else "above 0 and at most 100"
        raise ValueError(f"{what} must be {bounds}, got {value}")
    if value != value.quantize(_CENT, context=_CHECKS):
        raise ValueError(f"{what} may have at most two decimal places, got {value}")
    return value


def percent_of(amount: int, percent: Decimal) -> int:
    """``percent`` % of ``amount`` minor units, rounded half-up to minor units (exact: no float and
    no intermediate rounding, whatever the size of ``amount``)."""
    if not _is_int(amount):
        raise ValueError(f"an amount is an int of minor units, got {amount!r}")
    if not isinstance(percent, Decimal) or not percent.is_finite():
        raise ValueError(f"a percentage is a finite Decimal, got {percent!r}")
    # Enough digits for the exact product; Inexact trapped so that a rounding can never slip in.
    digits = len(str(abs(amount))) + len(percent.as_tuple().digits) + 4
    traps = [Inexact, InvalidOperation, Overflow, DivisionByZero]
    with localcontext(Context(prec=digits, traps=traps)):
        return round_half_up((Decimal(amount) * percent).scaleb(-2))


@dataclass(frozen=True)
class Line:
    """One line of an invoice: ``quantity`` times ``unit_amount`` minor units (the plan is a line
    of quantity 1, an add-on a line of its quantity). ``unit_amount`` may be negative only for
    a discount line; :func:`totals` takes charge lines, which are never negative."""

    description: str
    quantity: int
    unit_amount: int

    def __post_init__(self) -> None:
        if not isinstance(self.description, str):
            raise ValueError("a line's description is a string")
        if not _is_int(self.quantity) or self.quantity < 0:
            raise ValueError(f"a line's quantity is an int of at least 0, got {self.quantity!r}")
        if not _is_int(self.unit_amount):
            raise ValueError(f"a line's unit_amount is an int of minor units, got {self.unit_amount!r}")

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


@dataclass(frozen=True)
class Discount:
    """What a discount takes off an invoice: exactly one of ``percent`` (of the whole subtotal,
    above 0 and at most 100, two decimals at most) or ``amount`` (a fixed amount in minor units of
    the invoice's currency, above 0). The invoice shows it as one negative line, ``description``."""

    percent: Decimal | None
    amount: int | None
    description: str

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount has exactly one of percent and amount")
        if self.percent is not None:
            _percent(self.percent, what="a discount's percent", zero_allowed=False)
        if self.amount is not None and (not _is_int(self.amount) or self.amount <= 0):
            raise ValueError(f"a discount's amount is an int of minor units above 0, got {self.amount!r}")
        if not isinstance(self.description, str):
            raise ValueError("a discount's description is a string")

    def off(self, subtotal: int) -> int:
        """The minor units this discount takes off ``subtotal`` (a non-negative int): a percent
        rounded half-up, a fixed amount at most the subtotal, so the net is never negative."""
        if not _is_int(subtotal) or subtotal < 0:
            raise ValueError(f"a subtotal is an int of at least 0, got {subtotal!r}")
        if self.percent is not None:
            return percent_of(subtotal, self.percent)
        assert self.amount is not None  # one of the two is set (__post_init__)
        return min(self.amount, subtotal)

    def line(self, subtotal: int) -> Line:
        """The invoice's negative discount line for ``subtotal``."""
        return Line(self.description, 1, -self.off(subtotal))


@dataclass(frozen=True)
class Totals:
    """An invoice's sums, all ints in minor units: ``discount`` is what was taken off (0 or more;
    the invoice shows it as a negative line), ``net = subtotal - discount``, ``vat_amount`` is the
    VAT on the net and ``total = net + vat_amount`` (the invoice's ``amount``)."""

    subtotal: int
    discount: int
    net: int
    vat_percent: Decimal
    vat_amount: int
    total: int


def validate_vat_percent(vat_percent: object) -> Decimal:
    """``vat_percent`` checked: a finite Decimal from 0 to 100 with at most two decimal places
    (``ValueError`` otherwise; a float is refused rather than guessed at)."""
    return _percent(vat_percent, what="vat_percent", zero_allowed=True)


def totals(lines: Iterable[Line], discount: Discount | None, vat_percent: Decimal) -> Totals:
    """The totals of an invoice:

    - subtotal: the sum of the lines' amounts (the plan, the add-ons times their quantities);
    - discount: a percent of the whole subtotal rounded half-up, or a fixed amount that never
      takes the net below zero;
    - VAT: ``vat_percent`` of the net, rounded half-up once for the invoice;
    - total: net plus VAT.

    A charge line with a negative amount is a ``ValueError``: a discount is passed as ``discount``.
    """
    vat = validate_vat_percent(vat_percent)
    subtotal = 0
    for line in lines:
        if not isinstance(line, Line):
            raise ValueError(f"not a Line: {line!r}")
        if line.amount < 0:
            raise ValueError(f"a charge line is never negative: {line!r}")
        subtotal += line.amount
    off = discount.off(subtotal) if discount is not None else 0
    net = subtotal - off
    vat_amount = percent_of(net, vat)
    return Totals(
        subtotal=subtotal, discount=off, net=net, vat_percent=vat, vat_amount=vat_amount, total=net + vat_amount
    )


def format_minor(amount: int, currency: str) -> str:
    """``amount`` minor units of ``currency`` as a plain decimal string with the currency's number
    of decimals, no grouping and no symbol: ``1999 EUR -> "19.99"``, ``500 JPY -> "500"``,
    ``1234 BHD -> "1.234"``, ``-5 EUR -> "-0.05"``. For emails and logs."""
    places = exponent(currency)
    if not _is_int(amount):
        raise ValueError(f"an amount is an int of minor units, got {amount!r}")
    sign = "-" if amount < 0 else ""
    if places == 0:
        return f"{sign}{abs(amount)}"
    whole, fraction = divmod(abs(amount), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}"
