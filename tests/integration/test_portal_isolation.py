"""The portal's side of the authorization matrix: every portal route that names a thing by its id,
called by the customer who owns it, by another customer of the same account, and by a customer of
another account. Only the owner reaches it; for the others it does not exist (``404 not_found``,
the same answer as for an id nobody has), and nothing of it changes. The token kinds (none, a
garbage one, an expired one, a merchant's) are in ``test_authorization_matrix.py``.

The routes come from ``template.yaml``: a new portal route with an id in its path fails here until
it has a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration import flows
from tests.integration.flows import CARD, Subject, World, fresh_table, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.support import Answer

ROUTES = sorted(
    key
    for key in flows.ROUTES
    if key.partition(" ")[2].startswith("/portal/") and "{" in key and "/portal/{account_id}" not in key
)


@dataclass
class Customer:
    """A customer logged in to the portal, with a subscription, its invoice and a spare card."""

    world: World
    subject: Subject
    spare_card: str = ""

    @property
    def token(self) -> str:
        return str(self.subject.portal)

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        return self.world.api.call(method, path, body, token=self.token)

    def things(self) -> dict[str, str]:
        return {
            "subscription_id": self.subject.subscription_id,
            "invoice_id": self.subject.invoice["invoice_id"],
            "payment_method_id": self.spare_card,
        }


def portal_customer(world: World, subject: Subject | None = None) -> Customer:
    """A new customer with a portal session: of a new account, or of ``subject``'s account."""
    s = Subject()
    if subject is not None:  # another customer of that account
        s.person, s.token = subject.person, subject.token
    flows.portal_customer(world, s)
    customer = Customer(world, s)
    added = customer.call("POST", "/portal/payment-methods", {"card": CARD})
    assert added.status == 201, added.body
    customer.spare_card = added.body["payment_method_id"]
    return customer


BODIES: dict[str, Any] = {
    "PUT /portal/subscriptions/{subscription_id}/payment-method": lambda own: {"payment_method_id": own.spare_card},
}


def test_every_portal_route_with_an_id_has_a_case():
    assert ROUTES, "no portal route with an id in template.yaml"
    for route in ROUTES:
        assert any(f"{{{name}}}" in route for name in ("subscription_id", "invoice_id", "payment_method_id")), route


@pytest.mark.parametrize("route", ROUTES)
def test_another_customers_things_do_not_exist(world, route):
    owner = portal_customer(world)
    neighbour = portal_customer(world, owner.subject)  # the same account
    stranger = portal_customer(world)  # another account
    method, path = route.split(" ", 1)
    target = path.format(**owner.things())
    for other in (neighbour, stranger):
        body = BODIES.get(route, lambda own: {})(other)  # a body of their own: only the target is not
        refused = other.call(method, target, body if method in ("POST", "PUT", "PATCH") else None)
        assert (refused.status, refused.body.get("code")) == (404, "not_found"), (route, refused.body)
        nobody = other.call(method, path.format(**{k: v[:-4] + "zzzz" for k, v in owner.things().items()}), body)
        assert (nobody.status, nobody.body.get("code")) == (404, "not_found"), (route, nobody.body)
    # the owner's things are as they were, and the owner reaches them
    subscription = owner.call("GET", f"/portal/subscriptions/{owner.subject.subscription_id}")
    assert subscription.status == 200 and subscription.body["state"] == "active", subscription.body
    cards = owner.call("GET", "/portal/payment-methods").body["items"]
    assert owner.spare_card in {c["payment_method_id"] for c in cards}
    assert owner.call("GET", f"/portal/invoices/{owner.subject.invoice['invoice_id']}").status == 200


def test_lists_show_only_the_customers_own(world):
    owner = portal_customer(world)
    neighbour = portal_customer(world, owner.subject)
    for path, key in (
        ("/portal/subscriptions", "subscription_id"),
        ("/portal/invoices", "invoice_id"),
        ("/portal/payment-methods", "payment_method_id"),
    ):
        mine = {x[key] for x in owner.call("GET", path).body["items"]}
        theirs = {x[key] for x in neighbour.call("GET", path).body["items"]}
        assert mine and theirs and not mine & theirs, path
