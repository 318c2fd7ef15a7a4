"""Each function logs under its own service name in the local stack, as it does in Lambda.

The template sets ``POWERTOOLS_SERVICE_NAME`` per function, but a local worker process imports
every function's handler, and Powertools' Logger reads the name once, at the first import: without
``infra.local.worker`` naming the service per invocation, the users function logged as "auth"
(the first function loaded). Two views: one worker process driven directly, deterministically in
the order that showed it (every handler imported, auth first, as the stack's warm-up does), and
the running stack as a developer sees it.

The requests are refused by the access check (no token), which logs "access refused" before any
AWS call, so the direct run needs no emulation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from tests.localstack import REPO_ROOT, LocalStack

# Routes that log without a session: (method, path, the service the template names for them).
REQUESTS = [
    ("GET", "/rights", "users"),
    ("POST", "/auth/logout", "auth"),
    ("GET", "/accounts/acc_x/users", "users"),
    ("GET", "/me", "me"),
    ("POST", "/auth/logout", "auth"),
]

# One worker process, as the stack's pool starts it: the template's functions with their own
# environments, every handler warmed (imported) first, then the requests in turn.
_DRIVER = r"""
import json, multiprocessing, sys
from infra.local import worker
from infra.local.cfn import Template
from infra.local.events import Request, Router, build_event

template = Template.load("template.yaml")
resources = template.document["Resources"]
specs = []
for function in template.functions():
    variables = (resources[function.function_id]["Properties"].get("Environment") or {}).get("Variables") or {}
    specs.append(worker.FunctionSpec(
        function_id=function.function_id, name=function.name, arn=f"arn:aws:lambda:::function:{function.name}",
        code_uri=str(function.code_uri), handler=function.handler, memory_mb=function.memory_mb,
        timeout_s=function.timeout_s, environment={k: v for k, v in variables.items() if isinstance(v, str)},
    ))
environment = {
    "TABLE_NAME": "portico-dev", "IDEMPOTENCY_TABLE_NAME": "portico-dev-idempotency",
    "SENDER_EMAIL": "no-reply@example.com", "PUBLIC_URL": "http://localhost:5173",
    "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_NAMESPACE": "Portico",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "eu-central-1",
}
worker.initialize(environment, specs, ["layers/common/python", "."], multiprocessing.Value("d", 0.0), None)
assert not worker.warm()
router = Router(template.routes())
for number, (method, path) in enumerate(json.loads(sys.argv[1])):
    match = router.match(method, path)
    request_id = f"request-{number}"
    event = build_event(Request(method, path, [], b"", "198.51.100.7"), match, now=1_790_000_000.0,
                        request_id=request_id, account_id="123456789012", server_port=443)
    print(json.dumps({"invoking": request_id, "function": match.route.function_id}), flush=True)
    outcome = worker.invoke(match.route.function_id, event, request_id)
    assert outcome.error is None, outcome.error
    print(json.dumps({"answered": json.loads(outcome.payload)["statusCode"]}), flush=True)
"""


def _json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def test_one_worker_logs_each_invocation_under_its_functions_service():
    requests = [[method, path] for method, path, _ in REQUESTS]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(["layers/common/python", "."])}
    run = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps(requests)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    invocations: list[tuple[str, list[dict[str, Any]]]] = []  # (expected service, lines it printed)
    for line in _json_lines(run.stdout):
        if "invoking" in line:
            invocations.append((REQUESTS[len(invocations)][2], []))
        elif invocations and "answered" not in line:
            invocations[-1][1].append(line)
    assert len(invocations) == len(REQUESTS)
    for (method, path, service), (_, lines) in zip(REQUESTS, invocations, strict=True):
        logged = [line for line in lines if line.get("message") == "access refused"]
        assert logged, f"{method} {path} logged nothing: {run.stdout}"
        for line in lines:  # log lines and metrics (EMF) alike
            assert line.get("service") == service, (method, path, line)


def _logged(stack: LocalStack, request_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The log lines of one invocation (Powertools' ``correlation_id`` is API Gateway's request id)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in _json_lines(stack.output()) if line.get("correlation_id") == request_id]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_the_stack_logs_each_route_under_its_functions_service(local_stack: LocalStack):
    for method, path, service in REQUESTS:
        reply = local_stack.request(method, path)
        assert reply.status == 401, (method, path, reply.status)
        request_id = reply.headers["Apigw-Requestid"]
        lines = _logged(local_stack, request_id)
        assert [line["message"] for line in lines] == ["access refused"], (method, path, lines)
        assert {line["service"] for line in lines} == {service}, (method, path, lines)
