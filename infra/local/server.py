"""The local stack's front: an HTTP server that plays API Gateway for the template's routes.

``python -m infra.local [--port N] [--template PATH] [--workers N] [--parameter NAME=VALUE]
[--state-dir PATH [--reset]] [--log requests|json]``

Start-up: fake credentials and an isolated AWS configuration (nothing here may reach real AWS),
moto in this process on a free loopback port, the template's tables, keys and identities
provisioned in it (then, with ``--state-dir``, the saved data put back: :mod:`infra.local.state`),
a pool of worker processes with the template's environment, and a threaded HTTP server. ``Ready``
is printed once requests are accepted; the workers import the handler modules in the background
right after, so that the first requests are not cold. A port already in use is one line and exit
status 1, not a traceback.

Local-only routes, never in the template: ``GET /_local/outbox``, ``GET|POST|DELETE /_local/clock``
and ``POST /_local/jobs/{job}`` (the local stack only); ``GET /_local/openapi.json``, the
OpenAPI document of the template's routes (:mod:`infra.openapi`, built at the first request), and
``GET /_local/docs``, a Swagger UI page of it (``?spec=local``: of the local routes, whose own
document is ``GET /_local/local-openapi.json``, :mod:`infra.local.localapi`). ``GET /`` (unless the
template routes ``/`` itself) is a landing page and ``GET /_local/outbox.html`` the outbox as a
page (:mod:`infra.local.pages`); their forms post form-encoded bodies to the clock and job routes,
accepted from this origin only.

Unless ``SEED=0``, the demo account of :mod:`infra.local.seed` is made before ``Ready`` (with
``--state-dir``: only when there is no saved data, which already holds it). The template parameter
``PublicUrl`` defaults to the stack's own URL (``--parameter PublicUrl=...`` overrides it), so every
link in an email opens one of the hosted pages this stack serves.

Console output: one line per request on stderr (``METHOD /path STATUS duration function``, without
query strings or bodies, and with path parameters named like secrets masked). The handlers' own
output (Powertools JSON logs) is shown only with ``--log json`` (``LOG=json``); with
``--state-dir`` it is written to ``functions.log`` there in any case. Powertools' EMF metrics lines
never reach the console (``metrics.log`` in the state folder, if any). Each answer is written to
the socket in one piece, with ``TCP_NODELAY``: written in two, every answer on a kept-alive
connection waited 40 ms for the client's delayed ACK. X-Ray tracing is off
(``POWERTOOLS_TRACE_DISABLED``): there is no daemon to send to. Metrics stay on, so metric code
paths run locally as they do in Lambda; only Powertools' "No application metrics to publish"
warning is silenced, as in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import multiprocessing
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import portico.clock
from infra.local import localapi, pages, queues, worker
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
    state_dir: Path | None = None
    reset: bool = False
    log: str = "requests"


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
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep the emulated data here across restarts (make run: .local-state); default: nothing kept",
    )
    parser.add_argument("--reset", action="store_true", help="with --state-dir: forget the saved data first")
    parser.add_argument(
        "--log",
        choices=("requests", "json"),
        default=os.environ.get("LOG") or "requests",
        help="requests: one line per request (default, or $LOG); json: the functions' JSON logs too",
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
    return Config(
        arguments.template,
        arguments.host,
        arguments.port,
        arguments.workers,
        parameters,
        arguments.state_dir,
        arguments.reset,
        arguments.log,
    )


class LocalClock:
    """Wall time plus an offset shared with every worker (``portico.clock`` reads the same)."""

    def __init__(self, offset: Any):
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset.value

    def advance(self, seconds: float) -> None:
        with self.offset.get_lock():
            self.offset.value += seconds

    def reset(self) -> None:
        with self.offset.get_lock():
            self.offset.value = 0.0


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


class _Worker:
    """One worker process and the front's end of its pipe."""

    def __init__(self, process: Any, connection: Any):
        self.process = process
        self.connection = connection


