"""Session lifetimes, without a table: the absolute and idle expiry of a token session
(``portico.tokens.sessions``), the timing fields of a new one, the touch interval, and the
lifetimes a user's effective security settings give (``Effective``, strictest wins).

The table is replaced by a dictionary where a test needs one (``Store``); the clock is fixed
with ``portico.clock.use`` and reset afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from portico import clock, ids, keys
from portico.auth import sessions as merchant_sessions
from portico.auth.credentials import Credential
from portico.security.settings import Effective, SecuritySettings
from portico.tokens import repository
from portico.tokens import sessions as core
from portico.tokens.sessions import TOUCH_INTERVAL, TokenSession, lifetimes

NOW = 1_790_000_000
HOUR = 3600
KIND = core.Kind("test", "tst_", keys.session)
QUIET = core.Kind("quiet", "qst_", keys.challenge, touch=False)


class Moment:
    """A clock the test moves."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def moment() -> Iterator[Moment]:
    fixed = Moment(NOW)
    clock.use(fixed)
    try:
        yield fixed
    finally:
        clock.reset()


class Store:
    """The token repository's reads and touches, on a dictionary."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads: list[keys.Key] = []
        self.touches: list[tuple[keys.Key, int, int]] = []

    def get(self, key: keys.Key) -> dict[str, Any] | None:
        self.reads.append(key)
        item = self.items.get((key["pk"], key["sk"]))
        return dict(item) if item else None

    def touch(self, key: keys.Key, now: int, stale_before: int) -> None:
        self.touches.append((key, now, stale_before))
        item = self.items[(key["pk"], key["sk"])]
        if item["last_seen_at"] < stale_before:
            item["last_seen_at"] = now

    def put(self, kind: core.Kind, record: TokenSession) -> None:
        key = kind.key(record.token_hash)
        self.items[(key["pk"], key["sk"])] = {k: v for k, v in record.to_item().items() if k != "token_hash"}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    fake = Store()
    monkeypatch.setattr(repository, "get", fake.get)
    monkeypatch.setattr(repository, "touch", fake.touch)
    return fake


def issued(
    kind: core.Kind, *, absolute_seconds: int, idle_seconds: int | None, **extra: Any
) -> tuple[str, TokenSession]:
    secret, token_hash = core.new_secret(kind)
    return secret, TokenSession(
        token_hash=token_hash, **lifetimes(absolute_seconds=absolute_seconds, idle_seconds=idle_seconds), **extra
    )


# ---------------------------------------------------------------------------------- alive


def test_a_session_lives_until_its_absolute_end():
    session = TokenSession(token_hash="h", created_at=NOW, expires_at=NOW + HOUR, last_seen_at=NOW)
    assert session.alive(NOW)
    assert session.alive(NOW + HOUR - 1)
    assert not session.alive(NOW + HOUR)
    assert not session.alive(NOW + 100 * HOUR)


def test_without_an_idle_timeout_only_the_absolute_end_counts():
    session = TokenSession(token_hash="h", created_at=NOW, expires_at=NOW + 12 * HOUR, last_seen_at=NOW)
    assert session.idle_seconds is None
    assert session.alive(NOW + 12 * HOUR - 1)


def test_an_idle_session_ends_after_its_idle_timeout():
    session = TokenSession(
        token_hash="h", created_at=NOW, expires_at=NOW + 12 * HOUR, last_seen_at=NOW, idle_seconds=1800
    )
    assert session.alive(NOW + 1799)
    assert not session.alive(NOW + 1800)


def test_idle_time_counts_from_the_last_use():
    used = TokenSession(
        token_hash="h", created_at=NOW, expires_at=NOW + 12 * HOUR, last_seen_at=NOW + 5000, idle_seconds=1800
    )
    assert used.alive(NOW + 5000 + 1799)
    assert not used.alive(NOW + 5000 + 1800)


def test_use_never_extends_the_absolute_end():
    busy = TokenSession(
        token_hash="h", created_at=NOW, expires_at=NOW + HOUR, last_seen_at=NOW + HOUR - 1, idle_seconds=1800
    )
    assert busy.alive(NOW + HOUR - 1)
    assert not busy.alive(NOW + HOUR)


# ---------------------------------------------------------------------------------- lifetimes


def test_lifetimes_start_now_in_whole_seconds(moment: Moment):
    moment.now = NOW + 0.9
    assert lifetimes(absolute_seconds=12 * HOUR, idle_seconds=1800) == {
        "created_at": NOW,
        "last_seen_at": NOW,
        "expires_at": NOW + 12 * HOUR,
        "idle_seconds": 1800,
    }


def test_lifetimes_without_an_idle_timeout(moment: Moment):
    timing = lifetimes(absolute_seconds=600)
    assert timing["idle_seconds"] is None
    assert timing["expires_at"] - timing["created_at"] == 600


def test_lifetimes_follow_the_clock(moment: Moment):
    first = lifetimes(absolute_seconds=60)
    moment.now += 3 * HOUR
    second = lifetimes(absolute_seconds=60)
    assert second["created_at"] - first["created_at"] == 3 * HOUR
    assert second["expires_at"] - first["expires_at"] == 3 * HOUR


def test_a_session_issued_now_dies_by_idleness_or_age(moment: Moment):
    _, session = issued(KIND, absolute_seconds=2 * HOUR, idle_seconds=900)
    assert session.alive(NOW + 899) and not session.alive(NOW + 900)
    _, long_idle = issued(KIND, absolute_seconds=600, idle_seconds=900)
    assert long_idle.alive(NOW + 599) and not long_idle.alive(NOW + 600)


# ---------------------------------------------------------------------------------- the touch interval


def test_use_within_the_touch_interval_writes_nothing(moment: Moment, store: Store):
    secret, session = issued(KIND, absolute_seconds=12 * HOUR, idle_seconds=1800)
    store.put(KIND, session)
    moment.now = NOW + TOUCH_INTERVAL - 1
    found = core.find(KIND, TokenSession, secret)
    assert found is not None and found.token_hash == session.token_hash
    assert store.reads == [keys.session(session.token_hash)]
    assert store.touches == []


def test_use_after_the_touch_interval_refreshes_the_idle_time(moment: Moment, store: Store):
    assert TOUCH_INTERVAL == 60
    secret, session = issued(KIND, absolute_seconds=12 * HOUR, idle_seconds=1800)
    store.put(KIND, session)
    moment.now = NOW + TOUCH_INTERVAL + 1
    assert core.find(KIND, TokenSession, secret) is not None
    assert store.touches == [(keys.session(session.token_hash), NOW + 61, NOW + 1)]
    # the refreshed idle time keeps it alive past the first idle timeout; idle counts from each written use
    moment.now = NOW + 1800 + 30
    assert core.find(KIND, TokenSession, secret) is not None  # and this use is written too
    moment.now = NOW + 1830 + 1800
    assert core.find(KIND, TokenSession, secret) is None


def test_without_use_the_idle_timeout_ends_it_for_good(moment: Moment, store: Store):
    secret, session = issued(KIND, absolute_seconds=12 * HOUR, idle_seconds=1800)
    store.put(KIND, session)
    moment.now = NOW + 1800
    assert core.find(KIND, TokenSession, secret) is None
    assert store.touches == []  # a dead session is not brought back by the lookup


def test_a_use_too_soon_to_be_written_does_not_count_for_the_idle_time(moment: Moment, store: Store):
    secret, session = issued(KIND, absolute_seconds=12 * HOUR, idle_seconds=1800)
    store.put(KIND, session)
    moment.now = NOW + TOUCH_INTERVAL - 1  # used, but too soon to be written down
    assert core.find(KIND, TokenSession, secret) is not None
    moment.now = NOW + 1800  # idle counted from the last written use
    assert core.find(KIND, TokenSession, secret) is None


def test_kinds_without_idle_refresh_are_never_touched(moment: Moment, store: Store):
    secret, record = issued(QUIET, absolute_seconds=600, idle_seconds=300)
    store.put(QUIET, record)
    moment.now = NOW + 200
    assert core.find(QUIET, TokenSession, secret) is not None
    assert store.touches == []
    moment.now = NOW + 300
    assert core.find(QUIET, TokenSession, secret) is None


def test_sessions_without_an_idle_timeout_are_never_touched(moment: Moment, store: Store):
    secret, record = issued(KIND, absolute_seconds=600, idle_seconds=None)
    store.put(KIND, record)
    moment.now = NOW + 500
    assert core.find(KIND, TokenSession, secret) is not None
    assert store.touches == []


def test_a_token_of_another_kind_or_shape_is_not_even_looked_up(moment: Moment, store: Store):
    secret, record = issued(KIND, absolute_seconds=600, idle_seconds=None)
    store.put(KIND, record)
    assert core.find(QUIET, TokenSession, secret) is None
    assert core.find(KIND, TokenSession, secret + "x" * core.MAX_TOKEN_CHARS) is None
    assert core.find(KIND, TokenSession, "") is None
    assert store.reads == []


def test_a_record_bound_to_another_state_is_refused(moment: Moment, store: Store):
    secret, record = issued(QUIET, absolute_seconds=600, idle_seconds=None, bound_version=3)
    store.put(QUIET, record)
    assert core.find(QUIET, TokenSession, secret, version=3) is not None
    assert core.find(QUIET, TokenSession, secret, version=4) is None


def test_the_stored_item_carries_its_lifetimes_and_is_keyed_by_the_hash(
    moment: Moment, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(repository, "put_new_op", lambda item: item)  # the item, not a write for a table
    _, record = issued(KIND, absolute_seconds=600, idle_seconds=300)
    item = core.issue_op(KIND, record, keys.session_index("usr_1", "ses_1"))
    assert {k: item[k] for k in ("pk", "sk")} == keys.session(record.token_hash)
    assert "token_hash" not in item
    assert (item["created_at"], item["last_seen_at"], item["expires_at"], item["idle_seconds"]) == (
        NOW,
        NOW,
        NOW + 600,
        300,
    )
    assert item["ttl"] == NOW + 600 + 86_400  # cleanup a day after the end, never before it


# ---------------------------------------------------------------------------------- effective settings


def test_default_lifetimes_are_thirty_minutes_idle_and_twelve_hours_in_all():
    assert Effective().idle_seconds == 30 * 60
    assert Effective().absolute_seconds == 12 * HOUR
    assert Effective.of([]).idle_seconds == 30 * 60


def test_effective_lifetimes_are_in_seconds():
    effective = Effective(session_idle_minutes=7, session_absolute_hours=5)
    assert (effective.idle_seconds, effective.absolute_seconds) == (420, 5 * HOUR)


def test_the_strictest_account_wins_each_lifetime_on_its_own():
    patient = SecuritySettings(session_idle_minutes=5, session_absolute_hours=720)
    hasty = SecuritySettings(session_idle_minutes=1440, session_absolute_hours=1)
    for order in ([patient, hasty], [hasty, patient]):
        effective = Effective.of(order)
        assert (effective.idle_seconds, effective.absolute_seconds) == (5 * 60, HOUR)


def test_one_strict_account_among_many_decides():
    many = [SecuritySettings() for _ in range(20)] + [SecuritySettings(session_idle_minutes=10)]
    assert Effective.of(many).idle_seconds == 600
    assert Effective.of(many).absolute_seconds == 12 * HOUR


def test_stored_settings_come_back_as_ints():
    stored = {"session_idle_minutes": Decimal(15), "session_absolute_hours": Decimal(2)}  # as DynamoDB returns them
    effective = Effective.from_item(stored)
    assert (effective.idle_seconds, effective.absolute_seconds) == (900, 2 * HOUR)
    assert type(effective.idle_seconds) is int


def test_a_merchant_session_takes_its_lifetimes_from_the_credentials_settings(
    moment: Moment, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(repository, "put_new_op", lambda item: item)
    security = Effective.of([SecuritySettings(session_idle_minutes=10), SecuritySettings(session_absolute_hours=2)])
    credential = Credential(user_id="usr_1", email="ada@example.com", security=security)
    token, session, item = merchant_sessions.open_op(credential, mfa=False, ip="198.51.100.7", user_agent="pytest")
    assert token.startswith("ptu_") and session.token_hash == ids.digest(token)
    assert (session.created_at, session.expires_at, session.idle_seconds) == (NOW, NOW + 2 * HOUR, 600)
    assert session.alive(NOW + 599) and not session.alive(NOW + 600)
    assert item["expires_at"] == NOW + 2 * HOUR and item["idle_seconds"] == 600
    assert {k: item[k] for k in ("gsi1pk", "gsi1sk")} == keys.session_index("usr_1", session.session_id)


def test_a_session_is_recently_authenticated_for_fifteen_minutes(moment: Moment, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(repository, "put_new_op", lambda item: item)
    _, session, _ = merchant_sessions.open_op(
        Credential(user_id="usr_1", email="ada@example.com"), mfa=True, ip="198.51.100.7", user_agent="pytest"
    )
    moment.now = NOW + merchant_sessions.REAUTH_WINDOW
    assert session.recently_authenticated
    moment.now += 1
    assert not session.recently_authenticated
