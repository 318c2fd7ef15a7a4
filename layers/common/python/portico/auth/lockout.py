"""Lockout arithmetic, pure so it can be tested on its own.

After ``THRESHOLD`` consecutive failures for one login, attempts are refused for a period that
starts at 1 s and doubles with every further failure, up to ``MAX_LOCK_SECONDS``; a correct
password is refused too while locked, and success resets the count. Independently, no login
takes more than ``HOURLY_CAP`` failures in one clock hour: once reached, it is locked until the
hour ends. Failures of the second factor count the same. Every attempt is counted as a failure
before it is verified; a verified one is taken back out (see :mod:`portico.auth.repository`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

THRESHOLD = 5
MAX_LOCK_SECONDS = 15 * 60
HOURLY_CAP = 100
HOUR = 3600


def lock_seconds(failures: int) -> int:
    """How long the login stays locked after its ``failures``-th consecutive failure."""
    if failures < THRESHOLD:
        return 0
    return int(min(MAX_LOCK_SECONDS, 2 ** (failures - THRESHOLD)))


@dataclass(frozen=True)
class State:
    failed_count: int = 0
    last_failure_at: float = 0.0
    hour: int = 0
    hour_failures: int = 0

    @classmethod
    def of(cls, item: dict[str, Any]) -> State:
        return cls(
            failed_count=int(item.get("failed_count", 0)),
            last_failure_at=int(item.get("last_failure_ms", 0)) / 1000,
            hour=int(item.get("failure_hour", 0)),
            hour_failures=int(item.get("hour_failures", 0)),
        )

    def locked_for(self, now: float) -> int:
        """Seconds until the next attempt is allowed (0: not locked)."""
        waits = [0.0]
        if self.failed_count >= THRESHOLD:
            waits.append(self.last_failure_at + lock_seconds(self.failed_count) - now)
        if self.hour == int(now // HOUR) and self.hour_failures >= HOURLY_CAP:
            waits.append((self.hour + 1) * HOUR - now)
        wait = max(waits)
        return 0 if wait <= 0 else max(1, int(-(-wait // 1)))

    def after_failure(self, now: float) -> State:
        hour = int(now // HOUR)
        return State(
            failed_count=self.failed_count + 1,
            last_failure_at=now,
            hour=hour,
            hour_failures=(self.hour_failures if hour == self.hour else 0) + 1,
        )

    def to_item(self) -> dict[str, int]:
        return {
            "failed_count": self.failed_count,
            # milliseconds: a 1-second lock must not end early by a truncated fraction
            "last_failure_ms": int(self.last_failure_at * 1000),
            "failure_hour": self.hour,
            "hour_failures": self.hour_failures,
        }
