import re

import pytest

from portico import ids
from portico.locale import negotiate
from portico.notify.templates import render, untrusted


@pytest.mark.parametrize(
    ("explicit", "header", "expected"),
    [
        ("de", "en-US", "de"),
        (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
        (None, "fr-FR,fr;q=0.9,de;q=0.5,en;q=0.7", "en"),
        (None, "fr, de;q=0.1", "de"),
        (None, "", "en"),
        (None, "de;q=0", "en"),
        (None, "xx;q=abc, de", "de"),
    ],
)
def test_language_negotiation(explicit, header, expected):
    assert negotiate(explicit, header) == expected


def test_ids_are_prefixed_unique_and_opaque():
    made = {ids.new_id("usr") for _ in range(1000)}
    assert len(made) == 1000
    assert all(re.fullmatch(r"usr_[a-z2-7]{26}", i) for i in made)
    with pytest.raises(ValueError):
        ids.new_id("nope")


def test_tokens_and_codes():
    assert len(ids.new_token()) >= 43  # 256 bits in base64url
    codes = {ids.new_code() for _ in range(200)}
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert ids.digest("a") != ids.digest("b") and len(ids.digest("a")) == 64


@pytest.mark.parametrize("language", ["en", "de"])
def test_verification_email_renders_in_both_languages_and_escapes_html(language):
    rendered = render("verify_email", language, {"name": "<Eve>"}, links={"link": "https://x/verify-email?token=t"})
    assert "https://x/verify-email?token=t" in rendered.text
    assert 'href="https://x/verify-email?token=t"' in rendered.html
    assert "<Eve>" in rendered.text and "&lt;Eve&gt;" in rendered.html and "<Eve>" not in rendered.html
    assert ("Confirm" in rendered.subject) == (language == "en")
    assert ("bestätigen" in rendered.subject) == (language == "de")
    assert f'lang="{language}"' in rendered.html


def test_unknown_language_falls_back_to_english():
    assert render("verify_email", "fr", {"name": "n"}, links={"link": "l"}).subject.startswith("Confirm")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Visit https://evil.example/claim now", "Visit https[:]//evil[.]example/claim now"),
        ("www.evil.example", "www[.]evil[.]example"),
        ("Ada\u2028Bcc: x@y.z\r\nSubject: hi", "Ada Bcc: x@y[.]z Subject: hi"),
        ("Mr. Smith & Sons", "Mr. Smith & Sons"),
        ("\u202eevil", "evil"),
        ("x" * 200, "x" * 79 + "\u2026"),
    ],
)
def test_values_in_emails_are_one_defanged_line(typed, shown):
    """Whatever a sign-up or an inviter typed reaches an email as one short line with no clickable
    address: a company name is no phishing channel (a subject carries no value at all)."""
    assert untrusted(typed) == shown
    values = {"inviter": "eve@example.com", "account": typed, "expires": "soon"}
    rendered = render("invitation", "en", values, links={"link": "https://app/accept-invitation?token=t"})
    assert shown in rendered.text and typed not in rendered.text.replace(shown, "")
    assert "evil" not in rendered.subject and "\n" not in rendered.subject
