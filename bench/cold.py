"""Cold start: each function's handler module imported in a fresh interpreter, then its first
invocation, against the dependency floor; with cached bytecode and with none at all.

How a run is made (see bench/README.md for the why):

* every interpreter starts with ``-S -P`` (no ``site``, no working directory on the path, and an
  empty one at that): ``sys.path`` is exactly ``PYTHONPATH`` (our code, then site-packages) plus
  the standard library, the same in both conditions;
* *cached*: the repository's code and the venv's site-packages, with their ``__pycache__``
  (ours compiled first, and one discarded warm-up round fills anything still missing);
* *no bytecode*: ``-B`` (nothing is written) and ``PYTHONPATH`` pointing at a mirror of our code
  and of the whole site-packages made of symlinks to the ``.py`` (and data, ``.so``) files, without
  any ``__pycache__`` or ``.pyc``: the import system looks for cached bytecode next to the path it
  imports from, finds none, and compiles every third-party and own module from source, as a
  Lambda layer built with ``--no-compile`` does. The standard library keeps its bytecode, as the
  Lambda runtime's does;
* the rounds are interleaved: every round runs each target once in each condition (the start
  of the order rotating each round), so drift on a shared machine hits all of them alike, and
  the ratio to the floor is taken round by round;
* the child reports wall (``perf_counter``) and CPU (``process_time``) time of the import and of
  the first invocation; the parent adds the whole child's CPU time (``getrusage`` of children:
  interpreter start-up included).
"""

from __future__ import annotations

import compileall
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import RatioVerdict, Spread

ROOT = Path(__file__).resolve().parents[1]
OURS = ROOT / "layers/common/python"
SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))
BUDGET = 1.3

# The floor every HTTP handler needs, in the shape every route handler is built: boto3,
# pydantic's BaseModel (plain ``import pydantic`` is lazy) and a Powertools HTTP resolver with
# validation enabled (which loads its OpenAPI layer). Its first invocation: that resolver
# answering an unmatched path.
FLOOR_HTTP = (
    "import boto3; from pydantic import BaseModel; "
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "app = APIGatewayHttpResolver(enable_validation=True)\n"
    "@app.get('/bench')\n"
    "def _bench(): return {}\n"
    "handler = app.resolve"
)
# Functions without an HTTP resolver (the scheduled jobs, the queue consumers): their floor is boto3
# and the Powertools Logger and Metrics they wrap the handler in; its first invocation, that wrapped
# handler refusing an unknown job.
FLOOR_JOBS = (
    "import boto3; from aws_lambda_powertools import Logger, Metrics; logger = Logger(); metrics = Metrics()\n"
    "@logger.inject_lambda_context(clear_state=True)\n"
    "@metrics.log_metrics\n"
    "def handler(event, context):\n"
    "    raise ValueError('unknown job')"
)

HTTP_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/__bench/not-found",
    "rawQueryString": "",
    "headers": {"user-agent": "bench", "x-forwarded-for": "198.51.100.7", "accept": "application/json"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "bench",
        "domainName": "bench.example.com",
        "domainPrefix": "bench",
        "http": {
            "method": "GET",
            "path": "/__bench/not-found",
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "bench",
        },
        "requestId": "bench",
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/Dec/2026:00:00:00 +0000",
        "timeEpoch": 1_796_083_200_000,
    },
    "isBase64Encoded": False,
}
JOBS_EVENT = {"job": "bench-unknown-job"}
SQS_EVENT: dict[str, Any] = {"Records": []}

PROBE = """\
import time
_c0 = time.process_time(); _t0 = time.perf_counter()
{load}
_t1 = time.perf_counter(); _c1 = time.process_time()
class _Context:
    function_name = "portico-bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:portico-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    @staticmethod
    def get_remaining_time_in_millis():
        return 10000
_event = {event!r}
_t2 = time.perf_counter(); _c2 = time.process_time()
try:
    _status = {handler}(_event, _Context()).get("statusCode")
except Exception as _exc:  # a job refused, an empty batch: the answer's kind is reported
    _status = type(_exc).__name__
_t3 = time.perf_counter(); _c3 = time.process_time()
import json, sys
_third = sorted({{n.split(".")[0] for n in sys.modules}} - set(sys.stdlib_module_names) - {{"portico", "app"}})
print("BENCH " + json.dumps({{"import_s": _t1 - _t0, "import_cpu_s": _c1 - _c0, "invoke_s": _t3 - _t2,
    "invoke_cpu_s": _c3 - _c2, "status": _status, "third_party": [n for n in _third if not n.startswith("_")]}}))
"""


