"""The ``audit-fanout`` job: finishes the audit records that a request could not copy into all
their accounts right after its change committed (see :mod:`portico.audit`).

It reads only the markers left behind (an index of their own, oldest first), never the log, so
its work follows what is left over, which is nothing on a normal day. A marker younger than
``GRACE_SECONDS`` belongs to a request that may still be copying it and waits for the next run.
Copies are idempotent puts, so finishing a marker twice changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from portico import audit, clock
from portico.observability import logger, metrics

GRACE_SECONDS = 60


@dataclass
class Summary:
    job: str = "audit-fanout"
    run_at: str = ""
    markers: int = 0
    records_written: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def run() -> dict[str, Any]:
    summary = Summary(run_at=clock.iso(clock.now()))
    summary.markers, summary.records_written, summary.failures = audit.finish_pending(GRACE_SECONDS)
    summary.failed = len(summary.failures)
    metrics.add_metric(name="AuditRecordsFannedOut", unit="Count", value=summary.records_written)
    if summary.failed:
        logger.error("audit-fanout: some markers failed", extra={"failed": summary.failed})
    return asdict(summary)
