"""The process side of the local stack: each worker is one warm Lambda container.

Lambda never runs two invocations in one container at once, and handlers rely on it (Powertools'
resolver keeps the current event on the app object). So handlers run in worker processes that
take one invocation at a time; the HTTP front serves requests concurrently by spreading them over
the workers. A worker keeps the handler modules it imported, like a warm container keeps its
globals (clients, caches) between invocations.

This module is imported in every worker, so it must not import moto or anything heavy.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib.util
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.events import LambdaContext

Handler = Callable[[Any, LambdaContext], Any]


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run one function: code, handler, limits and environment."""

    function_id: str
    name: str
    arn: str
    code_uri: str
    handler: str
    memory_mb: int
    timeout_s: float
    environment: Mapping[str, str]


@dataclass(frozen=True)
class Outcome:
    """The result of one invocation: the JSON the function returned, or the error's traceback."""

    payload: str | None
    error: str | None
    duration_ms: float


class _ServiceName(logging.Filter):
    """Stamps every record of the Powertools Logger with the service of the function invoked now.

    The Logger's formatter writes a record's extra attributes over its own keys (as with
    ``logger.info(..., extra={"service": ...})``), so this wins over the service name the Logger
    read once, and over ``inject_lambda_context(clear_state=True)``, which restores that name at
    the start of every invocation.
    """

    service = "service_undefined"

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


_service_name = _ServiceName()
_functions: dict[str, FunctionSpec] = {}
_handlers: dict[str, Handler] = {}
_baseline: dict[str, str] = {}
_applied: set[str] = set()
_barrier: Any = None


def initialize(
    environment: Mapping[str, str],
    functions: Sequence[FunctionSpec],
    paths: Sequence[str],
    clock_offset: Any,
    barrier: Any,
    output: Mapping[str, Any] | None = None,
) -> None:
    """Set up a fresh worker: environment, import path, shared clock, signal dispositions.

    ``output`` (see :class:`_Output`) says where the functions' standard output goes; without
    it, it stays this process's stdout, as it is.

    ``clock_offset`` is a ``multiprocessing.Value("d")`` shared with the front: every worker's
    ``portico.clock`` reads wall time plus that offset, so ``POST /_local/clock`` moves the time
    of every handler at once.
    """
    # Ctrl-C reaches the whole process group; only the front decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if output is not None:
        # Before any handler module is imported: Powertools' Logger keeps the stream it finds.
        sys.stdout = _Output(sys.stdout, **output)
    os.environ.update(environment)
    _baseline.update(os.environ)
    # Powertools warns on every invocation that records no metric besides ColdStart: noise here.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    _functions.update({spec.function_id: spec for spec in functions})
    global _barrier
    _barrier = barrier

    import portico.clock

    portico.clock.use(lambda: time.time() + clock_offset.value)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


class _Output(io.TextIOBase):
    """The functions' stdout, sorted line by line: Powertools' EMF metrics lines never reach the
    console (they go to ``metrics_file``, if any); the rest (JSON logs, prints) goes to the console
    when ``console`` is true and to ``log_file``, if any."""

    def __init__(self, console: Any, *, show: bool, log_file: str | None, metrics_file: str | None):
        self._console = console if show else None
        self._log = open(log_file, "a", encoding="utf-8", buffering=1) if log_file else None  # noqa: SIM115
        self._metrics = open(metrics_file, "a", encoding="utf-8", buffering=1) if metrics_file else None  # noqa: SIM115
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._line(line + "\n")
        return len(text)

    def _line(self, line: str) -> None:
        if line.startswith("{") and '"_aws"' in line and '"CloudWatchMetrics"' in line:
            if self._metrics is not None:
                self._metrics.write(line)
            return
        if self._console is not None:
            self._console.write(line)
        if self._log is not None:
            self._log.write(line)

    def flush(self) -> None:
        if self._console is not None:
            self._console.flush()


def _exit_with_parent(parent: int) -> None:
    """A worker whose front died (kill -9) must not linger holding the port's resources."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _apply_environment(spec: FunctionSpec) -> None:
    """Give the process exactly this function's environment, as its own container would have."""
    for name in _applied - set(spec.environment):
        if name in _baseline:
            os.environ[name] = _baseline[name]
        else:
            os.environ.pop(name, None)
    os.environ.update(spec.environment)
    _applied.clear()
    _applied.update(spec.environment)


