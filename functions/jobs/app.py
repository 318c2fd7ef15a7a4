"""Scheduled jobs. EventBridge Scheduler sends ``{"job": "<name>"}``; the answer is the job's summary."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from typing import Any

from portico.jobs import JOBS
from portico.observability import logger, metrics

boot.ready("dynamodb")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = event.get("job") if isinstance(event, dict) else None
    job = JOBS.get(str(name))
    if job is None:
        raise ValueError(f"unknown job {name!r}")
    summary = job()
    logger.info("job finished", extra={"summary": summary})
    return summary
