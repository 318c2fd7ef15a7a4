"""Raw card numbers are refused wherever a body may carry one.

Portico stores only a payment provider's token for a card, never its number: holding card numbers
would bring the whole system into PCI DSS scope. A body is refused (``422
raw_card_data_rejected``) when it holds a Luhn-valid run of 13 to 19 digits anywhere, also split by
spaces or dashes as people type them, but not after a ``+`` (a phone number in international
form), also when its digits are written as JSON escapes; the number is never logged or echoed.
"""

from __future__ import annotations

import re

from portico.errors import define

RawCardData = define("RawCardData", 422, "raw_card_data_rejected", "Raw Card Data Rejected")

# Runs of digits that may be separated by single spaces or dashes, 13 to 19 digits in all; not after
# a "+": that is a phone number in international form (+4915112345678 happens to pass Luhn's check,
# as one number in ten does), and no card number is written with one.
_CANDIDATE = re.compile(r"(?<![\d+])\d(?:[ \-]?\d){12,18}(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def holds_card_number(text: str) -> bool:
    """Whether ``text`` holds what looks like a card number: a run of 13 to 19 digits (spaces or
    dashes between them allowed, other digits not next to it) that passes Luhn's check."""
    return any(luhn_valid(re.sub(r"\D", "", match.group())) for match in _CANDIDATE.finditer(text))


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def refuse_card_numbers(text: str) -> None:
    """Refuse a body holding a card number, also one spelled with JSON escapes (``\\u0034...``)."""
    unescaped = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\u" in text else text
    if holds_card_number(unescaped):
        raise RawCardData("Send a payment provider's token for the card, never its number.")
