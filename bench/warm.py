"""Warm latency of the main flows, in process, on the emulated stack (bench/stack.py), and the AWS
calls and DynamoDB units each costs (bench/capacity.py).

Each scenario prepares what its request needs (untimed), then times exactly the handler call: the
event built as API Gateway builds it, the handler module (already imported: warm), the emulated
AWS calls, the answer parsed. A few iterations are run first and discarded (lazy imports, first
clients). The trivial route (an unmatched path answered 404 by the same shared resolver, no AWS
call) shows what the harness and the resolver cost on their own.

Every scenario but the password login runs with the integration tests' cheap Argon2 parameters
for its preparation (none of their timed requests hashes a password); the password login runs
with the module's real parameters, for its user's hash and its timed requests.

The AWS calls are recorded in a separate, untimed pass of the same requests (recording reads item
sizes from the emulation, which would slow the timed pass).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench.capacity import Recorder, Usage
from bench.stats import latency
from portico.billing import renewal
from tests.integration.flows import (
    FLOWS,
    PASSWORD,
    Call,
    Subject,
    World,
    cheap_argon2,
    code_in,
    empty_table,
    logged_in,
    portal_customer,
    totp,
    with_subscription,
    with_totp,
)

Step = Callable[[], Any]


@dataclass
class Scenario:
    name: str
    route: str
    function: str  # the template function serving it (for the cost model)
    setup: Callable[[World], Any]
    step: Callable[[World, Any], Step]  # prepares one request, returns the timed part
    check: Callable[[Any], bool]
    real_argon2: bool = False
    max_iterations: int | None = None  # a cap where one iteration is slow (the job run)


def _status(expected: int) -> Callable[[Any], bool]:
    return lambda answer: answer.status == expected


def _send(world: World, call: Call) -> Step:
    return lambda: call.send(world.api)


# ----------------------------------------------------------------- scenarios


def _trivial_setup(world: World) -> None:
    return None


def _trivial(world: World, _: None) -> Step:
    return _send(world, Call("GET", "/__bench/not-found"))


def _login_setup(world: World) -> Subject:
    s = Subject()
    s.person = world.person(s.email)  # hashed with the real parameters
    return s


def _login(world: World, s: Subject) -> Step:
    return _send(world, Call("POST", "/auth/login", {"email": s.email, "password": PASSWORD}))


def _totp_setup(world: World) -> Subject:
    s = Subject()
    logged_in(world, s)
    with_totp(world, s)
    return s


def _totp_step(world: World, s: Subject) -> Step:
    world.clock.advance(30)  # a fresh TOTP step each time (a spent one is refused)
    step = world.api.post("/auth/login", {"email": s.email, "password": PASSWORD})
    assert step.status == 200 and step.body["status"] == "mfa_required", step.body
    call = Call("POST", "/auth/login/mfa", {"challenge": step.body["challenge"], "code": totp(s.secret, world.clock)})
    return _send(world, call)


def _reader(path: str) -> tuple[Callable[[World], Any], Callable[[World, Any], Step]]:
    def setup(world: World) -> Call:
        s = Subject()
        logged_in(world, s)
        return Call("GET", path.format(account_id=s.person.account_id), token=s.token)

    return setup, lambda world, call: _send(world, call)


def _portal_setup(world: World) -> Subject:
    s = Subject()
    FLOWS["portal login code"].prepare(world, s)  # an owner, a portal turned on
    s.i = 0
    return s


def _new_customer(world: World, s: Subject) -> str:
    s.i += 1
    email = f"c{s.i}-{s.n}@example.com"
    made = world.api.post(
        f"/accounts/{s.person.account_id}/customers", {"email": email, "name": "Grace Hopper"}, token=s.token
    )
    assert made.status == 201, made.body
    return email


def _portal_code(world: World, s: Subject) -> Step:
    email = _new_customer(world, s)
    return _send(world, Call("POST", f"/portal/{s.person.account_id}/login", {"email": email}))


def _portal_verify(world: World, s: Subject) -> Step:
    email = _new_customer(world, s)
    sent = world.api.post(f"/portal/{s.person.account_id}/login", {"email": email})
    assert sent.status == 202, sent.body
    code = code_in(world.outbox(email)[-1])
    world.clock.advance(21)  # the portal allows 30 code comparisons per address in 10 minutes
    return _send(world, Call("POST", f"/portal/{s.person.account_id}/login/verify", {"email": email, "code": code}))


def _portal_me_setup(world: World) -> Call:
    s = Subject()
    portal_customer(world, s)
    return Call("GET", "/portal/me", token=s.portal)


def _pause_setup(world: World) -> Subject:
    s = Subject()
    with_subscription(world, s)
    return s


def _subscribe(world: World, s: Subject) -> str:
    path = f"/accounts/{s.person.account_id}/subscriptions"
    made = world.api.post(path, {"customer_id": s.customer_id, "plan_id": s.plan_id}, token=s.token)
    assert made.status == 201, made.body
    return str(made.body["subscription_id"])


def _pause(world: World, s: Subject) -> Step:
    subscription_id = _subscribe(world, s)
    path = f"/accounts/{s.person.account_id}/subscriptions/{subscription_id}/pause"
    return _send(world, Call("POST", path, {}, s.token))


RENEWAL_RESET_EVERY = 10


def _renewal_setup(world: World) -> Subject:
    s = _pause_setup(world)
    s.base = world.clock.now
    s.runs = 0
    world.clock.now = s.base + timedelta(days=32).total_seconds()
    renewal.run()  # renews the setup's own subscription, and leaves the job's mark
    world.clock.now = s.base
    return s


def _renew_one(world: World, s: Subject) -> Step:
    """A subscription made now; the job run 32 days later (a monthly period has ended), when it is
    the only one due: every earlier one was renewed by the run before and is due next month. Every
    ``RENEWAL_RESET_EVERY`` runs the table is emptied and set up again (untimed): the run's 49
    index queries scan the whole table in the emulation, which would otherwise slow every run a
    little more than the one before."""
    world.clock.now = s.base
    s.runs += 1
    if s.runs % RENEWAL_RESET_EVERY == 0:
        empty_table()
        fresh = _renewal_setup(world)
        s.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "runs"})
    _subscribe(world, s)

    def run() -> dict[str, Any]:
        world.clock.now = s.base + timedelta(days=32).total_seconds()
        try:
            return renewal.run()
        finally:
            world.clock.now = s.base

    return run


SCENARIOS = [
    Scenario("trivial route (404)", "GET /<unmatched>", "auth", _trivial_setup, _trivial, _status(404)),
    Scenario("password login", "POST /auth/login", "auth", _login_setup, _login, _status(200), real_argon2=True),
    Scenario("TOTP step", "POST /auth/login/mfa", "auth", _totp_setup, _totp_step, _status(200)),
    Scenario("authenticated read (GET /me)", "GET /me", "me", *_reader("/me"), _status(200)),
    Scenario(
        "users list",
        "GET /accounts/{account_id}/users",
        "users",
        *_reader("/accounts/{account_id}/users"),
        _status(200),
    ),
    Scenario(
        "portal code request",
        "POST /portal/{account_id}/login",
        "portal_auth",
        _portal_setup,
        _portal_code,
        _status(202),
    ),
    Scenario(
        "portal code verify",
        "POST /portal/{account_id}/login/verify",
        "portal_auth",
        _portal_setup,
        _portal_verify,
        _status(200),
    ),
    Scenario(
        "portal read (GET /portal/me)",
        "GET /portal/me",
        "portal",
        _portal_me_setup,
        lambda world, call: _send(world, call),
        _status(200),
    ),
    Scenario(
        "subscription pause",
        "POST /accounts/{account_id}/subscriptions/{subscription_id}/pause",
        "billing",
        _pause_setup,
        _pause,
        _status(200),
    ),
    Scenario(
        "renewal of one subscription",
        "job subscription-renewal",
        "jobs",
        _renewal_setup,
        _renew_one,
        lambda summary: summary["renewed"] == 1 and summary["items_read"] == 1,
        max_iterations=50,
    ),
]


MIN_ITERATIONS = 50


def measure(
    world: World,
    iterations: int,
    recorded: int,
    log: Callable[[str], None] = print,
    deadline: float | None = None,
) -> dict[str, Any]:
    """``deadline`` (a ``perf_counter`` time): each scenario gets an equal share of the time left,
    and stops early (after at least ``MIN_ITERATIONS``) when it has used it; ``n`` says how many
    requests were timed."""
    recorder = Recorder()
    results: dict[str, Any] = {}
    for index, scenario in enumerate(SCENARIOS):
        started = time.perf_counter()
        share = (deadline - started) / (len(SCENARIOS) - index) if deadline is not None else None
        wanted = min(iterations, scenario.max_iterations or iterations)
        empty_table()  # the emulation's index queries read the whole table: each scenario starts empty
        with cheap_argon2() if not scenario.real_argon2 else contextlib.nullcontext():
            state = scenario.setup(world)
            for _ in range(3):  # warm-up, discarded
                step = scenario.step(world, state)
                assert scenario.check(step()), f"{scenario.name}: warm-up failed"
            samples = []
            for i in range(wanted):
                if share is not None and i >= min(MIN_ITERATIONS, wanted) and time.perf_counter() - started > share:
                    break  # out of its share of the time: n tells
                step = scenario.step(world, state)
                start = time.perf_counter()
                answer = step()
                samples.append(time.perf_counter() - start)
                assert scenario.check(answer), f"{scenario.name}: {getattr(answer, 'body', answer)}"
            totals = Usage()
            with recorder.installed():
                for _ in range(recorded):
                    step = scenario.step(world, state)
                    with recorder.recording() as usage:
                        answer = step()
                    assert scenario.check(answer), f"{scenario.name} (recorded): {getattr(answer, 'body', answer)}"
                    _add(totals, usage)
        results[scenario.name] = {
            "route": scenario.route,
            "function": scenario.function,
            "argon2": "real parameters" if scenario.real_argon2 else "not in the timed request",
            "stopped_by_deadline": len(samples) < wanted,
            **latency(samples),
            "aws_per_request": totals.as_dict(per=recorded),
        }
        log(
            f"  warm: {scenario.name}: {results[scenario.name]['p50_ms']} ms p50 ({time.perf_counter() - started:.0f}s)"
        )
    return results


def _add(total: Usage, more: Usage) -> Usage:
    total.calls.update(more.calls)
    total.operations.update(more.operations)
    total.rcu += more.rcu
    total.wcu += more.wcu
    total.index_wcu += more.index_wcu
    total.items_returned += more.items_returned
    return total