class WorkerPool:
    """Worker processes that take one invocation at a time, each over a pipe of its own; a worker
    that dies is replaced.

    A request thread takes an idle worker, sends it the invocation and reads the outcome itself:
    no executor thread or queue feeder in between (with ``ProcessPoolExecutor`` the front spent
    twice the CPU per invocation, and 20 concurrent clients made it the bottleneck).
    """

    def __init__(self, size: int, initargs: tuple[Any, ...], output: dict[str, Any] | None = None):
        """``initargs`` are :func:`worker.serve`'s after the pipe; ``output``, where the functions'
        stdout goes."""
        self.size = size
        self._context = multiprocessing.get_context("spawn")
        self._initargs = initargs
        self._output = output
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._reported = False

    def warm(self) -> None:
        """Start the workers; each imports every handler before it takes an invocation (import
        errors are reported once)."""
        for _ in range(self.size):
            self._start()

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=worker.serve, args=(child, *self._initargs, self._output), name="portico-worker", daemon=True
        )
        with _signals_blocked():
            process.start()
        child.close()
        handle = _Worker(process, parent)
        with self._lock:
            self._workers.add(handle)
        threading.Thread(target=self._ready, args=(handle,), name="warm-up", daemon=True).start()

    def _ready(self, handle: _Worker) -> None:
        """Wait for a new worker's warm-up, then let it take invocations."""
        try:
            errors = handle.connection.recv()
        except (EOFError, OSError) as error:
            self._retire(handle)
            errors = [f"worker start-up failed: {error or 'the process exited'}"]
        else:
            self._idle.put(handle)
        if errors and not self._reported:
            self._reported = True
            for message in errors:
                _log(f"warm-up: {message}")

    def _retire(self, handle: _Worker) -> None:
        with self._lock:
            self._workers.discard(handle)
        handle.connection.close()
        handle.process.join(timeout=1)

    def _take(self) -> _Worker | None:
        while not self._closed:
            try:
                return self._idle.get(timeout=0.5)
            except queue.Empty:
                continue
        return None

    def invoke(self, function_id: str, event: Any, request_id: str) -> worker.Outcome:
        handle = self._take()
        if handle is None:
            return worker.Outcome(None, "Not invoked: the stack is stopping", 0.0)
        try:
            handle.connection.send((function_id, event, request_id))
            outcome: worker.Outcome = handle.connection.recv()
        except (EOFError, OSError) as error:
            self._retire(handle)
            if not self._closed:
                self._start()
            return worker.Outcome(None, f"A worker process died (exit code {handle.process.exitcode}): {error}", 0.0)
        except BaseException:
            self._idle.put(handle)
            raise
        self._idle.put(handle)
        return outcome

    def shutdown(self) -> None:
        """Let running invocations finish, then stop every worker."""
        self._closed = True
        stopped: set[_Worker] = set()
        while True:
            with self._lock:
                pending = self._workers - stopped
            if not pending:
                break
            try:
                handle = self._idle.get(timeout=0.2)
            except queue.Empty:
                continue
            stopped.add(handle)
            with contextlib.suppress(OSError):
                handle.connection.send(None)
        for handle in stopped:
            handle.process.join(timeout=5)
            if handle.process.is_alive():
                handle.process.terminate()
                handle.process.join(timeout=5)
            handle.connection.close()


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
        self.poller: queues.Poller | None = None
        self.http: ThreadingHTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._openapi: bytes | None = None
        self._openapi_lock = threading.Lock()
        self.state: Any = None
        if config.state_dir is not None:
            from infra.local.state import LocalState

            self.state = LocalState(config.state_dir.resolve())
        self.state_summary = "not kept (no --state-dir)"
        self.demo: dict[str, str] | None = None
        """The demo account's credentials (``email``, ``password``, ``account_id``), if seeded."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        from infra.local import outbox  # noqa: F401 - importing it stamps sent messages
        from infra.local.aws import EmbeddedAws

        for name in [*_UNSAFE_AWS_VARIABLES, *(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name, None)
        os.environ.update(LOCAL_ENVIRONMENT)
        self.http = _FrontServer((self.config.host, self.config.port), _FrontHandler, self)
        if self.state is not None:  # once the port is ours: a second `make run` must not touch the data
            self.state.prepare(reset=self.config.reset)
        if PUBLIC_URL_PARAMETER not in self.config.parameters:
            # The hosted pages are served here too: every link in an email opens on this stack.
            self.template.parameters[PUBLIC_URL_PARAMETER] = self.url
        self.aws = EmbeddedAws()
        self.aws.start()
        os.environ["AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        # moto runs in this process: messages it records are stamped with the shared clock.
        portico.clock.use(self.clock.now)
        self.template.provision()
        if self.state is not None:
            # Before the workers: the saved keys change what the environment's key id resolves to.
            self.state_summary = self.state.restore(self)
            self.demo = self.state.demo
        environment = {**LOCAL_ENVIRONMENT, "AWS_ENDPOINT_URL": self.aws.endpoint_url}
        environment.update(self.template.environment())
        specs = [self._spec(function_id) for function_id in self.functions]
        paths = [str(LAYER_PATH), str(REPO_ROOT)]
        self.pool = WorkerPool(self.config.workers, (environment, specs, paths, self.clock.offset), self._output())
        self.pool.warm()
        self.poller = queues.Poller(self.template.consumers(), self._consume)
        self.poller.start()
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

    def _output(self) -> dict[str, Any]:
        """The functions' stdout: JSON logs on the console only with ``--log json``; EMF never."""
        directory = self.state.directory if self.state is not None else None
        return {
            "show": self.config.log == "json",
            "log_file": str(directory / "functions.log") if directory else None,
            "metrics_file": str(directory / "metrics.log") if directory else None,
        }

    @property
    def state_description(self) -> str:
        if self.state is None:
            return "not kept: this stack forgets everything when it stops"
        return f"kept in {_shown_path(self.state.directory)} ({self.state_summary}); make run RESET=1 starts clean"

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
        if self.poller is not None:
            self.poller.stop()
        if self.pool is not None:
            self.pool.shutdown()
        if self.state is not None and self.aws is not None and self.pool is not None:
            self.state.stop_saving()
            try:
                if self.state.save(self):
                    _log(f"infra.local: local data saved to {_shown_path(self.state.file)}")
            except Exception as error:
                _log(f"infra.local: could not save the local data: {type(error).__name__}: {error}")
        if self.aws is not None:
            self.aws.stop()

    # ------------------------------------------------------------------ requests

    def handle(self, request: Request) -> tuple[Response, str]:
        """Answer one request; also returns the path as it may be logged."""
        response, path, _ = self.route(request)
        return response, path

    def route(self, request: Request) -> tuple[Response, str, str | None]:
        """Answer one request; also returns the path as it may be logged and the function invoked."""
        path = request.raw_path
        function_id = None
        if self.cors is not None and request.method == "OPTIONS":
            return preflight(self.cors, request), path, None
        match = None if path.startswith("/_local/") else self.router.match(request.method, path)
        if path.startswith("/_local/"):
            response = self._local(request)
        elif path == "/" and request.method in ("GET", "HEAD") and (match is None or match.route.path == "$default"):
            response = self._landing()  # unless the template routes "/" itself
        elif match is None:
            response = not_found(request.method, path)
        else:
            response = self._invoke_route(request, match)
            path = _loggable_path(path, match)
            function_id = match.route.function_id
        if self.cors is not None:
            apply_cors(self.cors, request, response)
        return response, path, function_id

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

    def _consume(self, function_id: str, event: dict[str, Any]) -> Any:
        """An SQS batch for a consumer function, as its event source mapping delivers it."""
        payload = self._run(function_id, event, str(uuid.uuid4()))
        if payload is None:
            raise RuntimeError(f"{function_id} failed on an SQS batch")
        return json.loads(payload)

    # ------------------------------------------------------------------ local-only routes

    def _local(self, request: Request) -> Response:
        path, method = request.raw_path, request.method
        if path == "/_local/outbox" and method == "GET":
            from infra.local import outbox

            to = parse_qs(request.raw_query).get("to", [""])[0] or None
            return json_response(200, {"messages": outbox.messages(to)})
        if path == "/_local/outbox.html" and method in ("GET", "HEAD"):
            from infra.local import outbox

            to = parse_qs(request.raw_query).get("to", [""])[0].strip() or None
            return pages.outbox_page(outbox.messages(to), to)
        if path == "/_local/pages.css" and method in ("GET", "HEAD"):
            return pages.stylesheet()
        if path == "/_local/clock" and method == "GET":
            return self._now()
        if path == "/_local/clock" and method == "DELETE":
            self.clock.reset()
            return self._now()
        if path == "/_local/clock" and method == "POST":
            if pages.is_form(request.header("content-type")):
                return self._clock_form(request)
            return self._advance_clock(request)
        if path.startswith("/_local/jobs/") and method == "POST":
            name = unquote(path.removeprefix("/_local/jobs/"))
            if pages.is_form(request.header("content-type")):
                if not pages.same_origin(request.headers):
                    return _cross_origin()
                response = self._run_job(name)
                if response.status == 404:
                    return response
                return pages.job_result_page(name, response.status, response.body)
            return self._run_job(name)
        if path == "/_local/openapi.json" and method == "GET":
            return self._openapi_json()
        if path == "/_local/local-openapi.json" and method == "GET":
            return json_response(200, localapi.document(self.url, sorted(self.jobs)))
        if path == "/_local/docs" and method == "GET":
            query = parse_qs(request.raw_query)
            if query.get("format") == ["json"]:  # the page's own link to its spec
                return self._openapi_json()
            return self._docs(local=query.get("spec") == ["local"])
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

    def _landing(self) -> Response:
        return pages.landing_page(self, portico.clock.iso(portico.clock.now()), self.clock.offset.value)

    def _clock_form(self, request: Request) -> Response:
        """The landing page's clock forms: ``reset`` or ``advance_seconds``, then back to the page."""
        if not pages.same_origin(request.headers):
            return _cross_origin()
        fields = pages.form_fields(request.body)
        if "reset" in fields:
            self.clock.reset()
            return pages.redirect("/#clock")
        try:
            seconds: Any = float(fields.get("advance_seconds", ""))
        except ValueError:
            seconds = None
        answer = self._advance_clock(request, json.dumps({"advance_seconds": seconds}).encode())
        return pages.redirect("/#clock") if answer.status == 200 else answer

    def _docs(self, local: bool = False) -> Response:
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

        spec = json_response(200, localapi.document(self.url, sorted(self.jobs))) if local else self._openapi_json()
        if spec.status != 200:
            return spec
        page = generate_swagger_html(
            spec.body.decode().replace("</", "<\\/"),  # the document stays inside its <script>
            swagger_js="/_local/docs/swagger-ui-bundle.min.js",
            swagger_css="/_local/docs/swagger-ui.min.css",
            swagger_base_url="/_local/docs",
            oauth2_config=None,
        )
        # Both documents, a link apart (the bundle has no top bar for a list of specs).
        current = "the local stack's own routes" if local else "the API"
        other = (
            '<a href="/_local/docs">the API</a>'
            if local
            else '<a href="/_local/docs?spec=local">the local stack\'s own routes (/_local)</a>'
        )
        nav = (
            '<p style="font:14px sans-serif;margin:8px 20px"><a href="/">Local stack</a> &middot; '
            f"showing {current} &middot; also: {other}</p>"
        )
        page = page.replace("<body>", "<body>\n" + nav, 1)
        return Response(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())

    def _now(self) -> Response:
        return json_response(200, {"now": portico.clock.iso(portico.clock.now())})

    def _advance_clock(self, request: Request, raw: bytes | None = None) -> Response:
        try:
            body = json.loads((request.body if raw is None else raw) or b"null")
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


