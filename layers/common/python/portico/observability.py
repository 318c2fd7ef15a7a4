"""Powertools Logger and Metrics, created once and shared by every module.

The service name comes from ``POWERTOOLS_SERVICE_NAME`` (set per function in the template), the
metrics namespace from ``POWERTOOLS_METRICS_NAMESPACE``.

Tracing: the template turns on Lambda's active tracing, so every invocation (and API Gateway in
front of it) appears in X-Ray without an SDK in the function. The Powertools Tracer is not used:
importing the X-Ray SDK costs about 200 ms of cold start (it builds a botocore client at import),
more than the whole rest of a handler, and the SDK is in maintenance in favour of OpenTelemetry.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics"]
