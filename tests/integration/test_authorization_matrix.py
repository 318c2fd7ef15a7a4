"""The authorization matrix: every route of ``template.yaml`` is called by every kind of caller that
must be refused, and by one that must not be.

The expectations are one explicit table, :data:`MATRIX`: ``(METHOD, path) -> requirement``. The
cases are generated from the template's routes, so a route without an entry fails by name, and an
entry without a route fails too (unless it is listed in :data:`PENDING`: routes of the API that are
being built; they are checked like any other as soon as the template declares them). The table must
also agree with what each handler declares (:func:`portico.access.requirement_of`).

Who calls:

* anyone: no token, a garbage token, an expired session, the wrong kind of token (a portal token
  where a user token is required and the other way round): ``401 unauthenticated``;
* on ``/accounts/{account_id}/...``: another tenant's valid session and a disabled member:
  ``404 not_found``; a member holding every right but the route's: ``403 forbidden``; a session
  without a second factor on an account that enforces 2FA: ``403 mfa_required``;
* on ``/portal/...`` routes, a customer of the same or of another account naming a thing that is
  not theirs: ``404 not_found`` (``test_portal_isolation.py``, which has a case per such route);
* the right caller: not refused by the access check (its answer may be 404 for a placeholder id or
  422 for the empty body; never 401 or 403, never 5xx).

Every refusal must come from the access check itself (a spy on it records whether it refused), so a
handler answering 404 for a placeholder id cannot pass for a refused tenant. Bodies are empty: the
access check runs before body validation, which one test shows.

Everyone is signed up and logged in once per module (Argon2 makes that the expensive part), the
members join by invitation and the disabled one is denied access with ``PATCH .../users/{u}`` after
logging in; the right caller of each positive case gets a fresh session of its own, because some
positive calls end sessions (``POST /auth/logout``, ``DELETE /me/sessions``,
``POST /me/password/compromised``).
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from infra.local.cfn import Route, Template
from infra.local.outbox import messages as read_outbox
from portico import access, ids, keys, store
from portico import clock as portico_clock
from portico.access import Requirement
from portico.accounts.rights import Right
from portico.auth import repository as auth_repository
from portico.auth import sessions
from tests.integration.support import PASSWORD, Answer, Api, FakeClock, Person

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

pytestmark = pytest.mark.xdist_group("authorization_matrix")  # one module-scoped world per run

# ---------------------------------------------------------------------------------- the table

PUBLIC = Requirement("public")
USER = Requirement("user")
CUSTOMER = Requirement("customer")
CATCH_ALL = Requirement("catch_all")  # the template's $default route: every caller gets 404 not_found


def member(right: str | None = None) -> Requirement:
    return Requirement("member", Right(right) if right else None)


MATRIX: dict[tuple[str, str], Requirement] = {
    ("ANY", "$default"): CATCH_ALL,
    # sign-up, login, recovery: public, listed one by one
    ("POST", "/signup"): PUBLIC,
    ("POST", "/auth/verify-email"): PUBLIC,
    ("POST", "/auth/verify-email/resend"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,
    ("POST", "/auth/login/password"): PUBLIC,
    ("POST", "/auth/login/mfa"): PUBLIC,
    ("POST", "/auth/login/mfa-enrollment"): PUBLIC,
    ("POST", "/auth/login/mfa-enrollment/confirm"): PUBLIC,
    ("POST", "/auth/password/forgot"): PUBLIC,
    ("POST", "/auth/password/reset"): PUBLIC,
    ("GET", "/invitations/{token}"): PUBLIC,
    ("POST", "/invitations/{token}/accept"): PUBLIC,
    ("POST", "/me/email/confirm"): PUBLIC,  # the link opened in a browser that may hold no session
    # any logged-in merchant user
    ("POST", "/auth/reauthenticate"): USER,
    ("POST", "/auth/logout"): USER,
    ("GET", "/me"): USER,
    ("POST", "/me/email"): USER,
    ("GET", "/me/sessions"): USER,
    ("DELETE", "/me/sessions/{session_id}"): USER,
    ("DELETE", "/me/sessions"): USER,
    ("POST", "/me/password"): USER,
    ("POST", "/me/mfa/totp"): USER,
    ("POST", "/me/mfa/totp/confirm"): USER,
    ("DELETE", "/me/mfa/totp"): USER,
    ("POST", "/me/mfa/recovery-codes"): USER,
    ("PATCH", "/me"): USER,
    ("PUT", "/me/phone"): USER,
    ("POST", "/me/phone/verify"): USER,
    ("POST", "/me/phone/release"): USER,
    ("POST", "/me/phone/release/confirm"): USER,
    ("POST", "/me/password/compromised"): USER,
    ("GET", "/me/privacy"): USER,
    ("POST", "/me/privacy/consent"): USER,
    ("POST", "/me/privacy/export"): USER,
    ("POST", "/me/privacy/deletion-request"): USER,
    ("POST", "/me/privacy/restriction-request"): USER,
    ("GET", "/rights"): USER,
    # accounts
    ("GET", "/accounts/{account_id}"): member(None),
    ("GET", "/accounts/{account_id}/security"): member("users"),
    ("PUT", "/accounts/{account_id}/security"): member("users"),
    # users and rights
    ("GET", "/accounts/{account_id}/users"): member("users"),
    ("POST", "/accounts/{account_id}/users"): member("users"),
    ("GET", "/accounts/{account_id}/users/{user_id}"): member("users"),
    ("PATCH", "/accounts/{account_id}/users/{user_id}"): member("users"),
    ("DELETE", "/accounts/{account_id}/users/{user_id}"): member("users"),
    ("POST", "/accounts/{account_id}/users/{user_id}/invitation"): member("users"),
    ("POST", "/accounts/{account_id}/users/{user_id}/mfa-reset"): member("users"),
    ("POST", "/accounts/{account_id}/users/{user_id}/password-reset"): member("users"),
    ("GET", "/accounts/{account_id}/audit-log"): member("users"),
    ("GET", "/accounts/{account_id}/privacy-requests"): member("users"),
    ("POST", "/accounts/{account_id}/privacy-requests/{request_id}"): member("users"),
    # settings and go-live
    ("GET", "/accounts/{account_id}/settings"): member("settings"),
    ("PATCH", "/accounts/{account_id}/settings"): member("settings"),
    ("POST", "/accounts/{account_id}/go-live"): member("users"),
    # the catalog: reads any member, writes settings
    ("GET", "/accounts/{account_id}/plans"): member(None),
    ("POST", "/accounts/{account_id}/plans"): member("settings"),
    ("GET", "/accounts/{account_id}/plans/{plan_id}"): member(None),
    ("PATCH", "/accounts/{account_id}/plans/{plan_id}"): member("settings"),
    ("DELETE", "/accounts/{account_id}/plans/{plan_id}"): member("settings"),
    ("GET", "/accounts/{account_id}/addons"): member(None),
    ("POST", "/accounts/{account_id}/addons"): member("settings"),
    ("GET", "/accounts/{account_id}/addons/{addon_id}"): member(None),
    ("PATCH", "/accounts/{account_id}/addons/{addon_id}"): member("settings"),
    ("DELETE", "/accounts/{account_id}/addons/{addon_id}"): member("settings"),
    ("GET", "/accounts/{account_id}/discounts"): member(None),
    ("POST", "/accounts/{account_id}/discounts"): member("settings"),
    ("GET", "/accounts/{account_id}/discounts/{discount_id}"): member(None),
    ("PATCH", "/accounts/{account_id}/discounts/{discount_id}"): member("settings"),
    ("DELETE", "/accounts/{account_id}/discounts/{discount_id}"): member("settings"),
    ("GET", "/accounts/{account_id}/coupons"): member(None),
    ("POST", "/accounts/{account_id}/coupons"): member("settings"),
    ("GET", "/accounts/{account_id}/coupons/{coupon_id}"): member(None),
    ("PATCH", "/accounts/{account_id}/coupons/{coupon_id}"): member("settings"),
    ("DELETE", "/accounts/{account_id}/coupons/{coupon_id}"): member("settings"),
    # customers, payment methods, subscriptions, invoices: reads data:view, writes data:edit
    ("GET", "/accounts/{account_id}/customers"): member("data:view"),
    ("POST", "/accounts/{account_id}/customers"): member("data:edit"),
    ("GET", "/accounts/{account_id}/customers/{customer_id}"): member("data:view"),
    ("PATCH", "/accounts/{account_id}/customers/{customer_id}"): member("data:edit"),
    ("GET", "/accounts/{account_id}/customers/{customer_id}/timeline"): member("data:view"),
    ("GET", "/accounts/{account_id}/customers/{customer_id}/payment-methods"): member("data:view"),
    ("POST", "/accounts/{account_id}/customers/{customer_id}/payment-methods"): member("data:edit"),
    ("DELETE", "/accounts/{account_id}/customers/{customer_id}/payment-methods/{payment_method_id}"): member(
        "data:edit"
    ),
    ("POST", "/accounts/{account_id}/customers/{customer_id}/portal-session"): member("data:edit"),
    ("GET", "/accounts/{account_id}/subscriptions"): member("data:view"),
    ("POST", "/accounts/{account_id}/subscriptions"): member("data:edit"),
    ("GET", "/accounts/{account_id}/subscriptions/{subscription_id}"): member("data:view"),
    ("POST", "/accounts/{account_id}/subscriptions/{subscription_id}/pause"): member("data:edit"),
    ("POST", "/accounts/{account_id}/subscriptions/{subscription_id}/resume"): member("data:edit"),
    ("POST", "/accounts/{account_id}/subscriptions/{subscription_id}/cancel"): member("data:edit"),
    ("POST", "/accounts/{account_id}/subscriptions/{subscription_id}/uncancel"): member("data:edit"),
    ("POST", "/accounts/{account_id}/subscriptions/{subscription_id}/expire"): member("data:edit"),
    ("GET", "/accounts/{account_id}/invoices"): member("data:view"),
    ("GET", "/accounts/{account_id}/invoices/{invoice_id}"): member("data:view"),
    # the customer portal: its configuration by the merchant, its login open to anyone, the rest
    # for a customer with a portal token
    ("GET", "/accounts/{account_id}/portal"): member("settings"),
    ("PUT", "/accounts/{account_id}/portal"): member("settings"),
    ("GET", "/portal/{account_id}/config"): PUBLIC,
    ("POST", "/portal/{account_id}/login"): PUBLIC,
    ("POST", "/portal/{account_id}/login/verify"): PUBLIC,
    ("POST", "/portal/{account_id}/login/link"): PUBLIC,
    ("POST", "/portal/logout"): CUSTOMER,
    ("GET", "/portal/me"): CUSTOMER,
    ("PATCH", "/portal/me"): CUSTOMER,
    ("PUT", "/portal/me/phone"): CUSTOMER,
    ("POST", "/portal/me/phone/verify"): CUSTOMER,
    ("GET", "/portal/plans"): CUSTOMER,
    ("GET", "/portal/subscriptions"): CUSTOMER,
    ("POST", "/portal/subscriptions"): CUSTOMER,
    ("GET", "/portal/subscriptions/{subscription_id}"): CUSTOMER,
    ("POST", "/portal/subscriptions/{subscription_id}/pause"): CUSTOMER,
    ("POST", "/portal/subscriptions/{subscription_id}/resume"): CUSTOMER,
    ("POST", "/portal/subscriptions/{subscription_id}/cancel"): CUSTOMER,
    ("PUT", "/portal/subscriptions/{subscription_id}/payment-method"): CUSTOMER,
    ("GET", "/portal/payment-methods"): CUSTOMER,
    ("POST", "/portal/payment-methods"): CUSTOMER,
    ("DELETE", "/portal/payment-methods/{payment_method_id}"): CUSTOMER,
    ("GET", "/portal/invoices"): CUSTOMER,
    ("GET", "/portal/invoices/{invoice_id}"): CUSTOMER,
    # the hosted pages: the portal's web app, the pages behind the links in emails, their assets
    ("GET", "/portal/{account_id}"): PUBLIC,
    ("GET", "/verify-email"): PUBLIC,
    ("GET", "/reset-password"): PUBLIC,
    ("GET", "/accept-invitation"): PUBLIC,
    ("GET", "/confirm-email"): PUBLIC,
    ("GET", "/assets/{version}/{file}"): PUBLIC,
}

# Routes of the API being built: their absence from the template is no error (a PendingRoutes warning
# lists them); as soon as the template declares one, it is checked like every other route.
PENDING: frozenset[tuple[str, str]] = frozenset()

TOKEN_CASES = ("no_token", "garbage_token", "expired_session", "wrong_token_kind")
CASES: dict[str, tuple[str, ...]] = {
    "public": ("anonymous_allowed",),
    "user": (*TOKEN_CASES, "allowed"),
    "customer": (*TOKEN_CASES, "allowed"),
    "member": (*TOKEN_CASES, "other_tenant", "lacking_right", "disabled_member", "mfa_pending", "allowed"),
    "catch_all": ("unrouted",),
}


def shape(path: str) -> str:
    """A path with its parameters unnamed: ``/a/{x}`` and ``/a/{y}`` are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def key_of(method: str, path: str) -> tuple[str, str]:
    return method.upper(), shape(path)


