"""The main flows as a web client runs them: real HTTP against `make run`'s local stack."""

from __future__ import annotations

import re
import uuid

import pytest

from portico import keys
from tests.e2e.support import (
    NEW,
    PASSWORD,
    bearer,
    emulated_table,
    link,
    log_in,
    serialized,
    sign_up,
    unique_email,
    verify,
)

DAY = 86400


def test_sign_up_verify_reuse_and_expiry(local_stack):
    email = unique_email("grace")
    created = sign_up(local_stack, email, language="de")
    assert created["account_id"].startswith("acc_") and created["user_id"].startswith("usr_")
    [message] = local_stack.outbox(email)
    assert message["channel"] == "email" and message["to"] == [email]
    assert message["subject"].startswith("Bitte bestätigen")
    assert message["sent_at"].endswith("Z")
    token = link(message, "verify-email")
    first = local_stack.post("/auth/verify-email", json={"token": token})
    assert first.status == 200 and first.json == {"status": "verified"}
    again = local_stack.post("/auth/verify-email", json={"token": token})
    assert again.status == 400 and again.json["code"] == "invalid_token"
    assert again.headers["Content-Type"] == "application/problem+json"

    late = unique_email("late")
    sign_up(local_stack, late)
    late_token = link(local_stack.outbox(late)[0], "verify-email")
    local_stack.advance_clock(24 * 3600 + 1)
    expired = local_stack.post("/auth/verify-email", json={"token": late_token})
    assert expired.status == 400 and expired.json["code"] == "invalid_token"


def test_duplicate_email_and_bad_input_over_http(local_stack):
    email = unique_email("dup")
    sign_up(local_stack, email)
    taken = local_stack.post(
        "/signup", json={"email": email.upper(), "password": PASSWORD, "name": "X Y", "company": "Z"}
    )
    assert taken.status == 409 and taken.json["code"] == "email_taken"
    assert (
        local_stack.post("/signup", body="{oops", headers={"Content-Type": "application/json"}).json["code"]
        == "malformed_json"
    )
    weak = local_stack.post(
        "/signup", json={"email": unique_email("w"), "password": "a" * 10_000, "name": "A B", "company": "C"}
    )
    assert weak.status == 422 and weak.json["code"] == "weak_password" and "too_long" in weak.json["reasons"]
    huge = local_stack.post(
        "/signup", body=b"{" + b" " * (10 * 1024 * 1024 - 2) + b"}", headers={"Content-Type": "application/json"}
    )
    assert huge.status == 413
    nowhere = local_stack.get("/no/such/route")
    assert nowhere.status == 404 and nowhere.json["code"] == "not_found"


def test_resend_is_always_202_and_cools_down(local_stack):
    email = unique_email("resend")
    sign_up(local_stack, email)
    local_stack.advance_clock(61)
    assert local_stack.post("/auth/verify-email/resend", json={"email": email}).status == 202
    assert len(local_stack.outbox(email)) == 2
    limited = local_stack.post("/auth/verify-email/resend", json={"email": email})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert local_stack.post("/auth/verify-email/resend", json={"email": unique_email("ghost")}).status == 202


def test_login_sessions_logout(local_stack):
    email = unique_email("login")
    created = sign_up(local_stack, email)
    unverified = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert unverified.status == 403 and unverified.json["code"] == "email_not_verified"
    verify(local_stack, email)
    first, second = log_in(local_stack, email), log_in(local_stack, email)
    account = local_stack.get(f"/accounts/{created['account_id']}", headers=bearer(first))
    assert account.status == 200 and account.json["mode"] == "test" and account.json["name"] == "Compilers"
    sessions = local_stack.get("/me/sessions", headers=bearer(first)).json["items"]
    assert len(sessions) == 2 and [s["current"] for s in sessions].count(True) == 1
    assert local_stack.delete("/me/sessions", headers=bearer(first)).status == 204
    assert local_stack.get("/me/sessions", headers=bearer(second)).status == 401
    assert local_stack.post("/auth/logout", headers=bearer(first)).status == 204
    gone = local_stack.get("/me/sessions", headers=bearer(first))
    assert gone.status == 401 and gone.json["code"] == "unauthenticated"


