"""The local stack's front: an HTTP server that plays API Gateway for the template's routes.

``python -m infra.local [--port N] [--template PATH] [--workers N] [--parameter NAME=VALUE]``

Start-up: fake credentials and an isolated AWS configuration (nothing here may reach real AWS),
moto in this process on a free loopback port, the template's tables, keys and identities
provisioned in it, a pool of worker processes with the template's environment, and a threaded
HTTP server. ``Ready`` is printed once requests are accepted; handler modules are imported in the
background right after, so that the first requests are not cold.

Local-only routes, never in the template: ``GET /_local/outbox``, ``GET|POST /_local/clock`` and
``POST /_local/jobs/{job}`` (the API contract, section 12); ``GET /_local/openapi.json``, the
OpenAPI document of the template's routes (:mod:`infra.openapi`, built at the first request), and
``GET /_local/docs``, a Swagger UI page of it.

Unless ``SEED=0``, the demo account of :mod:`infra.local.seed` is made before ``Ready``. The template
parameter ``PublicUrl`` defaults to the stack's own URL (``--parameter PublicUrl=...`` overrides it),
so every link in an email opens one of the hosted pages this stack serves.

Console output: one line per request on stderr (``METHOD /path STATUS duration``, without query
strings or bodies, and with path parameters named like secrets masked); the handlers' own output
(Powertools JSON logs and EMF metrics lines, as Lambda would write them to CloudWatch) goes to
stdout. X-Ray tracing is off (``POWERTOOLS_TRACE_DISABLED``): there is no daemon to send to.
Metrics stay on, so metric code paths run locally as they do in Lambda; only Powertools' "No
application metrics to publish" warning is silenced, as in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import portico.clock
from infra.local import worker
from infra.local.cfn import ACCOUNT_ID, PARTITION, REGION, Template, TemplateError
from infra.local.events import (
    MAX_BODY_BYTES,
    InvalidResponse,
    Match,
    Request,
    Response,
    Router,
    apply_cors,
    build_event,
    from_lambda_result,
    gateway_error,
    json_response,
    not_found,
    preflight,
    problem,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER_PATH = REPO_ROOT / "layers" / "common" / "python"
DEFAULT_PORT = 3000
DEFAULT_WORKERS = 4
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a synchronous invocation's result: a larger one is an error (a 500)."""
MAX_ADVANCE_SECONDS = 100 * 366 * 24 * 3600
"""A clock advanced further would overflow datetime; no test needs more than a century."""

LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # No profile, credentials file or per-service endpoint from the developer's machine.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "PORTICO_LOCAL": "1",
}
_UNSAFE_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
_SECRET_PARAMETER_WORDS = ("token", "secret", "code", "password")
PUBLIC_URL_PARAMETER = "PublicUrl"
"""Where email links point: this stack's own URL unless ``--parameter PublicUrl=...`` says otherwise."""


@dataclass(frozen=True)
class Config:
    template: Path
    host: str
    port: int
    workers: int
    parameters: dict[str, str]


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local", description="Serve template.yaml's HTTP API locally."
    )
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)), help="default $PORT or 3000"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("LOCAL_WORKERS", DEFAULT_WORKERS)),
        help="worker processes, i.e. concurrent invocations (default $LOCAL_WORKERS or 4)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter (repeatable)",
    )
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error("--workers must be at least 1")
    parameters = {}
    for item in arguments.parameter:
        name, separator, value = item.partition("=")
        if not separator:
            parser.error(f"--parameter {item!r} is not NAME=VALUE")
        parameters[name] = value
    return Config(arguments.template, arguments.host, arguments.port, arguments.workers, parameters)