MATRIX_BY_SHAPE = {key_of(*k): (k, v) for k, v in MATRIX.items()}
PENDING_BY_SHAPE = {key_of(*k) for k in PENDING}


def expected(route: Route) -> Requirement | None:
    found = MATRIX_BY_SHAPE.get(key_of(route.method, route.path))
    return found[1] if found else None


def cases_of(requirement: Requirement) -> tuple[str, ...]:
    found = CASES[requirement.kind]
    if requirement.kind == "member" and requirement.right is None:
        # no right to lack; instead a member holding no right at all must get in
        found = tuple("member_without_rights_allowed" if c == "lacking_right" else c for c in found)
    return found


TEMPLATE_ROUTES = Template.load(TEMPLATE).routes()


def _parameters() -> Iterator[Any]:
    for route in TEMPLATE_ROUTES:
        label = f"{route.method} {route.path}"
        requirement = expected(route)
        if requirement is None:
            yield pytest.param(route, "entry", id=f"{label} :: entry")
            continue
        for case in cases_of(requirement):
            yield pytest.param(route, case, id=f"{label} :: {case}")


# ---------------------------------------------------------------------------------- the callers


class AccessSpy:
    """Wraps :func:`portico.access.check` and records each outcome: None (let through) or the
    error it refused with, so a refusal can be told apart from a handler's own 404."""

    def __init__(self, check: Callable[..., Any]):
        self._check = check
        self.outcomes: list[Exception | None] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            granted = self._check(*args, **kwargs)
        except Exception as exc:
            self.outcomes.append(exc)
            raise
        self.outcomes.append(None)
        return granted


