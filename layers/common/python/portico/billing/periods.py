"""Billing periods: calendar periods that keep their anchor day, in the account's time zone.

This module owns when a subscription's periods begin and end. A subscription has an *anchor*, the
start of its first period; every later boundary is the n-th boundary counted from the anchor, never
the previous end plus an interval, so the anchor's day survives short months, as Stripe and
Chargebee do: monthly from 31 January gives 28 (29 in a leap year) February, then 31 March, 30
April, 31 May.

Boundaries are computed on the local calendar of the account's IANA time zone and handed back as
aware UTC datetimes:

- ``month``: the anchor's local day of month, clamped to the month's last day when the month is
  shorter; ``year``: the anchor's local month and day, 29 February clamped to 28 February in
  common years; ``day``: the anchor's local date plus ``n * count`` days. Every boundary keeps the
  anchor's local time of day, so a daily period is 23 or 25 hours long across a DST change.
- A local time that does not exist on the boundary's day (clocks spring forward over it) is moved
  forward by the length of the gap: 02:30 on the day Berlin goes from 02:00 CET to 03:00 CEST
  becomes 03:30 CEST. It is the instant the wall time denotes in the offset in force before the
  change (PEP 495, ``fold=0``).
- A local time that occurs twice on the boundary's day (clocks fall back) is its first occurrence,
  the one in the offset before the change (``fold=0``): 02:30 on the day Berlin goes back from
  CEST to CET is 02:30 CEST, 00:30 UTC.
- Boundary 0 is the anchor itself, the very instant given.

It is pure: the standard library's ``datetime`` and ``zoneinfo`` only, no clock and no I/O.
Invalid input (a naive datetime, an unknown time zone, an interval that is not one of ``day``,
``month`` and ``year``, a count below 1) is a ``ValueError``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = Literal["day", "month", "year"]
INTERVALS: tuple[Interval, ...] = get_args(Interval)

# An IANA name: letters, digits and ``_+-`` in segments separated by single slashes, starting with a
# letter (``Europe/Berlin``, ``America/Argentina/Buenos_Aires``, ``Etc/GMT+5``, ``UTC``).
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
# Files of a tz database that zoneinfo loads but that are no one's time zone: the host's own zone,
# the POSIX default rules, the "unknown" zone, and the copies under posix/ and right/ (the latter
# counting leap seconds).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_NOT_ZONE_PREFIXES = ("posix/", "right/")


def is_timezone(name: object) -> bool:
    """Whether ``name`` is an IANA time-zone name that zoneinfo can load (``Europe/Berlin``,
    ``UTC``). Refused: anything that is not a string, the empty string, paths (absolute, ``..``,
    ``./``, doubled slashes), names zoneinfo cannot find or read, and the tz database's files that
    are not time zones (``localtime``, ``posixrules``, ``Factory``, ``posix/...``, ``right/...``)."""
    if not isinstance(name, str) or len(name) > 64 or _ZONE_NAME.fullmatch(name) is None:
        return False
    if name in _NOT_ZONES or name.startswith(_NOT_ZONE_PREFIXES):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, UnicodeError):
        return False
    return True


def _zone(tz: str) -> ZoneInfo:
    if not is_timezone(tz):
        raise ValueError(f"not an IANA time zone: {tz!r}")
    return ZoneInfo(tz)


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got {moment!r}")
    return moment


def _check_interval(unit: str, count: int) -> None:
    if unit not in INTERVALS:
        raise ValueError(f"an interval unit is one of {', '.join(INTERVALS)}, got {unit!r}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"an interval count is an int of at least 1, got {count!r}")


def _local_date(local_anchor: datetime, n: int, unit: Interval, count: int) -> date:
    """The local date of boundary ``n``: the anchor's date moved by ``n * count`` units, the day
    clamped to the target month's last day."""
    steps = n * count
    if unit == "day":
        return local_anchor.date() + timedelta(days=steps)
    if unit == "month":
        months = local_anchor.month - 1 + steps
        year, month = local_anchor.year + months // 12, months % 12 + 1
    else:
        year, month = local_anchor.year + steps, local_anchor.month
    if not 1 <= year <= 9999:
        raise ValueError(f"boundary {n} is beyond the years a datetime can hold")
    return date(year, month, min(local_anchor.day, calendar.monthrange(year, month)[1]))


