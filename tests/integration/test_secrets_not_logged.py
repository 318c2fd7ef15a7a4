"""Secrets are never logged, and never returned except by the answer that hands them out.

The main flows run in process through the real handlers, the way a client runs them, while every
log line is captured twice: the JSON lines Powertools Logger writes to stdout (what CloudWatch would
get) and the log records themselves (every logger, extras included). Every secret that passes is
collected on the way: passwords and codes the client sends, links and codes from the outbox,
session tokens, challenges, TOTP secrets, URIs and QR codes, TOTP and recovery codes. None may
appear in a log line, in an email (passwords), or in any answer other than the one that issued it
(an error never echoes one); and every answer carries ``Cache-Control: no-store``.

The capture is checked to see the handlers' own lines, so this test cannot pass by seeing nothing.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest

from portico import keys, store
from portico.jobs import password_expiry
from portico.observability import logger as powertools_logger
from portico.security.policy import PasswordPolicy, check_password

PASSWORD_FIELDS = {"password", "new_password", "current_password"}
# Everyone the flows sign up or invite: a generated password must not contain them.
PEOPLE = (
    "Ada Lovelace",
    "ada@example.com",
    "Analytical Engines",
    "Grace Hopper",
    "grace@example.com",
    "Compilers",
    "Bob Builder",
)
SENT_SECRETS = PASSWORD_FIELDS | {"code", "token", "challenge", "captcha_token"}
ISSUED_SECRETS = {"token", "challenge", "secret", "otpauth_uri", "qr_svg", "recovery_codes"}
LINK_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")
SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")
PHONE = "+4915112345678"
DAY = 86400


@dataclass
class Secret:
    value: str
    what: str
    issued_by: int | None = None  # the index of the answer that handed it out

    def found_in(self, text: str) -> bool:
        if self.value.isdigit():  # a code: not as part of a longer number (timestamps, ids)
            return re.search(rf"(?<!\d){self.value}(?!\d)", text) is not None
        return self.value.lower() in text.lower()


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    text: str


@dataclass
class Witness:
    """A client that remembers every secret that passed and every answer it got."""

    api: Any
    outbox: Any
    clock: Any
    secrets: dict[str, Secret] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    passwords: set[str] = field(default_factory=set)
    mail_seen: set[str] = field(default_factory=set)

    def secret(self, value: str, what: str, issued_by: int | None = None) -> str:
        if value and value not in self.secrets:
            self.secrets[value] = Secret(value, what, issued_by)
        return value

    def password(self, value: str | None = None) -> str:
        """A password (a new strong one unless given), remembered as a secret."""
        while value is None:  # random, so a leak cannot hide behind a fixed string; strong, so it is taken
            candidate = f"Zt!{secrets.token_urlsafe(12)}9a"
            if not check_password(candidate, PasswordPolicy(), personal=PEOPLE):
                value = candidate
        self.passwords.add(value)
        return self.secret(value, "password")

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, status: int = 200):
        for key, value in (body or {}).items():
            if key in PASSWORD_FIELDS:
                self.password(value)
            elif key in SENT_SECRETS and isinstance(value, str):
                self.secret(value, f"sent {key}")
        answer = self.api.call(method, path, body, token=token)
        assert answer.status == status, (method, path, answer.status, answer.body)
        assert answer.headers.get("Cache-Control") == "no-store", (method, path, answer.headers)
        index = len(self.exchanges)
        self.exchanges.append(Exchange(method, path, answer.status, json.dumps(answer.body)))
        if isinstance(answer.body, dict):
            for key in ISSUED_SECRETS & answer.body.keys():
                values = answer.body[key] if isinstance(answer.body[key], list) else [answer.body[key]]
                for value in values:
                    self.secret(value, f"{key} from {method} {path}", issued_by=index)
        self._read_mail()
        return answer

    def post(self, path: str, body: Any = None, token: str | None = None, status: int = 200):
        return self.call("POST", path, body, token, status)

    def _read_mail(self) -> None:
        for message in self.outbox():
            if message["message_id"] in self.mail_seen:
                continue
            self.mail_seen.add(message["message_id"])
            text = f"{message.get('text') or ''}\n{message.get('html') or ''}"
            for token in LINK_TOKEN.findall(text):
                self.secret(token, f"link in {message.get('subject')!r}")
            for code in SIX_DIGITS.findall(text):
                self.secret(code, f"code in a message to {message['to']}")

    def link(self, to: str, page: str) -> str:
        message = next(m for m in self.outbox(to) if f"/{page}?token=" in (m.get("text") or ""))
        return re.search(rf"/{page}\?token=([A-Za-z0-9_\-]+)", message["text"]).group(1)

    def sms_code(self, number: str) -> str:
        return SIX_DIGITS.search(self.outbox(number)[0]["text"]).group(0)

    def totp(self, secret: str) -> str:
        return self.secret(pyotp.TOTP(secret).at(self.clock.now), "TOTP code")

    def wrong(self, code: str) -> str:
        return "314159" if code != "314159" else "271828"

    def sign_up(self, email: str, name: str, company: str) -> tuple[dict[str, str], str]:
        password = self.password()
        created = self.post(
            "/signup", {"email": email, "password": password, "name": name, "company": company}, status=201
        )
        self.post("/auth/verify-email", {"token": self.link(email, "verify-email")})
        return created.body, password

    def log_in(self, email: str, password: str) -> str:
        answer = self.post("/auth/login", {"email": email, "password": password})
        assert answer.body["status"] == "authenticated", answer.body
        return answer.body["token"]

    def assert_nothing_leaked(self, logs: str, records: list[logging.LogRecord]) -> None:
        assert len(self.secrets) > 5
        for index, exchange in enumerate(self.exchanges):
            for secret in self.secrets.values():
                if secret.issued_by != index:
                    assert not secret.found_in(exchange.text), (
                        f"{exchange.method} {exchange.path} ({exchange.status}) returns {secret.what}"
                    )
        record_texts = [
            f"{vars(r)!r} {logging.Formatter().formatException(r.exc_info) if r.exc_info else ''}" for r in records
        ]
        for secret in self.secrets.values():
            assert not secret.found_in(logs), f"{secret.what} is in the log output"
            for text in record_texts:
                assert not secret.found_in(text), f"{secret.what} is in a log record: {text[:300]}"
        mail = json.dumps(self.outbox())
        for password in self.passwords:
            assert password.lower() not in mail.lower(), "a password is in an email"


class _Stdout:
    """Whatever ``sys.stdout`` is when a line is written, as a Lambda function's stdout."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def captured(capsys, caplog):
    """The handlers' log output as Lambda would ship it, and every log record.

    Powertools Logger keeps the ``sys.stdout`` of the moment it was created (some earlier test's
    capture, or none); here it writes to the current one, which ``capsys`` captures, so what the
    test reads is what the handlers wrote."""
    caplog.set_level(logging.INFO)
    handlers = [h for h in powertools_logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Powertools Logger has no stream handler to capture"
    saved = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = _Stdout()  # not setStream: it flushes the old stream, which may be closed

    def read() -> tuple[str, list[logging.LogRecord]]:
        out = capsys.readouterr()
        return out.out + out.err, list(caplog.records)

    yield read
    for handler, stream in zip(handlers, saved, strict=True):
        handler.stream = stream


@pytest.fixture
def witness(api, outbox, clock) -> Witness:
    return Witness(api, outbox, clock)


def _log_lines(logs: str) -> list[dict]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{")]


def assert_capture_works(logs: str, records: list[logging.LogRecord], *messages: str) -> None:
    """The capture saw the handlers' own lines: without this, seeing no secret would prove nothing."""
    written = {line.get("message") for line in _log_lines(logs)}
    recorded = {r.getMessage() for r in records}
    for message in messages:
        assert message in written, f"{message!r} not in the captured output: {sorted(filter(None, written))}"
        assert message in recorded, f"{message!r} not in the captured records"


def test_sign_up_login_passwords_and_sessions_leak_no_secret(witness, captured, clock):
    w = witness
    password = w.password()
    created = w.post(
        "/signup",
        {"email": "ada@example.com", "password": password, "name": "Ada Lovelace", "company": "Analytical Engines"},
        status=201,
    )
    first_link = w.link("ada@example.com", "verify-email")
    w.post("/auth/login", {"email": "ada@example.com", "password": password}, status=403)
    clock.advance(61)
    w.post("/auth/verify-email/resend", {"email": "ada@example.com"}, status=202)
    w.post("/auth/verify-email", {"token": first_link}, status=400)  # replaced by the resend
    w.post("/auth/verify-email", {"token": w.link("ada@example.com", "verify-email")})

    w.post("/auth/login", {"email": "ada@example.com", "password": w.password()}, status=401)
    w.post("/auth/login", {"email": "nobody@example.com", "password": password}, status=401)
    token = w.log_in("ada@example.com", password)
    w.call("GET", "/me", token=token)
    w.call("GET", f"/accounts/{created.body['account_id']}", token=token)

    w.post("/me/password", {"current_password": w.password(), "new_password": w.password()}, token=token, status=401)
    weak = w.password("ada-lovelace-1")
    w.post("/me/password", {"current_password": password, "new_password": weak}, token=token, status=422)
    password, old = w.password(), password
    w.post("/me/password", {"current_password": old, "new_password": password}, token=token, status=204)

    for _ in range(5):
        w.post("/auth/login", {"email": "ada@example.com", "password": w.password()}, status=401)
    w.post("/auth/login", {"email": "ada@example.com", "password": password}, status=429)  # locked out
    clock.advance(2)
    token = w.log_in("ada@example.com", password)

    w.post("/auth/password/forgot", {"email": "ada@example.com", "channel": "email"}, status=202)
    reset_link = w.link("ada@example.com", "reset-password")
    w.post("/auth/password/reset", {"token": reset_link, "new_password": weak}, status=422)
    password = w.password()
    w.post("/auth/password/reset", {"token": reset_link, "new_password": password})
    w.post("/auth/password/reset", {"token": reset_link, "new_password": w.password()}, status=400)

    store.update(
        keys.credential("ada@example.com"), "SET phone = :p, phone_verified = :t", values={":p": PHONE, ":t": True}
    )
    w.post("/auth/password/forgot", {"email": "ada@example.com", "channel": "sms"}, status=202)
    code = w.sms_code(PHONE)
    w.post(
        "/auth/password/reset",
        {"email": "ada@example.com", "code": w.wrong(code), "new_password": w.password()},
        status=401,
    )
    password = w.password()
    w.post("/auth/password/reset", {"email": "ada@example.com", "code": code, "new_password": password})

    token, other = w.log_in("ada@example.com", password), w.log_in("ada@example.com", password)
    sessions = w.call("GET", "/me/sessions", token=token).body["items"]
    not_current = next(s["session_id"] for s in sessions if not s["current"])
    w.call("DELETE", f"/me/sessions/{not_current}", token=token, status=204)
    w.call("GET", "/me", token=other, status=401)
    w.log_in("ada@example.com", password)
    w.call("DELETE", "/me/sessions", token=token, status=204)
    w.post("/auth/logout", token=token, status=204)
    w.call("GET", "/me", token=token, status=401)

    clock.advance(91 * DAY)  # the password expires
    password_expiry.run()
    step = w.post("/auth/login", {"email": "ada@example.com", "password": password}).body
    assert step["status"] == "password_change_required", step
    done = w.post("/auth/login/password", {"challenge": step["challenge"], "new_password": w.password()})
    assert done.body["status"] == "authenticated"

    logs, records = captured()
    assert_capture_works(logs, records, "signed up", "email verified", "logged in")
    w.assert_nothing_leaked(logs, records)


def test_two_factor_flows_leak_no_secret(witness, captured, clock):
    w = witness
    me, password = w.sign_up("grace@example.com", "Grace Hopper", "Compilers")
    token = w.log_in("grace@example.com", password)
    enrollment = w.post("/me/mfa/totp", token=token).body
    secret = enrollment["secret"]
    w.post("/me/mfa/totp/confirm", {"code": w.wrong(w.totp(secret))}, token=token, status=401)
    recovery = w.post("/me/mfa/totp/confirm", {"code": w.totp(secret)}, token=token).body["recovery_codes"]

    clock.advance(30)
    challenge = w.post("/auth/login", {"email": "grace@example.com", "password": password}).body["challenge"]
    w.post("/auth/login/mfa", {"challenge": challenge, "code": w.wrong(w.totp(secret))}, status=401)
    used = w.totp(secret)
    token = w.post("/auth/login/mfa", {"challenge": challenge, "code": used}).body["token"]
    replay = w.post("/auth/login", {"email": "grace@example.com", "password": password}).body["challenge"]
    w.post("/auth/login/mfa", {"challenge": replay, "code": used}, status=401)  # code_already_used
    step = w.post("/auth/login", {"email": "grace@example.com", "password": password}).body["challenge"]
    w.post("/auth/login/mfa", {"challenge": step, "code": recovery[0]})

    clock.advance(30)
    w.post("/auth/reauthenticate", {"password": password, "code": w.totp(secret)}, token=token, status=204)
    clock.advance(30)
    w.post("/me/mfa/recovery-codes", {"code": w.totp(secret)}, token=token)
    clock.advance(30)
    w.call("DELETE", "/me/mfa/totp", {"password": w.password(), "code": w.totp(secret)}, token=token, status=401)
    clock.advance(30)
    w.call("DELETE", "/me/mfa/totp", {"password": password, "code": w.totp(secret)}, token=token, status=204)

    # Enforce 2FA: enrollment during login
    security = w.call("GET", f"/accounts/{me['account_id']}/security", token=token).body
    w.call("PUT", f"/accounts/{me['account_id']}/security", {**security, "enforce_mfa": True}, token=token)
    step = w.post("/auth/login", {"email": "grace@example.com", "password": password}).body
    assert step["status"] == "mfa_enrollment_required", step
    enrollment = w.post("/auth/login/mfa-enrollment", {"challenge": step["challenge"]}).body
    w.post(
        "/auth/login/mfa-enrollment/confirm",
        {"challenge": step["challenge"], "code": w.wrong(w.totp(enrollment["secret"]))},
        status=401,
    )
    done = w.post(
        "/auth/login/mfa-enrollment/confirm", {"challenge": step["challenge"], "code": w.totp(enrollment["secret"])}
    ).body
    assert done["status"] == "authenticated" and len(done["recovery_codes"]) == 10

    logs, records = captured()
    assert_capture_works(logs, records, "logged in")
    w.assert_nothing_leaked(logs, records)


def test_user_administration_leaks_no_secret(witness, captured, clock):
    w = witness
    me, password = w.sign_up("ada@example.com", "Ada Lovelace", "Analytical Engines")
    token = w.log_in("ada@example.com", password)
    users = f"/accounts/{me['account_id']}/users"
    invited = w.post(users, {"email": "bob@example.com", "rights": ["data:view"]}, token=token, status=201).body
    first = w.link("bob@example.com", "accept-invitation")
    w.call("GET", f"/invitations/{first}")
    clock.advance(61)
    w.post(f"{users}/{invited['user_id']}/invitation", token=token, status=202)
    w.call("GET", f"/invitations/{first}", status=404)  # the resend replaced it
    link = w.link("bob@example.com", "accept-invitation")  # the newest
    assert link != first
    w.post(f"/invitations/{link}/accept", {"name": "Bob Builder", "password": "bob-builder-1"}, status=422)
    bob_password = w.password()
    w.post(f"/invitations/{link}/accept", {"name": "Bob Builder", "password": bob_password}, status=201)
    w.post(f"/invitations/{link}/accept", {"name": "Bob Builder", "password": bob_password}, status=404)

    bob = w.log_in("bob@example.com", bob_password)
    secret = w.post("/me/mfa/totp", token=bob).body["secret"]
    w.post("/me/mfa/totp/confirm", {"code": w.totp(secret)}, token=bob)

    bob_url = f"{users}/{invited['user_id']}"
    w.call("GET", users, token=token)
    w.call("GET", bob_url, token=token)
    w.call("PATCH", bob_url, {"status": "disabled"}, token=token)
    w.call("GET", f"/accounts/{me['account_id']}", token=bob, status=404)
    w.call("PATCH", bob_url, {"status": "active", "rights": ["data:edit"]}, token=token)
    w.post(f"{bob_url}/mfa-reset", token=token, status=204)
    w.call("GET", f"/accounts/{me['account_id']}/audit-log", token=token)
    w.call("DELETE", bob_url, token=token, status=204)

    logs, records = captured()
    assert_capture_works(logs, records, "signed up", "logged in")
    w.assert_nothing_leaked(logs, records)


def test_profile_phone_and_compromise_flows_leak_no_secret(witness, captured, clock):
    w = witness
    _, password = w.sign_up("ada@example.com", "Ada Lovelace", "Analytical Engines")
    _, bob_password = w.sign_up("bob@example.com", "Bob Builder", "Builders")
    token = w.log_in("ada@example.com", password)
    w.call("PATCH", "/me", {"language": "de", "notifications": {"product_updates": True}}, token=token)
    w.call("PUT", "/me/phone", {"number": PHONE}, token=token, status=202)
    code = w.sms_code(PHONE)
    w.post("/me/phone/verify", {"code": w.wrong(code)}, token=token, status=401)
    w.post("/me/phone/verify", {"code": code}, token=token)
    w.post("/me/phone/release", token=token, status=202)
    release = w.sms_code(PHONE)
    w.post("/me/phone/release/confirm", {"code": w.wrong(release)}, token=token, status=401)
    w.post("/me/phone/release/confirm", {"code": release}, token=token, status=204)
    w.post("/me/password/compromised", {"comment": "typed it on a phishing page"}, token=token, status=202)
    bob_token = w.log_in("bob@example.com", bob_password)
    w.post("/me/password/compromised", token=bob_token, status=202)

    logs, records = captured()
    assert_capture_works(logs, records, "signed up", "logged in")
    w.assert_nothing_leaked(logs, records)
