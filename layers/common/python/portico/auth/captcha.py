"""Captcha verification against a reCAPTCHA-compatible ``siteverify`` endpoint.

Off unless both ``CAPTCHA_VERIFY_URL`` and ``CAPTCHA_SECRET`` are configured. The same protocol is
spoken by Google reCAPTCHA, hCaptcha and Cloudflare Turnstile: a form POST of ``secret``,
``response`` and ``remoteip`` answered by JSON with ``success``. A provider that cannot be reached
is a dependency failure (503), not a failed captcha: the user did nothing wrong.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from portico.config import settings
from portico.errors import CaptchaFailed, ServiceUnavailable
from portico.observability import logger

TIMEOUT_SECONDS = 3


def require(token: str | None, remote_ip: str) -> None:
    """Raise 400 ``captcha_failed`` unless captcha is off or the provider accepts ``token``."""
    config = settings()
    if not config.captcha_enabled:
        return
    if not token:
        raise CaptchaFailed("A captcha token is required.")
    form = urllib.parse.urlencode({"secret": config.captcha_secret, "response": token, "remoteip": remote_ip})
    request = urllib.request.Request(  # noqa: S310 (config admits only http(s) URLs)
        config.captcha_verify_url,
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            verdict = json.loads(answer.read(65536) or b"{}")
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        logger.warning("captcha provider unreachable", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("The captcha service is unavailable; try again shortly.") from None
    if not (isinstance(verdict, dict) and verdict.get("success") is True):
        raise CaptchaFailed("The captcha was not solved.")
