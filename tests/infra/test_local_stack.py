"""The local stack, seen from a client: routing, events, responses, outbox, clock, jobs, lifecycle.

Runs against the fixture template (``fixtures/template.yaml``), whose handlers report what they
received, so each test can assert what API Gateway would have delivered.
"""

from __future__ import annotations

import base64
import html
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
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
    assert email["attachments"] == [
        {"filename": "export.csv", "content_type": "text/csv", "size": 8, "text": "a,b\n1,2\n"}  # text: readable
    ]
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


# ---------------------------------------------------------------------------------- speed


def _keep_alive_times(stack: LocalStack, path: str, count: int) -> list[float]:
    """Milliseconds per GET, all on one kept-alive connection (as a browser or an SDK sends them)."""
    connection = http.client.HTTPConnection(stack.host, stack.port, timeout=30)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", path)
            reply = connection.getresponse()
            reply.read()
            assert reply.status in (200, 404)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return times


def test_a_cheap_request_on_a_kept_alive_connection_takes_milliseconds_not_44(fixture_stack: LocalStack):
    # Headers and body written apart made every answer wait for the client's delayed ACK (40 ms).
    for path in ("/_local/clock", "/nowhere", "/echo/fast"):
        times = _keep_alive_times(fixture_stack, path, 40)
        assert statistics.median(times) < 20, (path, sorted(times))


