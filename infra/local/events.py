"""What API Gateway HTTP API does between a client and a Lambda function, for the local stack.

Route selection (most specific route wins), the payload format 2.0 event, the translation of the
function's result back into an HTTP response, CORS as configured on the API, and the answers API
Gateway gives on its own (404, 413, 500). Handlers should see locally exactly what they see in
AWS, so that a bug that would show up behind API Gateway shows up here too.

Where API Gateway's behaviour is not documented, this follows captures of real traffic:
``rawPath`` and path parameters are URL-decoded, the ``cookie`` header moves into ``cookies``,
and bodies are base64-encoded unless their content type is ``text/*``, ``application/json``,
``application/xml`` or ``application/javascript`` (a missing content type counts as binary).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

if TYPE_CHECKING:
    from infra.local.cfn import Cors, Route

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit: a larger request body is refused with 413."""

TEXT_CONTENT_TYPES = ("application/json", "application/xml", "application/javascript")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Request:
    """An HTTP request as it reached API Gateway: the target and headers exactly as sent."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"

    @property
    def raw_path(self) -> str:
        return self.target.split("?", 1)[0] or "/"

    @property
    def raw_query(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass
class Response:
    """An HTTP response; ``headers`` is a list because Set-Cookie may repeat."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


class InvalidResponse(Exception):
    """The function returned something API Gateway cannot turn into a response (a 500)."""


def json_response(status: int, document: Any, content_type: str = "application/json") -> Response:
    body = json.dumps(document).encode()
    return Response(status, [("Content-Type", content_type)], body)


def problem(status: int, title: str, code: str, detail: str, **extra: Any) -> Response:
    """An RFC 9457 problem, in the shape the API uses for every error (docs/api.md, "Errors")."""
    document = {"type": "about:blank", "title": title, "status": status, "code": code}
    document |= {"detail": detail, **extra}
    return json_response(status, document, "application/problem+json")


def not_found(method: str, path: str) -> Response:
    return problem(404, "Not Found", "not_found", f"No route for {method} {path}")


def gateway_error(status: int = 500) -> Response:
    """What API Gateway itself answers when the integration fails or the payload is too large."""
    messages = {400: "Bad Request", 413: "Request Entity Too Large", 500: "Internal Server Error"}
    return json_response(status, {"message": messages[status]})


# ---------------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


_STATIC, _PARAMETER, _GREEDY = 0, 1, 2


def _pattern(path: str) -> list[tuple[int, str]]:
    pattern = []
    for segment in path.split("/")[1:]:
        if segment.startswith("{") and segment.endswith("+}"):
            pattern.append((_GREEDY, segment[1:-2]))
        elif segment.startswith("{") and segment.endswith("}"):
            pattern.append((_PARAMETER, segment[1:-1]))
        else:
            pattern.append((_STATIC, segment))
    return pattern


