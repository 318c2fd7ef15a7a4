"""The error model as a client sees it: status, problem+json shape, stable codes, no echo."""

import base64
import json

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from pydantic import BaseModel, ConfigDict

from portico import access, errors, http


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    count: int


app = http.resolver()


@app.post("/things")
@access.public
def create(body: Body) -> dict:
    return {"name": body.name}


@app.post("/conflict")
@access.public
def conflict() -> dict:
    raise errors.EmailTaken("taken")


@app.post("/throttled")
@access.public
def throttled() -> dict:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem")


@app.post("/timeout")
@access.public
def timeout() -> dict:
    raise ReadTimeoutError(endpoint_url="https://dynamodb")


@app.post("/bug")
@access.public
def bug() -> dict:
    raise RuntimeError("boom")


@app.post("/limited")
@access.public
def limited() -> dict:
    raise errors.TooManyRequests(42)


handler = http.entry_point(app)


class Context:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:test"
    aws_request_id = "req-1"


def call(path: str, body: str | bytes | None = None, *, content_type: str = "application/json", b64: bool = False):
    raw_body = body
    if isinstance(body, bytes) or b64:
        raw_body = base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode()
    event = {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": content_type} if content_type else {},
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "r",
            "routeKey": f"POST {path}",
            "stage": "$default",
        },
        "body": raw_body,
        "isBase64Encoded": isinstance(body, bytes) or b64,
    }
    answer = handler(event, Context())
    return answer["statusCode"], answer["headers"], json.loads(answer["body"]) if answer.get("body") else None


def assert_problem(headers, body, status, code):
    assert headers["Content-Type"] == "application/problem+json"
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]


def test_valid_body_passes_and_no_store():
    status, headers, body = call("/things", json.dumps({"name": "a", "count": 1}))
    assert status == 200 and body == {"name": "a"}
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "payload",
    ['{"name": "a", "count": 1', "not json", "[1, 2", '{"name": }'],
)
def test_malformed_json_is_400(payload):
    status, headers, body = call("/things", payload)
    assert status == 400
    assert_problem(headers, body, 400, "malformed_json")


def test_schema_failures_are_422_with_locations_and_no_echo():
    status, headers, body = call("/things", json.dumps({"name": "s3cr3t-Password!", "count": "7", "extra": "x"}))
    assert status == 422
    assert_problem(headers, body, 422, "validation_error")
    locs = sorted(tuple(e["loc"]) for e in body["errors"])
    assert locs == [("body", "count"), ("body", "extra")]
    assert "s3cr3t-Password!" not in json.dumps(body)


def test_missing_body_and_wrong_top_level_type_are_422():
    for payload in (None, json.dumps([1, 2]), json.dumps("text")):
        status, _headers, body = call("/things", payload)
        assert status == 422, payload
        assert body["code"] == "validation_error"


def test_invalid_utf8_is_400():
    status, headers, body = call("/things", b'{"name": "\xff\xfe", "count": 1}')
    assert status == 400
    assert_problem(headers, body, 400, "malformed_json")


def test_base64_json_body_is_accepted():
    status, _, body = call("/things", json.dumps({"name": "b", "count": 2}), b64=True)
    assert status == 200 and body == {"name": "b"}


def test_oversize_body_is_413_before_parsing():
    status, headers, body = call("/things", json.dumps({"name": "x" * (http.MAX_BODY_BYTES + 1), "count": 1}))
    assert status == 413
    assert_problem(headers, body, 413, "payload_too_large")


def test_non_json_content_type_is_415():
    status, headers, body = call("/things", "name=a", content_type="application/x-www-form-urlencoded")
    assert status == 415
    assert_problem(headers, body, 415, "unsupported_media_type")


def test_domain_error_maps_to_its_status_and_code():
    status, headers, body = call("/conflict", "{}")
    assert status == 409
    assert_problem(headers, body, 409, "email_taken")


@pytest.mark.parametrize("path", ["/throttled", "/timeout"])
def test_aws_failures_are_503(path):
    status, headers, body = call(path, "{}")
    assert status == 503
    assert_problem(headers, body, 503, "service_unavailable")
    assert headers["Retry-After"] == "1"


def test_unexpected_error_is_problem_json_500():
    status, headers, body = call("/bug", "{}")
    assert status == 500
    assert_problem(headers, body, 500, "internal_error")
    assert "boom" not in json.dumps(body)


def test_unknown_route_is_404_not_found():
    status, headers, body = call("/nowhere", "{}")
    assert status == 404
    assert_problem(headers, body, 404, "not_found")


def test_rate_limited_carries_retry_after():
    status, headers, body = call("/limited", "{}")
    assert status == 429
    assert headers["Retry-After"] == "42"
    assert body["code"] == "too_many_requests"


def test_route_without_access_declaration_fails_closed():
    """A route that forgets to say who may call it is refused when its module loads: it can never
    be served (and an unknown path is a 404, not a way around the check)."""
    other = http.resolver()
    with pytest.raises(TypeError, match="declare who may call it"):

        @other.post("/undeclared")
        def undeclared() -> dict:
            return {"leaked": True}

    status, headers, body = call("/undeclared", "{}")
    assert status == 404 and "leaked" not in json.dumps(body)
    assert_problem(headers, body, 404, "not_found")