@dataclass
class World:
    api: Api
    clock: FakeClock
    spy: AccessSpy
    owner: Person  # full access in the account every path names
    outsider: Person  # owner of another account
    lacking: Person  # member of the owner's account; its rights are set per case
    disabled: Person  # member of the owner's account with full access, denied access
    enforced: Person  # owner of an account that enforces 2FA
    tokens: dict[str, str]  # logins: outsider, lacking, disabled, enforced (no 2nd factor), expired

    def fresh_session(self, who: Person, *, mfa: bool = False) -> str:
        """A session as login opens it (``sessions.open_op``), without paying for Argon2 again."""
        credential = auth_repository.get_credential(who.email)
        token, _, put = sessions.open_op(credential, mfa=mfa, ip="198.51.100.7", user_agent="pytest")
        store.transact([put])
        return token

    def portal_token(self, account_id: str, *, expired: bool = False) -> str:
        """A customer-portal session, as :mod:`portico.portal.sessions` reads it."""
        token = "ptc_" + ids.new_token()
        now = int(portico_clock.timestamp())
        start = now - 7200 if expired else now
        store.put(
            {
                **keys.portal_session(ids.digest(token)),
                "account_id": account_id,
                "customer_id": "cus_matrix",
                "created_at": start,
                "last_seen_at": start,
                "idle_seconds": 1800,
                "expires_at": start + 3600,
            }
        )
        return token

    def set_rights(self, who: Person, rights: list[str]) -> None:
        """Written to the membership directly: the API grants only rights the account offers (not
        ``payouts`` or ``sync`` here), and the lacking member should hold every right but one."""
        store.update(
            keys.membership(self.owner.account_id, who.user_id),
            "SET full_access = :f, rights = :r",
            values={":f": False, ":r": rights},
        )


