"""Lockout arithmetic (``portico.auth.lockout``), without a table: how long a login stays locked
after its failures, the hourly cap, and the stored form of the state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.auth import lockout
from portico.auth.credentials import Credential
from portico.auth.lockout import HOUR, HOURLY_CAP, MAX_LOCK_SECONDS, THRESHOLD, State, lock_seconds

# the start of a clock hour, so "minutes into the hour" reads plainly below
T = 497_222 * HOUR


def failures(count: int, *, start: float = T, every: float = 0.0, state: State | None = None) -> State:
    """``state`` (a fresh one by default) after ``count`` failures, ``every`` seconds apart."""
    state = state or State()
    for n in range(count):
        state = state.after_failure(start + n * every)
    return state


def test_the_documented_limits():
    assert (THRESHOLD, MAX_LOCK_SECONDS, HOURLY_CAP, HOUR) == (5, 15 * 60, 100, 3600)


@pytest.mark.parametrize(
    ("count", "seconds"),
    [(0, 0), (1, 0), (4, 0), (5, 1), (6, 2), (7, 4), (8, 8), (14, 512), (15, 900), (16, 900), (60, 900)],
)
def test_lock_starts_at_one_second_on_the_fifth_failure_and_doubles_up_to_fifteen_minutes(count: int, seconds: int):
    assert lock_seconds(count) == seconds


def test_a_lock_is_an_int_even_when_capped():
    assert all(type(lock_seconds(n)) is int for n in range(40))


def test_a_failure_counts_and_remembers_when_and_in_which_hour():
    state = State().after_failure(T + 125.5)
    assert state == State(failed_count=1, last_failure_at=T + 125.5, hour=int(T // HOUR), hour_failures=1)
    again = state.after_failure(T + 130)
    assert (again.failed_count, again.last_failure_at, again.hour_failures) == (2, T + 130, 2)


def test_a_failure_in_a_new_hour_restarts_the_hourly_count_but_not_the_consecutive_one():
    before = failures(7, start=T + HOUR - 10, every=1)  # 7 failures in the last 10 s of one hour
    assert before.hour == T // HOUR and before.hour_failures == 7
    after = before.after_failure(T + HOUR + 1)
    assert after.failed_count == 8
    assert after.hour == T // HOUR + 1
    assert after.hour_failures == 1


def test_no_lock_below_the_threshold():
    state = failures(THRESHOLD - 1)
    assert state.locked_for(T) == 0
    assert state.locked_for(T + 0.001) == 0


def test_the_fifth_failure_locks_for_one_second():
    state = failures(THRESHOLD)
    assert state.locked_for(T) == 1
    assert state.locked_for(T + 0.5) == 1  # what is left is rounded up, never down to 0
    assert state.locked_for(T + 0.999) == 1
    assert state.locked_for(T + 1) == 0


def test_each_further_failure_doubles_the_wait():
    assert failures(6).locked_for(T) == 2
    assert failures(7).locked_for(T) == 4
    assert failures(7).locked_for(T + 2.5) == 2  # 1.5 s left, rounded up
    assert failures(7).locked_for(T + 4) == 0
    assert failures(20).locked_for(T) == MAX_LOCK_SECONDS
    assert failures(20).locked_for(T + MAX_LOCK_SECONDS - 1) == 1
    assert failures(20).locked_for(T + MAX_LOCK_SECONDS) == 0


def test_the_wait_counts_from_the_last_failure():
    state = failures(6, every=10)  # the 6th failure at T + 50
    assert state.last_failure_at == T + 50
    assert state.locked_for(T + 51) == 1
    assert state.locked_for(T + 52) == 0


def test_a_success_resets_the_consecutive_count():
    locked = failures(9)
    assert locked.locked_for(T) == 16
    reset = State(hour=locked.hour, hour_failures=locked.hour_failures)  # what a success keeps
    assert reset.locked_for(T) == 0
    assert reset.after_failure(T + 1).locked_for(T + 1) == 0  # the count starts again from one


def test_the_hourly_cap_locks_until_the_hour_ends():
    # successes between the failures keep the consecutive count low; the hour's count still grows
    state = State()
    for n in range(HOURLY_CAP - 1):
        state = State(hour=state.hour, hour_failures=state.hour_failures).after_failure(T + n)
    assert state.hour_failures == HOURLY_CAP - 1
    assert state.locked_for(T + 600) == 0
    capped = State(hour=state.hour, hour_failures=state.hour_failures).after_failure(T + 600)
    assert (capped.failed_count, capped.hour_failures) == (1, HOURLY_CAP)
    assert capped.locked_for(T + 600) == HOUR - 600
    assert capped.locked_for(T + HOUR - 0.25) == 1
    assert capped.locked_for(T + HOUR) == 0  # the next hour starts afresh


def test_an_old_hours_cap_does_not_lock():
    capped = State(failed_count=0, hour=int(T // HOUR) - 1, hour_failures=HOURLY_CAP)
    assert capped.locked_for(T) == 0


def test_the_longer_of_the_two_locks_wins():
    both = State(failed_count=20, last_failure_at=T + HOUR - 60, hour=int(T // HOUR), hour_failures=HOURLY_CAP)
    assert both.locked_for(T + HOUR - 60) == MAX_LOCK_SECONDS  # 15 min beat the minute left in the hour
    early = State(failed_count=5, last_failure_at=T + 60, hour=int(T // HOUR), hour_failures=HOURLY_CAP)
    assert early.locked_for(T + 60) == HOUR - 60  # the hour beats 1 s


@pytest.mark.parametrize(
    "state",
    [
        State(),
        failures(3, every=7),
        failures(12, start=T + 0.25, every=0.5),
        State(failed_count=40, last_failure_at=T + HOUR - 0.125, hour=int(T // HOUR), hour_failures=HOURLY_CAP),
    ],
)
def test_to_item_round_trips(state: State):
    item = state.to_item()
    assert set(item) == {"failed_count", "last_failure_ms", "failure_hour", "hour_failures"}
    assert all(type(value) is int for value in item.values())
    assert State.of(item) == state
    assert State.of({k: Decimal(v) for k, v in item.items()}) == state  # as DynamoDB returns numbers


def test_the_stored_time_keeps_milliseconds_so_a_one_second_lock_does_not_end_early():
    state = failures(THRESHOLD, start=T + 0.75)
    assert state.to_item()["last_failure_ms"] == int(T * 1000) + 750
    restored = State.of(state.to_item())
    assert restored.locked_for(T + 1.5) == 1  # with whole seconds it would have ended at T + 1


def test_a_missing_state_is_no_failure():
    assert State.of({}) == State()
    assert State.of({}).locked_for(T) == 0


def test_the_credential_reads_the_same_state_from_its_item():
    state = failures(6, start=T + 0.5, every=3)
    credential = Credential.from_item({"user_id": "usr_1", "email": "ada@example.com", **state.to_item()})
    assert credential.lockout == state
    assert credential.lockout.locked_for(T + 15.5) == lockout.lock_seconds(6)
