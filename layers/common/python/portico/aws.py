"""boto3 clients: one per service and container, all from one boto3 session.

boto3 reads ``AWS_ENDPOINT_URL`` itself when a client is created, which is how the local stack
points every client at the embedded emulation without a code change; tests that switch endpoints
or credentials call :func:`reset`, and the next client is built from a new session (a session
keeps the credentials it resolved first).

One session for every client: a second client from the same session reuses its loaded endpoint
data and credentials (measured on the 2-core development VM: a first DynamoDB client costs
115-290 ms, a second service from the same session 20-60 ms, from a new session 185-255 ms).

:func:`prewarm` creates a handler's clients during Lambda's init phase instead of in its first
request (about 180 ms for the DynamoDB client on the development VM; the init phase is widely
measured to get more CPU than the memory size grants, which AWS does not document); handler
modules call it through :func:`portico.boot.ready`. Outside Lambda (tests, the bench) it does nothing: clients are then
made on first use, after a test set its endpoint.

Timeouts and retries -- every AWS call of a request is bounded, so a request that cannot reach AWS
answers 503 (:mod:`portico.http`) well before the function's timeout (10 s, ``template.yaml``)
and API Gateway's 30 s:

* ``connect_timeout`` 1 s: a TCP + TLS handshake to a regional endpoint takes milliseconds;
* ``read_timeout`` 2 s per socket read: DynamoDB answers in milliseconds, KMS, SES and SNS in
  well under a second;
* ``retries``: standard mode, ``total_max_attempts`` 2 (the call and one retry), with its jittered
  backoff of at most 1 s before the retry and its retry quota (under a wide outage retries stop).

Worst case of one call: 2 attempts x (1 s connect + 2 s read) + 1 s backoff = 7 s. A request stops
at its first failing call, so one whose AWS dependency is down answers 503 after at most 7 s plus
what it did before (at most a password hash and a few fast calls), inside the 10 s timeout with
about 2-3 s to spare. botocore's defaults (60 s connect and read, legacy mode's 5 attempts, 10 for
DynamoDB) would let one call outlive the function, and so did the previous bounds here (2 s, 5 s,
``max_attempts`` 3, which botocore counts as retries: 4 x 7 s + 1 + 2 + 4 s of backoff = 35 s).
The scheduled jobs (300 s) make many calls in sequence; the same bounds hold for each of them.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 2
TOTAL_MAX_ATTEMPTS = 2
_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
)
_clients: dict[str, Any] = {}
_session: boto3.session.Session | None = None
_lock = threading.Lock()


def client(service: str) -> Any:
    return _clients.get(service) or _create(service)


def _create(service: str) -> Any:
    with _lock:  # a boto3 session is not thread-safe; clients are
        found = _clients.get(service)
        if found is None:
            global _session
            if _session is None:
                _session = boto3.session.Session()
            found = _clients[service] = _session.client(service, config=_CONFIG)
        return found


def prewarm(*services: str) -> None:
    """Create these clients now when running in Lambda (its init phase); elsewhere, nothing. Creating
    a client makes no AWS call (and needs no permission): the first call opens the connection."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        for service in services:
            _create(service)


def reset() -> None:
    """Forget the clients and their session (tests switch endpoints and credentials between cases)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
