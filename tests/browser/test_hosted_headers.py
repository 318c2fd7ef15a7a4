"""What the hosted pages answer over HTTP, without a browser: the strict Content-Security-Policy
and the other security headers on every page, cache headers, assets named by their version and
served with their content types, nothing from another host, and every link the stack emails
opening a page of the stack itself."""

from __future__ import annotations

import re

import pytest

from tests.browser.support import Merchant
from tests.e2e.support import sign_up, unique_email
from tests.localstack import LocalStack

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGES = ["/verify-email", "/reset-password", "/accept-invitation", "/confirm-email"]


def assets_of(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)


def test_every_page_is_html_with_a_strict_policy_and_no_cache(web_stack: LocalStack, merchant: Merchant):
    for path in [merchant.portal_path, f"{merchant.portal_path}?token=abc", *PAGES, "/verify-email?token=abc"]:
        reply = web_stack.get(path)
        assert reply.status == 200, (path, reply.text)
        headers = reply.headers
        assert headers["Content-Type"] == "text/html; charset=utf-8", path
        assert headers["Content-Security-Policy"] == CSP, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store", "a page's URL may carry a token: nothing keeps it"
        # nothing inline for the CSP to refuse, and nothing from another host
        assert "<script>" not in reply.text and " style=" not in reply.text and "onload=" not in reply.text
        assert not re.search(r"(?:src|href)=\"(?!/assets/|#|data:)", reply.text), path


def test_assets_are_versioned_typed_and_cached_for_a_year(web_stack: LocalStack, merchant: Merchant):
    html = web_stack.get(merchant.portal_path).text
    assets = assets_of(html)
    assert {a.rsplit("/", 1)[1] for a in assets} == {"portico.css", "portal.js"}
    version = assets[0].split("/")[2]
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    for name in ["portal.js", "pages.js", "api.js", "dom.js", "i18n.js", "format.js", "color.js", "portico.css"]:
        reply = web_stack.get(f"/assets/{version}/{name}")
        assert reply.status == 200, name
        assert reply.headers["Content-Type"] == types[name[name.rfind(".") :]]
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert not re.search(r"(?:import|from)\s*[\"']https?:", reply.text), f"{name} loads code from a host"
        assert "innerHTML" not in reply.text, f"{name}: the pages build their DOM without HTML strings"
    stale = web_stack.get("/assets/0000000000000000/portal.js")
    assert stale.status == 200 and stale.headers["Cache-Control"] == "no-cache"
    for path in [f"/assets/{version}/nothing.js", f"/assets/{version}/..", "/portal/not-an-account"]:
        missing = web_stack.get(path)
        assert missing.status == 404, path
        assert missing.headers["Content-Type"] == "application/problem+json"
        assert missing.json["code"] == "not_found"


def test_the_portal_route_does_not_shadow_the_portal_api(web_stack: LocalStack):
    """Literal routes win over /portal/{account_id}: /portal/me is the API's, not a page."""
    for path in ["/portal/me", "/portal/subscriptions", "/portal/invoices", "/portal/payment-methods", "/portal/plans"]:
        reply = web_stack.get(path)
        assert (reply.status, reply.json["code"]) == (401, "unauthenticated"), path


def test_links_in_emails_open_pages_of_the_stack_itself(web_stack: LocalStack):
    email = unique_email("links")
    sign_up(web_stack, email)
    [message] = web_stack.outbox(email)
    links = re.findall(r"https?://[^\s\"<>]+", message["text"])
    assert links, message["text"]
    for link in links:
        assert link.startswith(web_stack.url + "/"), link
        reply = web_stack.get(link.removeprefix(web_stack.url))
        assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html"), link
