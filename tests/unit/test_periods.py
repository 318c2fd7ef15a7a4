"""portico.billing.periods: calendar periods that keep their anchor day (a monthly subscription
started on 31 January renews on 28 or 29 February, then on 31 March), in the account's time zone,
with a documented rule for DST gaps and folds."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portico.billing.periods import (
    boundaries,
    is_timezone,
    next_boundary_after,
    nth_boundary,
    period_containing,
    period_end,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``tz`` as the aware UTC instant the module is expected to use."""
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(moment: datetime, tz: str) -> datetime:
    """The naive local wall time of ``moment`` in ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def first(anchor: datetime, unit, count: int, tz: str, k: int) -> list[datetime]:
    return list(islice(boundaries(anchor, unit, count, tz), k))


# --- the 31 January example and calendar edges -----------------------------------------------------


def test_monthly_from_31_january_renews_on_the_last_of_february_then_on_31_march():
    anchor = local(BERLIN, 2025, 1, 31, 9, 0)
    got = [wall(b, BERLIN) for b in first(anchor, "month", 1, BERLIN, 6)]
    assert got == [
        datetime(2025, 1, 31, 9),
        datetime(2025, 2, 28, 9),
        datetime(2025, 3, 31, 9),
        datetime(2025, 4, 30, 9),
        datetime(2025, 5, 31, 9),
        datetime(2025, 6, 30, 9),
    ]


def test_in_a_leap_year_february_ends_on_the_29th():
    anchor = local(BERLIN, 2024, 1, 31, 9, 0)
    assert wall(nth_boundary(anchor, 1, "month", 1, BERLIN), BERLIN) == datetime(2024, 2, 29, 9)
    assert wall(nth_boundary(anchor, 2, "month", 1, BERLIN), BERLIN) == datetime(2024, 3, 31, 9)


def test_period_end_counts_from_the_anchor_not_from_the_clamped_previous_end():
    anchor = local(BERLIN, 2025, 1, 31, 9, 0)
    february = local(BERLIN, 2025, 2, 28, 9, 0)
    assert period_end(anchor, "month", 1, anchor=anchor, tz=BERLIN) == february
    # 28 Feb + 1 month would be 28 Mar; the anchor's day brings it back to 31 Mar.
    assert period_end(february, "month", 1, anchor=anchor, tz=BERLIN) == local(BERLIN, 2025, 3, 31, 9, 0)


def test_boundaries_are_in_the_accounts_time_zone_not_in_utc():
    # 23:30 on 31 January in New York is already 1 February in UTC; the day that counts is the local one.
    anchor = local(NEW_YORK, 2025, 1, 31, 23, 30)
    assert anchor == utc(2025, 2, 1, 4, 30)
    assert nth_boundary(anchor, 1, "month", 1, NEW_YORK) == utc(2025, 3, 1, 4, 30)  # 28 Feb 23:30 EST
    assert wall(nth_boundary(anchor, 2, "month", 1, NEW_YORK), NEW_YORK) == datetime(2025, 3, 31, 23, 30)


def test_quarterly_keeps_the_anchor_day():
    anchor = local(BERLIN, 2023, 11, 30, 0, 0)
    got = [wall(b, BERLIN).date() for b in first(anchor, "month", 3, BERLIN, 6)]
    assert got == [date(2023, 11, 30), date(2024, 2, 29), date(2024, 5, 30), date(2024, 8, 30), date(2024, 11, 30),
                   date(2025, 2, 28)]  # fmt: skip


def test_yearly_from_29_february_is_28_february_in_common_years():
    anchor = local(BERLIN, 2024, 2, 29, 12, 0)
    got = [wall(b, BERLIN).date() for b in first(anchor, "year", 1, BERLIN, 6)]
    assert got == [date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29),
                   date(2029, 2, 28)]  # fmt: skip
    assert [wall(b, BERLIN).date() for b in first(anchor, "year", 4, BERLIN, 3)] == [
        date(2024, 2, 29),
        date(2028, 2, 29),
        date(2032, 2, 29),
    ]
    assert wall(nth_boundary(anchor, 1, "year", 100, BERLIN), BERLIN).date() == date(2124, 2, 29)
    assert wall(nth_boundary(anchor, 1, "year", 76, BERLIN), BERLIN).date() == date(2100, 2, 28)  # not a leap year


def test_days_and_weeks_follow_the_local_calendar():
    anchor = local(BERLIN, 2025, 1, 30, 8, 0)
    assert [wall(b, BERLIN).date() for b in first(anchor, "day", 1, BERLIN, 4)] == [
        date(2025, 1, 30),
        date(2025, 1, 31),
        date(2025, 2, 1),
        date(2025, 2, 2),
    ]
    assert wall(nth_boundary(anchor, 2, "day", 7, BERLIN), BERLIN) == datetime(2025, 2, 13, 8)


def test_boundary_zero_is_the_anchor_itself():
    anchor = utc(2025, 5, 17, 13, 14, 15, 161718)
    assert nth_boundary(anchor, 0, "month", 1, BERLIN) == anchor
    assert nth_boundary(anchor, 0, "month", 1, BERLIN).tzinfo is UTC


def test_an_anchor_given_in_another_offset_is_the_same_instant_and_results_are_utc():
    anchor = datetime(2025, 1, 31, 10, 0, tzinfo=ZoneInfo(BERLIN))
    result = nth_boundary(anchor, 1, "month", 1, BERLIN)
    assert result == utc(2025, 2, 28, 9, 0)
    assert result.utcoffset() == timedelta(0)
    assert result.tzinfo is UTC


def test_the_local_time_of_day_keeps_seconds_and_microseconds():
    anchor = local(NEW_YORK, 2025, 1, 15, 7, 8, 9, 123456)
    assert wall(nth_boundary(anchor, 5, "month", 1, NEW_YORK), NEW_YORK) == datetime(2025, 6, 15, 7, 8, 9, 123456)


# --- DST ------------------------------------------------------------------------------------------


def test_a_daily_period_across_spring_forward_keeps_the_local_time_and_is_23_hours():
    anchor = local(BERLIN, 2025, 3, 29, 9, 0)  # Berlin springs forward on 30 March 2025
    one, two = first(anchor, "day", 1, BERLIN, 3)[1:]
    assert wall(one, BERLIN) == datetime(2025, 3, 30, 9, 0)
    assert one == utc(2025, 3, 30, 7, 0)
    assert one - anchor == timedelta(hours=23)
    assert two - one == timedelta(hours=24)


def test_a_daily_period_across_fall_back_is_25_hours_in_new_york():
    anchor = local(NEW_YORK, 2025, 11, 1, 9, 0)  # New York falls back on 2 November 2025
    one = nth_boundary(anchor, 1, "day", 1, NEW_YORK)
    assert one == utc(2025, 11, 2, 14, 0)  # 09:00 EST
    assert one - anchor == timedelta(hours=25)


def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap_in_berlin():
    # 02:30 does not exist on 30 March 2025 in Berlin (02:00 CET -> 03:00 CEST): 03:30 CEST.
    anchor = local(BERLIN, 2025, 1, 30, 2, 30)
    gap = nth_boundary(anchor, 2, "month", 1, BERLIN)
    assert gap == utc(2025, 3, 30, 1, 30)
    assert wall(gap, BERLIN) == datetime(2025, 3, 30, 3, 30)
    # the shift does not carry on: the next boundary is 02:30 again
    assert wall(nth_boundary(anchor, 3, "month", 1, BERLIN), BERLIN) == datetime(2025, 4, 30, 2, 30)
    assert period_end(gap, "month", 1, anchor=anchor, tz=BERLIN) == utc(2025, 4, 30, 0, 30)


def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap_in_new_york():
    # 02:30 does not exist on 9 March 2025 in New York (02:00 EST -> 03:00 EDT): 03:30 EDT.
    anchor = local(NEW_YORK, 2025, 1, 9, 2, 30)
    gap = nth_boundary(anchor, 2, "month", 1, NEW_YORK)
    assert gap == utc(2025, 3, 9, 7, 30)
    assert wall(gap, NEW_YORK) == datetime(2025, 3, 9, 3, 30)


def test_an_ambiguous_time_at_fall_back_is_its_first_occurrence_in_berlin():
    # 02:30 happens twice on 26 October 2025 in Berlin: first in CEST (00:30 UTC), then in CET.
    anchor = local(BERLIN, 2025, 9, 26, 2, 30)
    fold = nth_boundary(anchor, 1, "month", 1, BERLIN)
    assert fold == utc(2025, 10, 26, 0, 30)
    assert fold == local(BERLIN, 2025, 10, 26, 2, 30, fold=0) != local(BERLIN, 2025, 10, 26, 2, 30, fold=1)


def test_an_ambiguous_time_at_fall_back_is_its_first_occurrence_in_new_york():
    # 01:30 happens twice on 2 November 2025 in New York: first in EDT (05:30 UTC), then in EST.
    anchor = local(NEW_YORK, 2025, 10, 2, 1, 30)
    assert nth_boundary(anchor, 1, "month", 1, NEW_YORK) == utc(2025, 11, 2, 5, 30)
    # an anchor in the second 01:30 is itself kept; later boundaries are 01:30 EST as usual
    second = local(NEW_YORK, 2025, 11, 2, 1, 30, fold=1)
    assert second == utc(2025, 11, 2, 6, 30)
    assert nth_boundary(second, 0, "month", 1, NEW_YORK) == second
    assert nth_boundary(second, 1, "month", 1, NEW_YORK) == utc(2025, 12, 2, 6, 30)


def test_daily_boundaries_through_both_changes_strictly_increase_and_keep_0230_where_it_exists():
    anchor = local(BERLIN, 2025, 3, 28, 2, 30)
    got = first(anchor, "day", 1, BERLIN, 220)
    assert all(a < b for a, b in pairwise(got))
    walls = [wall(b, BERLIN) for b in got]
    assert walls[2] == datetime(2025, 3, 30, 3, 30)  # the gap
    assert all(w.time() == datetime(2025, 1, 1, 2, 30).time() for i, w in enumerate(walls) if i != 2)


# --- next_boundary_after, period_containing, period_end ------------------------------------------


def test_next_boundary_after_is_strictly_after():
    anchor = local(BERLIN, 2025, 1, 31, 9, 0)
    february, march = local(BERLIN, 2025, 2, 28, 9, 0), local(BERLIN, 2025, 3, 31, 9, 0)
    assert next_boundary_after(anchor, anchor, "month", 1, BERLIN) == february
    assert next_boundary_after(anchor, february - timedelta(microseconds=1), "month", 1, BERLIN) == february
    assert next_boundary_after(anchor, february, "month", 1, BERLIN) == march
    assert next_boundary_after(anchor, anchor - timedelta(days=400), "month", 1, BERLIN) == anchor
    far = next_boundary_after(anchor, local(BERLIN, 2031, 7, 4, 0, 0), "month", 1, BERLIN)
    assert wall(far, BERLIN) == datetime(2031, 7, 31, 9, 0)


def test_period_containing():
    anchor = local(BERLIN, 2025, 1, 31, 9, 0)
    start, end = period_containing(anchor, local(BERLIN, 2025, 3, 15, 0, 0), "month", 1, BERLIN)
    assert (start, end) == (local(BERLIN, 2025, 2, 28, 9, 0), local(BERLIN, 2025, 3, 31, 9, 0))
    assert period_containing(anchor, anchor, "month", 1, BERLIN) == (anchor, local(BERLIN, 2025, 2, 28, 9, 0))
    with pytest.raises(ValueError):
        period_containing(anchor, anchor - timedelta(seconds=1), "month", 1, BERLIN)


def test_a_start_that_is_not_a_boundary_ends_at_the_anchors_next_boundary():
    anchor = local(BERLIN, 2025, 1, 31, 9, 0)
    assert period_end(local(BERLIN, 2025, 2, 10, 0, 0), "month", 1, anchor=anchor, tz=BERLIN) == local(
        BERLIN, 2025, 2, 28, 9, 0
    )
    # a start before the anchor: a short period up to the anchor
    assert period_end(anchor - timedelta(days=3), "month", 1, anchor=anchor, tz=BERLIN) == anchor


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Etc/GMT+5", "America/Argentina/Salta"])
def test_is_timezone_accepts_iana_names(name):
    assert is_timezone(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Europe",
        "europe/berlin",
        "Mars/Olympus_Mons",
        "/etc/localtime",
        "/usr/share/zoneinfo/UTC",
        "../etc/passwd",
        "Europe/../UTC",
        "./UTC",
        "Europe//Berlin",
        "Europe/Berlin/",
        "Europe/Berlin\x00",
        " Europe/Berlin",
        "zone.tab",
        "localtime",
        "posixrules",
        "Factory",
        "posix/Europe/Berlin",
        "right/UTC",
        "A" * 200,
        None,
        1,
        b"UTC",
    ],
)
def test_is_timezone_refuses_paths_and_unknown_names(name):
    assert not is_timezone(name)


def test_invalid_arguments_are_value_errors():
    anchor = utc(2025, 1, 31, 9)
    naive = datetime(2025, 1, 31, 9)
    with pytest.raises(ValueError):
        nth_boundary(naive, 1, "month", 1, BERLIN)
    with pytest.raises(ValueError):
        nth_boundary(anchor, 1, "week", 1, BERLIN)
    with pytest.raises(ValueError):
        nth_boundary(anchor, 1, "month", 0, BERLIN)
    with pytest.raises(ValueError):
        nth_boundary(anchor, 1, "month", True, BERLIN)
    with pytest.raises(ValueError):
        nth_boundary(anchor, -1, "month", 1, BERLIN)
    with pytest.raises(ValueError):
        nth_boundary(anchor, 1, "month", 1, "Europe/Nowhere")
    with pytest.raises(ValueError):
        next_boundary_after(anchor, naive, "month", 1, BERLIN)
    with pytest.raises(ValueError):
        period_end(naive, "month", 1, anchor=anchor, tz=BERLIN)
    with pytest.raises(ValueError):
        nth_boundary(anchor, 10_000, "year", 1, BERLIN)


def test_boundaries_end_quietly_at_the_last_representable_year():
    got = list(boundaries(utc(9990, 6, 1), "year", 1, "UTC"))
    assert len(got) == 10
    assert got[-1] == utc(9999, 6, 1)


# --- properties ----------------------------------------------------------------------------------

ZONES = [
    "UTC",
    BERLIN,
    NEW_YORK,
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Sao_Paulo",  # DST in the past, none now
    "Asia/Kolkata",
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 with DST
    "Europe/London",
]
anchors = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC))
zones = st.sampled_from(ZONES)


def resolves_to(local_date: date, anchor_wall: datetime, tz: str) -> datetime:
    """The anchor's wall time on ``local_date`` by the documented rule (fold=0), independently."""
    return datetime.combine(local_date, anchor_wall.time()).replace(tzinfo=ZoneInfo(tz), fold=0).astimezone(UTC)


