"""Integration fixtures: moto with the template's own resources, a movable clock, the real handlers."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from botocore.exceptions import ClientError
from moto import mock_aws

import infra.local.atomic  # noqa: F401  (DynamoDB conditional writes atomic, as in AWS)
from infra.local.cfn import Template
from infra.local.events import Request, Router, build_event
from infra.local.outbox import messages as read_outbox
from portico import aws, config, idempotency, store
from portico import clock as portico_clock

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0):  # 2026-09-21, a fixed, known moment
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    fake = FakeClock()
    portico_clock.use(fake)
    yield fake
    portico_clock.reset()


@contextlib.contextmanager
def _provisioned(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        template = Template.load(ROOT / "template.yaml", parameters={"PublicUrl": "https://app.portico.test"})
        template.provision()
        for name, value in template.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        aws.reset()
        idempotency.reset()
        config.settings.cache_clear()
        yield template
        aws.reset()
        idempotency.reset()
        config.settings.cache_clear()


@pytest.fixture
def template_env(monkeypatch):
    with _provisioned(monkeypatch) as template:
        yield template


@pytest.fixture(scope="module")
def module_template_env():
    """One emulated stack for a whole module. A module whose tests change nothing (they are refused)
    may share it by overriding ``template_env``::

        @pytest.fixture(scope="module")
        def template_env(module_template_env):
            return module_template_env
    """
    with pytest.MonkeyPatch.context() as monkeypatch, _provisioned(monkeypatch) as template:
        yield template


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class Context:
    function_name = "portico-test"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:portico-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def _own_event(resolver: ApiGatewayResolver) -> None:
    """Powertools sets the event being handled on its base class (``BaseRouter.current_event``), so
    every resolver in the process shares it: one invocation per process in Lambda, but threads here
    would read each other's requests (a body validated against another route's model). Each copy
    of a handler module's resolver keeps its own, which its reads find first."""
    resolve = resolver.resolve

    def resolve_own(event, context):
        resolver.current_event = resolver._to_proxy_event(event)
        resolver.lambda_context = context
        return resolve(event, context)

    resolver.resolve = resolve_own


class Api:
    """Calls the template's handlers with the events API Gateway would build (the local stack's
    router and event builder), in process."""

    def __init__(self, template: Template):
        self._router = Router(template.routes())
        self._local = threading.local()

    def _module(self, route):
        # Lambda never runs two invocations in one container, and Powertools keeps the current
        # event on the resolver: each thread gets its own copy of the handler module (whose
        # resolver keeps its own event, see _own_event).
        if not hasattr(self._local, "modules"):
            self._local.modules = {}
        modules = self._local.modules
        if route.function_id not in modules:
            module_name, _, _ = route.handler.rpartition(".")
            path = ROOT / route.code_uri / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"_it_{route.function_id}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for resolver in (v for v in vars(module).values() if isinstance(v, ApiGatewayResolver)):
                _own_event(resolver)
            modules[route.function_id] = module
        return modules[route.function_id]

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, token: str | None = None
    ) -> Answer:
        raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        sent = {
            "content-type": "application/json",
            "user-agent": "pytest",
            **{k.lower(): v for k, v in (headers or {}).items()},
        }
        if token:
            sent["authorization"] = f"Bearer {token}"
        request = Request(
            method=method,
            target=path,
            headers=list(sent.items()),
            body=raw if isinstance(raw, bytes) else (raw or "").encode(),
            source_ip="198.51.100.7",
        )
        match = self._router.match(method, request.raw_path)
        assert match is not None, f"no route for {method} {path}"
        event = build_event(
            request, match, now=portico_clock.timestamp(), request_id="it", account_id="123456789012", server_port=443
        )
        result = getattr(self._module(match.route), match.route.handler.rpartition(".")[2])(event, Context())
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return Answer(result["statusCode"], result.get("headers", {}), json.loads(text) if text else None)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None, token: str | None = None):
        return self.call("POST", path, body, headers, token)

    def get(self, path: str, token: str | None = None, headers: dict[str, str] | None = None) -> Answer:
        return self.call("GET", path, None, headers, token)

    def put(self, path: str, body: Any = None, token: str | None = None) -> Answer:
        return self.call("PUT", path, body, None, token)

    def patch(self, path: str, body: Any = None, token: str | None = None) -> Answer:
        return self.call("PATCH", path, body, None, token)

    def delete(self, path: str, token: str | None = None) -> Answer:
        return self.call("DELETE", path, None, None, token)


@pytest.fixture
def api(template_env, clock) -> Api:
    return Api(template_env)


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
        items = client.scan(TableName=config.settings().table_name)["Items"]
        return [store.deserialize(i) for i in items if not i["pk"]["S"].startswith("RATE#")]

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


class Calls(Counter):
    def count(self, service: str) -> int:  # type: ignore[override]
        return self[service]


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


PASSWORD = "Quartz-Lantern-Vivid-42"


@dataclass
class Person:
    email: str
    password: str
    user_id: str
    account_id: str


@pytest.fixture
def person(api, outbox):
    """Sign up and verify someone (through the API), returning who they are."""

    def make(
        email: str = "ada@example.com",
        password: str = PASSWORD,
        name: str = "Ada Lovelace",
        company: str = "Analytical Engines",
    ) -> Person:
        created = api.post("/signup", {"email": email, "password": password, "name": name, "company": company})
        assert created.status == 201, created.body
        [message] = [m for m in outbox(email) if "verify-email?token=" in m["text"]][:1]
        token = message["text"].split("verify-email?token=", 1)[1].split()[0]
        assert api.post("/auth/verify-email", {"token": token}).status == 200
        return Person(email, password, created.body["user_id"], created.body["account_id"])

    return make


@pytest.fixture
def login(api):
    def log_in(who: Person, password: str | None = None) -> str:
        answer = api.post("/auth/login", {"email": who.email, "password": password or who.password})
        assert answer.status == 200 and answer.body["status"] == "authenticated", answer.body
        return answer.body["token"]

    return log_in