def _sign_up(api: Api, email: str, name: str, company: str) -> Person:
    created = api.post("/signup", {"email": email, "password": PASSWORD, "name": name, "company": company})
    assert created.status == 201, created.body
    [text] = [m["text"] for m in read_outbox(email) if "verify-email?token=" in m["text"]][:1]
    assert api.post("/auth/verify-email", {"token": text.split("verify-email?token=", 1)[1].split()[0]}).status == 200
    return Person(email, PASSWORD, created.body["user_id"], created.body["account_id"])


def _log_in(api: Api, who: Person) -> str:
    answer = api.post("/auth/login", {"email": who.email, "password": who.password})
    assert answer.status == 200 and answer.body["status"] == "authenticated", answer.body
    return answer.body["token"]


def _join(api: Api, token: str, account_id: str, who: Person, *, full_access: bool) -> None:
    """Invite ``who`` (who has a login already) into the account; they accept with their password."""
    invited = api.post(f"/accounts/{account_id}/users", {"email": who.email, "full_access": full_access}, token=token)
    assert invited.status == 201, invited.body
    [text] = [m["text"] for m in read_outbox(who.email) if "accept-invitation?token=" in m["text"]][:1]
    secret = text.split("accept-invitation?token=", 1)[1].split()[0]
    accepted = api.post(f"/invitations/{secret}/accept", {"name": who.email, "password": who.password})
    assert accepted.status == 201, accepted.body


