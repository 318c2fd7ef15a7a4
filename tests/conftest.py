"""Shared test set-up: the environment every function gets from the template, set before import."""

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Portico")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "portico-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
