"""The API's main flows, each ready to run against the integration emulation: how to bring a fresh
user to the point where the flow's request can be made, the request itself, and what success
looks like. One catalogue, shared by the fault sweep (``test_faults.py``), the AWS call budgets
(``test_aws_call_budgets.py``) and the races (``test_concurrency.py``).

Every flow works on its own :class:`Subject` (a fresh address per run), so a module may run its
flows many times in one emulated stack (``module_template_env``). A flow's request is a
:class:`Call`: the same call can be sent again, which is how the fault sweep retries.

Routes being built are named in :func:`needs_route`: a test of a route that is not yet in
``template.yaml`` is skipped with the route's name, and runs as soon as the template declares it.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest

from infra.local.cfn import Template
from portico import aws, config, ids, keys, store
from portico.auth import hashing
from tests.integration.support import PASSWORD, Answer, Api, FakeClock, Person

ROOT = Path(__file__).resolve().parents[2]
ROUTES = frozenset(route.route_key for route in Template.load(ROOT / "template.yaml").routes())
NEW_PASSWORD = "Harbor-Violet-Spruce-77"
INVITE = "POST /accounts/{account_id}/users"


def needs_route(*route_keys: str) -> pytest.MarkDecorator:
    """Skip until ``template.yaml`` declares every one of ``route_keys`` (``"POST /signup"``)."""
    missing = [key for key in route_keys if key not in ROUTES]
    return pytest.mark.skipif(bool(missing), reason=f"not in template.yaml yet: {', '.join(missing)}")


@contextlib.contextmanager
def cheap_argon2() -> Iterator[None]:
    """Argon2id at its smallest cost while inside: these tests count calls, inject faults and race
    requests, and the hash's cost (measured in ``make bench``) would only slow them down. Hashes
    made inside verify inside without a rehash; the real parameters are back afterwards."""
    saved = hashing.TIME_COST, hashing.MEMORY_COST_KIB
    hashing.TIME_COST, hashing.MEMORY_COST_KIB = 1, 1024
    hashing._hasher.cache_clear()
    hashing.dummy_hash.cache_clear()
    try:
        yield
    finally:
        hashing.TIME_COST, hashing.MEMORY_COST_KIB = saved
        hashing._hasher.cache_clear()
        hashing.dummy_hash.cache_clear()


def empty_table() -> None:
    """Delete every item of the domain table. Modules that share one emulated stack (setting one up
    costs more than most tests) empty it between tests: the emulation's index queries read the
    whole table, and would slow down as it grows."""
    client, name = aws.client("dynamodb"), config.settings().table_name
    for page in client.get_paginator("scan").paginate(TableName=name, ProjectionExpression="pk, sk"):
        for start in range(0, len(page["Items"]), 25):
            deletes = [{"DeleteRequest": {"Key": key}} for key in page["Items"][start : start + 25]]
            client.batch_write_item(RequestItems={name: deletes})


# The shared-stack world, for a module that imports these three fixtures: one emulated stack for
# the module (setting one up costs more than most cases), emptied before each case, with cheap
# Argon2 settings.


@pytest.fixture(scope="module")
def template_env(module_template_env):
    return module_template_env


@pytest.fixture(autouse=True)
def fresh_table(template_env):
    empty_table()


@pytest.fixture
def world(api, outbox, clock, person, login):
    with cheap_argon2():
        yield World(api, outbox, clock, person, login)


@dataclass
class World:
    """The integration fixtures a flow needs."""

    api: Api
    outbox: Callable[..., list[dict]]
    clock: FakeClock
    person: Callable[..., Person]
    login: Callable[..., str]


@dataclass(frozen=True)
class Call:
    """One HTTP request, to be sent (and sent again) as it is."""

    method: str
    path: str
    body: Any = None
    token: str | None = None

    def send(self, api: Api) -> Answer:
        return api.call(self.method, self.path, self.body, token=self.token)


_subjects = itertools.count(1)


class Subject(SimpleNamespace):
    """Whoever a flow runs for, with an address and a phone number of their own (unique in the
    process, so flows can share one emulated stack); preparing a flow adds what it made
    (``person``, ``token``, ``secret``, ...)."""

    def __init__(self) -> None:
        n = next(_subjects)
        super().__init__(n=n, email=f"user{n}@example.com", phone=f"+49151{n:08d}")


@dataclass(frozen=True)
class Flow:
    name: str
    route: str  # as template.yaml declares it: "POST /auth/login"
    prepare: Callable[[World, Subject], Call]
    status: int  # the answer to a successful call
    done: Callable[[World, Subject, Answer], None] = field(default=lambda world, subject, answer: None)
    requires: tuple[str, ...] = ()  # other routes that preparing it needs

    @property
    def slug(self) -> str:
        """The name as a test id: ``login_TOTP_code``."""
        return re.sub(r"\W+", "_", self.name)

    @property
    def mark(self) -> pytest.MarkDecorator:
        return needs_route(self.route, *self.requires)


# ----------------------------------------------------------------- messages and codes


def link_token(message: dict, page: str) -> str:
    found = re.search(rf"/{page}\?token=([A-Za-z0-9_\-]+)", message["text"])
    assert found, message["text"]
    return found.group(1)


def code_in(message: dict) -> str:
    """The 6-digit code of an SMS or email."""
    found = re.search(r"\b(\d{6})\b", message["text"])
    assert found, message["text"]
    return found.group(1)


def totp(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


def live_token(secret: str, clock: FakeClock) -> dict | None:
    """The stored one-time token of a link, while it can still be used."""
    item = store.get(keys.token(ids.digest(secret)), consistent=True)
    if item is None or "used_at" in item or int(item["expires_at"]) <= clock.now:
        return None
    return item


def assert_link_sent(world: World, to: str, page: str) -> str:
    """The newest message to ``to`` carries a usable ``page`` link; returns its token."""
    messages = [m for m in world.outbox(to) if f"/{page}?token=" in m["text"]]
    assert messages, f"no {page} link was sent to {to}"
    token = link_token(messages[0], page)
    assert live_token(token, world.clock), f"the {page} link sent to {to} does not work"
    return token


# ----------------------------------------------------------------- steps that prepare a subject


def signup_body(email: str) -> dict:
    return {"email": email, "password": PASSWORD, "name": "Ada Lovelace", "company": "Analytical Engines"}


def signed_up(world: World, s: Subject) -> None:
    assert world.api.post("/signup", signup_body(s.email)).status == 201


def verified(world: World, s: Subject) -> None:
    s.person = world.person(s.email)


def logged_in(world: World, s: Subject) -> None:
    verified(world, s)
    s.token = world.login(s.person)


def with_phone(world: World, s: Subject) -> None:
    """A verified phone, written as the phone routes leave it (quicker, and needs no session;
    :func:`verified_phone` goes through the routes)."""
    store.update(keys.credential(s.email), "SET phone = :p, phone_verified = :t", values={":p": s.phone, ":t": True})


def verified_phone(world: World, s: Subject) -> None:
    """A phone verified through ``PUT /me/phone`` and ``POST /me/phone/verify`` (needs a session)."""
    assert world.api.put("/me/phone", {"number": s.phone}, token=s.token).status == 202
    code = code_in(world.outbox(s.phone)[0])
    answer = world.api.post("/me/phone/verify", {"code": code}, token=s.token)
    assert answer.status == 200, answer.body


def with_totp(world: World, s: Subject) -> None:
    """TOTP turned on through the API (needs a session); the confirming code's step is spent."""
    started = world.api.post("/me/mfa/totp", token=s.token)
    assert started.status == 200, started.body
    s.secret = started.body["secret"]
    confirmed = world.api.post("/me/mfa/totp/confirm", {"code": totp(s.secret, world.clock)}, token=s.token)
    assert confirmed.status == 200, confirmed.body
    s.recovery_codes = confirmed.body["recovery_codes"]
    world.clock.advance(30)


