"""HTTP plumbing shared by every handler: the resolver, the error mapping, the entry point.

A handler module does three things: ``app = http.resolver()``, declares routes that call one
service each, and ``lambda_handler = http.entry_point(app)``. Everything else lives here, once:

* problem+json for every error (RFC 9457) with a stable ``code``; the submitted input is never
  echoed (it may be a password or a code);
* 400 ``malformed_json`` for a body that is not JSON (or not UTF-8), 413 ``payload_too_large``
  before any parsing, 415 for a body that is not JSON, 422 ``validation_error`` with ``errors``
  (also for JSON nested deeper than 32 levels or numbers of more than 64 digits, and for a body
  that is not a JSON object); media types compare case-insensitively;
* 503 ``service_unavailable`` for any AWS failure (never a 500);
* ``Cache-Control: no-store`` on every answer: this API hands out tokens and personal data, and
  no shared cache may keep any of it;
* Powertools Logger (with the request's correlation id) and Metrics around the handler.

The one seam with Powertools (:class:`Resolver`): a route can only be registered with an access
declaration (:mod:`portico.access`), and the access check runs before anything else of a request.
Powertools validates a request before its middlewares run, so the check runs in two public
places: as a middleware (``app.use``) for a request that passed validation, and first thing in
the ``RequestValidationError`` handler for one that did not. What this relies on --
``route()`` is what ``get``/``post``/... call, validation errors reach the exception handlers with
``app.context["_route"]`` and ``["_route_args"]`` set, and a route's ``func`` is the function
registered -- is asserted by ``tests/unit/test_powertools_seam.py``, which fails by name when a
Powertools upgrade changes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from portico import access, cards, idempotency
from portico.accounts.caller import Caller
from portico.auth.sessions import Session
from portico.errors import (
    Forbidden,
    InternalError,
    MalformedJson,
    NotFound,
    PayloadTooLarge,
    PorticoError,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
    define,
)
from portico.observability import logger, metrics
from portico.portal.sessions import PortalSession

F = TypeVar("F", bound=Callable[..., Any])
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
# Far above any legitimate request of this API, far below API Gateway's 10 MB.
MAX_BODY_BYTES = 64 * 1024
# No body of this API nests deeper than a few levels or holds a number with more digits.
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 64
FINAL_REFUSALS = frozenset({402})
"""Refusals that follow a side effect (a declined charge is recorded, with its failed invoice): an
``Idempotency-Key`` replays them rather than trying again, as Stripe replays a card decline."""
SECRET_FIELDS = frozenset({"password", "new_password", "current_password", "captcha_token", "code", "token"})


def problem(error: PorticoError) -> Response[Any]:
    return Response(
        status_code=error.status,
        content_type=PROBLEM_JSON,
        body=json.dumps(error.problem()),
        headers=error.headers,
    )


def _problem_dict(error: PorticoError) -> dict[str, Any]:
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": PROBLEM_JSON, **error.headers},
        "body": json.dumps(error.problem()),
        "isBase64Encoded": False,
    }


def _validation_errors(exc: RequestValidationError) -> PorticoError:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return MalformedJson("The request body is not valid JSON.")
    # Only location, message and type: pydantic's "input" may be a password or a code.
    shaped = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
    return ValidationFailed(shaped)


_REFUSED = "portico.refused"  # a body refused before parsing, answered after the access check
_GRANTED = "granted"


class Resolver(APIGatewayHttpResolver):
    """The API Gateway HTTP API resolver with validation, in which every route declares its access."""

    def __init__(self) -> None:
        # A response that breaks its own model is our bug: raise it (500) instead of blaming the client.
        super().__init__(enable_validation=True, response_validation_error_http_code=500)
        self.declared: set[Callable[..., Any]] = set()

    def route(self, rule: Any, method: Any, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().route(rule, method, *args, **kwargs)

        def declared(func: Callable[..., Any]) -> Any:
            if access.requirement_of(func) is None:
                raise TypeError(f"{method} {rule}: declare who may call it (@access.public, .user, .member, .customer)")
            self.declared.add(func)
            return register(func)

        return declared


_NO_CARDS = "__portico_no_card_numbers__"


def refuses_card_numbers(func: F) -> F:
    """A route whose body may never hold a card number (``422 raw_card_data_rejected``, checked on
    the raw body after the access check, never logged or echoed): see :mod:`portico.cards`."""
    setattr(func, _NO_CARDS, True)
    return func


def _authorize(app: Resolver) -> None:
    """The access check of the current route, then any refusal of the body found before parsing;
    Powertools' own not-found route needs neither. Runs once per request: in the middleware, or in
    the validation-error handler when validation failed before the middlewares."""
    route = app.context.get("_route")
    func = getattr(route, "func", None)
    if func not in app.declared:
        return
    requirement = access.requirement_of(func)
    if requirement is None:  # registration refuses this; fail closed all the same
        raise Forbidden("This route is not available.")
    path_args = dict(app.context.get("_route_args") or {})
    granted = access.check(requirement, app.current_event.headers, path_args, route=str(getattr(route, "path", "")))
    app.append_context(**{_GRANTED: granted})
    refused_body = app.current_event.raw_event.get(_REFUSED)
    if refused_body is not None:
        raise refused_body
    if getattr(func, _NO_CARDS, False):
        cards.refuse_card_numbers(app.current_event.body or "")


def _access_first(app: Resolver, next_middleware: Callable[..., Any]) -> Any:
    _authorize(app)
    return next_middleware(app)


def resolver() -> Resolver:
    """A resolver with the error model and the access check; one per handler module."""
    app = Resolver()

    @app.exception_handler(RequestValidationError)
    def _on_validation(exc: RequestValidationError) -> Response[Any]:
        try:
            _authorize(app)  # validation runs before middlewares: refuse the caller first
        except PorticoError as refused:
            return problem(refused)
        return problem(_validation_errors(exc))

    @app.exception_handler(ResponseValidationError)
    def _on_bad_response(exc: ResponseValidationError) -> Response[Any]:
        logger.error("response failed its model", extra={"errors": [e.get("loc") for e in exc.errors()]})
        return problem(InternalError())

    @app.exception_handler(RequestUnsupportedContentType)
    def _on_content_type(exc: RequestUnsupportedContentType) -> Response[Any]:
        return problem(UnsupportedMediaType("Send the body as application/json."))

    @app.exception_handler(PorticoError)
    def _on_domain(exc: PorticoError) -> Response[Any]:
        return problem(exc)

    @app.exception_handler([ClientError, BotoCoreError])
    def _on_aws(exc: Exception) -> Response[Any]:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        logger.warning("AWS dependency failed", extra={"aws_error": code})
        metrics.add_metric(name="DependencyFailures", unit="Count", value=1)
        return problem(
            ServiceUnavailable(
                "A service Portico depends on is unavailable; try again shortly.", headers={"Retry-After": "1"}
            )
        )

    @app.not_found
    def _on_not_found(exc: Exception) -> Response[Any]:
        return problem(NotFound("No such resource."))

    app.use(middlewares=[_access_first])
    return app


def _granted(app: Resolver) -> access.Granted:
    granted: access.Granted | None = app.context.get(_GRANTED)
    if granted is None:  # every declared route passed the check; reaching here is a wiring bug
        raise Unauthenticated()
    return granted


def caller(app: Resolver) -> Caller:
    """The member acting on a ``@access.member`` route."""
    found = _granted(app).caller
    if found is None:
        raise Unauthenticated()
    return found


def session(app: Resolver) -> Session:
    """The merchant user's session on a ``@access.user`` or ``@access.member`` route."""
    found = _granted(app).session
    if found is None:
        raise Unauthenticated()
    return found


