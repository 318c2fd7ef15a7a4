"""Choosing a user's language: explicit choice, else the browser's ``Accept-Language``, else English."""

from __future__ import annotations

from portico.config import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES


def negotiate(explicit: str | None, accept_language: str) -> str:
    if explicit:
        return explicit
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in SUPPORTED_LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT_LANGUAGE
