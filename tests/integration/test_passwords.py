"""Password change, recovery by email and SMS, history, and the password-expiry job."""

import itertools
import re
import threading

from portico import ids, keys, store
from portico.jobs import password_expiry

NEW = "Harbor-Violet-Spruce-77"


def link_token(message: dict, page: str) -> str:
    found = re.search(rf"/{page}\?token=([A-Za-z0-9_\-]+)", message["text"])
    assert found, message["text"]
    return found.group(1)


def test_change_password_revokes_other_sessions_and_notifies(api, person, login, outbox):
    ada = person()
    keep, other = login(ada), login(ada)
    wrong = api.post("/me/password", {"current_password": "Not-The-Password-1", "new_password": NEW}, token=keep)
    assert wrong.status == 401 and wrong.body["code"] == "invalid_credentials"
    weak = api.post("/me/password", {"current_password": ada.password, "new_password": "short"}, token=keep)
    assert weak.status == 422 and "too_short" in weak.body["reasons"]
    same = api.post("/me/password", {"current_password": ada.password, "new_password": ada.password}, token=keep)
    assert same.status == 422 and same.body["reasons"] == ["reused"]
    changed = api.post("/me/password", {"current_password": ada.password, "new_password": NEW}, token=keep)
    assert changed.status == 204
    assert api.get("/me/sessions", token=keep).status == 200
    assert api.get("/me/sessions", token=other).status == 401
    assert outbox(ada.email)[0]["subject"] == "Your Portico password was changed"
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 401
    assert login(ada, NEW)


def test_history_refuses_the_last_passwords(api, person, login):
    ada = person()
    token = login(ada)
    passwords = [ada.password, "Harbor-Violet-Spruce-77", "Copper-Meadow-Falcon-58", "Silver-Canyon-Orbit-39"]
    for current, new in itertools.pairwise(passwords):
        assert api.post("/me/password", {"current_password": current, "new_password": new}, token=token).status == 204
    again = api.post("/me/password", {"current_password": passwords[-1], "new_password": passwords[0]}, token=token)
    assert again.status == 422 and again.body["reasons"] == ["reused"]


def test_forgot_by_email_resets_once_and_revokes_sessions(api, person, login, outbox, clock):
    ada = person()
    session = login(ada)
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"}).status == 202
    message = outbox(ada.email)[0]
    assert message["subject"] == "Reset your Portico password"
    token = link_token(message, "reset-password")
    weak = api.post("/auth/password/reset", {"token": token, "new_password": "weak"})
    assert weak.status == 422 and weak.body["code"] == "weak_password"
    done = api.post("/auth/password/reset", {"token": token, "new_password": NEW})
    assert done.status == 200 and done.body == {"status": "password_reset"}
    assert api.get("/me/sessions", token=session).status == 401
    reused = api.post("/auth/password/reset", {"token": token, "new_password": "Copper-Meadow-Falcon-58"})
    assert reused.status == 400 and reused.body["code"] == "invalid_token"
    assert login(ada, NEW)


def test_reset_link_expires_after_30_minutes(api, person, outbox, clock):
    ada = person()
    api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"})
    token = link_token(outbox(ada.email)[0], "reset-password")
    clock.advance(30 * 60 + 1)
    expired = api.post("/auth/password/reset", {"token": token, "new_password": NEW})
    assert expired.status == 400 and expired.body["code"] == "invalid_token"


def test_forgot_is_202_for_unknown_emails_and_rate_limited(api, person, outbox, clock):
    ada = person()
    before = len(outbox())
    assert api.post("/auth/password/forgot", {"email": "nobody@example.com", "channel": "email"}).status == 202
    assert len(outbox()) == before
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"}).status == 202
    limited = api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"})
    assert limited.status == 429 and "Retry-After" in limited.headers


def test_reset_unlocks_and_never_skips_the_second_factor_step(api, person, outbox):
    ada = person()
    for _ in range(5):
        api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"})
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 429
    api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"})
    token = link_token(outbox(ada.email)[0], "reset-password")
    assert api.post("/auth/password/reset", {"token": token, "new_password": NEW}).status == 200
    store.update(keys.credential(ada.email), "SET mfa_enabled = :t", values={":t": True})
    step = api.post("/auth/login", {"email": ada.email, "password": NEW})
    assert step.status == 200 and step.body["status"] == "mfa_required" and "token" not in step.body


