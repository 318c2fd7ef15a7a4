"""Demo data for the local stack: a living billing account the moment ``make run`` is up.

Everything goes through the stack's own front door (:meth:`Stack.handle`, the same routing, event
building and workers as any HTTP client), so the seed can never hold data the API could not have
made. To give the account a history, the shared clock starts 32 days in the past and moves forward
to the present in steps, running the ``subscription-renewal`` job on the way, which does what
the hourly schedule would have done in between:

* day -32: the owner signs up and verifies their email, sets the account up (EUR, 19 % VAT,
  Europe/Berlin), builds a catalog (three plans, an add-on, a discount and its coupon) and signs
  customers up: Grace (Starter, two extra seats, coupon WELCOME20), Linus (Starter), Margaret
  (Annual) and Katherine, whose card is declined at once (a failed invoice, no subscription);
* day -16: Alan starts a Pro trial with a card that will be declined;
* day -3: Hedy starts a Pro trial;
* today: the renewal job renews Grace and Linus (paid invoices) and ends Alan's trial, whose
  charge is declined (dunning: the customer gets an email with a portal link, the next retry is
  tomorrow); Linus pauses and Margaret cancels at the end of her year.

``SEED=0`` (``make run SEED=0``) starts an empty stack. The owner's password is generated here and
printed once: nothing stores it in clear.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.local.events import Request
from portico.security.policy import PasswordPolicy, check_password

if TYPE_CHECKING:
    from infra.local.server import Stack

OWNER_EMAIL = "owner@example.com"
OWNER_NAME = "Olivia Owner"
COMPANY = "Demo Coffee Roasters"
DAY = 86_400.0
HISTORY_DAYS = 32
_SOURCE_IP = "127.0.0.1"


class SeedError(RuntimeError):
    """A step of the seed was refused: the message says which and what the API answered."""


def generate_password(length: int = 20) -> str:
    """A random password that passes the default policy (every character class, nothing guessable)."""
    while True:
        password = _random_password(length)
        if not check_password(password, PasswordPolicy(), personal=[OWNER_EMAIL, OWNER_NAME, COMPANY]):
            return password


def _random_password(length: int) -> str:
    alphabet = string.ascii_letters + string.digits + "-_.!?#"
    required = [
        secrets.choice(string.ascii_lowercase),
        secrets.choice(string.ascii_uppercase),
        secrets.choice(string.digits),
        secrets.choice("-_.!?#"),
    ]
    chars = required + [secrets.choice(alphabet) for _ in range(length - len(required))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@dataclass
class Seeded:
    """What the seed made, for the console and for tests."""

    email: str
    password: str
    account_id: str
    customers: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, str] = field(default_factory=dict)

    def banner(self, url: str, *, note: str | None = None, title: str | None = None) -> str:
        """The console's words on the demo data; ``note`` says where the password is kept, if anywhere."""
        return "\n".join(
            [
                title or "Demo data: an account with a catalog, customers, subscriptions and invoices.",
                f"  Sign in:   POST {url}/auth/login",
                f"             email {self.email}",
                f"             password {self.password}   {note or '(shown once; not stored in clear)'}",
                f"  Account:   {self.account_id}",
                f"  Portal:    {url}/portal/{self.account_id}   (log in as grace@example.com; the code is in",
                f"             {url}/_local/outbox.html)",
                f"  API docs:  {url}/_local/docs",
                "  (make run SEED=0 starts without demo data)",
            ]
        )


class _Client:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, expect: int | tuple[int, ...] = (200, 201)) -> Any:
        headers = [("content-type", "application/json"), ("user-agent", "portico-seed")]
        if self.token:
            headers.append(("authorization", f"Bearer {self.token}"))
        raw = b"" if body is None else json.dumps(body).encode()
        response, _ = self.stack.handle(Request(method, path, headers, raw, _SOURCE_IP))
        answer = json.loads(response.body) if response.body else None
        wanted = (expect,) if isinstance(expect, int) else expect
        if response.status not in wanted:
            raise SeedError(f"{method} {path} answered {response.status}: {answer}")
        return answer


