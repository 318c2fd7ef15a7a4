"""Phone numbers as Portico accepts them: parsed and validated with Google's libphonenumber rules
(``phonenumberslite``, metadata only, no geocoding) and kept in E.164 form. Used by the portal's
customer phones and a merchant user's own phone.
"""

from __future__ import annotations

from portico.errors import ValidationFailed


def normalised(number: str, field: str = "number") -> str:
    """The number in E.164 form; ``422`` when it is not a valid phone number (international form,
    with its country code)."""
    # imported on first use: its metadata is a cold-start cost only the phone routes should pay
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(
            [
                {
                    "loc": ["body", field],
                    "msg": "a valid phone number in international form, such as +49 151 23456789",
                    "type": "value_error",
                }
            ]
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