def _verify_phone(email: str, number: str = "+4915112345678") -> None:
    store.update(keys.credential(email), "SET phone = :p, phone_verified = :t", values={":p": number, ":t": True})


def test_forgot_by_sms_sends_a_code_to_the_verified_phone(api, person, outbox, login):
    ada = person()
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"}).status == 202
    assert [m for m in outbox() if m["channel"] == "sms"] == []  # no verified phone: nothing sent
    _verify_phone(ada.email)
    # the first request set the one-a-minute cooldown; lift it instead of waiting
    store.transact([store.delete_op(keys.rate("password-forgot", ids.digest(f"sms:{ada.email}"), "cooldown"))])
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"}).status == 202
    [sms] = outbox("+4915112345678")
    code = re.search(r"\b(\d{6})\b", sms["text"]).group(1)
    wrong = api.post(
        "/auth/password/reset",
        {"email": ada.email, "code": "000000" if code != "000000" else "111111", "new_password": NEW},
    )
    assert wrong.status == 401 and wrong.body["code"] == "invalid_code"
    done = api.post("/auth/password/reset", {"email": ada.email, "code": code, "new_password": NEW})
    assert done.status == 200
    again = api.post(
        "/auth/password/reset", {"email": ada.email, "code": code, "new_password": "Copper-Meadow-Falcon-58"}
    )
    assert again.status == 401
    assert login(ada, NEW)


def test_sms_code_burns_after_five_wrong_tries(api, person, outbox):
    ada = person()
    _verify_phone(ada.email)
    api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"})
    code = re.search(r"\b(\d{6})\b", outbox("+4915112345678")[0]["text"]).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert api.post("/auth/password/reset", {"email": ada.email, "code": wrong, "new_password": NEW}).status == 401
    burnt = api.post("/auth/password/reset", {"email": ada.email, "code": code, "new_password": NEW})
    assert burnt.status == 401 and burnt.body["code"] == "invalid_code"


