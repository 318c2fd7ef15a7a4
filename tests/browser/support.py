"""What the browser tests share: a merchant with a catalog made through the API, customers with
cards and subscriptions, reading codes and links from the outbox, and the audit of a screen
(screenshot, axe-core, no horizontal scrolling, no console error).

The stack is the repository's template served by ``python -m infra.local`` without demo data; its
``PublicUrl`` is the stack itself, so links in emails open the pages under test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.e2e.support import bearer, log_in, now, sign_up, unique_email, verify
from tests.localstack import LocalStack, Reply

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# axe-core's impacts that fail a screen; "moderate" and "minor" findings are kept in the artifacts.
BLOCKING_IMPACTS = {"serious", "critical"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def code_in(message: dict[str, Any]) -> str:
    found = re.search(r"\b(\d{6})\b", message["text"])
    assert found, message["text"]
    return found.group(1)


def newest_code(stack: LocalStack, to: str) -> str:
    return code_in(stack.outbox(to)[0])


def link_in(stack: LocalStack, to: str, page: str) -> str:
    """The newest ``{PUBLIC_URL}/{page}?token=...`` link sent to ``to``, as a reader clicks it."""
    for message in stack.outbox(to):
        found = re.search(rf"(https?://[^\s\"<>]+/{page}\?token=[A-Za-z0-9_\-]+)", message["text"] or "")
        if found:
            return found.group(1)
    raise AssertionError(f"no /{page} link sent to {to}")


@dataclass
class Merchant:
    """A signed-up merchant with a catalog; its session is renewed when a clock move ended it."""

    stack: LocalStack
    email: str
    account_id: str
    token: str = ""
    plans: dict[str, str] = field(default_factory=dict)

    @classmethod
    def sign_up(cls, stack: LocalStack, company: str = "Hosted Roasters") -> Merchant:
        email = unique_email("hosted-merchant")
        account_id = sign_up(stack, email, company=company)["account_id"]
        verify(stack, email)
        merchant = cls(stack, email, account_id)
        for handle, name, amount, currency, unit, extra in (
            ("starter", "Starter", 990, "EUR", "month", {}),
            ("annual", "Annual", 29000, "EUR", "year", {"requires_verified_phone": True}),
            ("tokyo", "Tokyo Blend", 1200, "JPY", "month", {}),
        ):
            body = {
                "handle": handle,
                "name": name,
                "amount": amount,
                "currency": currency,
                "interval_unit": unit,
                "portal_orderable": True,
                **extra,
            }
            merchant.plans[handle] = merchant.made("/plans", body)["plan_id"]
        return merchant

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        reply: Reply | None = None
        for _ in range(2):
            if not self.token:
                self.token = log_in(self.stack, self.email)
            reply = self.stack.request(
                method, f"/accounts/{self.account_id}{path}", headers=bearer(self.token), **kwargs
            )
            if reply.status != 401:
                return reply
            self.token = ""
        assert reply is not None
        return reply

    def made(self, path: str, body: dict[str, Any] | None = None, status: int = 201) -> dict[str, Any]:
        reply = self.call("POST", path, json=body if body is not None else {})
        assert reply.status == status, reply.text
        return reply.json

    def card(self, customer_id: str, token: str = "tok_visa_4242", last4: str = "4242", brand: str = "visa") -> str:
        year = datetime.fromtimestamp(now(self.stack), UTC).year + 3
        body = {"card": {"token": token, "brand": brand, "last4": last4, "exp_month": 12, "exp_year": year}}
        return str(self.made(f"/customers/{customer_id}/payment-methods", body)["payment_method_id"])

    def customer(self, name: str = "Ada Lovelace", *, card: bool = True, language: str = "en") -> Customer:
        email = unique_email(name.split()[0].lower())
        made = self.made("/customers", {"email": email, "name": name, "language": language})
        customer = Customer(email=email, customer_id=made["customer_id"], name=name)
        if card:
            customer.payment_methods.append(self.card(customer.customer_id))
        return customer

    def subscribe(self, customer: Customer, plan: str = "starter") -> str:
        made = self.made("/subscriptions", {"customer_id": customer.customer_id, "plan_id": self.plans[plan]})
        return str(made["subscription_id"])

    def portal_link(self, customer: Customer) -> str:
        return str(self.made(f"/customers/{customer.customer_id}/portal-session")["url"])

    def portal_settings(self, **settings: Any) -> None:
        """Replace the portal configuration (omitted fields take their defaults)."""
        reply = self.call("PUT", "/portal", json=settings)
        assert reply.status == 200, reply.text

    @property
    def portal_path(self) -> str:
        return f"/portal/{self.account_id}"


@dataclass
class Customer:
    email: str
    customer_id: str
    name: str
    payment_methods: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------- auditing

_AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


def settled(page: Page) -> None:
    """Wait until the page's main region has its content (no view is loading)."""
    page.wait_for_selector("main:not([aria-busy]) h1", state="attached")
    page.wait_for_load_state("networkidle")


def audit(page: Page, name: str) -> list[dict[str, Any]]:
    """Screenshot the screen into the artifacts, run axe-core on it and fail on a serious or
    critical violation; the page must also fit its viewport's width (no sideways scrolling)."""
    settled(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    violations: list[dict[str, Any]] = page.evaluate(_AXE_RUN, AXE_TAGS)
    (ARTIFACTS / f"{name}.axe.json").write_text(json.dumps(violations, indent=2))
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name}: accessibility violations:\n{json.dumps(blocking, indent=2)}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the viewport"
    return violations


def focused(page: Page) -> dict[str, str]:
    """The focused element: its tag, text and accessible label bits."""
    return page.evaluate(
        """() => { const e = document.activeElement; return e ? {
          tag: e.tagName.toLowerCase(), text: (e.textContent || "").trim(), id: e.id || "",
          label: e.labels && e.labels[0] ? e.labels[0].textContent.trim() : "" } : {}; }"""
    )