class LocalClock:
    """Wall time plus an offset shared with every worker (``portico.clock`` reads the same)."""

    def __init__(self, offset: Any):
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset.value

    def advance(self, seconds: float) -> None:
        with self.offset.get_lock():
            self.offset.value += seconds


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Block SIGINT/SIGTERM in this thread while a worker may be spawned.

    A child inherits the spawning thread's signal mask, so a worker started here cannot die of
    a Ctrl-C (which reaches the whole process group) before its initializer ignores it.
    """
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class WorkerPool:
    """Worker processes that take one invocation at a time; replaced if one dies."""

    def __init__(self, size: int, initargs: tuple[Any, ...]):
        """``initargs`` are :func:`worker.initialize`'s, but for the warm-up barrier added here."""
        self.size = size
        self._context = multiprocessing.get_context("spawn")
        self._initargs = initargs
        self._lock = threading.Lock()
        self._executor = self._create()

    def _create(self) -> ProcessPoolExecutor:
        # A fresh barrier per pool: workers of a broken pool may have died waiting on the old one.
        barrier = self._context.Barrier(self.size)
        return ProcessPoolExecutor(
            max_workers=self.size,
            mp_context=self._context,
            initializer=worker.initialize,
            initargs=(*self._initargs, barrier),
        )

    def submit(self, function: Any, *args: Any) -> Future[Any]:
        with _signals_blocked():
            return self._executor.submit(function, *args)

    def invoke(self, function_id: str, event: Any, request_id: str) -> worker.Outcome:
        executor = self._executor
        try:
            return self.submit(worker.invoke, function_id, event, request_id).result()
        except BrokenProcessPool as error:
            self._replace(executor)
            return worker.Outcome(None, f"A worker process died: {error}", 0.0)
        except RuntimeError as error:  # submitted while the stack stops
            return worker.Outcome(None, f"Not invoked: {error}", 0.0)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = self._create()
                broken.shutdown(wait=False, cancel_futures=True)
                self.warm()

    def warm(self) -> None:
        """Import every handler in every worker, in the background; report import errors once."""
        reported = threading.Lock()

        def report(future: Future[list[str]]) -> None:
            if future.cancelled():
                return
            try:
                errors = future.result()
            except Exception as error:
                errors = [f"worker start-up failed: {error}"]
            if errors and reported.acquire(blocking=False):
                for message in errors:
                    _log(f"warm-up: {message}")

        for _ in range(self.size):
            self.submit(worker.warm).add_done_callback(report)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_log_lock = threading.Lock()


def _log(line: str) -> None:
    """One line to stderr, whole even when request threads log at the same moment."""
    with _log_lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