def test_lockout_over_http(local_stack):
    email = unique_email("lock")
    sign_up(local_stack, email)
    verify(local_stack, email)
    for _ in range(5):
        wrong = local_stack.post("/auth/login", json={"email": email, "password": "Wrong-Password-1"})
        assert wrong.status == 401 and wrong.json["code"] == "invalid_credentials"
    locked = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert locked.status == 429 and locked.json["code"] == "too_many_attempts" and locked.headers["Retry-After"]
    local_stack.advance_clock(int(locked.headers["Retry-After"]))
    assert log_in(local_stack, email)


def test_change_password_and_recover_by_email(local_stack):
    email = unique_email("change")
    sign_up(local_stack, email)
    verify(local_stack, email)
    token = log_in(local_stack, email)
    changed = local_stack.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": NEW}, headers=bearer(token)
    )
    assert changed.status == 204
    assert local_stack.outbox(email)[0]["subject"] == "Your Portico password was changed"
    assert local_stack.post("/auth/password/forgot", json={"email": email, "channel": "email"}).status == 202
    reset_token = link(local_stack.outbox(email)[0], "reset-password")
    final = "Copper-Meadow-Falcon-58"
    reset = local_stack.post("/auth/password/reset", json={"token": reset_token, "new_password": final})
    assert reset.status == 200 and reset.json == {"status": "password_reset"}
    assert local_stack.get("/me/sessions", headers=bearer(token)).status == 401
    assert log_in(local_stack, email, final)


def test_password_expiry_via_clock_and_job(local_stack):
    email = unique_email("expiry")
    sign_up(local_stack, email)
    verify(local_stack, email)
    local_stack.advance_clock(76 * DAY)
    summary = local_stack.run_job("password-expiry")
    assert summary.status == 200 and summary.json["job"] == "password-expiry"
    assert any(m["subject"] == "Your password expires in 14 day(s)" for m in local_stack.outbox(email))
    local_stack.advance_clock(14 * DAY)
    assert local_stack.run_job("password-expiry").json["expired"] >= 1
    step = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert step.json["status"] == "password_change_required" and step.json["reason"] == "expired"
    done = local_stack.post("/auth/login/password", json={"challenge": step.json["challenge"], "new_password": NEW})
    assert done.status == 200 and done.json["status"] == "authenticated"


@pytest.mark.parametrize("route", ["/me/sessions", "/accounts/acc_abc"])
def test_protected_routes_need_a_session(local_stack, route):
    reply = local_stack.get(route)
    assert reply.status == 401 and reply.json["code"] == "unauthenticated"


def test_recover_by_sms_code(local_stack):
    email = unique_email("sms")
    sign_up(local_stack, email)
    verify(local_stack, email)
    number = "+4917" + uuid.uuid4().hex[:8].translate(str.maketrans("abcdef", "123456"))
    client, table = emulated_table(local_stack)
    client.update_item(
        TableName=table,
        Key=serialized(keys.credential(email)),
        UpdateExpression="SET phone = :p, phone_verified = :t",
        ExpressionAttributeValues=serialized({":p": number, ":t": True}),
    )
    assert local_stack.post("/auth/password/forgot", json={"email": email, "channel": "sms"}).status == 202
    [sms] = local_stack.outbox(number)
    assert sms["channel"] == "sms" and sms["subject"] is None
    code = re.search(r"\b(\d{6})\b", sms["text"]).group(1)
    final = "Silver-Canyon-Orbit-39"
    reset = local_stack.post("/auth/password/reset", json={"email": email, "code": code, "new_password": final})
    assert reset.status == 200 and reset.json == {"status": "password_reset"}
    again = local_stack.post("/auth/password/reset", json={"email": email, "code": code, "new_password": NEW})
    assert again.status == 401 and again.json["code"] == "invalid_code"
    assert log_in(local_stack, email, final)