def _match(pattern: list[tuple[int, str]], segments: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, (kind, text) in enumerate(pattern):
        if kind == _GREEDY:
            rest = "/".join(segments[index:])
            if not rest:
                return None
            parameters[text] = unquote(rest)
            return parameters
        if index >= len(segments):
            return None
        segment = unquote(segments[index])
        if kind == _STATIC and segment != text:
            return None
        if kind == _PARAMETER:
            if not segment:
                return None
            parameters[text] = segment
    return parameters if len(segments) == len(pattern) else None


class Router:
    """Selects a route like HTTP API: static segments beat ``{param}``, which beats ``{proxy+}``.

    A route's method must match (``ANY`` matches every method, a specific method beats it);
    a request that matches no route goes to ``$default`` if the template declares one.
    Matching works on the path as sent, split at ``/``, so an encoded ``%2F`` stays inside one
    segment; the values are then URL-decoded.
    """

    def __init__(self, routes: Iterable[Route]):
        routes = list(routes)
        self.routes = routes
        self._patterns = [(route, _pattern(route.path)) for route in routes if route.path != "$default"]
        self._default = next((route for route in routes if route.path == "$default"), None)

    def match(self, method: str, raw_path: str) -> Match | None:
        segments = raw_path.split("/")[1:]
        best: tuple[tuple[Any, ...], Route, dict[str, str]] | None = None
        for route, pattern in self._patterns:
            if route.method not in (method, "ANY"):
                continue
            parameters = _match(pattern, segments)
            if parameters is None:
                continue
            rank = (tuple(kind for kind, _ in pattern), route.method == "ANY")
            if best is None or rank < best[0]:
                best = (rank, route, parameters)
        if best is not None:
            return Match(best[1], best[2])
        if self._default is not None:
            return Match(self._default, {})
        return None


# ---------------------------------------------------------------------------------- events


def is_textual(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this type as a string rather than base64."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_CONTENT_TYPES


def request_time(epoch: float) -> str:
    """``requestContext.time``: ``12/Mar/2020:19:03:58 +0000`` whatever the machine's locale."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def build_event(
    request: Request,
    match: Match,
    *,
    now: float,
    request_id: str,
    account_id: str,
    server_port: int,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for ``request`` on ``match.route``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers.setdefault("x-forwarded-port", str(server_port))
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}")
    domain = (headers.get("host") or "localhost").rsplit(":", 1)[0]
    path = unquote(request.raw_path)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": "local",
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route.route_key,
        "stage": "$default",
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    event["isBase64Encoded"] = False
    if request.body:
        try:
            text = request.body.decode("utf-8") if is_textual(headers.get("content-type")) else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


# ---------------------------------------------------------------------------------- responses


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise InvalidResponse(f"header {name} has a non-scalar value {value!r}")


def from_lambda_result(payload: str) -> Response:
    """Turn the function's result (the JSON Lambda returns) into the client's response.

    A result with ``statusCode`` is read as a 2.0 response (``headers``, ``multiValueHeaders``,
    ``cookies``, ``body``, ``isBase64Encoded``); any other JSON becomes a 200 whose body is that
    JSON, as API Gateway does. Anything malformed raises :class:`InvalidResponse`.
    """
    try:
        result = json.loads(payload)
    except ValueError as error:
        raise InvalidResponse(f"result is not JSON: {error}") from None
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response(200, [("Content-Type", "application/json")], payload.encode())
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidResponse(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in _mapping(result, "headers").items():
        headers.append((name, _header_value(name, value)))
    for name, values in _mapping(result, "multiValueHeaders").items():
        if not isinstance(values, list):
            raise InvalidResponse(f"multiValueHeaders.{name} is not a list")
        headers.extend((name, _header_value(name, value)) for value in values)
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
        raise InvalidResponse("cookies is not a list of strings")
    headers.extend(("Set-Cookie", cookie) for cookie in cookies)
    body = result.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise InvalidResponse(f"body is a {type(body).__name__}, not a string")
    if result.get("isBase64Encoded") is True:
        try:
            content = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidResponse("isBase64Encoded but the body is not base64") from None
    else:
        content = body.encode("utf-8")
    return Response(status, headers, content)


def _mapping(result: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = result.get(key) or {}
    if not isinstance(value, Mapping):
        raise InvalidResponse(f"{key} is not an object")
    return value


# ---------------------------------------------------------------------------------- CORS


def _origin_allowed(cors: Cors, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for ``origin``, or None if it is not allowed."""
    if not origin:
        return None
    if "*" in cors.allow_origins:
        return "*"
    return origin if origin in cors.allow_origins else None


def preflight(cors: Cors, request: Request) -> Response:
    """API Gateway answers CORS preflight requests itself, without invoking a function."""
    response = Response(204)
    allowed = _origin_allowed(cors, request.header("origin"))
    requested = (request.header("access-control-request-method") or "").upper()
    methods_ok = "*" in cors.allow_methods or requested in cors.allow_methods
    if allowed is None or not methods_ok:
        return response
    response.headers.append(("Access-Control-Allow-Origin", allowed))
    response.headers.append(("Access-Control-Allow-Methods", ", ".join(cors.allow_methods)))
    if cors.allow_headers:
        response.headers.append(("Access-Control-Allow-Headers", ", ".join(cors.allow_headers)))
    if cors.max_age is not None:
        response.headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        response.headers.append(("Access-Control-Allow-Credentials", "true"))
    return response


def apply_cors(cors: Cors, request: Request, response: Response) -> None:
    """Replace the function's CORS headers by the API's, as API Gateway does."""
    response.headers = [
        (name, value) for name, value in response.headers if not name.lower().startswith("access-control-")
    ]
    allowed = _origin_allowed(cors, request.header("origin"))
    if allowed is None:
        return
    response.headers.append(("Access-Control-Allow-Origin", allowed))
    if cors.expose_headers:
        response.headers.append(("Access-Control-Expose-Headers", ", ".join(cors.expose_headers)))
    if cors.allow_credentials:
        response.headers.append(("Access-Control-Allow-Credentials", "true"))


# ---------------------------------------------------------------------------------- context


class LambdaContext:
    """The ``context`` argument, as the Python Lambda runtime builds it.

    The runtime reads most fields from its environment variables (so ``memory_limit_in_mb`` is a
    string there, and here); Powertools' Logger copies them into every log line.
    """

    def __init__(self, *, function_name: str, memory_mb: int, timeout_s: float, request_id: str, arn: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = str(memory_mb)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[$LATEST]{request_id.replace('-', '')}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before Lambda would stop this invocation (real time, not the shared clock)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