def challenge(world: World, s: Subject, expected: str) -> str:
    step = world.api.post("/auth/login", {"email": s.email, "password": PASSWORD})
    assert step.status == 200 and step.body["status"] == expected, step.body
    return step.body["challenge"]


def join(account_id: str, who: Person, rights: tuple[str, ...] = ("data:view",)) -> None:
    """Make ``who`` an active member of another account, written straight to the table: quicker
    than an invitation, and all a member needs to be found by the account's user routes."""
    store.put(
        {
            **keys.membership(account_id, who.user_id),
            **keys.membership_index(account_id, who.user_id),
            "account_id": account_id,
            "user_id": who.user_id,
            "email": who.email,
            "owner": False,
            "full_access": False,
            "rights": list(rights),
            "status": "active",
            "version": 0,
        }
    )


def session_works(world: World, token: str) -> bool:
    answer = world.api.get("/me/sessions", token=token)
    assert answer.status in (200, 401), answer.body
    return answer.status == 200


def can_log_in(world: World, email: str, password: str) -> bool:
    return world.api.post("/auth/login", {"email": email, "password": password}).status == 200


# ----------------------------------------------------------------- sign-up and verification


def _signup(world: World, s: Subject) -> Call:
    return Call("POST", "/signup", signup_body(s.email))