class Stack:
    """The template, the emulation, the workers and the routing between them."""

    def __init__(self, config: Config):
        self.config = config
        self.template = Template.load(config.template, config.parameters)
        self.router = Router(self.template.routes())
        self.jobs = {job.name: job for job in self.template.jobs()}
        self.cors = self.template.cors()
        self.functions = {function.function_id: function for function in self.template.functions()}
        self._context = multiprocessing.get_context("spawn")
        self.clock = LocalClock(self._context.Value("d", 0.0))
        self.aws: Any = None
        self.pool: WorkerPool | None = None
        self.http: ThreadingHTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._openapi: bytes | None = None
        self._openapi_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        from infra.local import outbox  # noqa: F401 - importing it stamps sent messages
        from infra.local.aws import EmbeddedAws

        for name in [*_UNSAFE_AWS_VARIABLES, *(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name, None)
        os.environ.update(LOCAL_ENVIRONMENT)
        self.http = _FrontServer((self.config.host, self.config.port), _FrontHandler, self)
        if PUBLIC_URL_PARAMETER not in self.config.parameters:
            # The hosted pages are served here too: every link in an email opens on this stack.
            self.template.parameters[PUBLIC_URL_PARAMETER] = self.url
        self.aws = EmbeddedAws()
        self.aws.start()
        os.environ["AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        # moto runs in this process: messages it records are stamped with the shared clock.
        portico.clock.use(self.clock.now)
        self.template.provision()
        environment = {**LOCAL_ENVIRONMENT, "AWS_ENDPOINT_URL": self.aws.endpoint_url}
        environment.update(self.template.environment())
        specs = [self._spec(function_id) for function_id in self.functions]
        paths = [str(LAYER_PATH), str(REPO_ROOT)]
        self.pool = WorkerPool(self.config.workers, (environment, specs, paths, self.clock.offset))
        self.pool.warm()
        self._serving = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
        )
        self._serving.start()

    def _spec(self, function_id: str) -> worker.FunctionSpec:
        function = self.functions[function_id]
        arn = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{function.name}"
        environment = self.template.environment(function_id)
        environment.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "_HANDLER": function.handler,
            }
        )
        return worker.FunctionSpec(
            function_id=function_id,
            name=function.name,
            arn=arn,
            code_uri=str(function.code_uri),
            handler=function.handler,
            memory_mb=function.memory_mb,
            timeout_s=function.timeout_s,
            environment=environment,
        )

    @property
    def url(self) -> str:
        assert self.http is not None
        host, port = self.http.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop accepting, let running invocations finish, then stop the workers and moto."""
        if self.http is not None:
            if self._serving is not None:
                self.http.shutdown()
            self.http.server_close()
        if self.pool is not None:
            self.pool.shutdown()
        if self.aws is not None:
            self.aws.stop()

    # ------------------------------------------------------------------ requests

    def handle(self, request: Request) -> tuple[Response, str]:
        """Answer one request; also returns the path as it may be logged."""
        path = request.raw_path
        if self.cors is not None and request.method == "OPTIONS":
            return preflight(self.cors, request), path
        if path.startswith("/_local/"):
            response = self._local(request)
        elif (match := self.router.match(request.method, path)) is None:
            response = not_found(request.method, path)
        else:
            response = self._invoke_route(request, match)
            path = _loggable_path(path, match)
        if self.cors is not None:
            apply_cors(self.cors, request, response)
        return response, path

    def _invoke_route(self, request: Request, match: Match) -> Response:
        assert self.http is not None
        request_id = str(uuid.uuid4())
        event = build_event(
            request,
            match,
            now=self.clock.now(),
            request_id=request_id,
            account_id=ACCOUNT_ID,
            server_port=self.http.server_address[1],
        )
        payload = self._run(match.route.function_id, event, request_id)
        if payload is None:
            return gateway_error(500)
        try:
            response = from_lambda_result(payload)
        except InvalidResponse as error:
            _log(f"[{request_id}] {match.route.function_id} returned an invalid response: {error}")
            return gateway_error(500)
        response.headers.append(("Apigw-Requestid", request_id))
        return response

    def _run(self, function_id: str, event: Any, request_id: str) -> str | None:
        """Invoke in a worker; None (and the reason on stderr) when Lambda would report an error."""
        assert self.pool is not None
        function = self.functions[function_id]
        outcome = self.pool.invoke(function_id, event, str(uuid.uuid4()))
        if outcome.error is not None:
            failure = f"failed:\n{outcome.error.rstrip()}"
        elif outcome.duration_ms > function.timeout_s * 1000:
            failure = (
                f"Task timed out after {function.timeout_s:g} seconds "
                f"(took {outcome.duration_ms:.0f} ms; Lambda would have stopped it)"
            )
        elif outcome.payload is not None and len(outcome.payload.encode()) > MAX_RESPONSE_BYTES:
            failure = f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)"
        else:
            return outcome.payload
        _log(f"[{request_id}] {function_id} {failure}")
        return None

    # ------------------------------------------------------------------ local-only routes

    def _local(self, request: Request) -> Response:
        path, method = request.raw_path, request.method
        if path == "/_local/outbox" and method == "GET":
            from infra.local import outbox

            to = parse_qs(request.raw_query).get("to", [""])[0] or None
            return json_response(200, {"messages": outbox.messages(to)})
        if path == "/_local/clock" and method == "GET":
            return self._now()
        if path == "/_local/clock" and method == "POST":
            return self._advance_clock(request)
        if path.startswith("/_local/jobs/") and method == "POST":
            return self._run_job(unquote(path.removeprefix("/_local/jobs/")))
        if path == "/_local/openapi.json" and method == "GET":
            return self._openapi_json()
        if path == "/_local/docs" and method == "GET":
            if parse_qs(request.raw_query).get("format") == ["json"]:  # the page's own link to its spec
                return self._openapi_json()
            return self._docs()
        if (asset := path.removeprefix("/_local/docs/")) in _SWAGGER_ASSETS and method == "GET":
            return _swagger_asset(asset)
        return not_found(method, path)

    def _openapi_document(self) -> bytes:
        """The template's OpenAPI document, its server this stack; built once, at the first request.

        Built in this process (the handler modules are imported here too, for their models only),
        so code changes need a restart, as they do for the workers.
        """
        with self._openapi_lock:
            if self._openapi is None:
                from infra import openapi

                self._openapi = openapi.dumps(openapi.build(self.template, server=self.url)).encode()
            return self._openapi

    def _openapi_json(self) -> Response:
        try:
            document = self._openapi_document()
        except Exception as error:  # a handler that cannot be imported or described: say which
            return problem(500, "Internal Server Error", "openapi_failed", f"{type(error).__name__}: {error}")
        return Response(200, [("Content-Type", "application/json")], document)

    def _docs(self) -> Response:
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

        spec = self._openapi_json()
        if spec.status != 200:
            return spec
        page = generate_swagger_html(
            spec.body.decode().replace("</", "<\\/"),  # the document stays inside its <script>
            swagger_js="/_local/docs/swagger-ui-bundle.min.js",
            swagger_css="/_local/docs/swagger-ui.min.css",
            swagger_base_url="/_local/docs",
            oauth2_config=None,
        )
        return Response(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())

    def _now(self) -> Response:
        return json_response(200, {"now": portico.clock.iso(portico.clock.now())})

    def _advance_clock(self, request: Request) -> Response:
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return problem(400, "Bad Request", "malformed_json", "The body is not JSON.")
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        valid = (
            isinstance(seconds, (int, float))
            and not isinstance(seconds, bool)
            and math.isfinite(seconds)
            and 0 <= seconds <= MAX_ADVANCE_SECONDS
        )
        if not valid:
            message = f"must be a finite number of seconds between 0 and {MAX_ADVANCE_SECONDS}"
            return problem(
                422,
                "Unprocessable Content",
                "validation_error",
                "The body does not match its schema.",
                errors=[{"loc": ["body", "advance_seconds"], "msg": message}],
            )
        self.clock.advance(float(seconds))
        return self._now()

    def _run_job(self, name: str) -> Response:
        job = self.jobs.get(name)
        if job is None:
            return problem(404, "Not Found", "not_found", f"No scheduled job named {name!r}")
        now = self.clock.now()
        event = job.input if job.input is not None else _scheduled_event(now)
        payload = self._run(job.function_id, event, str(uuid.uuid4()))
        if payload is None:
            return gateway_error(500)
        return Response(200, [("Content-Type", "application/json")], payload.encode())


# Swagger UI's script and stylesheet as Powertools ships them for its own enable_swagger(): the docs
# page works offline, and its assets are pinned by a dependency we already have rather than loaded
# from a CDN at whatever version it serves that day.
_SWAGGER_ASSETS = {
    "swagger-ui-bundle.min.js": "text/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}


def _swagger_asset(name: str) -> Response:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    body = (Path(swagger_ui.__file__).parent / name).read_bytes()
    return Response(200, [("Content-Type", _SWAGGER_ASSETS[name])], body)


def _scheduled_event(now: float) -> dict[str, Any]:
    """The EventBridge event a schedule without ``Input`` delivers."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": portico.clock.iso(datetime.fromtimestamp(now, tz=UTC)),
        "region": REGION,
        "resources": [],
        "detail": {},
    }


