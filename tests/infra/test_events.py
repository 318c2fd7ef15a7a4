"""API Gateway's own rules, in process: route selection and reading a function's result."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from infra.local.cfn import Route
from infra.local.events import InvalidResponse, Router, from_lambda_result, is_textual, request_time


def _route(key: str) -> Route:
    method, _, path = key.partition(" ")
    return Route(method, path, "Fn", Path("."), "app.handler")


ROUTER = Router(
    _route(key)
    for key in (
        "GET /users/{id}",
        "GET /users/me",
        "POST /users/me",
        "ANY /users/{id}/files/{proxy+}",
        "GET /users/{id}/files/readme",
        "ANY /things/{id}",
        "DELETE /things/{id}",
        "GET /",
    )
)


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/users/me", "GET /users/me", {}),
        ("GET", "/users/42", "GET /users/{id}", {"id": "42"}),
        ("GET", "/users/a%20b", "GET /users/{id}", {"id": "a b"}),
        ("GET", "/users/a%2Fb", "GET /users/{id}", {"id": "a/b"}),
        ("GET", "/users/7/files/readme", "GET /users/{id}/files/readme", {"id": "7"}),
        ("PUT", "/users/7/files/a/b", "ANY /users/{id}/files/{proxy+}", {"id": "7", "proxy": "a/b"}),
        ("DELETE", "/things/1", "DELETE /things/{id}", {"id": "1"}),
        ("PATCH", "/things/1", "ANY /things/{id}", {"id": "1"}),
        ("GET", "/", "GET /", {}),
    ],
)
def test_the_most_specific_route_wins(method: str, path: str, route_key: str, parameters: dict[str, str]):
    match = ROUTER.match(method, path)
    assert match is not None
    assert (match.route.route_key, match.path_parameters) == (route_key, parameters)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/users/me"),  # known path, no such method
        ("GET", "/users"),
        ("GET", "/users/"),  # an empty segment is not a parameter
        ("GET", "/users/1/files"),  # {proxy+} needs at least one segment
        ("GET", "/users/me/extra"),
    ],
)
def test_no_route(method: str, path: str):
    assert ROUTER.match(method, path) is None


def test_default_route_takes_what_nothing_else_matches():
    router = Router([_route("GET /a"), Route("ANY", "$default", "Fn", Path("."), "app.handler")])
    assert router.match("GET", "/a").route.route_key == "GET /a"
    fallback = router.match("POST", "/anything")
    assert (fallback.route.route_key, fallback.path_parameters) == ("$default", {})


def test_a_result_with_status_code_is_a_response():
    response = from_lambda_result(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "application/json", "X-Count": 3, "X-Flag": True},
                "multiValueHeaders": {"X-Many": ["a", "b"]},
                "cookies": ["a=1"],
                "body": '{"ok": true}',
            }
        )
    )
    assert response.status == 201
    assert response.headers == [
        ("Content-Type", "application/json"),
        ("X-Count", "3"),
        ("X-Flag", "true"),
        ("X-Many", "a"),
        ("X-Many", "b"),
        ("Set-Cookie", "a=1"),
    ]
    assert response.body == b'{"ok": true}'


def test_a_base64_body_is_decoded_and_a_missing_body_is_empty():
    encoded = base64.b64encode(b"\x00\x01").decode()
    assert (
        from_lambda_result(json.dumps({"statusCode": 200, "body": encoded, "isBase64Encoded": True})).body
        == b"\x00\x01"
    )
    assert from_lambda_result(json.dumps({"statusCode": 204})).body == b""


@pytest.mark.parametrize("result", [[1, 2], "text", {"no": "status"}, None])
def test_any_other_json_is_a_200_with_that_json(result):
    response = from_lambda_result(json.dumps(result))
    assert (response.status, json.loads(response.body)) == (200, result)
    assert response.header("content-type") == "application/json"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": True},
        {"statusCode": 700},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "headers": {"X": {"nested": 1}}},
        {"statusCode": 200, "headers": ["X"]},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
    ],
)
def test_malformed_results_are_refused(result):
    with pytest.raises(InvalidResponse):
        from_lambda_result(json.dumps(result))


@pytest.mark.parametrize(
    ("content_type", "textual"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/csv", True),
        ("application/xml", True),
        ("application/octet-stream", False),
        ("application/x-www-form-urlencoded", False),
        ("image/png", False),
        (None, False),
    ],
)
def test_which_bodies_api_gateway_passes_as_text(content_type: str | None, textual: bool):
    assert is_textual(content_type) is textual


def test_request_time_has_api_gateways_format():
    assert request_time(1584039838.5) == "12/Mar/2020:19:03:58 +0000"