def _signup_done(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["user_id"].startswith("usr_") and answer.body["account_id"].startswith("acc_")
    assert_link_sent(world, s.email, "verify-email")


def _resend(world: World, s: Subject) -> Call:
    signed_up(world, s)
    s.first_link = link_token(world.outbox(s.email)[0], "verify-email")
    return Call("POST", "/auth/verify-email/resend", {"email": s.email})


def _resend_done(world: World, s: Subject, answer: Answer) -> None:
    token = assert_link_sent(world, s.email, "verify-email")
    assert token != s.first_link
    assert store.get(keys.credential(s.email))["verify_token_hash"] == ids.digest(token)


def _verify(world: World, s: Subject) -> Call:
    signed_up(world, s)
    return Call("POST", "/auth/verify-email", {"token": link_token(world.outbox(s.email)[0], "verify-email")})


def _verify_done(world: World, s: Subject, answer: Answer) -> None:
    assert store.get(keys.credential(s.email))["email_verified"] is True


# ----------------------------------------------------------------- login


def _login(world: World, s: Subject) -> Call:
    verified(world, s)
    return Call("POST", "/auth/login", {"email": s.email, "password": PASSWORD})


def _authenticated(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["status"] == "authenticated", answer.body
    assert session_works(world, answer.body["token"])


def _login_wrong_password(world: World, s: Subject) -> Call:
    verified(world, s)
    return Call("POST", "/auth/login", {"email": s.email, "password": "Wrong-Password-42"})


def _login_unknown_email(world: World, s: Subject) -> Call:
    return Call("POST", "/auth/login", {"email": s.email, "password": PASSWORD})


def _login_to_second_factor(world: World, s: Subject) -> Call:
    logged_in(world, s)
    with_totp(world, s)
    return Call("POST", "/auth/login", {"email": s.email, "password": PASSWORD})


def _login_totp(world: World, s: Subject) -> Call:
    logged_in(world, s)
    with_totp(world, s)
    return Call(
        "POST",
        "/auth/login/mfa",
        {"challenge": challenge(world, s, "mfa_required"), "code": totp(s.secret, world.clock)},
    )


def _login_recovery_code(world: World, s: Subject) -> Call:
    logged_in(world, s)
    with_totp(world, s)
    return Call(
        "POST", "/auth/login/mfa", {"challenge": challenge(world, s, "mfa_required"), "code": s.recovery_codes[0]}
    )


def _expired_password_step(world: World, s: Subject) -> Call:
    logged_in(world, s)
    store.update(keys.credential(s.email), "SET password_status = :s", values={":s": "expired"})
    step = challenge(world, s, "password_change_required")
    return Call("POST", "/auth/login/password", {"challenge": step, "new_password": NEW_PASSWORD})


def _enforced(world: World, s: Subject) -> None:
    logged_in(world, s)
    security = world.api.get(f"/accounts/{s.person.account_id}/security", token=s.token).body
    answer = world.api.put(
        f"/accounts/{s.person.account_id}/security", {**security, "enforce_mfa": True}, token=s.token
    )
    assert answer.status == 200, answer.body
    s.challenge = challenge(world, s, "mfa_enrollment_required")


def _enroll_at_login(world: World, s: Subject) -> Call:
    _enforced(world, s)
    return Call("POST", "/auth/login/mfa-enrollment", {"challenge": s.challenge})


def _confirm_at_login(world: World, s: Subject) -> Call:
    _enforced(world, s)
    started = world.api.post("/auth/login/mfa-enrollment", {"challenge": s.challenge})
    assert started.status == 200, started.body
    code = totp(started.body["secret"], world.clock)
    return Call("POST", "/auth/login/mfa-enrollment/confirm", {"challenge": s.challenge, "code": code})


def _reauthenticate(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("POST", "/auth/reauthenticate", {"password": PASSWORD}, token=s.token)


# ----------------------------------------------------------------- passwords


def _forgot_email(world: World, s: Subject) -> Call:
    verified(world, s)
    return Call("POST", "/auth/password/forgot", {"email": s.email, "channel": "email"})


def _forgot_email_done(world: World, s: Subject, answer: Answer) -> None:
    assert_link_sent(world, s.email, "reset-password")


def _forgot_sms(world: World, s: Subject) -> Call:
    verified(world, s)
    with_phone(world, s)
    return Call("POST", "/auth/password/forgot", {"email": s.email, "channel": "sms"})


def _forgot_sms_done(world: World, s: Subject, answer: Answer) -> None:
    [sms] = world.outbox(s.phone)
    assert store.get(keys.credential(s.email)).get("reset_code_hash"), "the code sent is not stored"
    assert code_in(sms)


def _reset_link(world: World, s: Subject) -> Call:
    logged_in(world, s)  # a session, which the reset ends
    assert world.api.post("/auth/password/forgot", {"email": s.email, "channel": "email"}).status == 202
    token = link_token(world.outbox(s.email)[0], "reset-password")
    return Call("POST", "/auth/password/reset", {"token": token, "new_password": NEW_PASSWORD})


def _reset_code(world: World, s: Subject) -> Call:
    logged_in(world, s)
    with_phone(world, s)
    assert world.api.post("/auth/password/forgot", {"email": s.email, "channel": "sms"}).status == 202
    code = code_in(world.outbox(s.phone)[0])
    return Call("POST", "/auth/password/reset", {"email": s.email, "code": code, "new_password": NEW_PASSWORD})


def _password_reset_done(world: World, s: Subject, answer: Answer) -> None:
    assert not session_works(world, s.token)
    assert can_log_in(world, s.email, NEW_PASSWORD)


def _change_password(world: World, s: Subject) -> Call:
    logged_in(world, s)
    s.other_token = world.login(s.person)
    return Call("POST", "/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, token=s.token)


def _change_password_done(world: World, s: Subject, answer: Answer) -> None:
    assert session_works(world, s.token) and not session_works(world, s.other_token)
    assert can_log_in(world, s.email, NEW_PASSWORD)


# ----------------------------------------------------------------- second factor


def _totp_start(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("POST", "/me/mfa/totp", token=s.token)


def _totp_start_done(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["otpauth_uri"].startswith("otpauth://totp/")
    assert store.get(keys.credential(s.email)).get("totp_pending_sealed")


def _totp_confirm(world: World, s: Subject) -> Call:
    logged_in(world, s)
    started = world.api.post("/me/mfa/totp", token=s.token)
    assert started.status == 200, started.body
    return Call("POST", "/me/mfa/totp/confirm", {"code": totp(started.body["secret"], world.clock)}, token=s.token)


def _totp_confirm_done(world: World, s: Subject, answer: Answer) -> None:
    assert len(answer.body["recovery_codes"]) == 10
    assert store.get(keys.credential(s.email))["mfa_enabled"] is True


def _remove_totp(world: World, s: Subject) -> Call:
    logged_in(world, s)
    with_totp(world, s)
    return Call("DELETE", "/me/mfa/totp", {"password": PASSWORD, "code": totp(s.secret, world.clock)}, token=s.token)


def _regenerate_recovery_codes(world: World, s: Subject) -> Call:
    logged_in(world, s)
    with_totp(world, s)
    return Call("POST", "/me/mfa/recovery-codes", {"code": totp(s.secret, world.clock)}, token=s.token)


def _mfa_reset(world: World, s: Subject) -> Call:
    """An admin resets the second factor of a member (the subject) who has a session open."""
    admin = world.person(f"admin{s.n}@example.com")
    logged_in(world, s)
    with_totp(world, s)
    join(admin.account_id, s.person)
    return Call("POST", f"/accounts/{admin.account_id}/users/{s.person.user_id}/mfa-reset", token=world.login(admin))


def _mfa_reset_done(world: World, s: Subject, answer: Answer) -> None:
    assert store.get(keys.credential(s.email))["mfa_enabled"] is False
    assert not session_works(world, s.token)


# ----------------------------------------------------------------- email change


def not_owner(world: World, s: Subject) -> None:
    """An ordinary member of their account, as an owner may not change their own address."""
    logged_in(world, s)
    store.update(
        keys.membership(s.person.account_id, s.person.user_id),
        "SET #o = :f",
        values={":f": False},
        names={"#o": "owner"},
    )
    s.new_email = f"moved{s.n}@example.com"


def _email_change(world: World, s: Subject) -> Call:
    not_owner(world, s)
    return Call("POST", "/me/email", {"new_email": s.new_email}, token=s.token)


def _email_change_sent(world: World, s: Subject, answer: Answer) -> None:
    assert_link_sent(world, s.new_email, "confirm-email")
    assert world.outbox(s.email), "no notice to the old address"


def _email_change_confirm(world: World, s: Subject) -> Call:
    not_owner(world, s)
    assert world.api.post("/me/email", {"new_email": s.new_email}, token=s.token).status == 202
    return Call("POST", "/me/email/confirm", {"token": assert_link_sent(world, s.new_email, "confirm-email")})


def _email_changed(world: World, s: Subject, answer: Answer) -> None:
    assert not session_works(world, s.token)
    assert can_log_in(world, s.new_email, PASSWORD) and not can_log_in(world, s.email, PASSWORD)


# ----------------------------------------------------------------- sessions and reads


def _two_sessions(world: World, s: Subject) -> None:
    logged_in(world, s)
    s.other_token = world.login(s.person)


def _revoke_session(world: World, s: Subject) -> Call:
    _two_sessions(world, s)
    listed = world.api.get("/me/sessions", token=s.token).body["items"]
    other = next(i["session_id"] for i in listed if not i["current"])
    return Call("DELETE", f"/me/sessions/{other}", token=s.token)


def _revoke_others(world: World, s: Subject) -> Call:
    _two_sessions(world, s)
    return Call("DELETE", "/me/sessions", token=s.token)


def _other_session_ended(world: World, s: Subject, answer: Answer) -> None:
    assert session_works(world, s.token) and not session_works(world, s.other_token)


def _logout(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("POST", "/auth/logout", token=s.token)


def _logout_done(world: World, s: Subject, answer: Answer) -> None:
    assert not session_works(world, s.token)


def _read(path: str, *, idle_seconds: int = 0) -> Callable[[World, Subject], Call]:
    """A GET of ``path`` (``{account_id}`` filled in) by a logged-in owner, ``idle_seconds`` after
    the session's last request."""

    def prepare(world: World, s: Subject) -> Call:
        logged_in(world, s)
        world.clock.advance(idle_seconds)
        return Call("GET", path.format(account_id=s.person.account_id), token=s.token)

    return prepare


def _put_security(world: World, s: Subject) -> Call:
    logged_in(world, s)
    security = world.api.get(f"/accounts/{s.person.account_id}/security", token=s.token).body
    return Call("PUT", f"/accounts/{s.person.account_id}/security", {**security, "session_idle_minutes": 20}, s.token)


# ----------------------------------------------------------------- users


def _invite(world: World, s: Subject) -> Call:
    """The subject is the account's owner; the invitee is a fresh address."""
    logged_in(world, s)
    s.invitee = f"invitee{s.n}@example.com"
    return Call(
        "POST", f"/accounts/{s.person.account_id}/users", {"email": s.invitee, "rights": ["data:view"]}, s.token
    )


def _invite_done(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["status"] == "invited" and answer.body["user_id"].startswith("usr_")
    assert_link_sent(world, s.invitee, "accept-invitation")


# ----------------------------------------------------------------- billing

CARD = {"token": "tok_visa_4242", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}


def _path(s: Subject, tail: str) -> str:
    return f"/accounts/{s.person.account_id}{tail}"


def _made(world: World, s: Subject, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = world.api.post(_path(s, path), body, token=s.token)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def owner(world: World, s: Subject) -> None:
    """Logged in as the owner of a fresh account, once per subject."""
    if not hasattr(s, "token"):
        logged_in(world, s)


def with_plan(world: World, s: Subject) -> None:
    owner(world, s)
    body = {"handle": f"plan-{s.n}", "name": "Gold", "amount": 1999, "currency": "EUR", "interval_unit": "month"}
    s.plan_id = _made(world, s, "/plans", body)["plan_id"]


def with_customer(world: World, s: Subject) -> None:
    owner(world, s)
    s.customer_email = f"customer{s.n}@example.com"
    s.customer_id = _made(world, s, "/customers", {"email": s.customer_email, "name": "Grace Hopper"})["customer_id"]


def with_subscription(world: World, s: Subject) -> None:
    with_plan(world, s)
    with_customer(world, s)
    _made(world, s, f"/customers/{s.customer_id}/payment-methods", {"card": CARD})
    made = _made(world, s, "/subscriptions", {"customer_id": s.customer_id, "plan_id": s.plan_id})
    s.subscription_id = made["subscription_id"]
    invoices = world.api.get(_path(s, f"/invoices?subscription_id={s.subscription_id}"), token=s.token)
    [s.invoice] = invoices.body["items"]


def _settings_change(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("PATCH", _path(s, "/settings"), {"vat_percent": 19, "timezone": "Europe/Berlin"}, s.token)


def _settings_changed(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["vat_percent"] == 19 and answer.body["timezone"] == "Europe/Berlin"


def _plan_create(world: World, s: Subject) -> Call:
    logged_in(world, s)
    body = {"handle": f"plan-{s.n}", "name": "Gold", "amount": 1999, "currency": "EUR", "interval_unit": "month"}
    return Call("POST", _path(s, "/plans"), body, s.token)


def _customer_create(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("POST", _path(s, "/customers"), {"email": f"customer{s.n}@example.com", "name": "Grace"}, s.token)


def _customers_by_email(world: World, s: Subject) -> Call:
    with_customer(world, s)
    return Call("GET", _path(s, f"/customers?email={s.customer_email}"), token=s.token)


def _found_by_email(world: World, s: Subject, answer: Answer) -> None:
    assert [c["customer_id"] for c in answer.body["items"]] == [s.customer_id]


def _payment_method_add(world: World, s: Subject) -> Call:
    with_customer(world, s)
    return Call("POST", _path(s, f"/customers/{s.customer_id}/payment-methods"), {"card": CARD}, s.token)


def _subscription_create(world: World, s: Subject) -> Call:
    with_plan(world, s)
    with_customer(world, s)
    _made(world, s, f"/customers/{s.customer_id}/payment-methods", {"card": CARD})
    return Call("POST", _path(s, "/subscriptions"), {"customer_id": s.customer_id, "plan_id": s.plan_id}, s.token)


def _subscribed(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["state"] == "active"
    listed = world.api.get(_path(s, f"/subscriptions?customer_id={s.customer_id}"), token=s.token).body["items"]
    assert [x["subscription_id"] for x in listed] == [answer.body["subscription_id"]]
    subscription_id = answer.body["subscription_id"]
    paid = world.api.get(_path(s, f"/invoices?subscription_id={subscription_id}"), token=s.token).body["items"]
    assert [i["state"] for i in paid] == ["paid"]


def _subscription_pause(world: World, s: Subject) -> Call:
    with_subscription(world, s)
    return Call("POST", _path(s, f"/subscriptions/{s.subscription_id}/pause"), {}, s.token)


def _paused(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["state"] == "paused"
    timeline = world.api.get(_path(s, f"/customers/{s.customer_id}/timeline"), token=s.token).body["items"]
    assert [e["type"] for e in timeline].count("subscription.paused") == 1


def _portal_link(world: World, s: Subject) -> Call:
    with_customer(world, s)
    return Call("POST", _path(s, f"/customers/{s.customer_id}/portal-session"), None, s.token)


def _go_live(world: World, s: Subject) -> Call:
    with_plan(world, s)
    return Call("POST", _path(s, "/go-live"), None, s.token)


def _gone_live(world: World, s: Subject, answer: Answer) -> None:
    live = answer.body["live_account_id"]
    plans = world.api.get(f"/accounts/{live}/plans", token=s.token).body["items"]
    assert [p["handle"] for p in plans] == [f"plan-{s.n}"]


def _read_billing(tail: str) -> Callable[[World, Subject], Call]:
    """A GET of one of the subscription's things (``{subscription_id}``, ``{invoice_id}``)."""

    def prepare(world: World, s: Subject) -> Call:
        with_subscription(world, s)
        world.clock.advance(1)
        path = tail.format(subscription_id=s.subscription_id, invoice_id=s.invoice["invoice_id"])
        return Call("GET", _path(s, path), token=s.token)

    return prepare


# ----------------------------------------------------------------- the portal


def _portal_login(world: World, s: Subject) -> Call:
    """A customer of the subject's account asks for a login code."""
    logged_in(world, s)
    account_id = s.person.account_id
    s.customer = f"customer{s.n}@example.com"
    created = world.api.post(
        f"/accounts/{account_id}/customers", {"email": s.customer, "name": "Grace Hopper"}, token=s.token
    )
    assert created.status == 201, created.body
    portal = world.api.get(f"/accounts/{account_id}/portal", token=s.token)
    assert portal.status == 200, portal.body
    enabled = world.api.put(f"/accounts/{account_id}/portal", {**portal.body, "enabled": True}, token=s.token)
    assert enabled.status == 200, enabled.body
    return Call("POST", f"/portal/{account_id}/login", {"email": s.customer})


def _portal_login_done(world: World, s: Subject, answer: Answer) -> None:
    assert code_in(world.outbox(s.customer)[0])


def _portal_login_hidden(world: World, s: Subject) -> Call:
    """An address no customer has, asking for a code where the portal hides unknown addresses."""
    logged_in(world, s)
    account_id = s.person.account_id
    hidden = world.api.put(f"/accounts/{account_id}/portal", {"hide_unknown_email": True}, token=s.token)
    assert hidden.status == 200, hidden.body
    return Call("POST", f"/portal/{account_id}/login", {"email": f"nobody{s.n}@example.com"})


def portal_customer(world: World, s: Subject) -> None:
    """A customer of the subject's account with a subscription, logged in to the portal
    (``s.portal``, its token)."""
    with_subscription(world, s)
    link = world.api.post(_path(s, f"/customers/{s.customer_id}/portal-session"), None, token=s.token)
    assert link.status == 201, link.body
    answer = world.api.post(f"/portal/{s.person.account_id}/login/link", {"token": link.body["token"]})
    assert answer.status == 200, answer.body
    s.portal = answer.body["token"]


def _portal_verify(world: World, s: Subject) -> Call:
    call = _portal_login(world, s)
    sent = call.send(world.api)
    assert sent.status == 202, sent.body
    code = code_in(world.outbox(s.customer)[-1])
    return Call("POST", f"/portal/{s.person.account_id}/login/verify", {"email": s.customer, "code": code})


def _portal_logged_in(world: World, s: Subject, answer: Answer) -> None:
    me = world.api.get("/portal/me", token=answer.body["token"])
    assert me.status == 200 and me.body["email"] == answer.body["customer"]["email"], me.body


def _portal_link_exchange(world: World, s: Subject) -> Call:
    with_customer(world, s)
    link = world.api.post(_path(s, f"/customers/{s.customer_id}/portal-session"), None, token=s.token)
    assert link.status == 201, link.body
    return Call("POST", f"/portal/{s.person.account_id}/login/link", {"token": link.body["token"]})


def _portal_read(tail: str) -> Callable[[World, Subject], Call]:
    def prepare(world: World, s: Subject) -> Call:
        portal_customer(world, s)
        return Call(
            "GET", tail.format(subscription_id=s.subscription_id, invoice_id=s.invoice["invoice_id"]), None, s.portal
        )

    return prepare


def _portal_pause(world: World, s: Subject) -> Call:
    portal_customer(world, s)
    return Call("POST", f"/portal/subscriptions/{s.subscription_id}/pause", {}, s.portal)


def _portal_paused(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["state"] == "paused"
    timeline = world.api.get(_path(s, f"/customers/{s.customer_id}/timeline"), token=s.token).body["items"]
    assert next((e["type"], e["actor"]["type"]) for e in timeline) == ("subscription.paused", "customer")


def _portal_profile(world: World, s: Subject) -> Call:
    portal_customer(world, s)
    return Call("PATCH", "/portal/me", {"name": "Grace B. Hopper"}, s.portal)


def _portal_phone(world: World, s: Subject) -> Call:
    portal_customer(world, s)
    return Call("PUT", "/portal/me/phone", {"number": s.phone}, s.portal)


def _portal_phone_sent(world: World, s: Subject, answer: Answer) -> None:
    assert code_in(world.outbox(s.phone)[-1])


# ----------------------------------------------------------------- my profile


def _profile_change(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("PATCH", "/me", {"language": "de", "notifications": {"product_updates": True}}, token=s.token)


def _profile_changed(world: World, s: Subject, answer: Answer) -> None:
    credential = store.get(keys.credential(s.email))
    assert credential["language"] == "de" and credential["notifications"]["product_updates"] is True


def _phone(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("PUT", "/me/phone", {"number": s.phone}, token=s.token)


def _phone_sent(world: World, s: Subject, answer: Answer) -> None:
    assert code_in(world.outbox(s.phone)[0])
    assert store.get(keys.credential(s.email))["phone"] == s.phone


def _phone_verify(world: World, s: Subject) -> Call:
    logged_in(world, s)
    assert world.api.put("/me/phone", {"number": s.phone}, token=s.token).status == 202
    return Call("POST", "/me/phone/verify", {"code": code_in(world.outbox(s.phone)[0])}, token=s.token)


def _phone_verified(world: World, s: Subject, answer: Answer) -> None:
    assert store.get(keys.credential(s.email))["phone_verified"] is True


def _phone_release(world: World, s: Subject) -> Call:
    logged_in(world, s)
    verified_phone(world, s)
    return Call("POST", "/me/phone/release", token=s.token)


def _phone_release_sent(world: World, s: Subject, answer: Answer) -> None:
    assert "remove this phone number" in world.outbox(s.phone)[0]["text"]


def _phone_release_confirm(world: World, s: Subject) -> Call:
    logged_in(world, s)
    verified_phone(world, s)
    assert world.api.post("/me/phone/release", token=s.token).status == 202
    return Call("POST", "/me/phone/release/confirm", {"code": code_in(world.outbox(s.phone)[0])}, token=s.token)


def _phone_released(world: World, s: Subject, answer: Answer) -> None:
    assert "phone" not in store.get(keys.credential(s.email))


def _compromised(world: World, s: Subject) -> Call:
    """The subject, a member of an admin's account, reports their password compromised."""
    admin = world.person(f"admin{s.n}@example.com")
    logged_in(world, s)
    join(admin.account_id, s.person)
    s.admin_email = admin.email
    return Call("POST", "/me/password/compromised", {"comment": "typed on a phishing page"}, token=s.token)


def _compromised_done(world: World, s: Subject, answer: Answer) -> None:
    assert not session_works(world, s.token)
    assert store.get(keys.credential(s.email))["password_status"] == "compromised"
    told = [m for m in world.outbox(s.admin_email) if "compromised" in (m["subject"] or "")]
    assert told, "the admin (a user manager) was not told"


def _admin_password_reset(world: World, s: Subject) -> Call:
    """An admin makes a member (the subject) who has a session open set a new password."""
    admin = world.person(f"admin{s.n}@example.com")
    logged_in(world, s)
    join(admin.account_id, s.person)
    return Call(
        "POST", f"/accounts/{admin.account_id}/users/{s.person.user_id}/password-reset", token=world.login(admin)
    )


def _admin_password_reset_done(world: World, s: Subject, answer: Answer) -> None:
    assert store.get(keys.credential(s.email))["password_status"] == "admin_reset"
    assert not session_works(world, s.token)


def _member_of_admin(world: World, s: Subject) -> Person:
    """The subject, logged in, is a member of an admin's account (who then handles their requests);
    the admin is returned and the admin's token kept as ``s.admin_token``."""
    admin = world.person(f"admin{s.n}@example.com")
    logged_in(world, s)
    join(admin.account_id, s.person)
    # an owner is never erased: the subject leaves the account they signed up with
    store.transact(
        [
            store.delete_op(keys.membership(s.person.account_id, s.person.user_id)),
            store.delete_op(keys.member_email(s.person.account_id, s.email)),
            store.update_op(keys.credential(s.email), "SET account_ids = :a", values={":a": [admin.account_id]}),
        ]
    )
    s.admin = admin
    s.admin_token = world.login(admin)
    return admin


def _consent(world: World, s: Subject) -> Call:
    logged_in(world, s)
    return Call("POST", "/me/privacy/consent", {"version": "1"}, token=s.token)


def _consented(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["consent"]["version"] == "1" and answer.body["consent_current"] is True


def _export(world: World, s: Subject) -> Call:
    _member_of_admin(world, s)
    return Call("POST", "/me/privacy/export", token=s.token)


def _export_queued(world: World, s: Subject, answer: Answer) -> None:
    shown = world.api.get("/me/privacy", token=s.token).body["requests"]
    assert [(r["request_id"], r["type"]) for r in shown] == [(answer.body["request_id"], "export")]


def _privacy_request(kind: str) -> Callable[[World, Subject], Call]:
    def prepare(world: World, s: Subject) -> Call:
        _member_of_admin(world, s)
        return Call("POST", f"/me/privacy/{kind}-request", {"reason": "leaving"}, token=s.token)

    return prepare


def _request_pending(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["status"] == "pending"
    listed = world.api.get(f"/accounts/{s.admin.account_id}/privacy-requests", token=s.admin_token).body["items"]
    assert [i["request_id"] for i in listed] == [answer.body["request_id"]]


def _privacy_requests(world: World, s: Subject) -> Call:
    filed = _privacy_request("restriction")(world, s).send(world.api)
    assert filed.status == 202, filed.body
    return Call("GET", f"/accounts/{s.admin.account_id}/privacy-requests", token=s.admin_token)


def _resolve(kind: str, action: str) -> Callable[[World, Subject], Call]:
    """An admin completes or rejects the subject's request of ``kind``."""

    def prepare(world: World, s: Subject) -> Call:
        filed = _privacy_request(kind)(world, s).send(world.api)
        assert filed.status == 202, filed.body
        s.request_id = filed.body["request_id"]
        path = f"/accounts/{s.admin.account_id}/privacy-requests/{s.request_id}"
        return Call("POST", path, {"action": action, "comment": "done"}, token=s.admin_token)

    return prepare


def _erased(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["status"] == "completed"
    assert store.get(keys.credential(s.email)) is None and store.get(keys.user(s.person.user_id)) is None
    assert store.get(keys.membership(s.admin.account_id, s.person.user_id)) is None
    assert not session_works(world, s.token)
    assert [m for m in world.outbox(s.email) if "deleted" in (m["subject"] or "")]


def _restricted(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["status"] == "completed"
    assert store.get(keys.credential(s.email))["processing_restricted"] is True
    assert world.api.get("/me/privacy", token=s.token).body["restricted"] is True


def _rejected(world: World, s: Subject, answer: Answer) -> None:
    assert answer.body["status"] == "rejected"
    assert world.api.get("/me", token=s.token).status == 200


RESOLVE = "POST /accounts/{account_id}/privacy-requests/{request_id}"
PRIVACY_REQUESTS = "GET /accounts/{account_id}/privacy-requests"

FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in [
        Flow("signup", "POST /signup", _signup, 201, _signup_done),
        Flow("resend verification", "POST /auth/verify-email/resend", _resend, 202, _resend_done),
        Flow("verify email", "POST /auth/verify-email", _verify, 200, _verify_done),
        Flow("login", "POST /auth/login", _login, 200, _authenticated),
        Flow("login, wrong password", "POST /auth/login", _login_wrong_password, 401),
        Flow("login, unknown email", "POST /auth/login", _login_unknown_email, 401),
        Flow("login to second factor", "POST /auth/login", _login_to_second_factor, 200),
        Flow("login TOTP code", "POST /auth/login/mfa", _login_totp, 200, _authenticated),
        Flow("login recovery code", "POST /auth/login/mfa", _login_recovery_code, 200, _authenticated),
        Flow("expired password at login", "POST /auth/login/password", _expired_password_step, 200, _authenticated),
        Flow("login enrollment", "POST /auth/login/mfa-enrollment", _enroll_at_login, 200),
        Flow("login enrollment confirm", "POST /auth/login/mfa-enrollment/confirm", _confirm_at_login, 200),
        Flow("reauthenticate", "POST /auth/reauthenticate", _reauthenticate, 204),
        Flow("forgot by email", "POST /auth/password/forgot", _forgot_email, 202, _forgot_email_done),
        Flow("forgot by SMS", "POST /auth/password/forgot", _forgot_sms, 202, _forgot_sms_done),
        Flow("reset by link", "POST /auth/password/reset", _reset_link, 200, _password_reset_done),
        Flow("reset by SMS code", "POST /auth/password/reset", _reset_code, 200, _password_reset_done),
        Flow("password change", "POST /me/password", _change_password, 204, _change_password_done),
        Flow("TOTP enrollment", "POST /me/mfa/totp", _totp_start, 200, _totp_start_done),
        Flow("TOTP confirm", "POST /me/mfa/totp/confirm", _totp_confirm, 200, _totp_confirm_done),
        Flow("TOTP removal", "DELETE /me/mfa/totp", _remove_totp, 204),
        Flow("recovery codes", "POST /me/mfa/recovery-codes", _regenerate_recovery_codes, 200),
        Flow(
            "admin MFA reset", "POST /accounts/{account_id}/users/{user_id}/mfa-reset", _mfa_reset, 204, _mfa_reset_done
        ),
        Flow("revoke a session", "DELETE /me/sessions/{session_id}", _revoke_session, 204, _other_session_ended),
        Flow("revoke other sessions", "DELETE /me/sessions", _revoke_others, 204, _other_session_ended),
        Flow("logout", "POST /auth/logout", _logout, 204, _logout_done),
        Flow("me", "GET /me", _read("/me"), 200),
        Flow("profile change", "PATCH /me", _profile_change, 200, _profile_changed),
        Flow("phone", "PUT /me/phone", _phone, 202, _phone_sent),
        Flow("phone verify", "POST /me/phone/verify", _phone_verify, 200, _phone_verified),
        Flow("phone release", "POST /me/phone/release", _phone_release, 202, _phone_release_sent),
        Flow("phone release confirm", "POST /me/phone/release/confirm", _phone_release_confirm, 204, _phone_released),
        Flow("password compromised", "POST /me/password/compromised", _compromised, 202, _compromised_done),
        Flow(
            "admin password reset",
            "POST /accounts/{account_id}/users/{user_id}/password-reset",
            _admin_password_reset,
            204,
            _admin_password_reset_done,
        ),
        Flow("privacy", "GET /me/privacy", _read("/me/privacy"), 200),
        Flow("consent", "POST /me/privacy/consent", _consent, 200, _consented),
        Flow("export", "POST /me/privacy/export", _export, 202, _export_queued),
        Flow(
            "deletion request", "POST /me/privacy/deletion-request", _privacy_request("deletion"), 202, _request_pending
        ),
        Flow(
            "restriction request",
            "POST /me/privacy/restriction-request",
            _privacy_request("restriction"),
            202,
            _request_pending,
        ),
        Flow(
            "privacy requests",
            PRIVACY_REQUESTS,
            _privacy_requests,
            200,
            requires=("POST /me/privacy/restriction-request",),
        ),
        Flow("deletion completed", RESOLVE, _resolve("deletion", "complete"), 200, _erased),
        Flow("restriction completed", RESOLVE, _resolve("restriction", "complete"), 200, _restricted),
        Flow("request rejected", RESOLVE, _resolve("deletion", "reject"), 200, _rejected),
        Flow("email change", "POST /me/email", _email_change, 202, _email_change_sent),
        Flow("email change confirm", "POST /me/email/confirm", _email_change_confirm, 200, _email_changed),
        Flow("my sessions", "GET /me/sessions", _read("/me/sessions"), 200),
        Flow("account", "GET /accounts/{account_id}", _read("/accounts/{account_id}"), 200),
        Flow(
            "account after a minute",
            "GET /accounts/{account_id}",
            _read("/accounts/{account_id}", idle_seconds=61),
            200,
        ),
        Flow("security settings", "GET /accounts/{account_id}/security", _read("/accounts/{account_id}/security"), 200),
        Flow("security change", "PUT /accounts/{account_id}/security", _put_security, 200),
        Flow("members", "GET /accounts/{account_id}/users", _read("/accounts/{account_id}/users"), 200),
        Flow("rights", "GET /rights", _read("/rights"), 200),
        Flow("invitation", INVITE, _invite, 201, _invite_done),
        Flow("settings change", "PATCH /accounts/{account_id}/settings", _settings_change, 200, _settings_changed),
        Flow("plan", "POST /accounts/{account_id}/plans", _plan_create, 201),
        Flow("customer", "POST /accounts/{account_id}/customers", _customer_create, 201),
        Flow("customers by email", "GET /accounts/{account_id}/customers", _customers_by_email, 200, _found_by_email),
        Flow(
            "payment method",
            "POST /accounts/{account_id}/customers/{customer_id}/payment-methods",
            _payment_method_add,
            201,
        ),
        Flow("subscription", "POST /accounts/{account_id}/subscriptions", _subscription_create, 201, _subscribed),
        Flow(
            "subscription pause",
            "POST /accounts/{account_id}/subscriptions/{subscription_id}/pause",
            _subscription_pause,
            200,
            _paused,
        ),
        Flow(
            "subscription read",
            "GET /accounts/{account_id}/subscriptions/{subscription_id}",
            _read_billing("/subscriptions/{subscription_id}"),
            200,
        ),
        Flow(
            "invoice read",
            "GET /accounts/{account_id}/invoices/{invoice_id}",
            _read_billing("/invoices/{invoice_id}"),
            200,
        ),
        Flow(
            "portal link",
            "POST /accounts/{account_id}/customers/{customer_id}/portal-session",
            _portal_link,
            201,
        ),
        Flow("go-live", "POST /accounts/{account_id}/go-live", _go_live, 201, _gone_live),
        Flow(
            "portal login code",
            "POST /portal/{account_id}/login",
            _portal_login,
            202,
            _portal_login_done,
            requires=(
                "POST /accounts/{account_id}/customers",
                "GET /accounts/{account_id}/portal",
                "PUT /accounts/{account_id}/portal",
            ),
        ),
        Flow("portal login code, hidden", "POST /portal/{account_id}/login", _portal_login_hidden, 202),
        Flow("portal login verify", "POST /portal/{account_id}/login/verify", _portal_verify, 200, _portal_logged_in),
        Flow(
            "portal login link", "POST /portal/{account_id}/login/link", _portal_link_exchange, 200, _portal_logged_in
        ),
        Flow("portal me", "GET /portal/me", _portal_read("/portal/me"), 200),
        Flow("portal profile change", "PATCH /portal/me", _portal_profile, 200),
        Flow("portal phone", "PUT /portal/me/phone", _portal_phone, 202, _portal_phone_sent),
        Flow("portal subscriptions", "GET /portal/subscriptions", _portal_read("/portal/subscriptions"), 200),
        Flow(
            "portal subscription",
            "GET /portal/subscriptions/{subscription_id}",
            _portal_read("/portal/subscriptions/{subscription_id}"),
            200,
        ),
        Flow(
            "portal pause",
            "POST /portal/subscriptions/{subscription_id}/pause",
            _portal_pause,
            200,
            _portal_paused,
        ),
        Flow("portal invoices", "GET /portal/invoices", _portal_read("/portal/invoices"), 200),
        Flow("portal invoice", "GET /portal/invoices/{invoice_id}", _portal_read("/portal/invoices/{invoice_id}"), 200),
    ]
}
