"""The embedded AWS emulation: moto's server, in this process, on a loopback port.

Handlers in worker processes reach it through ``AWS_ENDPOINT_URL`` (boto3 honours it natively);
the front reads what was sent (the outbox) straight from moto's in-process backends.

moto's backends take no locks: two concurrent conditional writes to one DynamoDB item can both
succeed, which DynamoDB never allows. A race test against the local stack would then blame the
application for moto's behaviour. ``infra.local.atomic`` (shared with the integration tests)
makes DynamoDB's item operations atomic; on top of it, requests to the emulation are served one
at a time, so every service (SES, SNS, KMS too) sees calls in one order, the order the outbox
reports. Each call takes a millisecond or two, and handlers still run concurrently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

import infra.local.atomic  # noqa: F401 - importing it makes moto's DynamoDB writes atomic

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Serialized:
    """A WSGI wrapper that lets one request at a time into the wrapped application."""

    def __init__(self, app: WsgiApp):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            # Materialize the body under the lock: a WSGI body may be produced lazily.
            result = self._app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


class EmbeddedAws:
    """moto's server on ``127.0.0.1`` (port 0 picks a free one), in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        # One line per AWS call would drown the request log.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = _Serialized(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="moto", daemon=True
        )

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
