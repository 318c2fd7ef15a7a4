"""What the integration tests share besides fixtures: the emulated stack's set-up, a movable
clock, the in-process API client and the people it signs up.

``conftest.py`` builds its fixtures from these; test modules import them from here, never from a
conftest (pytest imports a conftest under its own name, so classes taken from it would be other
objects than the ones its fixtures use).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from moto import mock_aws

import infra.local.atomic  # noqa: F401  (DynamoDB conditional writes atomic, as in AWS)
from infra.local import queues
from infra.local.cfn import Template
from infra.local.events import Request, Router, build_event
from infra.local.outbox import messages as read_outbox
from portico import aws, config, idempotency
from portico import clock as portico_clock

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Quartz-Lantern-Vivid-42"


class FakeClock:
    """A time source that stands still until advanced (``portico.clock.use(FakeClock())``)."""

    def __init__(self, start: float = 1_790_000_000.0):  # 2026-09-21, a fixed, known moment
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.contextmanager
def provisioned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Template]:
    """moto with every resource of ``template.yaml`` and the functions' environment set."""
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


@dataclass
class Answer:
    """What a handler answered: status, headers and the JSON body (None when empty)."""

    status: int
    headers: dict[str, str]
    body: Any


class Context:
    """The Lambda context a handler gets."""

    function_name = "portico-test"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:portico-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def own_event(resolver: ApiGatewayResolver) -> None:
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
                own_event(resolver)
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
        headers = result.get("headers", {})
        json_body = "json" in str(headers.get("Content-Type", "application/json"))  # pages are text/html
        return Answer(result["statusCode"], headers, (json.loads(text) if json_body else text) if text else None)

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


def consume(template: Template, *, retry_now: bool = False) -> dict[str, int]:
    """Deliver every queued message to its consumer function, as Lambda's event source mapping
    would (see :mod:`infra.local.queues`); counts of messages done and failed."""
    totals: Counter[str] = Counter()
    for consumer in template.consumers():
        module_name, _, function = consumer.handler.rpartition(".")
        path = ROOT / consumer.code_uri / f"{module_name}.py"
        spec = importlib.util.spec_from_file_location(f"_it_{consumer.function_id}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handler = getattr(module, function)
        totals.update(queues.drain(consumer, lambda event, h=handler: h(event, Context()), retry_now=retry_now))
    return dict(totals)


def person_maker(api: Api) -> Callable[..., Person]:
    """``make(email, password, name, company)``: sign someone up and verify them through the API."""

    def make(
        email: str = "ada@example.com",
        password: str = PASSWORD,
        name: str = "Ada Lovelace",
        company: str = "Analytical Engines",
    ) -> Person:
        created = api.post("/signup", {"email": email, "password": password, "name": name, "company": company})
        assert created.status == 201, created.body
        [message] = [m for m in read_outbox(email) if "verify-email?token=" in m["text"]][:1]
        token = message["text"].split("verify-email?token=", 1)[1].split()[0]
        assert api.post("/auth/verify-email", {"token": token}).status == 200
        return Person(email, password, created.body["user_id"], created.body["account_id"])

    return make


def login_maker(api: Api) -> Callable[..., str]:
    """``log_in(who, password=None)``: a session token for someone without a second factor."""

    def log_in(who: Person, password: str | None = None) -> str:
        answer = api.post("/auth/login", {"email": who.email, "password": password or who.password})
        assert answer.status == 200 and answer.body["status"] == "authenticated", answer.body
        return str(answer.body["token"])

    return log_in


class Calls(Counter):
    """AWS API calls per service, as ``aws_calls`` counts them."""

    def count(self, service: str) -> int:  # type: ignore[override]
        return self[service]


@dataclass
class Person:
    """Someone signed up and verified through the API, owner of their own account."""

    email: str
    password: str
    user_id: str
    account_id: str