def _app_load(app: Path) -> str:
    return (
        "import importlib.util as _u\n"
        f"_s = _u.spec_from_file_location('app', {str(app)!r}); _m = _u.module_from_spec(_s); _s.loader.exec_module(_m)"
    )


def _env(service: str) -> dict[str, str]:
    """The functions' environment (template Globals), with every AWS call pointed at nothing: a
    closed local port, no retries, dummy credentials. The measured requests make no AWS call."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "POWERTOOLS_"))}
    return {
        **keep,
        "PORTICO_STAGE": "dev",
        "TABLE_NAME": "portico-bench",
        "IDEMPOTENCY_TABLE_NAME": "portico-bench-idempotency",
        "KMS_KEY_ID": "alias/portico-bench",
        "SENDER_EMAIL": "no-reply@example.com",
        "PUBLIC_URL": "https://app.example.com",
        "CAPTCHA_VERIFY_URL": "",
        "CAPTCHA_SECRET": "",
        "PAYMENT_GATEWAY": "test",
        "POWERTOOLS_METRICS_NAMESPACE": "Portico",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": service,
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }


def _mirror(source: Path, target: Path) -> None:
    """``target``: the tree of ``source`` with symlinks to its files, without bytecode."""
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        into = target / Path(folder).relative_to(source)
        into.mkdir(parents=True, exist_ok=True)
        for name in files:
            if not name.endswith((".pyc", ".pyo")):
                os.symlink(Path(folder) / name, into / name)


class Target:
    def __init__(self, name: str, load: Callable[[Path], str], handler: str, event: dict[str, Any], service: str):
        self.name, self._load, self.handler, self.event, self.service = name, load, handler, event, service

    def code(self, functions: Path) -> str:
        return PROBE.format(load=self._load(functions), handler=self.handler, event=self.event)


def functions() -> dict[str, str]:
    """The template's functions (by their folder under functions/) and the kind of event that
    invokes them: ``http`` (HTTP API), ``schedule`` or ``sqs``."""
    from infra.local.cfn import load_yaml

    found: dict[str, str] = {}
    for declared in load_yaml(ROOT / "template.yaml")["Resources"].values():
        if declared.get("Type") != "AWS::Serverless::Function":
            continue
        properties = declared["Properties"]
        name = Path(str(properties["CodeUri"])).name
        kinds = {str(e.get("Type")) for e in (properties.get("Events") or {}).values()}
        found[name] = "http" if "HttpApi" in kinds else "sqs" if "SQS" in kinds else "schedule"
    return dict(sorted(found.items()))


FLOORS = {"http": "floor", "schedule": "floor_no_http", "sqs": "floor_no_http"}
EVENTS = {"http": HTTP_EVENT, "schedule": JOBS_EVENT, "sqs": SQS_EVENT}


def targets() -> list[Target]:
    found = [
        Target("floor", lambda _: FLOOR_HTTP, "handler", HTTP_EVENT, "floor"),
        Target("floor_no_http", lambda _: FLOOR_JOBS, "handler", JOBS_EVENT, "floor"),
    ]
    for name, kind in functions().items():
        found.append(
            Target(
                name,
                lambda functions, name=name: _app_load(functions / name / "app.py"),
                "_m.lambda_handler",
                EVENTS[kind],
                name,
            )
        )
    return found


def _run(target: Target, *, cached: bool, paths: dict[str, Path]) -> dict[str, Any]:
    env = _env(target.service)
    env["PYTHONPATH"] = f"{paths['ours']}:{paths['site']}"
    flags = ["-S", "-P"] if cached else ["-S", "-P", "-B"]
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *flags, "-c", target.code(paths["functions"])],
        env=env,
        capture_output=True,
        text=True,
        cwd=paths["cwd"],
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in out.stdout.splitlines() if line.startswith("BENCH ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{target.name} probe failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][6:])
    result["process_wall_s"] = wall
    result["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def measure(runs: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """``runs`` interleaved rounds of every target in both conditions, after one warm-up round."""
    compileall.compile_dir(str(OURS), quiet=1)
    compileall.compile_dir(str(ROOT / "functions"), quiet=1)
    mirror = Path(tempfile.mkdtemp(prefix="portico-bench-nopyc-"))
    try:
        started = time.perf_counter()
        _mirror(SITE, mirror / "site-packages")
        _mirror(OURS, mirror / "ours")
        _mirror(ROOT / "functions", mirror / "functions")
        (mirror / "cwd").mkdir()  # an empty working directory: nothing there shadows a module
        log(f"  no-bytecode mirror of site-packages and our code built in {time.perf_counter() - started:.1f}s")
        paths = {
            True: {"ours": OURS, "site": SITE, "functions": ROOT / "functions", "cwd": mirror / "cwd"},
            False: {
                "ours": mirror / "ours",
                "site": mirror / "site-packages",
                "functions": mirror / "functions",
                "cwd": mirror / "cwd",
            },
        }
        found = targets()
        samples: dict[bool, dict[str, list[dict[str, Any]]]] = {True: {}, False: {}}
        failed: dict[str, str] = {}
        for round_ in range(-1, runs):  # round -1: warm-up, discarded
            shift = max(round_, 0) % len(found)
            order = found[shift:] + found[:shift]
            for target in order:
                if target.name in failed:
                    continue
                for cached in (True, False):
                    try:
                        sample = _run(target, cached=cached, paths=paths[cached])
                    except RuntimeError as exc:
                        if target.name.startswith("floor"):
                            raise
                        failed[target.name] = str(exc)[-1500:]  # a function that does not import: reported
                        log(f"  {target.name} failed to start, left out: {str(exc).splitlines()[-1]}")
                        break
                    if round_ >= 0:
                        samples[cached].setdefault(target.name, []).append(sample)
            if round_ >= 0:
                log(f"  cold-start round {round_ + 1}/{runs} done ({time.perf_counter() - started:.0f}s)")
        for by_target in samples.values():
            for name in failed:
                by_target.pop(name, None)
        report = summarise(samples)
        report["failed"] = failed
        return report
    finally:
        shutil.rmtree(mirror, ignore_errors=True)


def _series(samples: list[dict[str, Any]], key: str) -> list[float]:
    return [float(s[key]) for s in samples]


def summarise(samples: dict[bool, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    kinds = functions()
    report: dict[str, Any] = {"budget_ratio": BUDGET, "event_kinds": kinds, "conditions": {}}
    for cached, by_target in samples.items():
        condition: dict[str, Any] = {}
        for name, runs in by_target.items():
            floor_name = FLOORS[kinds[name]] if name in kinds else name
            floor = by_target[floor_name]
            entry: dict[str, Any] = {
                "import_wall_s": Spread.of(_series(runs, "import_s")).as_dict(),
                "import_cpu_s": Spread.of(_series(runs, "import_cpu_s")).as_dict(),
                "first_invocation_wall_s": Spread.of(_series(runs, "invoke_s")).as_dict(),
                "first_invocation_cpu_s": Spread.of(_series(runs, "invoke_cpu_s")).as_dict(),
                "process_cpu_s": Spread.of(_series(runs, "process_cpu_s")).as_dict(),
                "first_invocation_status": runs[0]["status"],
                "third_party": runs[0]["third_party"],
            }
            if not name.startswith("floor"):
                entry["floor"] = floor_name
                entry["vs_floor_import_wall"] = RatioVerdict.of(
                    _series(runs, "import_s"), _series(floor, "import_s"), BUDGET
                ).as_dict()
                entry["vs_floor_import_cpu"] = RatioVerdict.of(
                    _series(runs, "import_cpu_s"), _series(floor, "import_cpu_s"), BUDGET
                ).as_dict()
                import_plus_first = [r["import_s"] + r["invoke_s"] for r in runs]
                floor_plus_first = [r["import_s"] + r["invoke_s"] for r in floor]
                entry["vs_floor_import_and_first_invocation_wall"] = RatioVerdict.of(
                    import_plus_first, floor_plus_first, BUDGET
                ).as_dict()
            condition[name] = entry
        report["conditions"]["cached_bytecode" if cached else "no_bytecode"] = condition
    return report
