"""Email templates in every supported language, as files beside this module.

``templates/<name>.<lang>.txt`` holds the subject on its first line (``Subject: ...``), a blank
line, then the plain-text body; ``templates/<name>.<lang>.html`` the HTML body, wrapped in
``templates/layout.html``. Placeholders are ``$name`` (:class:`string.Template`); values are
HTML-escaped in the HTML part. A language without a template falls back to English.
"""

from __future__ import annotations

import html
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


def render(name: str, language: str, values: dict[str, str]) -> Rendered:
    available = language in SUPPORTED_LANGUAGES and (_DIR / f"{name}.{language}.txt").exists()
    lang = language if available else DEFAULT_LANGUAGE
    head, _, body = _read(f"{name}.{lang}.txt").partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"template {name}.{lang}.txt lacks its Subject line")
    subject = Template(head.removeprefix("Subject: ").strip()).substitute(values)
    text = Template(body).substitute(values)
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    inner = Template(_read(f"{name}.{lang}.html")).substitute(escaped)
    page = Template(_read("layout.html")).substitute(lang=lang, subject=html.escape(subject), content=inner)
    return Rendered(subject=subject, text=text, html=page)
