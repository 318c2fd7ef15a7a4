"""Faults of SES, SNS, KMS and DynamoDB on the main flows (an AWS dependency failing is ``503
service_unavailable``, never 500, and no state is left half-written).

For each flow and each AWS service it calls, the sweep fails that service's 1st call, then its 2nd,
and so on to its last (how many there are is the flow's row in ``test_aws_call_budgets.py``), each
run on a fresh user: every call a flow makes is failed once, wherever a change might make it. The
kinds of failure (throttling, a service error, a read or connect timeout, raised at the botocore
client boundary as botocore raises them once its own retries are spent) take turns over the calls,
and every kind hits every flow and service at least once. After each failure:

* the answer is 503 ``service_unavailable`` problem+json with ``Retry-After``, or the flow's
  success where the failure cannot change the outcome (a security notice after a committed change,
  a second sweep of sessions once the new password is in force): then the change is complete;
* after a 503 the table differs from before only by the flow's declared :attr:`Sweep.residue`
  (what an attempt may leave by design: the lockout counts an attempt before checking it, a
  password write ends the other sessions first), and no usable link or code it left was undelivered;
* the same request sent again succeeds (after the route's cooldown, where it has one), and the
  flow's success check holds.

Single points are also tested next to their features (``test_signup.py``, ``test_login.py``,
``test_passwords.py``, ``test_mfa.py``, ``test_members.py``); this module sweeps every call.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from portico import aws, config, ids, keys, store
from portico.auth import passwords
from portico.identity import phone as my_phone
from portico.portal import login as portal_login
from tests.integration import flows
from tests.integration.flows import FLOWS, Flow, Subject, World, fresh_table, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.support import Answer
from tests.integration.test_aws_call_budgets import BUDGETS

# ----------------------------------------------------------------- the failures


@dataclass(frozen=True)
class Fault:
    """A kind of failure, in one or more variants (taken in turns)."""

    kind: str
    variants: tuple[tuple[str, Callable[[str], Exception]], ...]  # (name, operation -> error)

    def variant(self, turn: int) -> tuple[str, Callable[[str], Exception]]:
        return self.variants[turn % len(self.variants)]


def refused(*codes: str) -> Fault:
    """The service answered with an error (after botocore's own retries, for the retryable ones)."""

    def error(code: str) -> Callable[[str], Exception]:
        return lambda operation: ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    kind = "throttling" if "Throttl" in codes[0] or "Exceeded" in codes[0] else "service error"
    return Fault(kind, tuple((code, error(code)) for code in codes))


TIMEOUT = Fault(
    "timeout",
    (
        ("ReadTimeoutError", lambda _: ReadTimeoutError(endpoint_url="https://aws.invalid")),
        ("ConnectTimeoutError", lambda _: ConnectTimeoutError(endpoint_url="https://aws.invalid")),
    ),
)

FAULTS: dict[str, tuple[Fault, ...]] = {  # per service: throttling, a service error, a timeout
    "dynamodb": (
        refused("ProvisionedThroughputExceededException", "ThrottlingException"),
        refused("InternalServerError", "ServiceUnavailable"),
        TIMEOUT,
    ),
    "ses": (refused("Throttling"), refused("ServiceUnavailable", "InternalFailure"), TIMEOUT),
    "sns": (refused("Throttled", "Throttling"), refused("InternalError"), TIMEOUT),
    "kms": (refused("ThrottlingException"), refused("KMSInternalException", "DependencyTimeoutException"), TIMEOUT),
}


@dataclass
class Watched:
    calls: int = 0
    failed: str | None = None  # the operation that was made to fail


@contextlib.contextmanager
def watching(service: str, fail: int = 0, error: Callable[[str], Exception] | None = None) -> Iterator[Watched]:
    """Count the calls to ``service``, and make call number ``fail`` (any operation; 0: none)
    raise ``error`` before it is sent."""
    watched = Watched()
    client = aws.client(service)

    def hook(model: Any, **_: Any) -> None:
        watched.calls += 1
        if watched.calls == fail and error is not None:
            watched.failed = model.name
            raise error(model.name)

    event = f"before-call.{client.meta.service_model.endpoint_prefix}"
    client.meta.events.register(event, hook, unique_id="portico-fault-sweep")
    try:
        yield watched
    finally:
        client.meta.events.unregister(event, unique_id="portico-fault-sweep")


# ----------------------------------------------------------------- what a failed attempt may leave

# Changes are named "+kind" (an item added), "-kind" (removed) and "kind.attribute" (changed).
LOCKOUT = frozenset(  # the attempt was counted before the password or code was checked
    {
        "credential.failed_count",
        "credential.last_failure_ms",
        "credential.failure_hour",
        "credential.hour_failures",
        "credential.version",
    }
)
SESSIONS_ENDED = frozenset({"-session"})  # a password write ends the other sessions before it commits
# The reset commits in one transaction, then ends the member's sessions: if that fails, the answer
# is 503 and the retry (the same end state) ends them.
MFA_RESET_COMMITTED = frozenset(
    {
        "credential.mfa_enabled",
        "credential.totp_sealed",
        "credential.totp_last_step",
        "credential.recovery_hashes",
        "credential.version",
        "credential.auth_version",
        "+audit",
        "-session",
    }
)
# A reported compromise or an admin's password reset is committed with its audit records before the
# sessions end and the emails go; if a later step fails the answer is 503 and the retry (the same
# end state) finishes it.
FORCED_CHANGE = frozenset(
    {
        "credential.password_status",
        "credential.auth_version",
        "credential.version",
        "+audit",
        "-session",
    }
)
COMPROMISE_COMMITTED = FORCED_CHANGE
ADMIN_RESET_COMMITTED = FORCED_CHANGE
# Completing a deletion takes the person out of each account (with its audit record), ends their
# sessions and removes what is theirs before the transaction that deletes the login and completes
# the request: an interruption leaves the person part-erased and the request pending; resolving
# again finishes it.
ERASURE_STEPS = frozenset(
    {
        "-member",
        "-member_email",
        "+audit",
        "-session",
        "-consent",
        "-user_phone_code",
        "-token",
        "privacy_request.email",
    }
)
COOLDOWN = 61  # one request a minute per address: the retry waits that long
# A charge's invoice is written pending before the gateway is called (with its number): a failure
# after that leaves it for the renewal job, which records what the gateway did or charges it then
# (test_billing_faults.py follows each case to its end).
PENDING_CHARGE = frozenset({"+invoice", "+invoice_counter", "+gateway_charge"})
# Go-live copies step by step, each step conditional and repeatable: an interruption leaves a live
# account in the making, which the retry completes (never a second one).
GO_LIVE_RESUMABLE = frozenset(
    {
        "account.go_live",
        "+account",
        "+handle",
        "+plan",
        "+member",
        "+member_email",
        "credential.account_ids",
        "credential.version",
    }
)


@dataclass(frozen=True)
class Sweep:
    flow: str
    residue: frozenset[str] = frozenset()
    retry_after: int = 0

    @property
    def calls(self) -> dict[str, int]:
        """The flow's calls per service: its row of the budget table."""
        return next(budget.calls for budget in BUDGETS if budget.flow == self.flow)


SWEEPS = [
    Sweep("signup"),
    Sweep("resend verification", retry_after=COOLDOWN),
    Sweep("verify email"),
    Sweep("login", LOCKOUT),
    Sweep("login TOTP code", LOCKOUT),
    Sweep("forgot by email", retry_after=COOLDOWN),
    Sweep("forgot by SMS", frozenset({"credential.version"}), retry_after=COOLDOWN),
    Sweep("reset by link", SESSIONS_ENDED),
    Sweep("reset by SMS code", SESSIONS_ENDED | {"credential.reset_code_attempts"}),
    Sweep("email change"),
    Sweep("email change confirm"),
    Sweep("password change", SESSIONS_ENDED),
    Sweep("TOTP enrollment"),
    Sweep("TOTP confirm", LOCKOUT),
    Sweep("admin MFA reset", MFA_RESET_COMMITTED),
    Sweep("revoke a session"),
    Sweep("revoke other sessions"),
    Sweep("logout"),
    Sweep("invitation"),
    Sweep("settings change"),
    Sweep("plan"),
    Sweep("customer"),
    Sweep("payment method"),
    Sweep("subscription", PENDING_CHARGE),
    Sweep("subscription pause"),
    Sweep("portal link"),
    Sweep("go-live", GO_LIVE_RESUMABLE),
    # a code whose email or SMS failed is withdrawn: its item stays, with no code and no cooldown
    Sweep("portal login code", frozenset({"+portal_code"})),
    Sweep("portal login verify", frozenset({"portal_code.attempts"})),  # a comparison is taken first
    Sweep("portal login link"),
    Sweep("portal profile change"),
    Sweep("portal phone", frozenset({"+phone_code"})),
    Sweep("profile change"),
    # a code whose SMS failed is withdrawn (its item stays, with no code and no cooldown) and the
    # number put back
    Sweep("phone", frozenset({"+user_phone_code", "credential.version"})),
    Sweep("phone verify", frozenset({"user_phone_code.attempts"})),  # a comparison is taken first
    Sweep("phone release", frozenset({"+user_phone_code"})),
    Sweep("phone release confirm", frozenset({"user_phone_code.attempts"})),
    Sweep("consent"),
    Sweep("export"),
    Sweep("deletion request"),
    Sweep("deletion completed", ERASURE_STEPS),
    Sweep("restriction completed"),
    Sweep("request rejected"),
    Sweep("password compromised", COMPROMISE_COMMITTED),
    Sweep("admin password reset", ADMIN_RESET_COMMITTED),
    Sweep("portal pause"),
]

# Known bugs, by (flow, service) and call number, with where they are. Each must still show here:
# when one is fixed, the sweep says so, and its entry goes.
KNOWN_BUGS: dict[tuple[str, str], dict[int, str]] = {}


# ----------------------------------------------------------------- checks


# One key of each kind, from the builders the code uses: a stored key is of the kind whose sample
# it shares its partition prefix with (and its sort-key prefix, where kinds share a partition).
SAMPLE_KEYS: dict[str, keys.Key] = {
    "credential": keys.credential("someone@example.com"),
    "user": keys.user("usr_sample"),
    "account": keys.account("acc_sample"),
    "member": keys.membership("acc_sample", "usr_sample"),
    "member_email": keys.member_email("acc_sample", "someone@example.com"),
    "token": keys.token("0" * 64),
    "challenge": keys.challenge("0" * 64),
    "session": keys.session("0" * 64),
    "portal_session": keys.portal_session("0" * 64),
    "audit": keys.audit("acc_sample", "2026-09-21T00:00:00", "evt_sample"),
    "audit_fanout": keys.audit_fanout("evt_sample"),
    "plan": keys.catalog_item("acc_sample", "PLAN", "pln_sample"),
    "coupon": keys.catalog_item("acc_sample", "COUPON", "cpn_sample"),
    "handle": keys.handle("acc_sample", "PLAN", "gold"),
    "coupon_code": keys.coupon_code("acc_sample", "WELCOME"),
    "customer": keys.customer("acc_sample", "cus_sample"),
    "payment_method": keys.payment_method("acc_sample", "cus_sample", "pm_sample"),
    "subscription": keys.subscription("acc_sample", "sub_sample"),
    "invoice": keys.invoice("acc_sample", "inv_sample"),
    "invoice_counter": keys.invoice_counter("acc_sample"),
    "timeline": keys.timeline_event("acc_sample", "cus_sample", "evt_sample"),
    "gateway_charge": keys.gateway_charge("inv_sample#1"),
    "portal_code": keys.portal_code("acc_sample", "someone@example.com"),
    "phone_code": keys.phone_code("acc_sample", "cus_sample"),
    "user_phone_code": keys.user_phone_code("usr_sample", "verify"),
    "consent": keys.consent("usr_sample", "2026-09-21T00:00:00Z"),
    "privacy_request": keys.privacy_request("usr_sample", "req_sample"),
    "privacy_pending": keys.pending_privacy_request("usr_sample", "deletion"),
    "privacy_listing": keys.account_privacy_request("acc_sample", "req_sample"),
}


def _prefix(value: str) -> str:
    return value.split("#", 1)[0] if "#" in value else value


def kind_of(pk: str, sk: str) -> str:
    """The kind of item a key names ("credential", "member", "session"...), as the builders of
    :mod:`portico.keys` spell it; an unknown kind is named by its partition prefix."""
    shared = [kind for kind, key in SAMPLE_KEYS.items() if _prefix(key["pk"]) == _prefix(pk)]
    if len(shared) == 1:
        return shared[0]
    exact = [kind for kind in shared if _prefix(SAMPLE_KEYS[kind]["sk"]) == _prefix(sk)]
    return exact[0] if len(exact) == 1 else f"unknown:{_prefix(pk)}/{_prefix(sk)}"


def test_every_kind_of_key_is_told_apart():
    assert {kind: kind_of(key["pk"], key["sk"]) for kind, key in SAMPLE_KEYS.items()} == {
        kind: kind for kind in SAMPLE_KEYS
    }
    assert kind_of(**keys.membership("acc_1", "usr_2")) == "member"
    assert kind_of(**keys.audit("acc_1", "2027-01-01T10:00:00", "evt_9")) == "audit"


Items = dict[tuple[str, str], dict[str, Any]]


def table_state() -> Items:
    """Every item of the domain table, raw, read from the emulation itself: a Scan would serialize
    the whole table on every run of the sweep, which made it several times slower. Rate-limit
    counters are not domain state and are left out (as the ``table_items`` fixture does)."""
    client = aws.client("dynamodb")
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][client.meta.region_name].get_table(config.settings().table_name)
    items = (item.to_json()["Attributes"] for item in table.all_items())
    keyed = {(i["pk"]["S"], i["sk"]["S"]): i for i in items}
    return {(pk, sk): i for (pk, sk), i in keyed.items() if not keys.is_rate_counter({"pk": pk, "sk": sk})}


