"""HTTP plumbing shared by every handler: the resolver factory, the error mapping, the entry point.

A handler module does three things: ``app = http.resolver()``, declares routes that call one
service each, and ``lambda_handler = http.entry_point(app)``. Everything else lives here, once:

* problem+json for every error (RFC 9457) with a stable ``code``; the submitted input is never
  echoed (it may be a password or a code);
* 400 ``malformed_json`` for a body that is not JSON (or not UTF-8), 413 ``payload_too_large``
  before any parsing, 415 for a body that is not JSON, 422 ``validation_error`` with ``errors``
  (also for JSON nested deeper than 32 levels or numbers of more than 64 digits: no route takes
  them, and they would cost the parser dearly); media types compare case-insensitively;
* 503 ``service_unavailable`` for any AWS failure (never a 500);
* ``Cache-Control: no-store`` on every answer: this API hands out tokens and personal data, and
  no shared cache may keep any of it;
* Powertools Logger (with the request's correlation id) and Metrics around the handler.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from portico import access
from portico.errors import (
    InternalError,
    MalformedJson,
    NotFound,
    PayloadTooLarge,
    PorticoError,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from portico.observability import logger, metrics

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
# Far above any legitimate request of this API, far below API Gateway's 10 MB.
MAX_BODY_BYTES = 64 * 1024
# No body of this API nests deeper than a few levels or holds a number with more digits.
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 64
SECRET_FIELDS = frozenset({"password", "new_password", "current_password", "captcha_token", "code", "token"})


def problem(error: PorticoError) -> Response:
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


def resolver() -> APIGatewayHttpResolver:
    """A resolver with the error model registered; one per handler module."""
    # A response that breaks its own model is our bug: raise it (500) instead of blaming the client.
    app = APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)

    @app.exception_handler(RequestValidationError)
    def _on_validation(exc: RequestValidationError) -> Response:
        return problem(_validation_errors(exc))

    @app.exception_handler(ResponseValidationError)
    def _on_bad_response(exc: ResponseValidationError) -> Response:
        logger.error("response failed its model", extra={"errors": [e.get("loc") for e in exc.errors()]})
        return problem(InternalError())

    @app.exception_handler(RequestUnsupportedContentType)
    def _on_content_type(exc: RequestUnsupportedContentType) -> Response:
        return problem(UnsupportedMediaType("Send the body as application/json."))

    @app.exception_handler(PorticoError)
    def _on_domain(exc: PorticoError) -> Response:
        return problem(exc)

    @app.exception_handler([ClientError, BotoCoreError])
    def _on_aws(exc: Exception) -> Response:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        logger.warning("AWS dependency failed", extra={"aws_error": code})
        metrics.add_metric(name="DependencyFailures", unit="Count", value=1)
        return problem(
            ServiceUnavailable(
                "A service Portico depends on is unavailable; try again shortly.", headers={"Retry-After": "1"}
            )
        )

    @app.not_found
    def _on_not_found(exc: Exception) -> Response:
        return problem(NotFound("No such resource."))

    _bodies_are_objects(app)
    access.install(app)  # wraps the above: the access check runs first
    return app


def _bodies_are_objects(app: APIGatewayHttpResolver) -> None:
    """Refuse a JSON array where a route takes a body (422, like any other body of the wrong type).

    Powertools unwraps a list to its first element for fields that are not sequences (meant for
    repeated form and query values), so ``[{...}]`` would pass as ``{...}``. Every body of this API
    is a JSON object.
    """
    validation = app._request_validation_middleware

    def check_then_validate(app: APIGatewayHttpResolver, next_middleware: Callable[..., Any]) -> Any:
        route = app.context.get("_route")
        if getattr(getattr(route, "dependant", None), "body_params", None):
            try:
                body = app.current_event.json_body
            except ValueError:
                body = None  # not JSON: the validation answers malformed_json
            if isinstance(body, list):
                raise RequestValidationError(
                    [{"type": "model_type", "loc": ("body",), "msg": "Input should be an object", "input": None}]
                )
        return validation(app, next_middleware)

    app._request_validation_middleware = check_then_validate


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


def idempotent(app: APIGatewayHttpResolver, scope: str, body: BaseModel, create: Callable[[], BaseModel]) -> Response:
    """201 with what ``create`` made, once per ``Idempotency-Key`` (a repeat gets the first answer)."""
    from portico import idempotency

    key = app.current_event.headers.get(idempotency.HEADER)
    # The record compares a digest of the body without its secrets: a fast hash of a password
    # would be a gift to whoever reads the table, and a fresh captcha token is not a new request.
    digest = hashlib.sha256(
        body.model_dump_json(exclude=SECRET_FIELDS & set(type(body).model_fields)).encode()
    ).hexdigest()
    answer = idempotency.once(
        scope,
        key,
        {"body": digest},
        lambda: {"status": 201, "body": create().model_dump(mode="json")},
        context=app.lambda_context,
    )
    return Response(status_code=int(answer["status"]), content_type=JSON, body=answer["body"])


def ok(model: BaseModel) -> Response:
    """A 200 whose body the resolver validates against the route's declared model."""
    return Response(status_code=200, content_type=JSON, body=model)


def no_content() -> Response:
    return Response(status_code=204, body="")


def created(model: BaseModel, status: int = 201) -> Response:
    """A 201 whose body the resolver validates against the route's declared model."""
    return Response(status_code=status, content_type=JSON, body=model)


def accepted() -> Response:
    return Response(status_code=202, content_type=JSON, body={})


def _precheck(event: dict[str, Any]) -> PorticoError | None:
    """Reject what must never reach the resolver: huge, non-UTF-8 or non-JSON bodies."""
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
    return _json_shape(text)


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
    """Refuse JSON that no route of this API takes but that would cost a parser dearly, before
    anything parses it: nesting deeper than ``MAX_JSON_DEPTH`` (the standard parser recurses) and
    numbers with more than ``MAX_INT_DIGITS`` digits (Python's int conversion is quadratic and
    capped). Any other fault of the body is the resolver's to answer, after the access check."""
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
    return None


def _shape_error(message: str) -> PorticoError:
    return ValidationFailed([{"loc": ["body"], "msg": message, "type": "value_error"}])


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
