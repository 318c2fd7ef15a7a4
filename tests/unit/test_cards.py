"""Raw card numbers are found wherever they hide in a body, and phone numbers, ids and amounts are not
mistaken for them (``portico.cards``)."""

from __future__ import annotations

import json

import pytest

from portico.cards import RawCardData, holds_card_number, luhn_valid, refuse_card_numbers

CARDS = {
    "visa 16": "4242424242424242",
    "visa 13": "4222222222222",
    "amex 15": "378282246310005",
    "mastercard 2-series": "2223003122003222",
    "maestro 19": "6759649826438453003",
}


@pytest.mark.parametrize("number", CARDS.values(), ids=CARDS.keys())
def test_test_card_numbers_pass_luhn(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", CARDS.values(), ids=CARDS.keys())
@pytest.mark.parametrize(
    "write",
    [
        lambda n: n,
        lambda n: " ".join(n[i : i + 4] for i in range(0, len(n), 4)),
        lambda n: "-".join(n[i : i + 4] for i in range(0, len(n), 4)),
        lambda n: json.dumps({"card": {"token": n}}),
        lambda n: json.dumps({"note": f"my card is {n}, thanks"}),
        lambda n: json.dumps({"list": [{"deep": {"deeper": n}}]}),
    ],
    ids=["bare", "spaced", "dashed", "as the token", "inside a sentence", "nested"],
)
def test_a_card_number_is_found_however_it_is_written(number, write):
    assert holds_card_number(write(number))
    with pytest.raises(RawCardData) as refused:
        refuse_card_numbers(write(number))
    assert number not in str(refused.value.detail) and number[-4:] not in str(refused.value.detail)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # one digit off: Luhn fails
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: longer than any card
        "x4242424242424242424242x",  # a card's digits inside a longer run
        '{"phone": "+4915112345678"}',  # a phone number that passes Luhn's check
        '{"phone": "+49 151 1234 5678"}',
        '{"token": "tok_visa_4242"}',
        '{"customer_id": "cus_01m8hg0735gzmga5sfn8c0tb75"}',
        '{"amount": 1999, "quantity": 3}',
        "",
    ],
)
def test_what_is_not_a_card_number_passes(text):
    assert not holds_card_number(text)
    refuse_card_numbers(text)