def _loggable_path(path: str, match: Match) -> str:
    """The path with the values of secret-like path parameters (``{token}``) masked."""
    segments = path.split("/")
    for index, segment in enumerate(match.route.path.split("/")):
        name = segment.strip("{}+").lower()
        if segment.startswith("{") and any(word in name for word in _SECRET_PARAMETER_WORDS):
            if segment.endswith("+}"):
                return "/".join([*segments[:index], "***"])
            if index < len(segments):
                segments[index] = "***"
    return "/".join(segments)


# ---------------------------------------------------------------------------------- HTTP


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a burst of concurrent clients must not be refused at connect

    def __init__(self, address: tuple[str, int], handler: type, stack: Stack):
        super().__init__(address, handler)
        self.stack = stack


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds of client silence before a connection is dropped
    server: _FrontServer

    def do_request(self) -> None:
        started = time.perf_counter()
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            body = self._read_body()
        except ValueError:
            body, status = None, 400
        else:
            status = 413
        if body is None:
            response, logged = gateway_error(status), target.split("?", 1)[0]
            self.close_connection = True
        else:
            request = Request(
                method=self.command,
                target=target,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            try:
                response, logged = self.server.stack.handle(request)
            except Exception:
                import traceback

                _log(traceback.format_exc().rstrip())
                response, logged = gateway_error(500), request.raw_path
        elapsed = (time.perf_counter() - started) * 1000
        # Logged before answering, so a client that got its answer finds the line already there.
        _log(f"{self.command} {logged} {response.status} {elapsed:.0f}ms")
        self._send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_request

    def _read_body(self) -> bytes | None:
        """The request body, or None when it exceeds API Gateway's limit (then drained).

        Raises ValueError when the framing (Content-Length, chunks) is malformed.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length)
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        return None

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunk = self.rfile.read(size)
            self.rfile.readline()
            total += len(chunk)
            if total <= MAX_BODY_BYTES:
                parts.append(chunk)
        return b"".join(parts) if total <= MAX_BODY_BYTES else None

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: do_request logs one line per request, without the query string."""


# ---------------------------------------------------------------------------------- main


def _seed(stack: Stack) -> None:
    """The demo account (:mod:`infra.local.seed`); a refused step is reported, and the stack serves on."""
    from infra.local import seed

    started = time.monotonic()
    try:
        seeded = seed.seed(stack)
    except seed.SeedError as error:
        _log(f"infra.local: demo data incomplete: {error}")
        return
    print(seeded.banner(stack.url), flush=True)
    _log(f"infra.local: demo data in {time.monotonic() - started:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        if stopping.is_set():
            os._exit(130)  # a second Ctrl-C while stopping: give up waiting
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack = Stack(config)
    except (TemplateError, OSError) as error:
        _log(f"infra.local: cannot load {config.template}: {error}")
        return 1
    try:
        stack.start()
    except Exception as error:
        _log(f"infra.local: cannot start: {type(error).__name__}: {error}")
        stack.stop()
        return 1
    if os.environ.get("SEED", "1") != "0":
        _seed(stack)
    print(
        f"Ready: Portico local stack on {stack.url} ({len(stack.router.routes)} routes, "
        f"{len(stack.jobs)} jobs, {config.workers} workers, moto on {stack.aws.endpoint_url})",
        flush=True,
    )
    while not stopping.wait(0.5):
        pass
    _log("Stopping...")
    stack.stop()
    return 0
