"""Powertools Logger, Tracer and Metrics, created once and shared by every module.

The service name comes from ``POWERTOOLS_SERVICE_NAME`` (set per function in the template), the
metrics namespace from ``POWERTOOLS_METRICS_NAMESPACE``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
