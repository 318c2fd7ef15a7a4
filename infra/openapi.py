"""One OpenAPI 3.1 document for the whole HTTP API, generated from the handlers.

``python -m infra.openapi [--out openapi.json] [--template template.yaml]`` (``make openapi``
writes the checked-in ``openapi.json``).

Every function that serves ``HttpApi`` routes in ``template.yaml`` is a Powertools resolver with
validation, and ``get_openapi_schema()`` describes its routes from their pydantic models. This
module loads each of those handler modules, merges their schemas with Powertools' own
``OpenAPIMerge`` and adds what a resolver cannot know about Portico:

* paths as the template declares them (its path parameter names), and only the template's routes;
* who may call each route, from its ``portico.access`` declaration: public routes need nothing,
  merchant-user and member routes a ``bearerAuth`` token, portal routes a ``portalAuth`` token;
* the success status each route really answers: handlers answer through ``portico.http``'s
  helpers (``no_content()`` is 204, ``accepted()`` 202, ``created()``/``idempotent()`` 201), which
  Powertools reads as 200 from the ``Response[...]`` annotation;
* the error model instead of Powertools' FastAPI-style 422: every error is
  ``application/problem+json`` (``Problem``: type, title, status, code, detail; ``errors`` on a
  ``validation_error``), with the statuses that apply to the route listed and ``default`` for
  the domain errors (409 conflicts, 429 limits, ...) a route may add.

A route whose success status cannot be told (it builds a ``Response`` itself) stops the generator
with its name: declare ``status_code=`` or ``responses=`` on the route decorator, or answer
through a ``portico.http`` helper. The fuzz test (``tests/e2e/test_fuzz.py``) holds every
declared status and schema against what the running handlers answer.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib.util
import inspect
import json
import os
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.local.cfn import Route, Template

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "template.yaml"
OUTPUT = REPO_ROOT / "openapi.json"
TITLE = "Portico"
SERVER = "http://127.0.0.1:3000"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")

# What importing a handler module may read from the environment; the values only have to be valid.
_IMPORT_ENVIRONMENT = {
    "TABLE_NAME": "portico-openapi",
    "IDEMPOTENCY_TABLE_NAME": "portico-openapi-idempotency",
    "SENDER_EMAIL": "no-reply@example.com",
    "PUBLIC_URL": "http://localhost:5173",
    "POWERTOOLS_SERVICE_NAME": "portico-openapi",
    "POWERTOOLS_METRICS_NAMESPACE": "Portico",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "eu-central-1",
}

# What each portico.http response helper answers (see its docstrings): status, and a body that is
# the route's model ("model"), an empty JSON object ("empty") or nothing ("none").
_HELPERS = {
    "ok": (200, "model"),
    "created": (201, "model"),
    "idempotent": (201, "model"),
    "accepted": (202, "empty"),
    "no_content": (204, "none"),
}

_PROBLEM = "application/problem+json"
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}
_SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A merchant user's session token (`ptu_...`) from `POST /auth/login`.",
    },
    "portalAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A portal customer's session token (`ptc_...`); never accepted where a user token is.",
    },
}
_SCHEME_OF_KIND = {"user": "bearerAuth", "member": "bearerAuth", "customer": "portalAuth"}

_PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "An RFC 9457 problem document; clients switch on `code`.",
        "type": "object",
        "properties": {
            "type": {"type": "string", "examples": ["about:blank"]},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": {"type": "string", "description": "A stable machine-readable error code."},
            "detail": {"type": "string"},
        },
        "required": ["type", "title", "status", "code", "detail"],
        "additionalProperties": True,
    },
    "ValidationIssue": {
        "title": "ValidationIssue",
        "type": "object",
        "properties": {
            "loc": {"type": "array", "items": {"type": "string"}, "examples": [["body", "email"]]},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
        "required": ["loc", "msg"],
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "description": (
            "422: `validation_error` lists the offending locations in `errors` (never the submitted "
            "values); `weak_password` lists the failed policy rules in `reasons`."
        ),
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "properties": {
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationIssue"}},
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
        "if": {"properties": {"code": {"const": "validation_error"}}},
        "then": {"required": ["errors"]},
    },
}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key within 24 hours answers the first response again and repeats no side effect.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}
_RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 1}}


def _problem_response(description: str, schema: str = "Problem", retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {_PROBLEM: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response


_ERROR_RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": _problem_response("`malformed_json` (the body is not JSON or not UTF-8), or a domain code."),
    "Unauthenticated": _problem_response("`unauthenticated`: a missing, invalid, expired or revoked token."),
    "Forbidden": _problem_response(
        "`forbidden` (a right is missing), `mfa_required`, `reauthentication_required` or another denial."
    ),
    "NotFound": _problem_response(
        "`not_found`: no such resource, or one of another tenant (existence never leaks across tenants)."
    ),
    "PayloadTooLarge": _problem_response("`payload_too_large`: the body exceeds 64 KiB."),
    "UnsupportedMediaType": _problem_response("`unsupported_media_type`: send the body as application/json."),
    "ValidationFailed": _problem_response(
        "`validation_error` (the request does not match its schema) or `weak_password`.", "ValidationProblem"
    ),
    "ServiceUnavailable": _problem_response(
        "`service_unavailable`: an AWS dependency failed; nothing was half-written.", retry_after=True
    ),
    "Error": _problem_response("Any other error of this route (409 conflicts, 429 limits with Retry-After, ...)."),
}

# Powertools' FastAPI-style error models, replaced by the problem documents above.
_POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


class OpenApiError(Exception):
    """The spec cannot be generated; the message names the route or component at fault."""


# ---------------------------------------------------------------------------------- handlers


@contextlib.contextmanager
def _import_environment() -> Iterator[None]:
    """Valid settings for importing handler modules, without touching what is already set."""
    added = [name for name in _IMPORT_ENVIRONMENT if name not in os.environ]
    for name in added:
        os.environ[name] = _IMPORT_ENVIRONMENT[name]
    layer = str(REPO_ROOT / "layers" / "common" / "python")
    paths = [path for path in (layer, str(REPO_ROOT)) if path not in sys.path]
    sys.path[:0] = paths
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
        for path in paths:
            with contextlib.suppress(ValueError):
                sys.path.remove(path)


def load_resolver(code_uri: Path, handler: str, function_id: str) -> Any:
    """The Powertools resolver of a function's handler module (the module is loaded once)."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    module_name = handler.rpartition(".")[0]
    path = Path(code_uri) / f"{module_name.replace('.', '/')}.py"
    unique = f"_portico_openapi_{function_id}"
    module = sys.modules.get(unique)
    if module is None:
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise OpenApiError(f"{function_id}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(unique, None)
            raise
    resolvers = [value for value in vars(module).values() if isinstance(value, ApiGatewayResolver)]
    if len(resolvers) != 1:
        raise OpenApiError(f"{function_id}: {path} must define exactly one resolver, found {len(resolvers)}")
    return resolvers[0]


def _shape(path: str) -> str:
    """A path with its parameter names erased: ``/a/{x}/b`` and ``/a/{y}/b`` are one route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _parameter_names(path: str) -> list[str]:
    return [name.rstrip("+") for name in re.findall(r"\{([^}]+)\}", path)]


# ---------------------------------------------------------------------------------- one route


def _source(route: Any) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(route.func))).body[0]


def _called_name(call: ast.Call) -> str:
    """``f`` of ``f(...)`` or of ``module.f(...)``."""
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _is_idempotent(route: Any) -> bool:
    """Whether the route answers through ``portico.http.idempotent`` (an ``Idempotency-Key`` route)."""
    return any(isinstance(node, ast.Call) and _called_name(node) == "idempotent" for node in ast.walk(_source(route)))


def _success_answers(route: Any) -> set[tuple[int, str]] | None:
    """What ``route``'s function answers on success, as (status, body); None when Powertools knows.

    Powertools knows when the route declares ``responses=`` or a ``status_code=`` of its own.
    Otherwise each ``return`` is read: a ``portico.http`` helper call answers what that helper
    does, anything else (a model) is the route's model with the route's status code.
    """
    if route.responses or route.status_code != 200:
        return None
    answers: set[tuple[int, str]] = set()
    for node in ast.walk(_source(route)):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        if isinstance(node.value, ast.Call):
            name = _called_name(node.value)
            if name in _HELPERS:
                status, body = _HELPERS[name]
                for keyword in node.value.keywords:  # created(model, status=...)
                    if keyword.arg == "status" and isinstance(keyword.value, ast.Constant):
                        status = int(keyword.value.value)
                answers.add((status, body))
                continue
            if name == "Response":
                raise OpenApiError(
                    f"{route.method} {route.openapi_path}: builds a Response itself, so its status is unknown; "
                    "declare status_code= or responses= on the route, or answer through a portico.http helper"
                )
        answers.add((route.status_code, "model"))
    return answers or {(route.status_code, "model")}


def _success_responses(operation: dict[str, Any], answers: set[tuple[int, str]] | None) -> dict[str, Any]:
    generated = {code: response for code, response in operation["responses"].items() if code.startswith("2")}
    if answers is None:
        return generated
    model = generated.get(str(200), {}).get("content")
    responses: dict[str, Any] = {}
    for status, body in sorted(answers):
        response: dict[str, Any] = {"description": _REASONS.get(status, "Success")}
        if body == "model" and model is not None:
            response["content"] = copy.deepcopy(model)
        elif body == "empty":
            response["content"] = {"application/json": {"schema": {"type": "object", "maxProperties": 0}}}
        responses[str(status)] = response
    return responses


def _error_responses(operation: dict[str, Any], kind: str) -> dict[str, Any]:
    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/responses/{name}"}

    responses: dict[str, Any] = {}
    parameters = operation.get("parameters") or []
    if "requestBody" in operation:
        responses["400"] = ref("BadRequest")
    if kind != "public":
        responses["401"] = ref("Unauthenticated")
        responses["403"] = ref("Forbidden")
    if kind == "member" or any(p.get("in") == "path" for p in parameters):
        responses["404"] = ref("NotFound")
    if "requestBody" in operation:
        responses["413"] = ref("PayloadTooLarge")
        responses["415"] = ref("UnsupportedMediaType")
    if "requestBody" in operation or parameters:
        responses["422"] = ref("ValidationFailed")
    responses["503"] = ref("ServiceUnavailable")
    responses["default"] = ref("Error")
    return responses


def _rename_path_parameters(operation: dict[str, Any], names: dict[str, str]) -> None:
    for parameter in operation.get("parameters") or []:
        if parameter.get("in") == "path" and parameter.get("name") in names:
            parameter["name"] = names[parameter["name"]]


def _declared_kind(route: Any) -> str:
    from portico import access

    requirement = access.requirement_of(route.func)
    if requirement is None:  # portico.access denies it (403) whatever the caller sends
        return "undeclared"
    return requirement.kind


# ---------------------------------------------------------------------------------- the document


def _function_schema(resolver: Any, routes: list[Route], group: str) -> dict[str, Any]:
    """One function's paths, as the template declares them, with Portico's security and errors."""
    raw = resolver.get_openapi_schema(title=TITLE).model_dump(by_alias=True, exclude_none=True, mode="json")
    served = {
        (route.method.lower(), _shape(route.openapi_path)): route
        for route in resolver._static_routes + resolver._dynamic_routes  # Powertools keeps no public list
        if route.include_in_schema
    }
    generated = {
        (method, _shape(path)): (path, operation)
        for path, item in raw.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    }
    paths: dict[str, dict[str, Any]] = {}
    for declared in routes:
        key = (declared.method.lower(), _shape(declared.path))
        if key not in generated or key not in served:
            raise OpenApiError(f"{declared.route_key}: the template routes it to {group}, which does not serve it")
        generated_path, operation = generated[key]
        route = served[key]
        operation = copy.deepcopy(operation)
        _rename_path_parameters(
            operation, dict(zip(_parameter_names(generated_path), _parameter_names(declared.path), strict=True))
        )
        if _is_idempotent(route):
            operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
        kind = _declared_kind(route)
        scheme = _SCHEME_OF_KIND.get(kind)
        operation["security"] = [{scheme: []}] if scheme else []
        operation["tags"] = [group]
        if route.func.__doc__:
            operation.setdefault("description", inspect.cleandoc(route.func.__doc__))
        operation["responses"] = {
            **_success_responses(operation, _success_answers(route)),
            **_error_responses(operation, kind),
        }
        paths.setdefault(declared.path, {})[key[0]] = operation
    return {"paths": paths, "components": raw.get("components", {})}


def _merge_components(schemas: list[dict[str, Any]]) -> None:
    """Refuse two different models of one name: Powertools' merge would keep one silently."""
    seen: dict[tuple[str, str], Any] = {}
    for schema in schemas:
        for kind, components in schema.get("components", {}).items():
            for name, definition in components.items():
                if seen.setdefault((kind, name), definition) != definition:
                    raise OpenApiError(f"two different {kind} are both named {name}: rename one of the models")


def _prune_components(document: dict[str, Any]) -> None:
    """Drop component schemas nothing refers to any more (Powertools' replaced error models)."""
    schemas = document["components"]["schemas"]
    while True:
        text = json.dumps(document)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _version() -> str:
    with open(REPO_ROOT / "pyproject.toml", "rb") as stream:
        return str(tomllib.load(stream)["project"]["version"])


def build(template: Template | None = None, server: str = SERVER) -> dict[str, Any]:
    """The OpenAPI document of every ``HttpApi`` route of ``template`` (default: template.yaml)."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import Server

    template = template or Template.load(TEMPLATE)
    by_function: dict[str, list[Route]] = {}
    for route in template.routes():
        if route.path != "$default":  # API Gateway's catch-all: every other request, answered 404
            by_function.setdefault(route.function_id, []).append(route)
    merge = OpenAPIMerge(
        title=TITLE,
        version=_version(),
        description="Portico's HTTP API: identity, access and customer self-service of a subscription-billing "
        "platform. Generated from the handlers' models by `make openapi`; do not edit.",
        servers=[Server(url=server)],
        security_schemes=_SECURITY_SCHEMES,
        on_conflict="error",
    )
    schemas = []
    with _import_environment():
        for function_id, routes in by_function.items():
            resolver = load_resolver(routes[0].code_uri, routes[0].handler, function_id)
            schemas.append(_function_schema(resolver, routes, routes[0].code_uri.name))
    _merge_components(schemas)
    for schema in schemas:
        merge.add_schema(schema)
    document = merge.get_openapi_schema()
    components = document.setdefault("components", {})
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        components.get("schemas", {}).pop(name, None)
    components.setdefault("schemas", {}).update(copy.deepcopy(_PROBLEM_SCHEMAS))
    components["responses"] = copy.deepcopy(_ERROR_RESPONSES)
    _prune_components(document)
    document["paths"] = {
        path: {method: document["paths"][path][method] for method in METHODS if method in document["paths"][path]}
        for path in sorted(document.get("paths", {}))
    }
    for kind in components:
        components[kind] = dict(sorted(components[kind].items()))
    return document


def dumps(document: dict[str, Any]) -> str:
    """The document as written to ``openapi.json``: stable, readable, one trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write here instead of stdout (make openapi: openapi.json)")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    text = dumps(build(Template.load(args.template)))
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
