"""The local stack as a test sees it: a ``python -m infra.local`` subprocess and an HTTP client.

Used by the end-to-end tests (``tests/e2e``, Portico's API over HTTP) and by the local stack's own
tests (``tests/infra``). Only the standard library talks HTTP here (``http.client``), so the tests
add no dependency. The fixtures that start and stop stacks are in ``tests/conftest.py``
(``local_stack_factory``, ``local_stack``) and ``tests/infra/conftest.py`` (``fixture_stack``).
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "infra" / "fixtures"  # the local stack's own fixture template
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_READY = re.compile(r"Ready: .*? on (http://[\d.]+:\d+)")


@dataclass
class Reply:
    """One HTTP answer: status, headers (case-insensitive; ``get_all`` for repeats), body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode()


class LocalStack:
    """A running ``python -m infra.local`` and helpers to talk to it."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path):
        self.process = process
        self.url = url
        self.log_path = log_path
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    # ------------------------------------------------------------------ HTTP

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        timeout: float = 30.0,
    ) -> Reply:
        """Send one request on a fresh connection; ``json`` is encoded with its content type."""
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        if json is not None:
            body = jsonlib.dumps(json)
            if not any(name.lower() == "content-type" for name, _ in pairs):
                pairs.append(("Content-Type", "application/json"))
        payload = body.encode() if isinstance(body, str) else body
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in pairs:
                connection.putheader(name, value)
            if payload is not None:
                connection.putheader("Content-Length", str(len(payload)))
            connection.endheaders(payload)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Reply:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Reply:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)

    # ------------------------------------------------------------------ local-only routes

    def outbox(self, to: str | None = None) -> list[dict[str, Any]]:
        """Sent emails and SMS, newest first (``GET /_local/outbox``)."""
        path = "/_local/outbox" + (f"?to={quote(to, safe='')}" if to else "")
        reply = self.get(path)
        assert reply.status == 200, reply.text
        return reply.json["messages"]

    def now(self) -> str:
        """The stack's clock (``GET /_local/clock``)."""
        return self.get("/_local/clock").json["now"]

    def advance_clock(self, seconds: float) -> str:
        """Move every handler's time forward; returns the new ``now``."""
        reply = self.post("/_local/clock", json={"advance_seconds": seconds})
        assert reply.status == 200, reply.text
        return reply.json["now"]

    def run_job(self, name: str) -> Reply:
        """Run a scheduled job now (``POST /_local/jobs/{name}``)."""
        return self.post(f"/_local/jobs/{quote(name, safe='')}")

    # ------------------------------------------------------------------ process

    def output(self) -> str:
        """Everything the stack printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> int:
        """Stop it as a developer does (Ctrl-C reaches the whole process group); the exit status."""
        if self.running:
            os.killpg(self.process.pid, signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise AssertionError(f"the local stack ignored signal {signum}:\n{self.output()}") from None
        return self.process.returncode


def start_local_stack(
    template: Path | str = REPO_ROOT / "template.yaml",
    *,
    log_path: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> LocalStack:
    """Start ``python -m infra.local`` on a free port and wait (60 s at most) for its Ready line.

    ``--port 0`` lets the kernel pick the port and the Ready line names it, so two stacks (or
    two test runs) never race for one.
    """
    # Without demo data unless asked for (``env={"SEED": "1"}``): tests make their own.
    environment = {**os.environ, "SEED": "0", "LOG": "json", **(env or {})}
    pythonpath = [str(REPO_ROOT / "layers" / "common" / "python"), str(REPO_ROOT)]
    if environment.get("PYTHONPATH"):
        pythonpath.append(environment["PYTHONPATH"])
    environment["PYTHONPATH"] = os.pathsep.join(pythonpath)
    environment["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "infra.local", "--port", "0", "--template", str(template), *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        found = _READY.search(log_path.read_text(errors="replace"))
        if found:
            return LocalStack(process, found.group(1), log_path)
        if process.poll() is not None:
            raise AssertionError(f"the local stack exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise AssertionError(f"the local stack was not Ready within {READY_TIMEOUT:.0f} s:\n{log_path.read_text()}")


StackFactory = Callable[..., LocalStack]
"""``start(template=..., args=(), env=None) -> LocalStack``, the ``local_stack_factory`` fixture."""