@pytest.fixture(scope="module")
def world(module_template_env) -> Iterator[World]:
    """A clock that stands still and everyone logged in once, for the whole module."""
    clock = FakeClock()
    portico_clock.use(clock)
    spy = AccessSpy(access.check)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(access, "check", spy)
            api = Api(module_template_env)
            owner = _sign_up(api, "owner@example.com", "Olive Owner", "Owner Works")
            outsider = _sign_up(api, "outsider@example.com", "Otto Outsider", "Elsewhere")
            lacking = _sign_up(api, "lacking@example.com", "Lars Lacking", "Lacking Co")
            disabled = _sign_up(api, "disabled@example.com", "Dora Disabled", "Disabled Co")
            enforced = _sign_up(api, "enforced@example.com", "Enno Enforced", "Enforced Co")
            expired = _log_in(api, owner)
            _join(api, expired, owner.account_id, lacking, full_access=False)
            _join(api, expired, owner.account_id, disabled, full_access=True)
            clock.advance(13 * 3600)  # past the idle timeout and the absolute lifetime of the owner's session
            logins = {"outsider": outsider, "lacking": lacking, "disabled": disabled, "enforced": enforced}
            tokens = {"expired": expired, **{role: _log_in(api, who) for role, who in logins.items()}}
            world = World(api, clock, spy, owner, outsider, lacking, disabled, enforced, tokens)
            # Denied after logging in: "deny access" applies to the sessions issued before, too.
            path = f"/accounts/{owner.account_id}/users/{disabled.user_id}"
            answer = api.call("PATCH", path, {"status": "disabled"}, token=world.fresh_session(owner))
            assert (answer.status, answer.body["status"]) == (200, "disabled"), answer.body
            # Enforce 2FA with the session the owner opened without a second factor, which stays open.
            answer = api.put(
                f"/accounts/{enforced.account_id}/security", {"enforce_mfa": True}, token=tokens["enforced"]
            )
            assert answer.status == 200, answer.body
            yield world
    finally:
        portico_clock.reset()