def test_twenty_concurrent_clients_are_served_without_queueing_behind_the_front(fixture_stack: LocalStack):
    results: list[list[float]] = []

    def client() -> None:
        results.append(_keep_alive_times(fixture_stack, "/_local/clock", 20))

    threads = [threading.Thread(target=client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    times = [ms for result in results for ms in result]
    assert len(times) == 400
    assert statistics.median(times) < 30, sorted(times)


# ---------------------------------------------------------------------------------- pages


def _page(reply: Reply) -> str:
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy and "form-action 'self'" in policy
    assert "unsafe-inline" not in policy and "script-src" not in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in reply.text.lower()
    assert ' style="' not in reply.text, "no inline style: the CSP would block it"
    return reply.text


def test_the_landing_page_shows_what_runs_and_links_to_everything(fixture_stack: LocalStack):
    text = _page(fixture_stack.get("/"))
    now = _moment(fixture_stack.now())
    for function in Template.load(FIXTURES / "template.yaml").functions():
        assert function.function_id in text and function.name in text
    assert f'<a href="{fixture_stack.url}/">{fixture_stack.url}</a>' in text
    for link in ("/_local/docs", "/_local/docs?spec=local", "/_local/outbox.html", "/_local/local-openapi.json"):
        assert f'href="{link}"' in text
    for link in ("/_local/docs?spec=local", "/_local/outbox.html", "/_local/local-openapi.json"):
        assert fixture_stack.get(link).status == 200, link  # (the fixture's handlers have no OpenAPI models)
    assert '<link rel="stylesheet" href="/_local/pages.css">' in text
    css = fixture_stack.get("/_local/pages.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css") and b"body" in css.body
    for job in ("demo", "nightly"):
        assert f'<form method="post" action="/_local/jobs/{job}">' in text
        assert f"curl -s -X POST {fixture_stack.url}/_local/jobs/{job}" in text
    assert "No demo data" in text, "the tests' stacks start with SEED=0"
    assert "not kept" in text, "without --state-dir nothing is kept"
    shown = re.search(r'Every function sees <strong class="mono">([^<]+)</strong>', text)
    assert shown and abs(_moment(shown.group(1)) - now) < 5


def test_only_the_root_is_a_page_other_unknown_paths_stay_json_404s(fixture_stack: LocalStack):
    for path in ("/index.html", "/_local/", "/_local/outbox.htm"):
        _problem(fixture_stack.get(path), 404, "not_found")
    _problem(fixture_stack.post("/"), 404, "not_found")


def test_the_outbox_page_shows_links_and_codes_newest_first_and_escapes_everything(fixture_stack: LocalStack):
    address = f"page.{uuid.uuid4().hex[:8]}@example.com"
    phone = f"+4917{uuid.uuid4().int % 10**9:09d}"
    link = f"{fixture_stack.url}/verify-email?token=tok{uuid.uuid4().hex[:6]}&lang=en"
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    sent = fixture_stack.post(
        "/email",
        json={
            "to": address,
            "subject": f"Your code {hostile}",
            "text": f"Open {link}. Your code is 482913. javascript:alert(1) {hostile}",
            "html": "<p>hi</p>",
            "csv": "a\n",
        },
    )
    assert sent.status == 200, sent.text
    assert fixture_stack.post("/sms", json={"to": phone, "text": f"Code 771204 {hostile}"}).status == 200

    text = _page(fixture_stack.get("/_local/outbox.html"))
    assert "<img" not in text and "onerror=alert(1)>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text, "shown, as text"
    escaped_link = html.escape(link)
    assert f'<a href="{escaped_link}" rel="noopener noreferrer">{escaped_link}</a>' in text
    assert 'href="javascript:' not in text
    assert '<span class="code secret">482913</span>' in text
    assert '<span class="code secret">771204</span>' in text
    assert text.index("771204") < text.index("482913"), "newest first: the SMS was sent last"
    assert text.index(phone) < text.index(address)
    assert "<details><summary>export.csv</summary><pre>a\n</pre></details>" in text, "a text attachment, readable"

    mine = _page(fixture_stack.get(f"/_local/outbox.html?to={address.upper()}"))
    assert "482913" in mine and "771204" not in mine
    assert "1 message to" in mine


def test_the_clock_forms_move_and_reset_the_time_from_the_stacks_own_pages_only(fixture_stack: LocalStack):
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": fixture_stack.url}
    before = _moment(fixture_stack.now())
    moved = fixture_stack.post("/_local/clock", body="advance_seconds=86400", headers=form)
    assert moved.status == 303 and moved.headers["Location"] == "/#clock"
    assert 86400 <= _moment(fixture_stack.now()) - before < 86400 + 5
    assert "ahead of real time" in fixture_stack.get("/").text

    elsewhere = {**form, "Origin": "https://evil.example"}
    _problem(fixture_stack.post("/_local/clock", body="reset=1", headers=elsewhere), 403, "cross_origin")
    assert _moment(fixture_stack.now()) - time.time() > 86000, "a foreign form changed nothing"

    reset = fixture_stack.post("/_local/clock", body="reset=1", headers=form)
    assert reset.status == 303
    assert abs(_moment(fixture_stack.now()) - time.time()) < 5
    bad = fixture_stack.post("/_local/clock", body="advance_seconds=soon", headers=form)
    _problem(bad, 422, "validation_error")


def test_delete_resets_the_clock_to_real_time(fixture_stack: LocalStack):
    fixture_stack.advance_clock(30 * 86400)
    assert _moment(fixture_stack.get("/time").json["now"]) - time.time() > 29 * 86400
    reply = fixture_stack.delete("/_local/clock")
    assert reply.status == 200, reply.text
    assert abs(_moment(reply.json["now"]) - time.time()) < 5
    assert abs(fixture_stack.get("/time").json["timestamp"] - time.time()) < 5, "the handlers' time too"


def test_a_job_form_runs_the_job_and_shows_its_summary(fixture_stack: LocalStack):
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": fixture_stack.url}
    text = _page(fixture_stack.post("/_local/jobs/demo", body="", headers=form))
    assert "Job <span" in text and "&quot;processed&quot;: 3" in text
    _problem(fixture_stack.post("/_local/jobs/prod-only", body="", headers=form), 404, "not_found")
    elsewhere = {**form, "Origin": "https://evil.example"}
    _problem(fixture_stack.post("/_local/jobs/demo", body="", headers=elsewhere), 403, "cross_origin")


def test_the_local_routes_have_an_openapi_document_of_their_own(fixture_stack: LocalStack):
    from openapi_spec_validator import validate

    reply = fixture_stack.get("/_local/local-openapi.json")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    document = reply.json
    validate(document)
    assert document["servers"] == [{"url": fixture_stack.url}]
    assert set(document["paths"]["/_local/clock"]) == {"get", "post", "delete"}
    [job] = document["paths"]["/_local/jobs/{job}"]["post"]["parameters"]
    assert job["schema"]["enum"] == ["demo", "nightly"]
    described = [path for path, operations in document["paths"].items() if "get" in operations]
    assert {"/", "/_local/outbox", "/_local/outbox.html", "/_local/clock", "/_local/local-openapi.json"} <= set(
        described
    )
    for path in described:  # what it describes is served (the API's document needs the real template's handlers)
        if path not in ("/_local/openapi.json", "/_local/docs"):
            assert fixture_stack.get(path).status == 200, path

    local_docs = fixture_stack.get("/_local/docs?spec=local")
    assert local_docs.status == 200 and '"title": "Portico local stack (/_local routes)"' in local_docs.text
    assert 'href="/_local/docs">the API</a>' in local_docs.text


# ---------------------------------------------------------------------------------- console


def test_the_request_line_names_the_function_that_served_it(fixture_stack: LocalStack):
    fixture_stack.get("/echo/named")
    fixture_stack.get("/_local/clock")
    output = fixture_stack.output()
    assert re.search(r"^GET /echo/named 200 \d+ms EchoFunction$", output, re.MULTILINE), output[-2000:]
    assert re.search(r"^GET /_local/clock 200 \d+ms$", output, re.MULTILINE)


def test_a_port_in_use_is_one_clear_line_and_a_failure_exit(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "layers/common/python"), str(REPO_ROOT)]),
        }
        run = subprocess.run(
            [sys.executable, "-m", "infra.local", "--port", str(port), "--template", str(FIXTURES / "template.yaml")],
            cwd=REPO_ROOT,
            env={**environment, "SEED": "0"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"infra.local: port {port} is in use; run with PORT={port + 1} make run (or --port {port + 1}), "
        "or stop what is listening on it"
    ]


def test_the_page_helpers_escape_and_link_only_web_urls():
    from infra.local import pages

    assert pages.linkify('see https://a.example/x?a=1&b="2" and javascript:alert(1)') == (
        'see <a href="https://a.example/x?a=1&amp;b=" rel="noopener noreferrer">https://a.example/x?a=1&amp;b=</a>'
        "&quot;2&quot; and javascript:alert(1)"
    )
    assert pages.codes("Code 123456, not 1234567 or abc-654321", "again 123456") == ["123456"]
    message = {"text": None, "html": '<a href="https://x.example/r?t=1&amp;u=2">go</a> <a href="javascript:x">no</a>'}
    assert pages.links(message) == ["https://x.example/r?t=1&u=2"]
