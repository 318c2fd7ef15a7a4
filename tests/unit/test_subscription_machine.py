"""The subscription state machine, as the pure function it is: every action from every state, and
the invariants after each step, explored with Hypothesis' stateful testing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from portico import clock
from portico.billing.records import PlanTerms, Subscription
from portico.billing.subscriptions import FROM, InvalidTransition, transition

START = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
ACTIONS = ("pause", "resume", "cancel", "uncancel", "expire")
STATES = ("trialing", "active", "paused", "cancelled", "expired")
ALLOWED = {
    "trialing": {"cancel", "expire"},
    "active": {"pause", "cancel", "expire"},
    "paused": {"resume", "cancel", "expire"},
    "cancelled": {"uncancel", "expire"},
    "expired": set(),
}


def subscription(state: str = "active", **fields) -> Subscription:
    start = clock.iso(START)
    end = clock.iso(datetime(2027, 2, 28, 10, 0, tzinfo=UTC))
    base = {
        "subscription_id": "sub_x",
        "account_id": "acc_x",
        "customer_id": "cus_x",
        "plan": PlanTerms(
            plan_id="pln_x", name="Gold", amount=1999, currency="EUR", interval_unit="month", interval_count=1
        ),
        "state": state,
        "anchor_at": start,
        "current_period_start": start,
        "current_period_end": end,
        "due_at": end,
        "due_action": "renew",
    }
    if state == "trialing":
        base.update(trial_end=end, due_action="trial_end")
    if state == "cancelled":
        base.update(ends_at=end, state_before_cancel="active", due_action="expire")
    return Subscription(**{**base, **fields})


def test_the_table_of_transitions_is_the_contracts():
    for state in STATES:
        assert {a for a in ACTIONS if state in FROM[a]} == ALLOWED[state], state


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_from_every_state(state, action):
    before = subscription(state)
    now = START + timedelta(days=3)
    if action not in ALLOWED[state]:
        with pytest.raises(InvalidTransition) as refused:
            transition(before, action, now)
        assert refused.value.status == 409 and refused.value.code == "invalid_state_transition"
        return
    after = transition(before, action, now)
    assert after.version == before.version + 1
    expected = {
        "pause": "paused",
        "resume": "active",
        "cancel": "cancelled",
        "uncancel": "active",
        "expire": "expired",
    }[action]
    assert after.state == expected


def test_cancel_at_period_end_runs_to_it_and_uncancel_restores_the_state_before():
    paused = transition(subscription("active"), "pause", START + timedelta(days=1))
    cancelled = transition(paused, "cancel", START + timedelta(days=2))
    assert cancelled.state == "cancelled" and cancelled.ends_at == paused.current_period_end
    assert (cancelled.due_action, cancelled.due_at) == ("expire", cancelled.ends_at)
    back = transition(cancelled, "uncancel", START + timedelta(days=3))
    assert back.state == "paused" and back.ends_at is None and back.cancelled_at is None


def test_cancel_now_ends_at_once():
    ended = transition(subscription("active"), "cancel", START + timedelta(days=1), at="now")
    assert ended.state == "expired" and ended.ended_at == ended.ends_at == ended.cancelled_at
    assert ended.due_at is None


def test_uncancel_after_the_end_is_refused():
    cancelled = transition(subscription("active"), "cancel", START + timedelta(days=1))
    with pytest.raises(InvalidTransition):
        transition(cancelled, "uncancel", START + timedelta(days=40))


def test_resume_keeps_a_paid_period_or_starts_a_new_one_on_the_day():
    paused = transition(subscription("active"), "pause", START + timedelta(days=1))
    early = transition(paused, "resume", START + timedelta(days=5))
    assert early.current_period_start == paused.current_period_start and early.due_action == "renew"
    late_day = datetime(2027, 4, 15, 9, 30, tzinfo=UTC)
    late = transition(paused, "resume", late_day)
    assert late.current_period_start == late.anchor_at == clock.iso(late_day)
    assert late.current_period_end == clock.iso(datetime(2027, 5, 15, 9, 30, tzinfo=UTC))


def test_a_pause_needs_a_future_resume_time():
    with pytest.raises(Exception) as refused:
        transition(subscription("active"), "pause", START, resume_at=clock.iso(START - timedelta(hours=1)))
    assert refused.value.status == 422


class Machine(RuleBasedStateMachine):
    """Any sequence of actions at increasing times: a refused action changes nothing, an applied
    one moves the version by one, and the subscription stays consistent."""

    def __init__(self) -> None:
        super().__init__()
        self.subscription = subscription("active")
        self.now = START
        self.applied = 0

    @initialize(state=st.sampled_from(["trialing", "active"]))
    def start(self, state: str) -> None:
        self.subscription = subscription(state)

    @rule(action=st.sampled_from(ACTIONS), hours=st.integers(min_value=1, max_value=24 * 40), now_cancel=st.booleans())
    def act(self, action: str, hours: int, now_cancel: bool) -> None:
        self.now += timedelta(hours=hours)
        before = self.subscription
        try:
            after = transition(before, action, self.now, at="now" if now_cancel else "period_end")
        except InvalidTransition:
            assert action not in ALLOWED[before.state] or (action == "uncancel" and before.ends_at)
            return
        except Exception as exc:  # only a pause's resume time may be refused otherwise
            raise AssertionError(f"{action} from {before.state}: {exc!r}") from exc
        assert action in ALLOWED[before.state]
        assert after.version == before.version + 1
        self.subscription = after
        self.applied += 1

    @precondition(lambda self: self.subscription.state == "expired")
    @rule()
    def nothing_leaves_expired(self) -> None:
        for action in ACTIONS:
            with pytest.raises(InvalidTransition):
                transition(self.subscription, action, self.now)

    @invariant()
    def consistent(self) -> None:
        s = self.subscription
        assert s.version == self.applied
        assert (s.state == "cancelled") == (s.state_before_cancel is not None and s.ended_at is None)
        if s.state == "expired":
            assert s.ended_at is not None and s.due_at is None
        if s.state == "paused":
            assert s.paused_at is not None and s.due_action in ("resume", None)
        if s.state == "cancelled":
            assert s.ends_at is not None and s.due_action == "expire" and s.due_at == s.ends_at
        if s.state == "active":
            assert s.due_action == "renew" and s.due_at == s.current_period_end
        assert s.current_period_start <= s.current_period_end


TestMachine = Machine.TestCase
TestMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