def test_concurrent_resets_with_one_link_succeed_once(api, person, outbox):
    ada = person()
    api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"})
    token = link_token(outbox(ada.email)[0], "reset-password")
    results = []
    passwords = ["Harbor-Violet-Spruce-77", "Copper-Meadow-Falcon-58", "Silver-Canyon-Orbit-39", "Amber-Tundra-Kite-64"]
    threads = [
        threading.Thread(
            target=lambda p=p: results.append(
                api.post("/auth/password/reset", {"token": token, "new_password": p}).status
            )
        )
        for p in passwords
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [200, 400, 400, 400]


def test_reset_needs_exactly_one_form(api):
    both = api.post(
        "/auth/password/reset", {"token": "t", "email": "a@example.com", "code": "123456", "new_password": NEW}
    )
    assert both.status == 422 and both.body["code"] == "validation_error"
    neither = api.post("/auth/password/reset", {"new_password": NEW})
    assert neither.status == 422


def test_ses_failure_on_forgot_leaves_no_usable_link(api, person, fail_aws, table_items):
    ada = person()
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"}).status == 503
    assert not [i for i in table_items() if i.get("kind") == "reset_password"]


def test_a_forgot_request_that_failed_can_be_retried_at_once(api, person, outbox, fail_aws):
    ada = person()
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"}).status == 503
    retried = api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"})
    assert retried.status == 202
    assert [m for m in outbox(ada.email) if "reset-password?token=" in m["text"]]


# ----------------------------------------------------------------- expiry


DAY = 86400


def test_expiry_reminders_once_each_then_expired_then_change_at_login(api, person, outbox, clock):
    ada = person()
    clock.advance(76 * DAY)  # 14 days before the 90-day expiry
    first = api_job()
    assert first["reminders_sent"] == 1 and first["expired"] == 0
    assert outbox(ada.email)[0]["subject"] == "Your password expires in 14 day(s)"
    assert api_job()["reminders_sent"] == 0  # idempotent
    clock.advance(7 * DAY)
    assert api_job()["reminders_sent"] == 1
    clock.advance(6 * DAY)
    assert api_job()["reminders_sent"] == 1
    assert [m["subject"] for m in outbox(ada.email)][:3] == [
        "Your password expires in 1 day(s)",
        "Your password expires in 7 day(s)",
        "Your password expires in 14 day(s)",
    ]
    clock.advance(DAY)
    run = api_job()
    assert run["expired"] == 1
    assert api_job()["expired"] == 0
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.body["status"] == "password_change_required" and step.body["reason"] == "expired"
    reused = api.post("/auth/login/password", {"challenge": step.body["challenge"], "new_password": ada.password})
    assert reused.status == 422 and reused.body["reasons"] == ["reused"]
    done = api.post("/auth/login/password", {"challenge": step.body["challenge"], "new_password": NEW})
    assert done.status == 200 and done.body["status"] == "authenticated"
    replay = api.post(
        "/auth/login/password", {"challenge": step.body["challenge"], "new_password": "Amber-Tundra-Kite-64"}
    )
    assert replay.status == 401 and replay.body["code"] == "invalid_challenge"


def test_challenge_expires_after_ten_minutes(api, person, clock):
    ada = person()
    store.update(keys.credential(ada.email), "SET password_status = :s", values={":s": "admin_reset"})
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.body["reason"] == "admin_reset"
    clock.advance(601)
    late = api.post("/auth/login/password", {"challenge": step.body["challenge"], "new_password": NEW})
    assert late.status == 401 and late.body["code"] == "invalid_challenge"


def test_expiry_job_reads_only_the_users_due(api, person, clock):
    people = []
    for i in range(6):
        people.append(person(f"user{i}@example.com", name=f"User Number{i}", company=f"Company {i}"))
        clock.advance(DAY)
    # Now user5's password expires in 14 days and user4's in 13 (its 14-day reminder was due
    # yesterday, when no run happened: caught up today). user0..user3 are not due and not read.
    clock.advance(75 * DAY)
    summary = api_job()
    assert summary["reminders_sent"] == 2
    assert summary["items_read"] == 2
    assert api_job()["items_read"] == 2 and api_job()["reminders_sent"] == 0


def test_max_age_zero_disables_expiry(api, person, login, clock):
    ada = person()
    token = login(ada)
    settings = api.get(f"/accounts/{ada.account_id}/security", token=token).body
    settings["password_policy"]["max_age_days"] = 0
    assert api.put(f"/accounts/{ada.account_id}/security", settings, token=token).status == 200
    clock.advance(400 * DAY)
    assert api_job()["items_read"] == 0
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["status"] == "authenticated"


def test_failed_reminders_are_retried_and_reported(api, person, outbox, clock, fail_aws):
    ada = person()
    clock.advance(76 * DAY)
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        failed = api_job()
    assert failed["failed"] == 1 and failed["failures"][0]["step"] == "reminder-14"
    retried = api_job()
    assert retried["reminders_sent"] == 1
    assert outbox(ada.email)[0]["subject"].startswith("Your password expires in 14")


def api_job() -> dict:
    return password_expiry.run()


def test_parallel_sms_code_guesses_get_five_comparisons_in_all(api, person, outbox):
    ada = person()
    _verify_phone(ada.email)
    api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"})
    code = re.search(r"\b(\d{6})\b", outbox("+4915112345678")[0]["text"]).group(1)
    guesses = [f"{n:06d}" for n in range(40) if f"{n:06d}" != code][:30]
    results = []
    threads = [
        threading.Thread(
            target=lambda g=g: results.append(
                api.post("/auth/password/reset", {"email": ada.email, "code": g, "new_password": NEW}).status
            )
        )
        for g in guesses
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count(401) == 30
    assert int(store.get(keys.credential(ada.email))["reset_code_attempts"]) == 5
    burnt = api.post("/auth/password/reset", {"email": ada.email, "code": code, "new_password": NEW})
    assert burnt.status == 401


def test_forced_password_change_ends_old_sessions(api, person, login):
    ada = person()
    old = login(ada)
    store.update(keys.credential(ada.email), "SET password_status = :s", values={":s": "compromised"})
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.body["status"] == "password_change_required" and step.body["reason"] == "compromised"
    done = api.post("/auth/login/password", {"challenge": step.body["challenge"], "new_password": NEW})
    assert done.status == 200
    assert api.get("/me/sessions", token=old).status == 401
    assert api.get("/me/sessions", token=done.body["token"]).status == 200
