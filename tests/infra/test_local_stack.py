"""The local stack, seen from a client: routing, events, responses, outbox, clock, jobs, lifecycle.

Runs against the fixture template (``fixtures/template.yaml``), whose handlers report what they
received, so each test can assert what API Gateway would have delivered.
"""

from __future__ import annotations

import base64
import signal
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from infra.local.cfn import Template
from tests.localstack import FIXTURES, REPO_ROOT, LocalStack, Reply, StackFactory

MiB = 1024 * 1024


def _problem(reply: Reply, status: int, code: str) -> dict:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    problem = reply.json
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == "about:blank"
    return problem


def _living_members(group: int) -> list[int]:
    """Processes of a process group that are not zombies (a zombie waits for init to reap it)."""
    living = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgid = fields[0], int(fields[3])
        if pgid == group and state != "Z":
            living.append(int(stat.parent.name))
    return living


def _group_gone(group: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while _living_members(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------------- events


def test_path_query_headers_and_cookies_arrive_as_api_gateway_sends_them(fixture_stack: LocalStack):
    reply = fixture_stack.get(
        "/echo/hello%20w%C3%B6rld?b=1&a=x%20y&b=2&empty=",
        headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "session=abc; theme=dark"), ("User-Agent", "e2e")],
    )
    assert reply.status == 200, reply.text
    event = reply.json["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{name}"
    assert event["pathParameters"] == {"name": "hello wörld"}
    assert event["rawQueryString"] == "b=1&a=x%20y&b=2&empty="
    assert event["queryStringParameters"] == {"a": "x y", "b": "1,2", "empty": ""}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["user-agent"] == "e2e"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["routeKey"] == "GET /echo/{name}"
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/hello wörld",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "e2e",
    }
    assert context["requestId"] == reply.headers["Apigw-Requestid"]
    assert abs(context["timeEpoch"] / 1000 - _moment(fixture_stack.now())) < 5


def test_an_encoded_slash_stays_inside_its_path_parameter(fixture_stack: LocalStack):
    event = fixture_stack.get("/echo/a%2Fb").json["event"]
    assert event["pathParameters"] == {"name": "a/b"}


def test_a_request_without_query_or_path_parameters_omits_them(fixture_stack: LocalStack):
    event = fixture_stack.get("/echo/static").json["event"]
    assert event["routeKey"] == "GET /echo/static", "a static segment beats {name}"
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "cookies" not in event


def test_greedy_path_and_any_method(fixture_stack: LocalStack):
    event = fixture_stack.delete("/anything/a/b%20c/d").json["event"]
    assert event["routeKey"] == "ANY /anything/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b c/d"}
    assert event["requestContext"]["http"]["method"] == "DELETE"


def test_json_body_is_text_and_binary_body_is_base64(fixture_stack: LocalStack):
    text = fixture_stack.post("/echo", json={"name": "Zoë"}).json["event"]
    assert text["isBase64Encoded"] is False
    assert text["body"] == '{"name": "Zo\\u00eb"}'

    raw = bytes([0, 1, 254, 255])
    binary = fixture_stack.post("/echo", body=raw, headers={"Content-Type": "application/octet-stream"}).json["event"]
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == raw

    invalid_utf8 = fixture_stack.post("/echo", body=b"\xff\xfe", headers={"Content-Type": "text/plain"}).json["event"]
    assert invalid_utf8["isBase64Encoded"] is True

    untyped = fixture_stack.post("/echo", body=b"{}").json["event"]
    assert untyped["isBase64Encoded"] is True, "API Gateway base64-encodes a body without Content-Type"