def changes(before: Items, after: Items) -> set[str]:
    found: set[str] = set()
    for key in before.keys() | after.keys():
        kind = kind_of(*key)
        if key not in before:
            found.add(f"+{kind}")
        elif key not in after:
            found.add(f"-{kind}")
        else:
            old, new = before[key], after[key]
            found |= {f"{kind}.{name}" for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    return found


def assert_no_undelivered_secret(world: World, before: Items, after: Items) -> None:
    """No usable link the request stored without its email, no usable reset code without its SMS."""
    messages = world.outbox()
    delivered = {ids.digest(t) for m in messages for t in re.findall(r"\?token=([A-Za-z0-9_\-]+)", m["text"] or "")}
    now = world.clock.now
    for (pk, sk), raw in after.items():
        kind = kind_of(pk, sk)
        if before.get((pk, sk)) == raw or kind not in ("token", "credential", "portal_code", "user_phone_code"):
            continue
        item = store.deserialize(raw)
        if kind == "token" and "used_at" not in item and int(item["expires_at"]) > now:
            token_hash = keys.token_hash_of({"pk": pk, "sk": sk})
            assert token_hash in delivered, f"a usable {item['kind']} link was never sent"
        if kind == "credential" and item.get("reset_code_hash") and int(item["reset_code_expires"]) > now:
            codes = [flows.code_in(m) for m in messages if m["channel"] == "sms" and item.get("phone") in m["to"]]
            hashes = {passwords._code_hash(item["email"], c, item["reset_code_salt"]) for c in codes}
            assert item["reset_code_hash"] in hashes, "a usable reset code was never sent"
        if kind == "user_phone_code" and item.get("code_hash") and int(item["expires_at"]) > now:
            user_id, purpose = pk.removeprefix("USER#"), sk.removeprefix("PHONE_CODE#")
            number = item["number"]
            codes = [flows.code_in(m) for m in messages if m["channel"] == "sms" and number in m["to"]]
            hashes = {my_phone._hash(c, item["salt"], user_id, purpose, number) for c in codes}
            assert item["code_hash"] in hashes, "a usable phone code was never sent"
        if kind == "portal_code" and item.get("code_hash") and item.get("customer_email"):
            address, account_id = item["customer_email"], pk.removeprefix("ACCOUNT#")
            codes = [flows.code_in(m) for m in messages if m["channel"] == "email" and address in m["to"]]
            hashes = {portal_login._code_hash(c, item["salt"], account_id, address) for c in codes}
            assert item["code_hash"] in hashes, "a usable portal code was never sent"


def assert_service_unavailable(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body)
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.body["code"] == "service_unavailable" and answer.body["status"] == 503
    assert int(answer.headers["Retry-After"]) >= 1


# ----------------------------------------------------------------- the sweep


@dataclass
class Sweeper:
    world: World
    sweep: Sweep
    service: str
    problems: dict[int, str] = field(default_factory=dict)

    @property
    def flow(self) -> Flow:
        return FLOWS[self.sweep.flow]

    def run(self, nth: int, fault: Fault) -> None:
        """Run the flow for a fresh subject with the ``nth`` call failing; what went wrong is kept
        in ``problems``."""
        subject = Subject()
        name, error = fault.variant(subject.n)
        call = self.flow.prepare(self.world, subject)
        before = table_state()
        with watching(self.service, nth, error) as watched:
            answer = call.send(self.world.api)
        try:
            assert watched.failed, f"the flow made {watched.calls} calls, fewer than its budget row says"
            self.check(subject, call, answer, before)
        except AssertionError as problem:
            where = f"{self.service} call {nth} ({watched.failed})"
            self.problems.setdefault(nth, f"{where} failing with {name}: {problem}")

    def check(self, subject: Subject, call: flows.Call, answer: Answer, before: Items) -> None:
        if answer.status == self.flow.status:  # the failure could not change the outcome
            self.flow.done(self.world, subject, answer)
            return
        assert_service_unavailable(answer)
        after = table_state()
        left = changes(before, after) - self.sweep.residue
        assert not left, f"half-written: {sorted(left)}"
        assert_no_undelivered_secret(self.world, before, after)
        self.world.clock.advance(self.sweep.retry_after)
        with watching(self.service) as counted:
            again = call.send(self.world.api)
        assert again.status == self.flow.status, ("the retry failed", again.status, again.body)
        self.flow.done(self.world, subject, again)
        calls = self.sweep.calls[self.service]
        assert counted.calls <= calls, f"the retry made {counted.calls} calls, more than its budget row's {calls}"


CASES = [
    pytest.param(sweep, service, id=f"{FLOWS[sweep.flow].slug}-{service}", marks=FLOWS[sweep.flow].mark)
    for sweep in SWEEPS
    for service in sweep.calls
]


@pytest.mark.parametrize(("sweep", "service"), CASES)
def test_every_call_failing_is_503_leaves_nothing_half_written_and_the_retry_succeeds(world, sweep, service):
    sweeper = Sweeper(world, sweep, service)
    faults = FAULTS[service]
    calls = sweep.calls[service]
    first = SWEEPS.index(sweep)  # flows start at different kinds, so the first calls see them all too
    for turn in range(max(calls, len(faults))):  # every call, and every kind of failure, at least once
        sweeper.run(turn % calls + 1, faults[(first + turn) % len(faults)])

    known = KNOWN_BUGS.get((sweep.flow, service), {})
    unexpected = [problem for nth, problem in sorted(sweeper.problems.items()) if nth not in known]
    fixed = [f"call {nth}: {known[nth]}" for nth in known if nth not in sweeper.problems]
    assert not unexpected, f"{sweep.flow}:\n" + "\n".join(unexpected)
    assert not fixed, "fixed, remove from KNOWN_BUGS:\n" + "\n".join(fixed)


def test_a_reset_code_stored_without_its_sms_is_caught(world):
    """The checker itself: a code stored for a phone that never got it is reported."""
    subject = Subject()
    flows.verified(world, subject)
    flows.with_phone(world, subject)
    before = table_state()
    store.update(
        keys.credential(subject.email),
        "SET reset_code_hash = :h, reset_code_salt = :s, reset_code_expires = :e",
        values={":h": "0" * 64, ":s": "salt", ":e": int(world.clock.now) + 600},
    )
    with pytest.raises(AssertionError, match="reset code was never sent"):
        assert_no_undelivered_secret(world, before, table_state())