def exists(naive: datetime, tz: str) -> bool:
    aware = naive.replace(tzinfo=ZoneInfo(tz))
    return aware.astimezone(UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None) == naive


@settings(max_examples=150, deadline=None)
@given(
    anchor=anchors,
    tz=zones,
    count=st.integers(min_value=1, max_value=13),
    n=st.integers(min_value=1, max_value=60),
)
def test_every_monthly_boundary_keeps_the_anchor_day_unless_the_month_is_shorter(anchor, tz, count, n):
    anchor_wall = wall(anchor, tz)
    boundary = nth_boundary(anchor, n, "month", count, tz)
    months = anchor_wall.month - 1 + n * count
    year, month = anchor_wall.year + months // 12, months % 12 + 1
    last = calendar.monthrange(year, month)[1]
    expected_date = date(year, month, min(anchor_wall.day, last))
    assert boundary.tzinfo is UTC
    assert boundary == resolves_to(expected_date, anchor_wall, tz)
    boundary_wall = wall(boundary, tz)
    target = datetime.combine(expected_date, anchor_wall.time())
    if exists(target, tz):
        assert boundary_wall == target  # same local day and time of day
    else:
        assert boundary_wall > target  # a gap: moved forward, by at most the gap (a few hours)
        assert boundary_wall - target <= timedelta(hours=3)