# ---------------------------------------------------------------------------------- the cases

PLACEHOLDER_PREFIXES = {
    "user_id": "usr",
    "session_id": "ses",
    "customer_id": "cus",
    "subscription_id": "sub",
    "invoice_id": "inv",
    "plan_id": "pln",
    "payment_method_id": "pm",
    "transaction_id": "txn",
    "request_id": "req",
}


def fill(path: str, account_id: str) -> str:
    """The path with ``{account_id}`` set and every other parameter a well-formed placeholder."""
    if path == "$default":
        return "/matrix/no-such-route"

    def value(match: re.Match[str]) -> str:
        name = match.group(1).rstrip("+")
        if name == "account_id":
            return account_id
        prefix = PLACEHOLDER_PREFIXES.get(name)
        return f"{prefix}_matrixplaceholder0000" if prefix else "matrix-placeholder-0000"

    return re.sub(r"\{([^}]+)\}", value, path)


def call(
    world: World, route: Route, account_id: str, token: str | None = None, *, headers: dict | None = None, body=None
) -> tuple[Answer, Exception | None]:
    """Call ``route`` (an empty JSON body unless GET) and return the answer and what the access
    check did: None when it let the call through, else the error it refused with."""
    method = "GET" if route.method == "ANY" else route.method
    if body is None and method != "GET":
        body = {}
    world.spy.outcomes.clear()
    answer = world.api.call(method, fill(route.path, account_id), body, headers, token)
    if route.path == "$default":  # no route: nothing to check, the resolver's own 404
        assert not world.spy.outcomes, "the access check ran for a path no route serves"
        return answer, None
    assert len(world.spy.outcomes) == 1, f"the access check ran {len(world.spy.outcomes)} times, not once"
    return answer, world.spy.outcomes[0]


def refused(result: tuple[Answer, Exception | None], status: int, code: str, who: str) -> None:
    answer, outcome = result
    got = (answer.status, (answer.body or {}).get("code"))
    assert got == (status, code), f"{who}: expected {status} {code}, got {answer.status} {answer.body}"
    assert outcome is not None, f"{who}: {status} {code} came from the handler; the access check let it through"
    assert answer.headers.get("Content-Type") == "application/problem+json"


def allowed(result: tuple[Answer, Exception | None], who: str) -> None:
    answer, outcome = result
    assert outcome is None, f"{who}: refused by the access check: {answer.status} {answer.body}"
    assert answer.status not in (401, 403), f"{who}: refused: {answer.status} {answer.body}"
    assert answer.status < 500, f"{who}: {answer.status} {answer.body}"