def seed(stack: Stack) -> Seeded:
    """Fill the stack with the demo account (see the module docstring); raises SeedError."""
    from infra.local import outbox

    client = _Client(stack)
    password = generate_password()
    stack.clock.advance(-HISTORY_DAYS * DAY)
    try:
        signed_up = client.call(
            "POST",
            "/signup",
            {"email": OWNER_EMAIL, "password": password, "name": OWNER_NAME, "company": COMPANY},
        )
        [message] = [m for m in outbox.messages(OWNER_EMAIL) if "verify-email?token=" in (m["text"] or "")][:1]
        token = message["text"].split("verify-email?token=", 1)[1].split()[0]
        client.call("POST", "/auth/verify-email", {"token": token})
        account = signed_up["account_id"]
        seeded = Seeded(OWNER_EMAIL, password, account)

        def days_to(day: int, *, renew: bool = False) -> None:
            """Move the clock to ``day`` (days from now); with ``renew``, run the renewal job, which
            does what its hourly schedule would have done since its previous run (it reads back
            to it; the first run reads two days back)."""
            stack.clock.advance(day * DAY - stack.clock.offset.value)
            if not renew:
                return
            report = client.call("POST", "/_local/jobs/subscription-renewal")
            if report.get("failed"):
                raise SeedError(f"subscription-renewal reported failures: {report['failures']}")

        def log_in() -> None:
            client.token = None
            client.token = client.call("POST", "/auth/login", {"email": OWNER_EMAIL, "password": password})["token"]

        def customer(key: str, name: str, email: str, card: str, brand: str, last4: str) -> str:
            made = client.call(
                "POST", f"/accounts/{account}/customers", {"email": email, "name": name, "language": "en"}
            )
            customer_id: str = made["customer_id"]
            client.call(
                "POST",
                f"/accounts/{account}/customers/{customer_id}/payment-methods",
                {"card": {"token": card, "brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2030}},
            )
            seeded.customers[key] = customer_id
            return customer_id

        def subscribe(key: str, customer_id: str, plan_id: str, **extra: Any) -> None:
            made = client.call(
                "POST", f"/accounts/{account}/subscriptions", {"customer_id": customer_id, "plan_id": plan_id, **extra}
            )
            seeded.subscriptions[key] = made["subscription_id"]

        log_in()
        client.call(
            "PATCH",
            f"/accounts/{account}/settings",
            {
                "currency": "EUR",
                "vat_percent": 19,
                "timezone": "Europe/Berlin",
                "terms_url": "https://example.com/terms",
                "company": {"legal_name": "Demo Coffee Roasters GmbH", "address": "Kastanienallee 1, 10435 Berlin"},
            },
        )
        plans = {}
        for handle, name, amount, unit, trial in (
            ("starter", "Starter", 990, "month", None),
            ("pro", "Pro", 2900, "month", 14),
            ("annual", "Annual", 29000, "year", None),
        ):
            body: dict[str, Any] = {
                "handle": handle,
                "name": name,
                "amount": amount,
                "currency": "EUR",
                "interval_unit": unit,
                "portal_orderable": True,
            }
            if trial:
                body["trial_days"] = trial
            if handle == "annual":  # the dearest plan: ordered in the portal only with a verified phone
                body["requires_verified_phone"] = True
            plans[handle] = client.call("POST", f"/accounts/{account}/plans", body)["plan_id"]
        seat = client.call(
            "POST",
            f"/accounts/{account}/addons",
            {"handle": "extra-seat", "name": "Extra seat", "amount": 500, "currency": "EUR"},
        )["addon_id"]
        discount = client.call(
            "POST",
            f"/accounts/{account}/discounts",
            {"handle": "welcome-20", "name": "Welcome, 20 % off", "percent": 20, "duration": "periods", "periods": 3},
        )["discount_id"]
        client.call(
            "POST",
            f"/accounts/{account}/coupons",
            {"code": "WELCOME20", "discount_id": discount, "max_redemptions": 100},
        )

        grace = customer("grace", "Grace Hopper", "grace@example.com", "tok_visa_4242", "visa", "4242")
        subscribe("grace", grace, plans["starter"], addons=[{"addon_id": seat, "quantity": 2}], coupon_code="welcome20")
        linus = customer("linus", "Linus Torvalds", "linus@example.com", "tok_mastercard_4444", "mastercard", "4444")
        subscribe("linus", linus, plans["starter"])
        margaret = customer("margaret", "Margaret Hamilton", "margaret@example.com", "tok_amex_0005", "amex", "0005")
        subscribe("margaret", margaret, plans["annual"])
        katherine = customer(
            "katherine", "Katherine Johnson", "katherine@example.com", "tok_fail_insufficient_funds", "visa", "0002"
        )
        client.call(
            "POST",
            f"/accounts/{account}/subscriptions",
            {"customer_id": katherine, "plan_id": plans["starter"]},
            expect=402,
        )

        days_to(-16)
        log_in()
        alan = customer("alan", "Alan Turing", "alan@example.com", "tok_fail_card_declined", "visa", "0341")
        subscribe("alan", alan, plans["pro"])

        days_to(-5, renew=True)  # before any renewal (a month after day -32 is day -4 at the earliest)
        days_to(-3)
        log_in()
        hedy = customer("hedy", "Hedy Lamarr", "hedy@example.com", "tok_visa_1881", "visa", "1881")
        subscribe("hedy", hedy, plans["pro"])
        days_to(0, renew=True)
    finally:
        # Back to the present, whatever happened on the way.
        stack.clock.offset.value = 0.0
    log_in()
    client.call("POST", f"/accounts/{account}/subscriptions/{seeded.subscriptions['linus']}/pause", {})
    client.call(
        "POST",
        f"/accounts/{account}/subscriptions/{seeded.subscriptions['margaret']}/cancel",
        {"at": "period_end", "reason": "too_expensive"},
    )
    client.token = None
    return seeded
