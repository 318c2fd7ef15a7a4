"""``make run``'s demo data (``infra/local/seed.py``), seen as a newcomer sees it: over HTTP, with
the password the console printed once."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from infra.local.seed import OWNER_EMAIL, generate_password
from portico.security.policy import PasswordPolicy, check_password
from tests.localstack import LocalStack, StackFactory

_PASSWORD = re.compile(r"password (\S+)\s+\(shown once")
_ACCOUNT = re.compile(r"Account:\s+(acc_\w+)")


@pytest.fixture(scope="module")
def seeded(local_stack_factory: StackFactory) -> LocalStack:
    return local_stack_factory(env={"SEED": "1"})


def _sign_in(stack: LocalStack) -> tuple[str, str, dict[str, str]]:
    output = stack.output()
    password = _PASSWORD.search(output)
    account = _ACCOUNT.search(output)
    assert password and account, output
    answer = stack.post("/auth/login", json={"email": OWNER_EMAIL, "password": password.group(1)})
    assert answer.status == 200, answer.text
    return password.group(1), account.group(1), {"Authorization": f"Bearer {answer.json['token']}"}


def test_the_owner_signs_in_with_the_printed_password_shown_once(seeded):
    password, _, _ = _sign_in(seeded)
    output = seeded.output()
    assert output.count(password) == 1
    assert output.index("Demo data") < output.index("Ready:")


def test_subscriptions_in_every_state_a_newcomer_should_see(seeded):
    _, account, auth = _sign_in(seeded)
    answer = seeded.get(f"/accounts/{account}/subscriptions", headers=auth)
    assert answer.status == 200, answer.text
    items = answer.json["items"]
    states = Counter(s["state"] for s in items)
    assert states == {"active": 2, "trialing": 1, "paused": 1, "cancelled": 1}
    [in_dunning] = [s for s in items if s["dunning"]]
    assert in_dunning["state"] == "active" and in_dunning["plan"]["name"] == "Pro"
    [cancelled] = [s for s in items if s["state"] == "cancelled"]
    assert cancelled["ends_at"] == cancelled["current_period_end"]  # cancelled at the period's end
    [with_coupon] = [s for s in items if s["discount"]]
    assert with_coupon["discount"]["percent"] == 20 and with_coupon["addons"][0]["quantity"] == 2


def test_paid_and_failed_invoices_with_vat(seeded):
    _, account, auth = _sign_in(seeded)
    answer = seeded.get(f"/accounts/{account}/invoices", headers=auth)
    assert answer.status == 200, answer.text
    invoices = answer.json["items"]
    states = Counter(i["state"] for i in invoices)
    assert states["paid"] >= 5 and states["failed"] >= 2  # a first charge declined, a trial's end declined
    assert {i["vat_percent"] for i in invoices} == {19}
    assert all(i["currency"] == "EUR" for i in invoices)


def test_the_customer_in_dunning_was_emailed_a_portal_link(seeded):
    [message, *_] = seeded.outbox("alan@example.com")
    assert "/portal/" in message["text"]


def test_the_catalog_and_settings_are_those_of_the_demo(seeded):
    _, account, auth = _sign_in(seeded)
    plans = seeded.get(f"/accounts/{account}/plans", headers=auth).json["items"]
    assert sorted(p["handle"] for p in plans) == ["annual", "pro", "starter"]
    settings = seeded.get(f"/accounts/{account}/settings", headers=auth).json
    assert (settings["currency"], settings["timezone"]) == ("EUR", "Europe/Berlin")
    assert settings["company"]["legal_name"] == "Demo Coffee Roasters GmbH"


def test_without_seed_there_is_no_demo_account(local_stack):
    assert "Demo data" not in local_stack.output()
    answer = local_stack.post("/auth/login", json={"email": OWNER_EMAIL, "password": "Whatever-it-was-1"})
    assert answer.status == 401


def test_generated_passwords_pass_the_default_policy_and_differ():
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(not check_password(p, PasswordPolicy()) for p in passwords)
