"""The in-process emulated stack the warm and job benchmarks run on: moto with every resource of
``template.yaml`` and the real handlers called with API Gateway's events, exactly as the
integration tests build it (``tests/integration/support.py``) and with the same catalogue of flows
(``tests/integration/flows.py``); nothing of it is copied here but the two small fixtures that
sign a person up and log them in come from its support module too."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from infra.local.outbox import messages as read_outbox
from portico import clock as portico_clock

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Portico")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "portico-bench")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from tests.integration.flows import World  # after the environment above
from tests.integration.support import Api, FakeClock, login_maker, person_maker, provisioned


@contextlib.contextmanager
def world() -> Iterator[World]:
    """A fresh emulated stack and the flows' world on it, with the fake clock in use."""
    with pytest.MonkeyPatch.context() as monkeypatch, provisioned(monkeypatch) as template:
        clock = FakeClock()
        portico_clock.use(clock)
        try:
            api = Api(template)
            yield World(api, read_outbox, clock, person_maker(api), login_maker(api))
        finally:
            portico_clock.reset()
