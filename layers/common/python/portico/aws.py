"""boto3 clients: one per service and container, created on first use.

boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the local stack points every client at the
embedded emulation without a code change. Timeouts are short and retries bounded: a request that
cannot reach AWS in time fails with 503 instead of hanging until the Lambda timeout.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)
_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                found = _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
    return found


def reset() -> None:
    """Forget the clients (tests switch endpoints and credentials between cases)."""
    with _lock:
        _clients.clear()