def customer(app: Resolver) -> PortalSession:
    """The portal customer on a ``@access.customer`` route."""
    found = _granted(app).customer
    if found is None:
        raise Unauthenticated()
    return found


@dataclass(frozen=True)
class RequestMeta:
    """What services may know about the caller beyond the body."""

    ip: str
    user_agent: str
    accept_language: str


def meta(app: APIGatewayHttpResolver) -> RequestMeta:
    event = app.current_event
    http = event.request_context.http
    return RequestMeta(
        ip=http.source_ip or "",
        user_agent=(http.user_agent or "")[:512],
        accept_language=event.headers.get("accept-language", "") or "",
    )


def idempotent(
    app: APIGatewayHttpResolver, scope: str, body: BaseModel, create: Callable[[], BaseModel], status: int = 201
) -> Response[Any]:
    """``status`` (201) with what ``create`` made, once per ``Idempotency-Key`` (a repeat within
    24 h gets the first answer and repeats no side effect)."""
    key = app.current_event.headers.get(idempotency.HEADER)
    # The record compares a digest of the body without its secrets: a fast hash of a password
    # would be a gift to whoever reads the table, and a fresh captcha token is not a new request.
    digest = hashlib.sha256(
        body.model_dump_json(exclude=set(SECRET_FIELDS & set(type(body).model_fields))).encode()
    ).hexdigest()

    def work() -> dict[str, Any]:
        try:
            return {"status": status, "body": create().model_dump(mode="json")}
        except PorticoError as error:
            if error.status not in FINAL_REFUSALS:
                raise  # nothing happened: the key stays free for a retry
            return {"status": error.status, "body": error.problem(), "headers": error.headers}

    answer = idempotency.once(scope, key, {"body": digest}, work, context=app.lambda_context)
    if int(answer["status"]) >= 400:
        raise _replayed(answer)
    return Response(status_code=int(answer["status"]), content_type=JSON, body=answer["body"])


