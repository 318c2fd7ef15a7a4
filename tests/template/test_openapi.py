"""The OpenAPI document (``openapi.json``, ``make openapi``) describes exactly the template's routes,
is a valid OpenAPI 3.1 document, shows clients the problem+json error shapes, and is up to date with
the handlers it is generated from."""

import json
import re

import pytest
from openapi_spec_validator import validate

from infra import openapi
from infra.local.cfn import Template

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(openapi.TEMPLATE)


@pytest.fixture(scope="module")
def spec(template) -> dict:
    return openapi.build(template)


def operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_spec_has_exactly_the_template_routes_with_their_parameter_names(spec, template):
    declared = {(route.method, route.path) for route in template.routes() if route.path != "$default"}
    assert declared, "the template declares no routes"
    assert set(operations(spec)) == declared
    for (_, path), operation in operations(spec).items():
        in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{([^}+]+)\+?\}", path)), path


def test_the_spec_is_valid_openapi(spec):
    validate(spec)  # raises with the offending location
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] == "Portico"
    assert spec["servers"] == [{"url": "http://127.0.0.1:3000"}]


def test_the_checked_in_spec_is_up_to_date():
    checked_in = openapi.OUTPUT.read_text(encoding="utf-8") if openapi.OUTPUT.exists() else ""
    assert checked_in == openapi.dumps(openapi.build()), (
        "openapi.json is out of date with the handlers or template.yaml: run `make openapi` and commit it"
    )


def test_every_route_declares_its_security_and_problem_errors(spec, template):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code", "detail"}
    assert "errors" in spec["components"]["schemas"]["ValidationProblem"]["properties"]
    responses = spec["components"]["responses"]
    for (method, path), operation in operations(spec).items():
        assert "security" in operation, f"{method} {path}"
        assert any(code.startswith("2") for code in operation["responses"]), f"{method} {path}: no success"
        errors = {code: ref for code, ref in operation["responses"].items() if not code.startswith("2")}
        assert "default" in errors and "503" in errors, f"{method} {path}"
        for ref in errors.values():
            content = responses[ref["$ref"].rsplit("/", 1)[1]]["content"]
            assert list(content) == ["application/problem+json"], f"{method} {path}"
        if operation["security"]:
            assert "401" in errors, f"{method} {path}: an authenticated route must declare 401"
        if "requestBody" in operation:
            assert errors["422"] == {"$ref": "#/components/responses/ValidationFailed"}
    assert not {"HTTPValidationError", "ResponseValidationError"} & set(spec["components"]["schemas"])


def test_success_statuses_follow_the_portico_http_helpers(spec):
    """Powertools reads ``Response[None]`` as 200; the routes answer 204 (and 201, 202) instead."""
    ops = operations(spec)
    by_status = {
        key: {code for code in operation["responses"] if code.startswith("2")} for key, operation in ops.items()
    }
    assert by_status[("POST", "/signup")] == {"201"}
    assert by_status[("POST", "/auth/logout")] == {"204"}
    assert "content" not in ops[("POST", "/auth/logout")]["responses"]["204"]
    assert by_status[("POST", "/auth/verify-email/resend")] == {"202"}
    assert by_status[("POST", "/auth/login")] == {"200"}
    assert [p["name"] for p in ops[("POST", "/signup")]["parameters"]] == ["Idempotency-Key"]


def test_a_route_that_builds_its_own_response_stops_the_generator():
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

    app = APIGatewayHttpResolver(enable_validation=True)

    @app.post("/things")
    def make_thing() -> Response[dict]:
        return Response(status_code=201, body=json.dumps({}))

    route = next(r for r in app._static_routes + app._dynamic_routes if r.openapi_path == "/things")
    with pytest.raises(openapi.OpenApiError, match="POST /things"):
        openapi._success_answers(route)