def check(world: World, route: Route, requirement: Requirement, case: str) -> None:
    """Run one case of the matrix; raises AssertionError naming the caller when it fails."""
    home = world.owner.account_id
    portal = requirement.kind == "customer"
    if case == "no_token":
        refused(call(world, route, home), 401, "unauthenticated", "no token")
    elif case == "garbage_token":
        unknown = ("ptc_" if portal else "ptu_") + ids.new_token()
        for header in ("Bearer garbage", f"Bearer {unknown}", "Bearer " + "x" * 500, "Basic b3duZXI6cHc="):
            result = call(world, route, home, headers={"authorization": header})
            refused(result, 401, "unauthenticated", f"Authorization: {header[:24]}...")
    elif case == "expired_session":
        token = world.portal_token(home, expired=True) if portal else world.tokens["expired"]
        refused(call(world, route, home, token), 401, "unauthenticated", "an expired session")
    elif case == "wrong_token_kind":
        token = world.fresh_session(world.owner) if portal else world.portal_token(home)
        kind = "a user token on a portal route" if portal else "a portal token on a user route"
        refused(call(world, route, home, token), 401, "unauthenticated", kind)
    elif case == "other_tenant":
        refused(call(world, route, home, world.tokens["outsider"]), 404, "not_found", "another tenant's owner")
    elif case == "lacking_right":
        others = [r.value for r in Right if r != requirement.right]
        world.set_rights(world.lacking, others)
        refused(call(world, route, home, world.tokens["lacking"]), 403, "forbidden", f"a member with only {others}")
    elif case == "member_without_rights_allowed":
        world.set_rights(world.lacking, [])
        allowed(call(world, route, home, world.tokens["lacking"]), "a member without any right")
    elif case == "disabled_member":
        refused(call(world, route, home, world.tokens["disabled"]), 404, "not_found", "a disabled member")
    elif case == "mfa_pending":
        enforcing = world.enforced.account_id
        result = call(world, route, enforcing, world.tokens["enforced"])
        refused(result, 403, "mfa_required", "a session without a second factor on an account enforcing 2FA")
    elif case == "allowed":
        token = world.portal_token(home) if portal else world.fresh_session(world.owner)
        allowed(call(world, route, home, token), "the right caller")
    elif case == "anonymous_allowed":
        allowed(call(world, route, home), "an anonymous caller of a public route")
    elif case == "unrouted":
        for token in (None, world.fresh_session(world.owner)):
            answer, _ = call(world, route, home, token)
            assert (answer.status, answer.body.get("code")) == (404, "not_found"), (answer.status, answer.body)
    else:
        raise AssertionError(f"unknown case {case}")


# ---------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(("route", "case"), list(_parameters()))
def test_route(world, route, case):
    requirement = expected(route)
    assert requirement is not None, (
        f"{route.method} {route.path} is declared in template.yaml but has no entry in MATRIX "
        f"(tests/integration/test_authorization_matrix.py): add who may call it"
    )
    check(world, route, requirement, case)


class PendingRoutes(UserWarning):
    """Routes of the API the matrix expects that the template does not declare yet."""


def test_matrix_lists_exactly_the_template_routes():
    declared = {key_of(r.method, r.path): f"{r.method} {r.path}" for r in TEMPLATE_ROUTES}
    assert len(MATRIX_BY_SHAPE) == len(MATRIX), "two MATRIX entries name the same route"
    assert not PENDING - set(MATRIX), f"PENDING routes need a MATRIX entry: {sorted(PENDING - set(MATRIX))}"
    missing = sorted(label for k, label in declared.items() if k not in MATRIX_BY_SHAPE)
    assert not missing, f"routes in template.yaml without an entry in MATRIX: {missing}"
    stale = sorted(f"{m} {p}" for (m, p) in MATRIX if key_of(m, p) not in declared.keys() | PENDING_BY_SHAPE)
    assert not stale, f"MATRIX entries for routes template.yaml does not declare (remove, or mark PENDING): {stale}"
    waiting = sorted(f"{m} {p}" for (m, p) in PENDING if key_of(m, p) not in declared)
    arrived = sorted(f"{m} {p}" for (m, p) in PENDING if key_of(m, p) in declared)
    if waiting:
        warnings.warn(PendingRoutes(f"not in template.yaml yet, not checked: {waiting}"), stacklevel=1)
    if arrived:
        warnings.warn(PendingRoutes(f"in template.yaml and checked; drop them from PENDING: {arrived}"), stacklevel=1)


