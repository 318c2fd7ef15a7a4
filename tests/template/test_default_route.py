"""The HTTP API's ``$default`` route: there is exactly one, AuthFunction serves it (template.yaml
says why, at the ``Unmatched`` event), and what it answers is the API's problem+json 404
``not_found``, made without any AWS call, so the function's grants play no part in it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import botocore.client
import pytest

from infra.local.cfn import Template
from infra.local.events import LambdaContext, Request, Router, build_event

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SERVED_BY = "AuthFunction"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(TEMPLATE)


def test_exactly_one_default_route_and_auth_serves_it(template):
    defaults = [route for route in template.routes() if route.route_key == "$default"]
    assert len(defaults) == 1, [route.function_id for route in defaults]
    assert defaults[0].function_id == SERVED_BY
    assert defaults[0].method == "ANY"
    # Declared as an HttpApi event with neither Path nor Method, and nowhere else.
    declared = [
        (function_id, event_id)
        for function_id, resource in template.document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event_id, event in (resource["Properties"].get("Events") or {}).items()
        if event["Type"] == "HttpApi" and not {"Path", "Method"} & set(event.get("Properties") or {})
    ]
    assert declared == [(SERVED_BY, "Unmatched")]


_ENVIRONMENT = {
    "TABLE_NAME": "portico-test",
    "IDEMPOTENCY_TABLE_NAME": "portico-test-idempotency",
    "SENDER_EMAIL": "no-reply@example.com",
    "PUBLIC_URL": "http://localhost:5173",
}


@pytest.fixture(scope="module")
def default_handler(template):
    """The handler of the function that serves ``$default``, imported as its container would."""
    function = template.function(SERVED_BY)
    module_name, _, attribute = function.handler.rpartition(".")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _ENVIRONMENT.items():
            patch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("_default_route_check", function.code_uri / f"{module_name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield function, getattr(module, attribute)


@pytest.mark.parametrize(("method", "path"), [("GET", "/no/such/thing"), ("POST", "/signup/extra"), ("PUT", "/me")])
def test_unmatched_requests_get_the_contracts_404_without_any_aws_call(
    template, default_handler, monkeypatch, method, path
):
    def no_aws(self, operation, params):
        raise AssertionError(f"an unmatched request called {operation}")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_aws)
    function, handler = default_handler
    match = Router(template.routes()).match(method, path)
    assert match is not None and match.route.route_key == "$default"
    request = Request(method, path, [("content-type", "application/json")], b"{}", source_ip="198.51.100.7")
    event = build_event(request, match, now=1_790_000_000.0, request_id="r", account_id="123456789012", server_port=443)
    context = LambdaContext(function_name=function.name, memory_mb=1024, timeout_s=10, request_id="r", arn="arn")
    answer = handler(event, context)
    assert answer["statusCode"] == 404
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(answer["body"])["code"] == "not_found"
