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

from portico import audit, clock, keys, store
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
    now = clock.now()
    summary = Summary(run_at=clock.iso(now))
    before = clock.iso_epoch(clock.timestamp() - GRACE_SECONDS).replace("Z", "")
    start = None
    while True:
        page, start = store.query(
            "gsi1pk = :p AND gsi1sk < :before",
            {":p": keys.audit_fanout_index("", "")["gsi1pk"], ":before": before},
            index="gsi1",
            start=start,
        )
        for marker in page:
            summary.markers += 1
            try:
                summary.records_written += audit.complete(marker)
            except Exception as exc:  # one marker's failure must not stop the others
                summary.failed += 1
                summary.failures.append({"marker": str(marker["pk"]), "error": type(exc).__name__})
        if not start:
            break
    metrics.add_metric(name="AuditRecordsFannedOut", unit="Count", value=summary.records_written)
    if summary.failed:
        logger.error("audit-fanout: some markers failed", extra={"failed": summary.failed})
    return asdict(summary)
