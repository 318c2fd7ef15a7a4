"""The hosted pages: the customer portal's web app and the pages behind the links in emails.

Served from the same HTTP API as the JSON routes, so that the pages call the API on their own
origin (``connect-src 'self'``) and ``PUBLIC_URL`` can simply be the API's URL:

* ``GET /portal/{account_id}``: the portal, a single page in plain HTML, CSS and ES modules that
  uses only the portal routes (docs/api/portal.md). A merchant links to it, optionally with the
  one-time ``?token=`` of ``POST /accounts/{a}/customers/{c}/portal-session``;
* ``GET /verify-email``, ``/reset-password``, ``/accept-invitation``, ``/confirm-email``: each reads
  ``?token=`` in the browser and calls the route the email's flow belongs to;
* ``GET /assets/{version}/{file}``: the pages' scripts and stylesheet. ``version`` is a digest of
  every asset, so an asset URL never changes meaning and may be cached for a year; relative
  imports between the modules stay inside one version.

No template engine and no build step: the two HTML shells in ``pages/`` get the asset path and
the currency table (ISO 4217 minor units, from :mod:`portico.money`, the same table the API
computes with) substituted once, at import. Every answer carries a strict Content-Security-Policy
(nothing inline, nothing from another host but the merchant's https logo), ``nosniff`` and
``Referrer-Policy: no-referrer`` (a link's token never leaves in a ``Referer``).
"""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response

from portico import access, http, money
from portico.errors import NotFound

boot.ready()

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
PAGES = HERE / "pages"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
HTML = "text/html; charset=utf-8"
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# The shells name no one and hold nothing personal, but their URL may carry a one-time token: no
# cache keeps a copy. Assets are named by their content's digest and never change.
PAGE_CACHE = "no-store"
ASSET_CACHE = "public, max-age=31536000, immutable"
STALE_ASSET_CACHE = "no-cache"  # an asset asked for under another version: today's content, not kept

ACCOUNT_ID = re.compile(r"^acc_[a-z0-9]{1,60}$")


def _assets() -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(STATIC.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


ASSETS = _assets()
VERSION = hashlib.sha256(b"".join(name.encode() + b"\0" + body for name, body in ASSETS.items())).hexdigest()[:16]


def _shell(name: str, **values: str) -> str:
    text = (PAGES / name).read_text(encoding="utf-8")
    for key, value in {"ASSETS": f"/assets/{VERSION}", **values}.items():
        text = text.replace("{{" + key + "}}", value)
    return text


# The currency table as a JSON data island (never executed: CSP allows no inline script anyway).
_CURRENCIES = json.dumps(money.CURRENCIES, separators=(",", ":"), sort_keys=True).replace("</", "<\\/")
PORTAL_PAGE = _shell("portal.html", CURRENCIES=_CURRENCIES)
LINK_PAGE_SHELL = _shell("link.html")

app = http.resolver()

_HTML_ANSWER: dict[int | str, Any] = {
    200: {"description": "The page (HTML)", "content": {"text/html": {"schema": {"type": "string"}}}}
}
_ASSET_ANSWER: dict[int | str, Any] = {
    200: {
        "description": "The asset (JavaScript module or CSS)",
        "content": {
            "text/javascript": {"schema": {"type": "string"}},
            "text/css": {"schema": {"type": "string"}},
        },
    }
}


def _answer(body: str | bytes, content_type: str, cache: str) -> Response[str]:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return Response(
        status_code=200,
        content_type=content_type,
        body=text,
        headers={**SECURITY_HEADERS, "Cache-Control": cache},
    )


def _link_page(page: str) -> Response[str]:
    return _answer(LINK_PAGE_SHELL.replace("{{PAGE}}", page), HTML, PAGE_CACHE)


@app.get("/portal/<account_id>", responses=_HTML_ANSWER)
@access.public
def portal_page(account_id: str) -> Response[str]:
    """The customer portal of the account (HTML); with ``?token=`` a merchant's one-time login link."""
    if not ACCOUNT_ID.match(account_id):
        raise NotFound("No such portal.")
    return _answer(PORTAL_PAGE, HTML, PAGE_CACHE)


@app.get("/verify-email", responses=_HTML_ANSWER)
@access.public
def verify_email_page() -> Response[str]:
    """The page of the sign-up email's link (``?token=``): verifies the address."""
    return _link_page("verify-email")


@app.get("/reset-password", responses=_HTML_ANSWER)
@access.public
def reset_password_page() -> Response[str]:
    """The page of the recovery email's link (``?token=``), or of an SMS code: sets a new password."""
    return _link_page("reset-password")


@app.get("/accept-invitation", responses=_HTML_ANSWER)
@access.public
def accept_invitation_page() -> Response[str]:
    """The page of the invitation email's link (``?token=``): joins the account."""
    return _link_page("accept-invitation")


@app.get("/confirm-email", responses=_HTML_ANSWER)
@access.public
def confirm_email_page() -> Response[str]:
    """The page of the email-change confirmation link (``?token=``)."""
    return _link_page("confirm-email")


@app.get("/assets/<version>/<file>", responses=_ASSET_ANSWER)
@access.public
def asset(version: str, file: str) -> Response[str]:
    """A script or stylesheet of the pages, cached for a year under the current version."""
    body = ASSETS.get(file)
    if body is None:
        raise NotFound("No such asset.")
    suffix = file[file.rfind(".") :]
    return _answer(body, CONTENT_TYPES[suffix], ASSET_CACHE if version == VERSION else STALE_ASSET_CACHE)


lambda_handler = http.entry_point(app)