def request_key(app: APIGatewayHttpResolver, scope: str) -> str | None:
    """The request's ``Idempotency-Key`` within its scope (None without one), for a domain step that
    must find what an earlier try of the same request did (a first charge)."""
    key = app.current_event.headers.get(idempotency.HEADER)
    return f"{scope}#{key}" if key else None


def _replayed(answer: dict[str, Any]) -> PorticoError:
    """The refusal an ``Idempotency-Key`` recorded, raised again as it was."""
    problem = dict(answer["body"])
    error = define("Replayed", int(answer["status"]), str(problem.pop("code")), str(problem.pop("title")))
    detail = problem.pop("detail", None)
    for name in ("type", "status"):
        problem.pop(name, None)
    return error(detail, headers=dict(answer.get("headers") or {}), **problem)


def ok(model: BaseModel) -> Response[Any]:
    """A 200 whose body the resolver validates against the route's declared model."""
    return Response(status_code=200, content_type=JSON, body=model)


def no_content() -> Response[Any]:
    return Response(status_code=204, body="")


def created(model: BaseModel, status: int = 201) -> Response[Any]:
    """A 201 whose body the resolver validates against the route's declared model."""
    return Response(status_code=status, content_type=JSON, body=model)


def accepted() -> Response[Any]:
    return Response(status_code=202, content_type=JSON, body={})


def _precheck(event: dict[str, Any]) -> PorticoError | None:
    """Reject what must never reach the resolver: huge, non-UTF-8 or non-JSON bodies. A JSON body
    of a shape no route takes is kept from the parser too, and refused after the access check."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return MalformedJson("The request body could not be decoded.")
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        return PayloadTooLarge(f"The request body exceeds {MAX_BODY_BYTES} bytes.")
    headers = event.get("headers") or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "") or ""
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()  # media types compare case-insensitively (RFC 9110)
    if content_type and not media_type.endswith(("/json", "+json")):
        return UnsupportedMediaType("Send the body as application/json.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return MalformedJson("The request body is not UTF-8.")
    if event.get("isBase64Encoded"):
        event["body"], event["isBase64Encoded"] = text, False
    if content_type:
        # the resolver compares the header literally: give it the canonical spelling
        for name in [k for k in headers if k.lower() == "content-type"]:
            del headers[name]
        headers["content-type"] = "application/json" + (f";{parameters}" if parameters else "")
    refused = _json_shape(text)
    if refused is not None:
        event["body"], event[_REFUSED] = "{}", refused
    return None


class _Refused(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (iteratively: no recursion to exhaust)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, dict | list):
            deepest = max(deepest, level)
            children = current.values() if isinstance(current, dict) else current
            pending.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _json_shape(text: str) -> PorticoError | None:
    """Refuse JSON that no route of this API takes: nesting deeper than ``MAX_JSON_DEPTH`` (the
    standard parser recurses) and numbers with more than ``MAX_INT_DIGITS`` digits (Python's int
    conversion is quadratic and capped), which would cost the parser dearly, and anything but an
    object (Powertools would take ``[{...}]`` for ``{...}``). Any other fault of the body is the
    resolver's to answer."""
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        return _shape_error(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    except _Refused as refused:
        return _shape_error(str(refused))
    except ValueError:
        return None  # not JSON: 400 malformed_json, once the caller passed the access check
    if _depth(value) > MAX_JSON_DEPTH:
        return _shape_error(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(value, dict):
        return _shape_error("Input should be an object", kind="model_type")
    return None


def _shape_error(message: str, kind: str = "value_error") -> PorticoError:
    return ValidationFailed([{"loc": ["body"], "msg": message, "type": kind}])


def entry_point(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler for a resolver, with observability and the pre-checks wired in."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        rejected = _precheck(event)
        if rejected is not None:
            answer = _problem_dict(rejected)
        else:
            try:
                answer = app.resolve(event, context)
            except Exception:
                # The resolver's own handlers cover every known error; this is a bug. Answer in the
                # contract's shape rather than API Gateway's bare 500, and keep the trace.
                logger.exception("Unhandled error")
                answer = _problem_dict(InternalError())
        headers = answer.setdefault("headers", {})
        headers.setdefault("Cache-Control", "no-store")
        return answer

    return lambda_handler
