"""Scheduled jobs, by the name the schedule (and ``POST /_local/jobs/{job}``) gives them.

Each job is a function of no arguments that returns its summary as a dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portico.billing import renewal
from portico.jobs import audit_fanout, password_expiry

JOBS: dict[str, Callable[[], dict[str, Any]]] = {
    "password-expiry": password_expiry.run,
    "audit-fanout": audit_fanout.run,
    "subscription-renewal": renewal.run,
}
