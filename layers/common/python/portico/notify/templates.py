"""Email templates in every supported language, as files beside this module.

``templates/<name>.<lang>.txt`` holds the subject on its first line (``Subject: ...``), a blank
line, then the plain-text body; ``templates/<name>.<lang>.html`` the HTML body, wrapped in
``templates/layout.html``. Placeholders are ``$name`` (:class:`string.Template`). A language
without a template falls back to English.

Emails go to addresses that others can choose (anyone may sign up with, or invite, any address),
so every value is untrusted text (:func:`untrusted`): one line, at most ``MAX_VALUE_CHARS``
characters, with anything that reads as a web address defanged ("evil[.]example", "https[:]//"),
so that a company or account name cannot turn an email into a phishing link; HTML-escaped in
the HTML part. Links that Portico builds itself are passed apart, as ``links``. Subjects name no
company, account or person (a number of days at most).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template

from portico.config import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

_DIR = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=64)
def _read(filename: str) -> str:
    return (_DIR / filename).read_text(encoding="utf-8")


MAX_VALUE_CHARS = 80
# Line and paragraph breaks of every kind, other controls, and bidirectional overrides.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_DOT_BETWEEN_WORDS = re.compile(r"(?<=\w)\.(?=[^\W\d_])")  # a dot before a letter: a domain, not 19.99


def untrusted(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``value`` as it may appear in an email: one line, bounded, no clickable address in it."""
    text = " ".join(_UNSAFE.sub(" ", unicodedata.normalize("NFKC", value)).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return _DOT_BETWEEN_WORDS.sub("[.]", text.replace("://", "[:]//"))


def render(name: str, language: str, values: dict[str, str], links: dict[str, str] | None = None) -> Rendered:
    available = language in SUPPORTED_LANGUAGES and (_DIR / f"{name}.{language}.txt").exists()
    lang = language if available else DEFAULT_LANGUAGE
    head, _, body = _read(f"{name}.{lang}.txt").partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"template {name}.{lang}.txt lacks its Subject line")
    values = {**{k: untrusted(v) for k, v in values.items()}, **(links or {})}
    subject = Template(head.removeprefix("Subject: ").strip()).substitute(values)
    text = Template(body).substitute(values)
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    inner = Template(_read(f"{name}.{lang}.html")).substitute(escaped)
    page = Template(_read("layout.html")).substitute(lang=lang, subject=html.escape(subject), content=inner)
    return Rendered(subject=subject, text=text, html=page)