def test_handler_gets_the_lambda_context_and_its_own_environment(fixture_stack: LocalStack):
    reply = fixture_stack.get("/echo/context").json
    context, environment = reply["context"], reply["environment"]
    assert context["function_name"] == "fixture-test-echo"
    assert context["memory_limit_in_mb"] == "256"
    assert context["invoked_function_arn"] == "arn:aws:lambda:eu-central-1:123456789012:function:fixture-test-echo"
    assert context["aws_request_id"]
    assert 0 < context["remaining_ms"] <= 5000
    assert environment["TABLE_NAME"] == "fixture-test"
    assert environment["SENDER_EMAIL"] == "sender@fixture.example"
    assert environment["FUNCTION_ROLE"] == "echo", "the function's own variable overrides Globals"
    assert environment["PORTICO_LOCAL"] == "1"
    assert environment["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "fixture-test-echo"
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"


# ---------------------------------------------------------------------------------- responses


def test_binary_response_and_cookies(fixture_stack: LocalStack):
    reply = fixture_stack.get("/binary")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.body == bytes(range(256))
    assert reply.headers.get_all("Set-Cookie") == ["first=1; Path=/; HttpOnly", "second=2; Path=/"]


def test_a_result_without_status_code_is_a_200_with_that_json(fixture_stack: LocalStack):
    reply = fixture_stack.get("/plain")
    assert reply.status == 200
    assert reply.json == {"plain": True}


def test_unknown_route_and_wrong_method_are_problem_404s(fixture_stack: LocalStack):
    unknown = _problem(fixture_stack.get("/nowhere?secret=1"), 404, "not_found")
    assert unknown["title"] == "Not Found"
    assert unknown["detail"] == "No route for GET /nowhere"
    wrong_method = _problem(fixture_stack.delete("/echo/x"), 404, "not_found")
    assert wrong_method["detail"] == "No route for DELETE /echo/x"


def test_a_body_over_10_mib_is_refused_without_invoking_anything(fixture_stack: LocalStack):
    reply = fixture_stack.post("/email", body=b"x" * (10 * MiB + 1), headers={"Content-Type": "text/plain"})
    assert reply.status == 413
    assert reply.json == {"message": "Request Entity Too Large"}


def test_a_failing_handler_is_a_500_and_its_traceback_goes_to_the_console(fixture_stack: LocalStack):
    reply = fixture_stack.get("/boom")
    assert reply.status == 500
    assert reply.json == {"message": "Internal Server Error"}
    assert "RuntimeError: boom from the fixture" in fixture_stack.output()


def test_a_malformed_handler_result_is_a_500(fixture_stack: LocalStack):
    reply = fixture_stack.get("/garbage")
    assert reply.status == 500
    assert reply.json == {"message": "Internal Server Error"}


def test_a_handler_outliving_its_timeout_is_a_500(fixture_stack: LocalStack):
    reply = fixture_stack.get("/too-slow")
    assert reply.status == 500
    assert reply.json == {"message": "Internal Server Error"}
    assert "Task timed out after 1 seconds" in fixture_stack.output()


def test_a_crashed_worker_is_a_500_and_is_replaced(fixture_stack: LocalStack):
    assert fixture_stack.get("/crash").status == 500
    assert fixture_stack.get("/echo/after-crash").status == 200


def test_cors_as_configured_on_the_http_api(fixture_stack: LocalStack):
    origin = "http://localhost:5173"
    preflight = fixture_stack.request(
        "OPTIONS", "/echo", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert preflight.headers["Access-Control-Max-Age"] == "600"

    allowed = fixture_stack.get("/echo/x", headers={"Origin": origin})
    assert allowed.headers["Access-Control-Allow-Origin"] == origin
    assert allowed.headers["Access-Control-Expose-Headers"] == "X-Echo"
    other = fixture_stack.get("/echo/x", headers={"Origin": "https://evil.example"})
    assert other.headers["Access-Control-Allow-Origin"] is None


def test_the_request_log_has_no_query_string(fixture_stack: LocalStack):
    fixture_stack.get("/echo/logged?token=s3cr3t-value")
    output = fixture_stack.output()
    assert "GET /echo/logged 200" in output
    assert "s3cr3t-value" not in output


# ---------------------------------------------------------------------------------- AWS


def test_dynamodb_table_with_gsi_and_kms_key_from_the_template(fixture_stack: LocalStack):
    item_id = uuid.uuid4().hex
    value = uuid.uuid4().hex
    assert fixture_stack.put(f"/items/{item_id}", json={"value": value}).status == 201
    found = fixture_stack.get(f"/items/{item_id}").json
    assert found == {"id": item_id, "value": value, "same_value": [item_id]}
    assert fixture_stack.get("/items/missing").status == 404

    encrypted = fixture_stack.post("/encrypt", json={"secret": "JBSWY3DPEHPK3PXP"}).json
    assert encrypted == {"roundtrip": "JBSWY3DPEHPK3PXP", "ciphertext_differs": True}


def test_outbox_shows_email_and_sms_newest_first_with_clock_times(fixture_stack: LocalStack):
    address = f"Alice.{uuid.uuid4().hex[:8]}@Example.com"
    phone = f"+4915{uuid.uuid4().int % 10**9:09d}"
    sent = fixture_stack.post(
        "/email",
        json={
            "to": address,
            "subject": "Verify your email",
            "text": "Hello",
            "html": "<p>Hello</p>",
            "csv": "a,b\n1,2\n",
        },
    )
    assert sent.status == 200, sent.text
    fixture_stack.advance_clock(86400)
    before = _moment(fixture_stack.now())
    assert fixture_stack.post("/sms", json={"to": phone, "text": "Your code is 123456"}).status == 200
    after = _moment(fixture_stack.now())

    mine = [m for m in fixture_stack.outbox() if m["to"] in ([address], [phone])]
    assert [m["channel"] for m in mine] == ["sms", "email"], "newest first"
    sms, email = mine
    assert sms == {
        "message_id": sms["message_id"],
        "channel": "sms",
        "to": [phone],
        "subject": None,
        "text": "Your code is 123456",
        "html": None,
        "attachments": [],
        "sent_at": sms["sent_at"],
    }
    assert before <= _moment(sms["sent_at"]) <= after, "sent_at follows the advanced clock"
    assert _moment(sms["sent_at"]) - _moment(email["sent_at"]) >= 86400
    assert email["message_id"] == sent.json["message_id"]
    assert email["subject"] == "Verify your email"
    assert email["text"].strip() == "Hello"
    assert email["html"].strip() == "<p>Hello</p>"
    assert email["attachments"] == [{"filename": "export.csv", "content_type": "text/csv", "size": 8}]
    assert email["sent_at"].endswith("Z")

    assert [m["message_id"] for m in fixture_stack.outbox(to=address.lower())] == [email["message_id"]]
    assert [m["message_id"] for m in fixture_stack.outbox(to=phone)] == [sms["message_id"]]
    assert fixture_stack.outbox(to="nobody@example.com") == []


# ---------------------------------------------------------------------------------- clock


def test_advancing_the_clock_moves_handler_time(fixture_stack: LocalStack):
    before = fixture_stack.get("/time").json["timestamp"]
    now = fixture_stack.advance_clock(3600)
    after = fixture_stack.get("/time").json
    assert 3600 <= after["timestamp"] - before < 3600 + 5
    assert abs(_moment(after["now"]) - _moment(now)) < 5


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        '{"advance_seconds": -1}',
        '{"advance_seconds": "60"}',
        '{"advance_seconds": NaN}',
        '{"advance_seconds": true}',
        "{}",
        "[]",
    ],
)
def test_the_clock_refuses_what_is_not_a_finite_non_negative_number(fixture_stack: LocalStack, body: str):
    before = fixture_stack.now()
    reply = fixture_stack.post("/_local/clock", body=body, headers=JSON)
    problem = _problem(reply, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "advance_seconds"]
    assert _moment(fixture_stack.now()) - _moment(before) < 5


