"""The one source of time for the domain code.

Everything that needs "now" calls :func:`now`. Tests and the local stack replace the source with
:func:`use` (for example a clock that can be advanced), so expiry, lockout and schedules can be
exercised without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Source = Callable[[], float]

_source: Source = time.time


def use(source: Source) -> None:
    """Replace the time source: a callable returning seconds since the epoch."""
    global _source
    _source = source


def reset() -> None:
    use(time.time)


def timestamp() -> float:
    """Seconds since the epoch, from the current source."""
    return _source()


def now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.fromtimestamp(_source(), tz=UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the API speaks it."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_epoch(epoch: float) -> str:
    """An epoch-seconds value as the API speaks time."""
    return iso(datetime.fromtimestamp(epoch, tz=UTC))