def _handler_module(route: Route) -> ModuleType:
    module_name, _, _ = route.handler.rpartition(".")
    spec = importlib.util.spec_from_file_location(
        f"_matrix_{route.function_id}", ROOT / route.code_uri / f"{module_name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_matrix_agrees_with_what_the_handlers_declare(world):
    modules: dict[str, ModuleType] = {}
    disagree = []
    for route in TEMPLATE_ROUTES:
        wanted = expected(route)
        if wanted is None or wanted == CATCH_ALL:
            continue
        if route.function_id not in modules:
            modules[route.function_id] = _handler_module(route)
        app = modules[route.function_id].app
        resolver_path = re.sub(r"\{([^}]+)\}", r"<\1>", route.path)
        [served] = [
            r for r in app._static_routes + app._dynamic_routes if (r.method, r.path) == (route.method, resolver_path)
        ]
        declared = access.requirement_of(served.func)
        if declared != wanted:
            disagree.append(f"{route.method} {route.path}: handler declares {declared}, MATRIX says {wanted}")
    assert not disagree, "\n".join(disagree)


def test_account_routes_need_a_membership_of_the_path_account():
    for (method, path), requirement in MATRIX.items():
        if path.startswith("/accounts/{account_id}"):
            assert requirement.kind == "member", f"{method} {path} is an account route: it needs member(...)"
        if requirement.kind == "member":
            assert path.startswith("/accounts/{account_id}"), (
                f"{method} {path}: member(...) needs the account in the path"
            )


def test_the_access_check_runs_before_body_validation(world):
    """Why empty bodies are enough above: an anonymous caller gets 401 whatever the body, while the
    same bad body from the right caller is rejected by validation."""
    [security] = [r for r in TEMPLATE_ROUTES if (r.method, r.path) == ("PUT", "/accounts/{account_id}/security")]
    home = world.owner.account_id
    wrong_types = {"enforce_mfa": "yes", "session_idle_minutes": "many", "unknown": 1}
    owner = world.fresh_session(world.owner)
    assert call(world, security, home, owner, body=wrong_types)[0].status == 422
    assert call(world, security, home, owner, body="{not json")[0].status == 400
    answers = {
        (f"{r.method} {r.path}", str(body)[:12]): call(world, r, home, body=body)[0].status
        for r in TEMPLATE_ROUTES
        if r.method in ("POST", "PUT", "PATCH", "DELETE") and expected(r) not in (PUBLIC, CATCH_ALL)
        for body in (wrong_types, "{not json")
    }
    assert (("PUT /accounts/{account_id}/security", "{not json"), 401) in answers.items()
    assert {k: v for k, v in answers.items() if v != 401} == {}


PROBE_MODULE = """
from portico import access, http

app = http.resolver()


@app.get("/portal/matrix-probe")
@access.customer
def portal_probe() -> dict:
    return {"customer_id": http.customer(app).customer_id}


@app.get("/accounts/<account_id>/matrix-probe")
@access.user  # wrong on purpose: an account route that only asks for a login
def leaky_probe(account_id: str) -> dict:
    return {"account_id": account_id}


lambda_handler = http.entry_point(app)
"""


def test_the_cases_cover_portal_routes_and_catch_a_leaky_declaration(world, tmp_path):
    """The customer cases hold for any route declared like a portal one (a probe of our own). And
    the matrix can fail: an account route that only asks for a login leaks across tenants."""
    (tmp_path / "app.py").write_text(PROBE_MODULE)
    portal = Route("GET", "/portal/matrix-probe", "MatrixProbe", tmp_path, "app.lambda_handler")
    leaky = Route("GET", "/accounts/{account_id}/matrix-probe", "MatrixProbe", tmp_path, "app.lambda_handler")
    probe = World(**{**world.__dict__, "api": Api(SimpleNamespace(routes=lambda: [portal, leaky]))})
    for case in cases_of(CUSTOMER):
        check(probe, portal, CUSTOMER, case)
    caught = set()
    for case in cases_of(member("users")):
        try:
            check(probe, leaky, member("users"), case)
        except AssertionError:
            caught.add(case)
    assert caught == {"other_tenant", "lacking_right", "disabled_member", "mfa_pending"}