def test_the_clock_refuses_malformed_json(fixture_stack: LocalStack):
    _problem(fixture_stack.post("/_local/clock", body="{", headers=JSON), 400, "malformed_json")


# ---------------------------------------------------------------------------------- jobs


def test_running_a_scheduled_job_returns_its_summary(fixture_stack: LocalStack):
    reply = fixture_stack.run_job("demo")
    assert reply.status == 200, reply.text
    summary = reply.json
    assert summary["job"] == "demo"
    assert summary["input"] == {"job": "demo"}
    assert summary["processed"] == 3
    assert summary["role"] == "jobs", "the job runs with its own function's environment"
    assert abs(_moment(summary["now"]) - _moment(fixture_stack.now())) < 5

    nightly = fixture_stack.run_job("nightly").json
    assert nightly["input"] == {"job": "nightly", "batch": 10}


def test_an_unknown_job_is_a_problem_404(fixture_stack: LocalStack):
    _problem(fixture_stack.run_job("prod-only"), 404, "not_found")
    _problem(fixture_stack.get("/_local/jobs/demo"), 404, "not_found")


# ---------------------------------------------------------------------------------- concurrency


def test_requests_are_served_concurrently_in_separate_workers(fixture_stack: LocalStack):
    replies: list[Reply] = []

    def call() -> None:
        replies.append(fixture_stack.get("/sleep?seconds=1"))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [reply.status for reply in replies] == [200, 200]
    first, second = (reply.json for reply in replies)
    assert max(first["started"], second["started"]) < min(first["ended"], second["ended"]), "the sleeps overlapped"
    assert first["pid"] != second["pid"], "one invocation per worker at a time"


# ---------------------------------------------------------------------------------- lifecycle


def test_ctrl_c_stops_the_stack_cleanly(local_stack_factory: StackFactory):
    stack = local_stack_factory(FIXTURES / "template.yaml", args=["--workers", "2"])
    assert stack.get("/echo/x").status == 200
    assert stack.stop(signal.SIGINT) == 0
    output = stack.output()
    assert "Traceback" not in output
    assert "leaked" not in output
    assert _group_gone(stack.process.pid, within=5), "no worker outlived the stack"


def test_the_repository_template_is_served(local_stack: LocalStack):
    routes = Template.load(REPO_ROOT / "template.yaml").routes()
    assert f"({len(routes)} routes," in local_stack.output()
    _problem(local_stack.get("/_local/nowhere"), 404, "not_found")
    assert local_stack.get("/_local/clock").status == 200


def test_port_and_workers_come_from_the_environment_unless_given(monkeypatch: pytest.MonkeyPatch):
    from infra.local.server import parse_args

    monkeypatch.setenv("PORT", "4321")
    monkeypatch.setenv("LOCAL_WORKERS", "3")
    config = parse_args([])
    assert (config.port, config.workers, config.template) == (4321, 3, REPO_ROOT / "template.yaml")
    config = parse_args(["--port", "5000", "--template", "x.yaml", "--parameter", "Stage=prod"])
    assert (config.port, config.template, config.parameters) == (5000, Path("x.yaml"), {"Stage": "prod"})
