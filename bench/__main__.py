"""``make bench``: Portico's performance budgets, measured on this machine, and
what the measured work would cost on AWS. See bench/README.md for the method and the caveats.

Sections (``BENCH_SECTIONS``, comma-separated, default all, in this order):

* ``cold``: each function's import and first invocation in fresh interpreters against the
  dependency floor, with and without cached bytecode (bench/cold.py); budget 1.3x the floor;
* ``argon2``: Argon2id hash and verify at the chosen parameters and at OWASP's minimum
  (bench/argon.py); budget 100 ms;
* ``policy``: one password policy check of 128 characters (zxcvbn loads on first use);
* ``warm``: p50/p99 of the main flows in process on the emulated stack, with their AWS calls and
  DynamoDB units (bench/warm.py);
* ``jobs``: password-expiry and subscription-renewal at growing table sizes, 1% due (bench/jobs.py);
* ``cost``: dollars per 1,000 monthly active users, next to Amazon Cognito (bench/cost.py).

Settings: ``BENCH_RUNS`` (cold rounds and Argon2 runs, default 15), ``BENCH_ITERATIONS`` (warm
requests per flow, default 200), ``BENCH_RECORDED`` (requests per flow recorded for AWS usage,
default 5), ``BENCH_JOB_SIZES`` (default ``1000,10000``), ``BENCH_DUE_FRACTION`` (default 0.01),
``BENCH_QUICK=1`` (3 runs, 20 iterations, 2 recorded, job size 1000: minutes, for development),
``BENCH_OUT`` (the results file; default ``bench/results/<date>-<host>.json``, never overwriting
an existing one), ``BENCH_DEADLINE_MINUTES`` (default 14: the cold starts always run all their
rounds; then each warm flow gets an equal share of the time left, stopping early after at least 50
requests, and job sizes after the first are skipped once it has passed; the results say so).

Budgets are reported (under, over, or within the noise of the measurement), never enforced: the
exit status is 0 unless a section failed to run (2).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = int(os.environ.get("BENCH_RUNS", "3" if QUICK else "15"))
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "20" if QUICK else "200"))
RECORDED = int(os.environ.get("BENCH_RECORDED", "2" if QUICK else "5"))
JOB_SIZES = [int(x) for x in os.environ.get("BENCH_JOB_SIZES", "1000" if QUICK else "1000,10000").split(",") if x]
DUE_FRACTION = float(os.environ.get("BENCH_DUE_FRACTION", "0.01"))
SECTIONS = [s.strip() for s in os.environ.get("BENCH_SECTIONS", "cold,argon2,policy,warm,jobs,cost").split(",")]
DEADLINE_MINUTES = float(os.environ.get("BENCH_DEADLINE_MINUTES", "14"))
JOBS_RESERVE_SECONDS = 120  # what the warm flows leave for the job scaling
STARTED = time.perf_counter()
DEADLINE = STARTED + DEADLINE_MINUTES * 60

warnings.filterwarnings("ignore", message="No application metrics to publish")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def handlers_quiet() -> Iterator[None]:
    """The handlers log and emit metrics on stdout (as in Lambda); sent to /dev/null while the
    emulated stack runs, so that stdout carries the summary alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def policy() -> dict[str, float]:
    from portico.security.policy import PasswordPolicy, check_password

    password = ("Vivid-Harbor-Quartz-Lantern-42!" * 5)[:128]
    personal = ("Ada Lovelace", "ada@example.com", "Engines")
    start = time.perf_counter()
    check_password(password, PasswordPolicy(), personal=personal)
    first = time.perf_counter() - start
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        check_password(password, PasswordPolicy(), personal=personal)
        samples.append(time.perf_counter() - start)
    return {"first_call_ms": round(first * 1000, 1), "median_ms_128_chars": round(statistics.median(samples) * 1000, 1)}


def cold() -> dict[str, Any]:
    from bench import cold as cold_starts

    return cold_starts.measure(RUNS, log=log)


def argon2() -> dict[str, Any]:
    from bench import argon

    return argon.measure(RUNS)


def warm() -> dict[str, Any]:
    from bench import stack
    from bench import warm as warm_flows

    with handlers_quiet(), stack.world() as world:
        return warm_flows.measure(world, ITERATIONS, RECORDED, log=log, deadline=DEADLINE - JOBS_RESERVE_SECONDS)


def jobs() -> dict[str, Any]:
    from bench import jobs as job_scaling

    with handlers_quiet():
        return job_scaling.measure(JOB_SIZES, DUE_FRACTION, log=log, deadline=DEADLINE)


def cost(report: dict[str, Any]) -> dict[str, Any]:
    from bench import cost as cost_model

    if "warm" not in report:
        raise RuntimeError("the cost model needs the warm section (BENCH_SECTIONS)")
    return cost_model.model(
        report["warm"],
        report.get("cold_start", {}),
        cost_model.load("prices.json"),
        cost_model.load("profile.json"),
        cost_model.lambda_config(),
    )


def _out_path(date: str) -> Path:
    if os.environ.get("BENCH_OUT"):
        return Path(os.environ["BENCH_OUT"])
    base = ROOT / "bench" / "results" / f"{date[:10]}-{platform.node() or 'host'}"
    path = base.with_suffix(".json")
    if path.exists():  # results already written today stay as they are
        path = Path(f"{base}-{date[11:13]}{date[14:16]}.json")
    return path


def main() -> int:
    started = STARTED
    date = datetime.now(UTC).isoformat(timespec="seconds")
    report: dict[str, Any] = {
        "date": date,
        "machine": {
            "host": platform.node(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "runs": RUNS,
            "iterations": ITERATIONS,
            "recorded": RECORDED,
            "job_sizes": JOB_SIZES,
            "due_fraction": DUE_FRACTION,
            "quick": QUICK,
            "deadline_minutes": DEADLINE_MINUTES,
            "sections": SECTIONS,
        },
        "errors": {},
        "section_seconds": {},
    }
    steps: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
        "cold": ("cold_start", cold),
        "argon2": ("argon2id", argon2),
        "policy": ("password_policy", policy),
        "warm": ("warm", warm),
        "jobs": ("job_scaling", jobs),
        "cost": ("cost_model", lambda: cost(report)),
    }
    for section in SECTIONS:
        key, step = steps[section]
        log(f"{section}...")
        began = time.perf_counter()
        try:
            report[key] = step()
        except Exception as exc:  # one section's failure must not lose the others
            report["errors"][section] = f"{type(exc).__name__}: {exc}"
            log(traceback.format_exc())
        report["section_seconds"][section] = round(time.perf_counter() - began, 1)
        log(f"{section} done in {time.perf_counter() - began:.0f}s")
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    out = _out_path(date)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    from bench.summary import render

    print(render(report))
    print(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 2 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