@settings(max_examples=100, deadline=None)
@given(anchor=anchors, tz=zones, count=st.integers(min_value=1, max_value=5), n=st.integers(min_value=1, max_value=30))
def test_every_yearly_boundary_keeps_the_anchor_month_and_day_with_29_february_clamped(anchor, tz, count, n):
    anchor_wall = wall(anchor, tz)
    boundary_date = wall(nth_boundary(anchor, n, "year", count, tz), tz).date()
    year = anchor_wall.year + n * count
    assert boundary_date.year == year
    assert boundary_date.month == anchor_wall.month
    if (anchor_wall.month, anchor_wall.day) == (2, 29) and not calendar.isleap(year):
        assert boundary_date.day == 28
    else:
        assert boundary_date.day == anchor_wall.day


@settings(max_examples=100, deadline=None)
@given(
    anchor=anchors, tz=zones, count=st.integers(min_value=1, max_value=40), n=st.integers(min_value=1, max_value=400)
)
def test_every_daily_boundary_is_count_local_days_on_at_the_same_local_time(anchor, tz, count, n):
    anchor_wall = wall(anchor, tz)
    boundary = nth_boundary(anchor, n, "day", count, tz)
    expected_date = anchor_wall.date() + timedelta(days=n * count)
    assert boundary == resolves_to(expected_date, anchor_wall, tz)
    if exists(datetime.combine(expected_date, anchor_wall.time()), tz):
        assert wall(boundary, tz) == datetime.combine(expected_date, anchor_wall.time())