def _resolve(local_date: date, local_anchor: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the anchor's wall time on ``local_date`` in ``zone``: ``fold=0`` (see
    the module's docstring: a time in a spring-forward gap moves forward by the gap, an ambiguous
    time is its first occurrence)."""
    wall = datetime.combine(local_date, local_anchor.time()).replace(tzinfo=zone, fold=0)
    return wall.astimezone(UTC)


def nth_boundary(anchor: datetime, n: int, unit: Interval, count: int, tz: str) -> datetime:
    """Boundary ``n`` (0, 1, 2, ...) of a subscription anchored at ``anchor`` whose periods are
    ``count`` ``unit``\\ s long, in the time zone ``tz``, as an aware UTC datetime. Boundary 0 is
    the anchor; boundary ``n`` is the end of period ``n`` (counted from 1) and the start of the
    next."""
    _aware(anchor, "anchor")
    _check_interval(unit, count)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"a boundary's number is an int of at least 0, got {n!r}")
    zone = _zone(tz)
    if n == 0:
        return anchor.astimezone(UTC)
    try:
        local_anchor = anchor.astimezone(zone)
        return _resolve(_local_date(local_anchor, n, unit, count), local_anchor, zone)
    except OverflowError as error:
        raise ValueError(f"boundary {n} is beyond the years a datetime can hold") from error


def boundaries(anchor: datetime, unit: Interval, count: int, tz: str) -> Iterator[datetime]:
    """The boundaries of a subscription in order, the anchor first, as aware UTC datetimes (ends
    quietly in the year 9999)."""
    n = 0
    while True:
        try:
            yield nth_boundary(anchor, n, unit, count, tz)
        except ValueError:
            if n == 0:
                raise
            return
        n += 1


def _first_after(anchor: datetime, moment: datetime, unit: Interval, count: int, tz: str) -> int:
    """The number of the first boundary strictly after ``moment``. Boundaries never decrease, so
    it starts from an estimate on the local calendar and steps to the exact one."""
    _aware(anchor, "anchor")
    _aware(moment, "moment")
    _check_interval(unit, count)
    zone = _zone(tz)
    if moment < anchor:
        return 0
    local_anchor, local_moment = anchor.astimezone(zone), moment.astimezone(zone)
    if unit == "day":
        elapsed = (local_moment.date() - local_anchor.date()).days
    elif unit == "month":
        elapsed = (local_moment.year - local_anchor.year) * 12 + local_moment.month - local_anchor.month
    else:
        elapsed = local_moment.year - local_anchor.year
    n = max(0, elapsed // count - 1)
    while n > 0 and nth_boundary(anchor, n, unit, count, tz) > moment:
        n -= 1
    while nth_boundary(anchor, n, unit, count, tz) <= moment:
        n += 1
    return n


def next_boundary_after(anchor: datetime, moment: datetime, unit: Interval, count: int, tz: str) -> datetime:
    """The first boundary strictly after ``moment``: the end of the period that contains
    ``moment`` (at a boundary, the end of the period that starts there). Before the anchor it is
    the anchor. The renewal job uses it to resume and to find the current period."""
    return nth_boundary(anchor, _first_after(anchor, moment, unit, count, tz), unit, count, tz)


def period_containing(
    anchor: datetime, moment: datetime, unit: Interval, count: int, tz: str
) -> tuple[datetime, datetime]:
    """``(start, end)`` of the period that contains ``moment``: ``start <= moment < end``, both
    boundaries. ``ValueError`` before the anchor, where no period has begun."""
    _aware(moment, "moment")
    if moment < _aware(anchor, "anchor"):
        raise ValueError("the moment is before the anchor: no period contains it")
    n = _first_after(anchor, moment, unit, count, tz)
    return nth_boundary(anchor, n - 1, unit, count, tz), nth_boundary(anchor, n, unit, count, tz)


def period_end(start: datetime, unit: Interval, count: int, *, anchor: datetime, tz: str) -> datetime:
    """The end of the period that starts at ``start``: the first of the anchor's boundaries
    strictly after ``start``, as an aware UTC datetime.

    When ``start`` is a boundary (a renewal) it is the next boundary, computed from the anchor:
    31 Jan, 28 Feb, then 31 Mar, not 28 Mar. When it is not (a start before the anchor, or between
    two boundaries) the period is a short one up to the anchor's next boundary, as with a billing
    cycle anchor in Stripe; pass the start itself as the anchor for full periods from it.
    """
    _aware(start, "start")
    return next_boundary_after(anchor, start, unit, count, tz)
