"""Captcha on sign-up, against a stub siteverify server on loopback."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from portico import config

BODY = {"email": "bot@example.com", "password": "Quartz-Lantern-Vivid-42", "name": "Bo Tanner", "company": "Acme"}


class SiteVerify(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        SiteVerify.received.append({k: v[0] for k, v in form.items()})
        ok = form.get("secret") == ["s3cret"] and form.get("response") == ["human-token"]
        payload = json.dumps({"success": ok, **({} if ok else {"error-codes": ["invalid-input-response"]})}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def siteverify(monkeypatch, template_env):
    server = HTTPServer(("127.0.0.1", 0), SiteVerify)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SiteVerify.received = []
    monkeypatch.setenv("CAPTCHA_VERIFY_URL", f"http://127.0.0.1:{server.server_port}/siteverify")
    monkeypatch.setenv("CAPTCHA_SECRET", "s3cret")
    config.settings.cache_clear()
    yield SiteVerify
    server.shutdown()
    config.settings.cache_clear()


def test_captcha_off_by_default(api):
    assert not config.settings().captcha_enabled
    assert api.post("/signup", BODY).status == 201


def test_signup_without_token_fails_when_captcha_on(api, siteverify, table_items):
    answer = api.post("/signup", BODY)
    assert answer.status == 400 and answer.body["code"] == "captcha_failed"
    assert siteverify.received == [] and table_items() == []


def test_rejected_token_fails(api, siteverify, table_items):
    answer = api.post("/signup", {**BODY, "captcha_token": "robot-token"})
    assert answer.status == 400 and answer.body["code"] == "captcha_failed"
    assert siteverify.received[0]["remoteip"] == "198.51.100.7"
    assert table_items() == []


def test_accepted_token_signs_up(api, siteverify):
    answer = api.post("/signup", {**BODY, "captcha_token": "human-token"})
    assert answer.status == 201
    assert siteverify.received == [{"secret": "s3cret", "response": "human-token", "remoteip": "198.51.100.7"}]


def test_unreachable_provider_is_503(api, monkeypatch, template_env, table_items):
    monkeypatch.setenv("CAPTCHA_VERIFY_URL", "http://127.0.0.1:9/siteverify")  # discard port: refused
    monkeypatch.setenv("CAPTCHA_SECRET", "s3cret")
    config.settings.cache_clear()
    answer = api.post("/signup", {**BODY, "captcha_token": "human-token"})
    assert answer.status == 503 and answer.body["code"] == "service_unavailable"
    assert table_items() == []
    config.settings.cache_clear()