def _name_service() -> None:
    """Make Powertools log and meter as the function whose environment is applied now.

    Powertools reads ``POWERTOOLS_SERVICE_NAME`` once, when ``portico.observability`` creates the
    shared Logger and Metrics at the first import in a process, and a worker imports every
    function's handler: without this, every function would log as the first one loaded (the users
    function as "auth"). In Lambda each function has containers of its own, so its name is right
    from the start; here each invocation sets it, through Metrics' ``service`` property and a
    filter on the Logger's handler (the Logger has no public way to change its service).
    """
    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"
    _service_name.service = service
    observability = sys.modules.get("portico.observability")
    if observability is None:  # not imported yet (its import reads the name itself), or not Portico
        return
    handler = observability.logger.registered_handler
    if _service_name not in handler.filters:
        handler.addFilter(_service_name)
    observability.metrics.service = service


def _load(spec: FunctionSpec) -> Handler:
    """Import the handler's module by file path, under a module name unique to the function.

    Several functions have an ``app.py``; a unique name keeps them apart in ``sys.modules``.
    A failed import is not cached, so fixing the code and retrying works without a restart.
    """
    if spec.function_id in _handlers:
        return _handlers[spec.function_id]
    module_path, _, attribute = spec.handler.rpartition(".")
    if not module_path:
        raise ImportError(f"Handler {spec.handler!r} is not of the form module.function")
    base = Path(spec.code_uri, *module_path.split("."))
    file = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
    if spec.code_uri not in sys.path:
        sys.path.insert(0, spec.code_uri)
    name = f"portico_fn_{spec.function_id}"
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None or not file.exists():
        raise ImportError(f"Unable to import module {module_path!r} from {spec.code_uri}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ImportError(f"Handler {attribute!r} missing on module {module_path!r}")
    _handlers[spec.function_id] = handler
    return handler


def _decimal(value: Any) -> Any:
    """The Lambda runtime serializes Decimals (what DynamoDB returns) as numbers."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def invoke(function_id: str, event: Any, request_id: str) -> Outcome:
    """Run one invocation of ``function_id`` with ``event``; never raises."""
    spec = _functions[function_id]
    started = time.perf_counter()
    try:
        _apply_environment(spec)
        handler = _load(spec)
        _name_service()
        context = LambdaContext(
            function_name=spec.name,
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            request_id=request_id,
            arn=spec.arn,
        )
        result = handler(event, context)
        payload = json.dumps(result, default=_decimal)
    except (Exception, SystemExit):
        return Outcome(None, traceback.format_exc(), (time.perf_counter() - started) * 1000)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return Outcome(payload, None, (time.perf_counter() - started) * 1000)


def serve(
    connection: Any,
    environment: Mapping[str, str],
    functions: Sequence[FunctionSpec],
    paths: Sequence[str],
    clock_offset: Any,
    output: Mapping[str, Any] | None = None,
) -> None:
    """A worker process's life: set up, import every handler, then run what the front sends.

    Over ``connection`` (its own pipe to the front) it first sends the warm-up's import errors,
    then answers each ``(function_id, event, request_id)`` with an :class:`Outcome`, one at a
    time, until it receives ``None`` or the front goes away.
    """
    initialize(environment, functions, paths, clock_offset, None, output)
    connection.send(warm())
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        connection.send(invoke(*message))


def warm() -> list[str]:
    """Import every function's handler once, so that first requests are not cold.

    Waits on the shared barrier afterwards, if one was given (a pool that hands out warm-up tasks
    needs it so that each worker takes exactly one; the stack's workers warm up on their own).
    Returns the import errors (tracebacks), if any.
    """
    errors = []
    for spec in _functions.values():
        try:
            _apply_environment(spec)
            _name_service()  # what its module logs at import carries its own name, too
            _load(spec)
        except (Exception, SystemExit):
            errors.append(f"{spec.function_id}: {traceback.format_exc()}")
    if _barrier is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            _barrier.wait(timeout=10)
    return errors
