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
  anything else;
* a summary, a description and the route's own error codes, from the route function's docstring:

      Sign up: create a login, its account and send the verification link.

      Any further paragraphs are the description.

      Errors:
          409 email_taken: the address already has a login.
          422 weak_password: the password fails the policy; ``reasons`` names the rules.

  The first paragraph is the summary, the paragraphs up to ``Errors:`` the description, and each
  ``Errors:`` line ``<status> <code>: <when>`` one error of the route. Every ``(status, code)``
  must be one the layer defines (a ``portico.errors.PorticoError`` subclass, or a
  ``TooManyRequests(..., code=...)``), or the generator stops naming the route. The errors every
  route of a kind shares (``401 unauthenticated``, ``404 not_found`` of a tenant's path, ``422
  validation_error``, an ``Idempotency-Key``'s ``409 request_in_progress``, ...) are added here and
  need no line. Each status becomes a problem+json response with one example per code (a 422 stays
  ``ValidationFailed``: its domain codes are listed in the description);
* examples of request and response bodies, built from the models' schemas: a field's own
  ``examples`` or ``default``, else a value for its name from ``_EXAMPLE_VALUES``, checked against
  the schema (an example that would not validate is left out).

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
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
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


@dataclass(frozen=True)
class RouteDoc:
    """What a route function's docstring says: summary, description and its own errors."""

    summary: str | None
    description: str
    errors: tuple[tuple[int, str, str], ...]  # (status, code, when)


_ERROR_LINE = re.compile(r"^(\d{3}) ([a-z][a-z0-9_]*): (.+)$")


def route_doc(func: Any) -> RouteDoc:
    """The docstring of a route function, read as summary, description and ``Errors:`` lines."""
    text = inspect.cleandoc(func.__doc__ or "")
    prose, _, errors_block = text.partition("\nErrors:\n")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", prose.strip()) if p.strip()]
    if paragraphs and paragraphs[0].startswith("Errors:"):
        raise OpenApiError(f"{func.__name__}: put a summary line before Errors:")
    errors: list[tuple[int, str, str]] = []
    for raw in textwrap.dedent(errors_block).splitlines():
        line = raw.strip()
        if not line:
            continue
        found = _ERROR_LINE.match(line)
        if found:
            errors.append((int(found.group(1)), found.group(2), found.group(3)))
        elif errors and raw.startswith((" ", "\t")):  # a long explanation continues indented
            status, code, when = errors[-1]
            errors[-1] = (status, code, f"{when} {line}")
        else:
            raise OpenApiError(f"{func.__name__}: an Errors: line reads '<status> <code>: <when>', not {line!r}")
    description = "\n\n".join(re.split(r"\n\s*\n", prose.strip())[1:]).strip()
    return RouteDoc(paragraphs[0] if paragraphs else None, textwrap.dedent(description), tuple(errors))


def error_catalog() -> dict[str, dict[int, str]]:
    """Every error code the layer can answer: code -> {status: title}.

    The ``PorticoError`` subclasses of every ``portico`` module (``define(...)`` makes them), and
    the codes ``TooManyRequests(..., code="...")`` is raised with (429).
    """
    import portico
    from portico.errors import PorticoError

    for module in pkgutil.walk_packages(portico.__path__, "portico."):
        if module.name != "portico.boot":  # a handler's cold start (it turns the collector off): not ours
            importlib.import_module(module.name)
    catalog: dict[str, dict[int, str]] = {}
    pending = [PorticoError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__name__ != "Replayed":  # an Idempotency-Key's replay of a recorded refusal
            catalog.setdefault(cls.code, {})[cls.status] = cls.title
    layer = Path(portico.__file__).parent
    for source in sorted(layer.rglob("*.py")):
        for code in re.findall(r'code="([a-z_]+)"', source.read_text(encoding="utf-8")):
            catalog.setdefault(code, {})[429] = "Too Many Requests"
    return catalog


# The errors every route of a kind shares: added here, never listed in a docstring.
_SHARED_ERRORS = {  # code: (status, when)
    "malformed_json": (400, "the body is not JSON, or not UTF-8."),
    "unauthenticated": (401, "the token is missing, invalid, expired or revoked."),
    "forbidden": (403, "the caller lacks the right this route needs."),
    "mfa_required": (403, "the account enforces 2FA and the session was opened without a second factor."),
    "not_found": (404, "no such resource, or one of another tenant (existence never leaks across tenants)."),
    "payload_too_large": (413, "the body exceeds 64 KiB (refused before routing, whatever the route)."),
    "unsupported_media_type": (415, "the body is not sent as application/json."),
    "validation_error": (422, "the request does not match its schema; ``errors`` lists the locations."),
    "raw_card_data_rejected": (422, "the body holds a card number; send the payment provider's token."),
    "request_in_progress": (409, "a request with this Idempotency-Key is still running."),
    "idempotency_key_reused": (422, "this Idempotency-Key was used with another body."),
    "service_unavailable": (503, "an AWS dependency failed; nothing was half-written. Try again."),
}
_SHARED_RESPONSES = {  # one shared component when a status has only its generic code
    (400, ("malformed_json",)): "BadRequest",
    (401, ("unauthenticated",)): "Unauthenticated",
    (404, ("not_found",)): "NotFound",
    (413, ("payload_too_large",)): "PayloadTooLarge",
    (415, ("unsupported_media_type",)): "UnsupportedMediaType",
    (503, ("service_unavailable",)): "ServiceUnavailable",
}


def _route_errors(
    operation: dict[str, Any], kind: str, right: bool, route: Any, doc: RouteDoc
) -> list[tuple[int, str, str]]:
    """Every (status, code, when) the route can answer: the shared ones first, then its own."""
    from portico import http as portico_http

    has_body = "requestBody" in operation
    parameters = operation.get("parameters") or []
    shared: list[str] = []
    if has_body:
        shared.append("malformed_json")
    if kind in _SCHEME_OF_KIND:
        shared.append("unauthenticated")
    if kind == "member":
        shared += ["forbidden", "mfa_required"] if right else ["mfa_required"]
    if kind == "member" or any(p.get("in") == "path" for p in parameters):
        shared.append("not_found")
    shared.append("payload_too_large")  # refused before routing, whatever the route
    if has_body:
        shared.append("unsupported_media_type")
    if has_body or parameters:
        shared.append("validation_error")
    if getattr(route.func, portico_http._NO_CARDS, False):  # @http.refuses_card_numbers
        shared.append("raw_card_data_rejected")
    if _is_idempotent(route):
        shared += ["request_in_progress", "idempotency_key_reused"]
    shared.append("service_unavailable")
    own = {(status, code) for status, code, _ in doc.errors}
    errors = [(_SHARED_ERRORS[code][0], code, _SHARED_ERRORS[code][1]) for code in shared]
    errors = [(status, code, when) for status, code, when in errors if (status, code) not in own]
    return errors + list(doc.errors)


def _response_name(status: int, codes: tuple[str, ...]) -> str:
    return _SHARED_RESPONSES.get((status, codes)) or ".".join(
        (HTTPStatus(status).phrase.replace(" ", "").replace("-", ""), *codes)
    )


def _error_responses(
    operation: dict[str, Any], errors: list[tuple[int, str, str]], components: dict[str, Any]
) -> dict[str, Any]:
    """The operation's problem+json responses by status (component references), and the components."""
    by_status: dict[int, list[str]] = {}
    for status, code, _ in errors:
        if code not in by_status.setdefault(status, []):
            by_status[status].append(code)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        codes = tuple(sorted(by_status[status]))
        if status == 422:  # the schema's own problem, with its errors list; domain codes in the description
            name = "ValidationFailed"
        else:
            name = _response_name(status, codes)
            if name not in _ERROR_RESPONSES:
                components.setdefault(name, (status, codes))
        responses[str(status)] = {"$ref": f"#/components/responses/{name}"}
    responses["default"] = {"$ref": "#/components/responses/Error"}
    return responses


def _problem_examples(
    status: int, codes: tuple[str, ...], catalog: dict[str, dict[int, str]], details: dict[str, str]
) -> dict[str, Any]:
    examples = {}
    for code in codes:
        title = catalog[code][status]
        value = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": details[code]}
        examples[code] = {"summary": title, "value": value}
    return examples


def _coded_response(
    status: int, codes: tuple[str, ...], catalog: dict[str, dict[int, str]], details: dict[str, str]
) -> dict[str, Any]:
    """A problem+json response of one status whose ``code`` is one of ``codes``, an example of each."""
    listed = "; ".join(f"`{code}` ({catalog[code][status]})" for code in codes)
    response = _problem_response(f"{HTTPStatus(status).phrase}: {listed}.", retry_after=status in (429, 503))
    media = response["content"][_PROBLEM]
    media["schema"] = {
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "properties": {"code": {"enum": list(codes)}},
    }
    media["examples"] = _problem_examples(status, codes, catalog, details)
    return response


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _access_text(kind: str, right: str | None) -> str:
    if kind == "public":
        return "Anyone; no token."
    if kind == "user":
        return "A logged-in merchant user: `Authorization: Bearer ptu_...`."
    if kind == "member":
        needs = f"holding the right `{right}` (or full access)" if right else "(any right)"
        return f"A member of the account {needs}: `Authorization: Bearer ptu_...`."
    if kind == "customer":
        return "A logged-in portal customer: `Authorization: Bearer ptc_...`."
    return "Nobody: the route declares no access and is refused."


def _description(doc: RouteDoc, kind: str, right: str | None, errors: list[tuple[int, str, str]]) -> str:
    parts = [doc.description] if doc.description else []
    parts.append(f"**Who may call it:** {_access_text(kind, right)}")
    own = [f"- `{status} {code}`: {when}" for status, code, when in errors if (status, code, when) in doc.errors]
    shared = [f"`{status} {code}`" for status, code, when in errors if (status, code, when) not in doc.errors]
    lines = ["**Errors** (`application/problem+json`; switch on `code`):", *own]
    if shared:
        lines.append(("- also " if own else "- ") + ", ".join(shared) + " (see the conventions in docs/api.md).")
    parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------- examples

# A value for a field by its name, where its schema alone gives none (checked against the schema).
_EXAMPLE_VALUES: dict[str, Any] = {
    "email": "ada@example.com",
    "new_email": "ada.lovelace@example.com",
    "password": "Quartz-Lantern-Vivid-42",
    "new_password": "Harbor-Violet-Spruce-77",
    "current_password": "Quartz-Lantern-Vivid-42",
    "name": "Ada Lovelace",
    "company": "Analytical Engines",
    "legal_name": "Analytical Engines Ltd",
    "language": "en",
    "token": "tok_visa_4242",
    "challenge": "chl_3kq9x2p7m4",
    "code": "123456",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2030,
    "currency": "EUR",
    "amount": 1999,
    "handle": "basic-monthly",
    "description": "Everything a small team needs.",
    "number": "+4915112345678",
    "phone": "+4915112345678",
    "country": "DE",
    "city": "Berlin",
    "line1": "Unter den Linden 1",
    "postal_code": "10117",
    "logo_url": "https://example.com/logo.png",
    "terms_url": "https://example.com/terms",
    "resume_at": "2027-01-01T00:00:00Z",
    "valid_until": "2027-12-31T23:59:59Z",
    "reason": "too_expensive",
    "comment": "We are moving to another provider.",
    "vat_percent": 19,
    "timezone": "Europe/Berlin",
    "coupon_code": "WELCOME20",
    "rights": ["data:view"],
    "customer_id": "cus_9mz3kq2x7r",
    "plan_id": "pln_4kq8zx2m9w",
    "addon_id": "add_2kq9x7mz3r",
    "discount_id": "dsc_7x2kq9m3zr",
    "payment_method_id": "pm_3kq9zx7m2w",
    "subscription_id": "sub_8kq2x9mz3r",
    "account_id": "acc_5kq9x2mz7w",
    "user_id": "usr_6kq2x9mz3r",
    "session_id": "ses_2kq9x7mz3w",
    "invoice_id": "inv_4kq2x9mz7r",
    "percent": 20,
    "quantity": 2,
    "trial_days": 14,
    "vat_id": "DE123456789",
    "coupon_id": "cpn_3kq9x2mz7r",
    "interval_unit": "month",
    "transaction_id": "txn_9kq2x7mz3r",
}


_TIME_FIELDS = {"current_period_start", "current_period_end", "trial_end", "valid_until"}
# ``name`` of a model whose title holds the key (a plan is not called Ada Lovelace).
_NAMES_BY_MODEL = {
    "Plan": "Basic monthly",
    "Addon": "Extra seat",
    "Discount": "Welcome discount",
    "Coupon": "Welcome",
    "Account": "Analytical Engines",
    "Settings": "Analytical Engines",
}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _example_of(schema: dict[str, Any], document: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value for ``schema`` (a field called ``name``): its own example, default or a named value."""
    schema = _resolve(schema, document)
    if depth > 8:
        return None
    for key in ("examples",):
        if schema.get(key):
            return copy.deepcopy(schema[key][0])
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if schema.get("default") is not None:
        return copy.deepcopy(schema["default"])
    if name in _EXAMPLE_VALUES and _fits(_EXAMPLE_VALUES[name], schema, document):
        return copy.deepcopy(_EXAMPLE_VALUES[name])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [b for b in schema.get(key, []) if _resolve(b, document).get("type") != "null"]
        if name and len(branches) < len(schema.get(key, [])) and name not in _EXAMPLE_VALUES:
            return None  # a nullable field with no value of its own: null
        if branches:
            return _example_of(branches[0], document, name, depth + 1)
    if name.endswith("_at") or name in _TIME_FIELDS:
        return "2026-12-01T09:30:00Z"
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        named = next((v for k, v in _NAMES_BY_MODEL.items() if k in str(schema.get("title", ""))), None)
        value = {}
        for field, sub in schema.get("properties", {}).items():
            resolved = _resolve(sub, document)
            if field == "name" and named and _fits(named, resolved, document):
                value[field] = named
            elif field in required or field in _EXAMPLE_VALUES or resolved.get("default") is not None:
                value[field] = _example_of(sub, document, field, depth + 1)
        return value
    if kind == "array":
        item = _example_of(schema.get("items", {}), document, name.removesuffix("s"), depth + 1)
        return [item] if item is not None and schema.get("minItems", 0) > 0 else []
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-12-01T09:30:00Z"
        if schema.get("format") == "email":
            return "ada@example.com"
        return name.replace("_", " ").capitalize() or "text"
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    return None


def _fits(value: Any, schema: dict[str, Any], document: dict[str, Any]) -> bool:
    """Whether ``value`` validates against ``schema`` (whose references point into ``document``)."""
    from jsonschema import Draft202012Validator, FormatChecker

    root = {"components": document.get("components", {}), **schema}
    return bool(Draft202012Validator(root, format_checker=FormatChecker()).is_valid(value))


def _valid_example(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """An example for ``schema`` that validates against it, or None."""
    value = _example_of(schema, document)
    return value if value is not None and _fits(value, schema, document) else None


def _add_examples(document: dict[str, Any]) -> None:
    """Request and response bodies get an example built from their schema."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            bodies = [operation.get("requestBody", {})] + [
                response for code, response in operation["responses"].items() if code.startswith("2")
            ]
            for body in bodies:
                media = body.get("content", {}).get("application/json")
                if not media or "schema" not in media or "example" in media:
                    continue
                example = _valid_example(media["schema"], document)
                if example is not None and example != {}:
                    media["example"] = example


def _rename_path_parameters(operation: dict[str, Any], names: dict[str, str]) -> None:
    for parameter in operation.get("parameters") or []:
        if parameter.get("in") == "path" and parameter.get("name") in names:
            parameter["name"] = names[parameter["name"]]


def _declared_access(route: Any) -> tuple[str, str | None]:
    """The route's ``portico.access`` kind and the right it needs (its value), if any."""
    from portico import access

    requirement = access.requirement_of(route.func)
    if requirement is None:  # portico.access denies it (403) whatever the caller sends
        return "undeclared", None
    right = requirement.right
    return requirement.kind, (str(getattr(right, "value", right)) if right is not None else None)


# ---------------------------------------------------------------------------------- the document


class _Errors:
    """The error codes the layer defines, and the coded responses the routes need."""

    def __init__(self) -> None:
        self.catalog = error_catalog()
        self.responses: dict[str, tuple[int, tuple[str, ...]]] = {}
        self.details: dict[str, str] = {}

    def check(self, route_key: str, errors: tuple[tuple[int, str, str], ...]) -> None:
        for status, code, _ in errors:
            if status not in self.catalog.get(code, {}):
                known = sorted(self.catalog.get(code, {}))
                raise OpenApiError(
                    f"{route_key}: its docstring names '{status} {code}', which the layer does not define"
                    + (f" (it is {', '.join(map(str, known))})" if known else "")
                )

    def components(self) -> dict[str, Any]:
        return {
            name: _coded_response(status, codes, self.catalog, self.details)
            for name, (status, codes) in sorted(self.responses.items())
        }


def _function_schema(resolver: Any, routes: list[Route], group: str, known: _Errors) -> dict[str, Any]:
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
        kind, right = _declared_access(route)
        scheme = _SCHEME_OF_KIND.get(kind)
        operation["security"] = [{scheme: []}] if scheme else []
        operation["tags"] = [group]
        doc = route_doc(route.func)
        known.check(declared.route_key, doc.errors)
        if doc.summary:
            operation["summary"] = doc.summary.rstrip(".")
        errors = _route_errors(operation, kind, right is not None, route, doc)
        for _, code, when in errors:
            known.details.setdefault(code, _sentence(when))
        operation["description"] = _description(doc, kind, right, errors)
        operation["responses"] = {
            **_success_responses(operation, _success_answers(route)),
            **_error_responses(operation, errors, known.responses),
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
        known = _Errors()
        for function_id, routes in sorted(by_function.items(), key=lambda item: item[1][0].path):
            resolver = load_resolver(routes[0].code_uri, routes[0].handler, function_id)
            schemas.append(_function_schema(resolver, routes, routes[0].code_uri.name, known))
    _merge_components(schemas)
    for schema in schemas:
        merge.add_schema(schema)
    document = merge.get_openapi_schema()
    components = document.setdefault("components", {})
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        components.get("schemas", {}).pop(name, None)
    components.setdefault("schemas", {}).update(copy.deepcopy(_PROBLEM_SCHEMAS))
    components["responses"] = {**copy.deepcopy(_ERROR_RESPONSES), **known.components()}
    _prune_components(document)
    document["paths"] = {
        path: {method: document["paths"][path][method] for method in METHODS if method in document["paths"][path]}
        for path in sorted(document.get("paths", {}))
    }
    for kind in components:
        components[kind] = dict(sorted(components[kind].items()))
    _add_examples(document)
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
