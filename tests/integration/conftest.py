"""Integration fixtures: moto with the template's own resources, a movable clock, the real handlers.

The helpers behind them (``Api``, ``FakeClock``, ``Person``, ``PASSWORD``...) are in ``support.py``;
test modules import them from there.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local.outbox import messages as read_outbox
from portico import aws, config, keys, store
from portico import clock as portico_clock
from tests.integration.support import (
    Api,
    Calls,
    FakeClock,
    consume,
    login_maker,
    person_maker,
    provisioned,
)


@pytest.fixture
def clock():
    fake = FakeClock()
    portico_clock.use(fake)
    yield fake
    portico_clock.reset()


@pytest.fixture
def template_env(monkeypatch):
    with provisioned(monkeypatch) as template:
        yield template


@pytest.fixture(scope="module")
def module_template_env():
    """One emulated stack for a whole module. A module whose tests change nothing (they are refused)
    may share it by overriding ``template_env``::

        @pytest.fixture(scope="module")
        def template_env(module_template_env):
            return module_template_env
    """
    with pytest.MonkeyPatch.context() as monkeypatch, provisioned(monkeypatch) as template:
        yield template


@pytest.fixture
def api(template_env, clock) -> Api:
    return Api(template_env)


@pytest.fixture
def consumers(template_env, clock):
    """Run the queue consumers (the personal data export) over what is queued: ``consumers()``."""

    def run(*, retry_now: bool = False) -> dict[str, int]:
        return consume(template_env, retry_now=retry_now)

    return run


@pytest.fixture
def outbox(template_env):
    def read(to: str | None = None) -> list[dict]:
        return read_outbox(to)

    return read


@pytest.fixture
def table_items(template_env):
    """Every item in the domain table (rate-limit counters excluded: they are not domain state)."""

    def read() -> list[dict]:
        client = aws.client("dynamodb")
        items = [store.deserialize(i) for i in client.scan(TableName=config.settings().table_name)["Items"]]
        return [item for item in items if not keys.is_rate_counter(item)]

    return read


@pytest.fixture
def fail_aws(template_env):
    """Make one AWS operation fail at the client boundary, as throttling or an outage would."""

    @contextlib.contextmanager
    def failing(service: str, operation: str, code: str):
        def boom(**_: Any) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {}}, operation)

        events = aws.client(service).meta.events
        event = f"before-call.{aws.client(service).meta.service_model.endpoint_prefix}.{operation}"
        events.register(event, boom, unique_id="portico-fault")
        try:
            yield
        finally:
            events.unregister(event, unique_id="portico-fault")

    return failing


@pytest.fixture
def aws_calls(template_env):
    """Count the AWS API calls a block makes, per service."""

    @contextlib.contextmanager
    def counting(services=("dynamodb", "ses", "sns", "kms")):
        calls = Calls()
        registered = []
        for service in services:
            client = aws.client(service)

            def count(service=service, **_: Any) -> None:
                calls[service] += 1

            name = f"before-call.{client.meta.service_model.endpoint_prefix}"
            client.meta.events.register(name, count, unique_id=f"portico-count-{service}")
            registered.append((client, name, service))
        try:
            yield calls
        finally:
            for client, name, service in registered:
                client.meta.events.unregister(name, unique_id=f"portico-count-{service}")

    return counting


@pytest.fixture
def person(api, outbox):
    """Sign up and verify someone (through the API), returning who they are."""
    return person_maker(api)


@pytest.fixture
def login(api):
    return login_maker(api)