def _cross_origin() -> Response:
    return problem(403, "Forbidden", "cross_origin", "Form posts to /_local are accepted from this stack's pages only.")


def _shown_path(path: Path) -> str:
    """A path relative to the repository when it is inside it (``.local-state``), else absolute."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


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
        function_id = None
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
                response, logged, function_id = self.server.stack.route(request)
            except Exception:
                import traceback

                _log(traceback.format_exc().rstrip())
                response, logged = gateway_error(500), request.raw_path
        elapsed = (time.perf_counter() - started) * 1000
        # Logged before answering, so a client that got its answer finds the line already there.
        served_by = f" {function_id}" if function_id else ""
        _log(f"{self.command} {logged} {response.status} {elapsed:.0f}ms{served_by}")
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

    def setup(self) -> None:
        super().setup()
        # Answers go out in one write (see _send); no delay for a small last segment either.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, response: Response) -> None:
        """Status line, headers and body in ONE write.

        Written in two (headers, then body), the body's small segment waits for the client's
        ACK of the first (Nagle), which the client delays by 40 ms (delayed ACK): every answer on
        a kept-alive connection took 44 ms instead of one.
        """
        lines = [f"{self.protocol_version} {response.status} {_reason(response.status)}"]
        lines.append(f"Server: {self.version_string()}")
        lines.append(f"Date: {self.date_time_string()}")
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        self.wfile.write(head if self.command == "HEAD" else head + response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: do_request logs one line per request, without the query string."""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


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
    stack.demo = {"email": seeded.email, "password": seeded.password, "account_id": seeded.account_id}
    note = None
    if stack.state is not None:
        stack.state.demo = stack.demo
        note = f"(shown once here, and on the landing page; kept in {_shown_path(stack.state.directory)} only)"
    print(seeded.banner(stack.url, note=note), flush=True)
    _log(f"infra.local: demo data in {time.monotonic() - started:.1f} s")