@settings(max_examples=80, deadline=None)
@given(
    anchor=anchors,
    tz=zones,
    unit=st.sampled_from(["day", "month", "year"]),
    count=st.integers(min_value=1, max_value=12),
)
def test_boundaries_strictly_increase_and_each_period_ends_at_the_next_boundary(anchor, tz, unit, count):
    got = first(anchor, unit, count, tz, 30)
    assert got[0] == anchor
    assert all(a < b for a, b in pairwise(got))
    for start, end in pairwise(got):
        assert period_end(start, unit, count, anchor=anchor, tz=tz) == end


@settings(max_examples=150, deadline=None)
@given(
    anchor=anchors,
    tz=zones,
    unit=st.sampled_from(["day", "month", "year"]),
    count=st.integers(min_value=1, max_value=6),
    offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3 * 366)),
)
def test_next_boundary_after_and_period_containing_agree_with_the_list_of_boundaries(anchor, tz, unit, count, offset):
    moment = anchor + offset
    expected_next = next(b for b in boundaries(anchor, unit, count, tz) if b > moment)
    assert next_boundary_after(anchor, moment, unit, count, tz) == expected_next
    start, end = period_containing(anchor, moment, unit, count, tz)
    assert start <= moment < end
    assert end == expected_next
    assert period_end(start, unit, count, anchor=anchor, tz=tz) == end
