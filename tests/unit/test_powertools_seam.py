"""What Portico relies on in Powertools' resolver, asserted one by one (see ``portico.http``).

Portico's access check must run before anything else of a request, and Powertools validates a
request before its middlewares. ``portico.http.Resolver`` bridges that with public API only, on
these assumptions; each test names the one it guards, so that a Powertools upgrade that changes
one fails here, by name, rather than quietly opening a route.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from portico import access, http


class Body(BaseModel):
    name: str


def _event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **(headers or {})},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "seam",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


class Context:
    function_name = "seam"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:seam"
    aws_request_id = "seam"


def _answer(handler: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    result = handler(_event(*args, **kwargs), Context())
    return result["statusCode"], json.loads(result["body"] or "null")


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_every_route_decorator_goes_through_route(method):
    """Assumed: ``get``, ``post``, ``put``, ``patch`` and ``delete`` register through ``route()``,
    which ``portico.http.Resolver`` overrides to refuse routes without an access declaration."""
    app = http.resolver()
    with pytest.raises(TypeError, match="declare who may call it"):
        getattr(app, method)("/undeclared")(lambda: {})


def test_a_registered_route_is_found_by_its_own_function():
    """Assumed: ``app.context["_route"].func`` is the very function registered (the access check
    finds its declaration there, and tells Powertools' own not-found route apart by it)."""
    app = http.resolver()
    seen: list[Any] = []

    @app.get("/seam")
    @access.public
    def seam() -> dict[str, str]:
        seen.append(app.context.get("_route"))
        return {"ok": "yes"}

    handler = http.entry_point(app)
    assert _answer(handler, "GET", "/seam") == (200, {"ok": "yes"})
    assert seen and seen[0].func is seam and seam in app.declared


def test_a_validation_error_reaches_the_handler_with_the_route_before_any_middleware():
    """Assumed: request validation runs before the middlewares, and its error reaches the
    exception handlers with ``_route`` and ``_route_args`` in the context: so an anonymous caller
    with a bad body is refused as anonymous (401), and learns nothing about the schema."""
    app = http.resolver()

    @app.post("/seam/<thing>")
    @access.user
    def seam(thing: str, body: Body) -> dict[str, str]:
        return {"thing": thing}

    handler = http.entry_point(app)
    status, body = _answer(handler, "POST", "/seam/x", {"name": 42})
    assert (status, body["code"]) == (401, "unauthenticated"), body
    status, body = _answer(handler, "POST", "/seam/x", {"name": "valid"})
    assert (status, body["code"]) == (401, "unauthenticated"), body


def test_the_context_is_cleared_between_requests():
    """Assumed: Powertools clears ``app.context`` after every request, so what the access check
    granted one request is never seen by the next."""
    app = http.resolver()

    @app.get("/open")
    @access.public
    def open_route() -> dict[str, bool]:
        return {"granted": "granted" in app.context}

    @app.get("/closed")
    @access.user
    def closed() -> dict[str, str]:
        return {"leaked": "yes"}

    handler = http.entry_point(app)
    assert _answer(handler, "GET", "/open") == (200, {"granted": True})
    status, body = _answer(handler, "GET", "/closed")
    assert (status, body["code"]) == (401, "unauthenticated") and "leaked" not in body


def test_an_unknown_path_is_the_not_found_route_and_needs_no_check():
    """Assumed: a path no route serves goes through the custom not-found handler, with a route in
    the context whose function is not one Portico registered."""
    app = http.resolver()

    @app.get("/known")
    @access.user
    def known() -> dict[str, str]:
        return {}

    handler = http.entry_point(app)
    status, body = _answer(handler, "GET", "/unknown", headers={"authorization": "Bearer ptu_nothing"})
    assert (status, body["code"]) == (404, "not_found")