def _saved_demo(stack: Stack) -> None:
    """The demo account of the saved state, as the seed printed it when it made it."""
    from infra.local import seed

    demo = stack.demo
    if not demo:
        return
    seeded = seed.Seeded(demo["email"], demo["password"], demo["account_id"])
    note = f"(from the saved data in {_shown_path(stack.state.directory)}; make run RESET=1 makes a new account)"
    print(
        seeded.banner(stack.url, note=note, title="Demo data (saved): the account made at an earlier start."),
        flush=True,
    )


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
    except OSError as error:
        stack.stop()
        if error.errno == errno.EADDRINUSE:
            _log(
                f"infra.local: port {config.port} is in use; run with PORT={config.port + 1} make run "
                f"(or --port {config.port + 1}), or stop what is listening on it"
            )
            return 1
        _log(f"infra.local: cannot start: {type(error).__name__}: {error}")
        return 1
    except Exception as error:
        from infra.local.state import StateBusy, StateError

        if isinstance(error, StateBusy):
            _log(f"infra.local: {error}")
        elif isinstance(error, StateError):
            _log(f"infra.local: {error}; make run RESET=1 (--reset) starts with a clean state")
        else:
            _log(f"infra.local: cannot start: {type(error).__name__}: {error}")
        stack.stop()
        return 1
    if stack.state is not None:
        loaded = "fresh (nothing saved yet)" if stack.state.fresh else f"loaded ({stack.state_summary})"
        print(f"Local data: {loaded}; kept in {_shown_path(stack.state.directory)}", flush=True)
    if stack.state is not None and not stack.state.fresh:
        _saved_demo(stack)
    elif os.environ.get("SEED", "1") != "0":
        _seed(stack)
    if stack.state is not None:
        stack.state.start_saving(stack, _log)
    print(
        f"Ready: Portico local stack on {stack.url} ({len(stack.router.routes)} routes, "
        f"{len(stack.jobs)} jobs, {config.workers} workers, moto on {stack.aws.endpoint_url})",
        flush=True,
    )
    logs = {
        "json": "functions' JSON logs shown (LOG=json)",
        "requests": "one line per request; the functions' JSON logs "
        + (f"in {_shown_path(stack.state.directory / 'functions.log')}" if stack.state else "hidden")
        + " (LOG=json shows them)",
    }[config.log]
    print(f"  Open {stack.url}/ for the landing page (outbox, clock, jobs, docs). Console: {logs}.", flush=True)
    while not stopping.wait(0.5):
        pass
    _log("Stopping...")
    stack.stop()
    return 0
