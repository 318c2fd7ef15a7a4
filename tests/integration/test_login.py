"""Login, sessions, lockout and the authorization core, through the real handlers against moto."""

import threading

import pytest

from portico import keys, store
from portico.auth import lockout


def test_login_before_verification_is_refused(api):
    api.post(
        "/signup",
        {"email": "new@example.com", "password": "Quartz-Lantern-Vivid-42", "name": "New Person", "company": "Newco"},
    )
    answer = api.post("/auth/login", {"email": "new@example.com", "password": "Quartz-Lantern-Vivid-42"})
    assert answer.status == 403 and answer.body["code"] == "email_not_verified"


def test_login_opens_a_session(api, person):
    ada = person()
    answer = api.post("/auth/login", {"email": "ADA@example.com", "password": ada.password})
    assert answer.status == 200
    body = answer.body
    assert body["status"] == "authenticated" and body["token"].startswith("ptu_") and len(body["token"]) >= 40
    assert body["expires_at"].endswith("Z")
    assert body["user"] == {"user_id": ada.user_id, "email": ada.email, "name": "Ada Lovelace", "language": "en"}
    assert "challenge" not in body and "reason" not in body
    assert answer.headers["Cache-Control"] == "no-store"
    session = store.query(keys.sessions_of(ada.user_id))[0][0]
    assert body["token"] not in str(session)  # only the hash is stored


def test_wrong_password_and_unknown_email_look_the_same(api, person):
    person()
    wrong = api.post("/auth/login", {"email": "ada@example.com", "password": "Wrong-Password-123"})
    unknown = api.post("/auth/login", {"email": "nobody@example.com", "password": "Wrong-Password-123"})
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert wrong.body["code"] == "invalid_credentials"


def test_lockout_doubles_and_refuses_even_the_right_password(api, person, clock):
    ada = person()
    for _ in range(lockout.THRESHOLD):
        assert api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"}).status == 401
    locked = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert locked.status == 429 and locked.body["code"] == "too_many_attempts"
    assert locked.headers["Retry-After"] == "1"
    clock.advance(1)
    assert api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"}).status == 401  # 6th
    again = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert again.status == 429 and again.headers["Retry-After"] == "2"
    clock.advance(2)
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 200
    # success reset the count: four more failures do not lock
    for _ in range(lockout.THRESHOLD - 1):
        assert api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"}).status == 401
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 200


def test_parallel_wrong_passwords_cannot_exceed_the_limit(api, person):
    ada = person()
    results: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        status = api.post("/auth/login", {"email": ada.email, "password": f"Wrong-Password-{i}"}).status
        with lock:
            results.append(status)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # Every guess that was checked is counted, and no more than the limit were checked; the rest
    # were refused unchecked (locked, or lost the race for the lockout record).
    assert set(results) <= {401, 429}, results
    assert results.count(401) <= lockout.THRESHOLD
    assert int(store.get(keys.credential(ada.email))["failed_count"]) == results.count(401)


def test_lockout_arithmetic():
    assert [lockout.lock_seconds(n) for n in (4, 5, 6, 7, 14, 15, 30)] == [0, 1, 2, 4, 512, 900, 900]
    state = lockout.State()
    now = 10_000.0
    for _ in range(5):
        state = state.after_failure(now)
    assert state.locked_for(now) == 1 and state.locked_for(now + 1) == 0
    capped = lockout.State(failed_count=0, hour=int(now // 3600), hour_failures=lockout.HOURLY_CAP)
    assert capped.locked_for(now) == 3600 - int(now % 3600)


def test_hourly_cap_holds_across_successes(api, person, clock):
    ada = person()
    item = store.get(keys.credential(ada.email))
    hour = int(clock.now // 3600)
    store.update(
        keys.credential(ada.email),
        "SET failure_hour = :h, hour_failures = :n",
        values={":h": hour, ":n": lockout.HOURLY_CAP},
    )
    assert item
    refused = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 1


def test_logout_ends_the_session_at_once(api, person, login):
    ada = person()
    token = login(ada)
    assert api.get("/me/sessions", token=token).status == 200
    assert api.post("/auth/logout", token=token).status == 204
    after = api.get("/me/sessions", token=token)
    assert after.status == 401 and after.body["code"] == "unauthenticated"


def test_idle_and_absolute_lifetimes(api, person, login, clock):
    ada = person()
    token = login(ada)
    clock.advance(29 * 60)
    assert api.get("/me/sessions", token=token).status == 200  # refreshes last_seen
    clock.advance(29 * 60)
    assert api.get("/me/sessions", token=token).status == 200
    clock.advance(30 * 60)
    assert api.get("/me/sessions", token=token).status == 401  # idle 30 min
    token = login(ada)
    for _ in range(12 * 3):  # active every 20 minutes for 12 hours
        clock.advance(20 * 60)
        if api.get("/me/sessions", token=token).status == 401:
            break
    assert api.get("/me/sessions", token=token).status == 401
    assert clock.now >= 0


def test_sessions_list_and_revoke(api, person, login):
    ada = person()
    first, second, third = login(ada), login(ada), login(ada)
    listed = api.get("/me/sessions", token=second)
    assert listed.status == 200
    items = listed.body["items"]
    assert len(items) == 3 and sum(i["current"] for i in items) == 1
    assert {"session_id", "created_at", "last_seen_at", "ip", "user_agent", "current"} <= set(items[0])
    assert items[0]["ip"] == "198.51.100.7" and items[0]["user_agent"] == "pytest"
    current = next(i for i in items if i["current"])["session_id"]
    other = next(i for i in items if not i["current"])["session_id"]
    assert api.delete(f"/me/sessions/{other}", token=second).status == 204
    assert api.delete("/me/sessions/ses_doesnotexist", token=second).status == 404
    assert len(api.get("/me/sessions", token=second).body["items"]) == 2
    assert api.delete("/me/sessions", token=second).status == 204
    remaining = api.get("/me/sessions", token=second).body["items"]
    assert [i["session_id"] for i in remaining] == [current]
    assert api.get("/me/sessions", token=first).status == 401
    assert api.get("/me/sessions", token=third).status == 401


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer ptu_" + "x" * 43, "Bearer ptc_abc"],
)
def test_bad_tokens_are_401(api, person, header):
    ada = person()
    answer = api.call("GET", f"/accounts/{ada.account_id}", headers={"Authorization": header} if header else None)
    assert answer.status == 401 and answer.body["code"] == "unauthenticated"


def test_authentication_comes_before_body_validation(api):
    answer = api.post("/me/password", "{not json")
    assert answer.status == 401


def test_account_routes_need_membership_and_right(api, person, login):
    ada, bob = person(), person("bob@example.com", name="Bob Builder", company="Builders")
    ada_token, bob_token = login(ada), login(bob)
    mine = api.get(f"/accounts/{ada.account_id}", token=ada_token)
    assert mine.status == 200
    assert mine.body == {
        "account_id": ada.account_id,
        "name": "Analytical Engines",
        "mode": "test",
        "test_account_id": None,
        "live_account_id": None,
    }
    theirs = api.get(f"/accounts/{ada.account_id}", token=bob_token)
    assert theirs.status == 404 and theirs.body["code"] == "not_found"
    assert api.get("/accounts/acc_doesnotexist", token=ada_token).status == 404
    assert api.get(f"/accounts/{ada.account_id}/security", token=bob_token).status == 404

    # Bob joins Ada's account without rights: may read the account, not its security settings.
    store.put(
        {
            **keys.membership(ada.account_id, bob.user_id),
            **keys.membership_index(ada.account_id, bob.user_id),
            "account_id": ada.account_id,
            "user_id": bob.user_id,
            "email": bob.email,
            "owner": False,
            "full_access": False,
            "rights": ["data:view"],
            "status": "active",
        }
    )
    assert api.get(f"/accounts/{ada.account_id}", token=bob_token).status == 200
    denied = api.get(f"/accounts/{ada.account_id}/security", token=bob_token)
    assert denied.status == 403 and denied.body["code"] == "forbidden"
    store.update(
        keys.membership(ada.account_id, bob.user_id), "SET #s = :d", values={":d": "disabled"}, names={"#s": "status"}
    )
    assert api.get(f"/accounts/{ada.account_id}", token=bob_token).status == 404  # deny access: at once


def test_security_settings_round_trip_and_audit(api, person, login):
    ada = person()
    token = login(ada)
    defaults = api.get(f"/accounts/{ada.account_id}/security", token=token)
    assert defaults.status == 200
    assert defaults.body["enforce_mfa"] is False and defaults.body["session_idle_minutes"] == 30
    assert (
        defaults.body["password_policy"]["min_length"] == 12 and defaults.body["password_policy"]["max_age_days"] == 90
    )
    new = {
        **defaults.body,
        "session_idle_minutes": 10,
        "password_policy": {**defaults.body["password_policy"], "min_length": 16, "history": 3},
    }
    saved = api.put(f"/accounts/{ada.account_id}/security", new, token=token)
    assert saved.status == 200 and saved.body["session_idle_minutes"] == 10
    assert api.get(f"/accounts/{ada.account_id}/security", token=token).body == saved.body
    credential = store.get(keys.credential(ada.email))
    assert credential["security"]["password_policy"]["min_length"] == 16
    records, _ = store.query(keys.audit_of(ada.account_id))
    assert "security.changed" in [r["action"] for r in records]
    assert "login.succeeded" in [r["action"] for r in records]
    bad = api.put(f"/accounts/{ada.account_id}/security", {**new, "session_idle_minutes": 1}, token=token)
    assert bad.status == 422 and bad.body["code"] == "validation_error"
    bad = api.put(
        f"/accounts/{ada.account_id}/security",
        {**new, "password_policy": {**new["password_policy"], "min_length": 7}},
        token=token,
    )
    assert bad.status == 422
    # new sessions follow the new idle timeout
    short = login(ada)
    assert api.get("/me/sessions", token=short).status == 200


def test_new_session_lifetimes_follow_security_settings(api, person, login, clock):
    ada = person()
    token = login(ada)
    settings = api.get(f"/accounts/{ada.account_id}/security", token=token).body
    api.put(f"/accounts/{ada.account_id}/security", {**settings, "session_idle_minutes": 10}, token=token)
    short = login(ada)
    clock.advance(11 * 60)
    assert api.get("/me/sessions", token=short).status == 401


def test_enforce_mfa_refuses_sessions_without_second_factor(api, person, login):
    ada = person()
    token = login(ada)
    settings = api.get(f"/accounts/{ada.account_id}/security", token=token).body
    assert api.put(f"/accounts/{ada.account_id}/security", {**settings, "enforce_mfa": True}, token=token).status == 200
    refused = api.get(f"/accounts/{ada.account_id}", token=token)
    assert refused.status == 403 and refused.body["code"] == "mfa_required"
    assert api.get("/me/sessions", token=token).status == 200  # /me is not an account route
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.status == 200 and step.body["status"] == "mfa_enrollment_required" and step.body["challenge"]
    assert "token" not in step.body


def test_login_costs_at_most_three_dynamodb_calls(api, person, aws_calls):
    ada = person()
    with aws_calls() as calls:
        assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 200
    assert calls.count("dynamodb") <= 3
    with aws_calls() as calls:
        assert api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"}).status == 401
    assert calls.count("dynamodb") <= 3


def test_authenticated_read_costs_at_most_two_dynamodb_calls(api, person, login, aws_calls):
    ada = person()
    token = login(ada)
    with aws_calls() as calls:
        assert api.get(f"/accounts/{ada.account_id}", token=token).status == 200
    assert calls.count("dynamodb") <= 2
    with aws_calls() as calls:
        assert api.get("/me/sessions", token=token).status == 200
    assert calls.count("dynamodb") <= 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{", 400, "malformed_json"),
        ({"email": "ada@example.com"}, 422, "validation_error"),
        ({"email": "ada@example.com", "password": 12345}, 422, "validation_error"),
        ({"email": "ada@example.com", "password": "x", "remember": True}, 422, "validation_error"),
        ({"email": "ada@example.com", "password": "x" * 20000}, 422, "validation_error"),
    ],
)
def test_bad_login_input(api, body, status, code):
    answer = api.post("/auth/login", body)
    assert answer.status == status and answer.body["code"] == code


def test_dynamodb_failure_during_login_is_503(api, person, fail_aws):
    ada = person()
    with fail_aws("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException"):
        answer = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert answer.status == 503 and answer.body["code"] == "service_unavailable"
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 200


def test_failures_and_lockout_are_audited(api, person):
    ada = person()
    for _ in range(5):
        api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"})
    records, _ = store.query(keys.audit_of(ada.account_id), forward=False)
    actions = [r["action"] for r in records]
    assert actions.count("login.failed") == 5 and actions.count("login.locked") == 1
    failed = next(r for r in records if r["action"] == "login.failed")
    assert failed["actor"] == {"type": "user", "id": ada.user_id, "email": ada.email}
    assert failed["ip"] == "198.51.100.7"
    assert "Wrong-Password-1" not in str(records)


def test_captcha_required_after_three_failures_when_configured(api, person, monkeypatch):
    from portico import config

    ada = person()
    for _ in range(3):
        api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"})
    monkeypatch.setenv("CAPTCHA_VERIFY_URL", "http://127.0.0.1:9/siteverify")
    monkeypatch.setenv("CAPTCHA_SECRET", "s3cret")
    config.settings.cache_clear()
    try:
        answer = api.post("/auth/login", {"email": ada.email, "password": ada.password})
        assert answer.status == 400 and answer.body["code"] == "captcha_failed"
    finally:
        monkeypatch.delenv("CAPTCHA_VERIFY_URL")
        config.settings.cache_clear()
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).status == 200


def test_unknown_emails_lock_exactly_like_known_ones(api, person):
    ada = person()
    known = [api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"}).status for _ in range(7)]
    unknown = [
        api.post("/auth/login", {"email": "ghost@example.com", "password": "Wrong-Password-1"}).status for _ in range(7)
    ]
    assert known == unknown == [401] * 5 + [429] * 2


def test_wrong_password_of_a_user_without_accounts_is_401(api, person):
    ada = person()
    store.update(keys.credential(ada.email), "SET account_ids = :none", values={":none": []})
    answer = api.post("/auth/login", {"email": ada.email, "password": "Wrong-Password-1"})
    assert answer.status == 401 and answer.body["code"] == "invalid_credentials"


def test_login_racing_a_reset_does_not_undo_it(api, person):
    """A success write is conditional on the verified hash: a password set meanwhile wins."""
    from portico.auth import hashing, repository

    ada = person()
    read = repository.get_credential(ada.email)
    store.update(
        keys.credential(ada.email), "SET password_hash = :h", values={":h": hashing.hash_password("Other-Pass-9x!")}
    )
    assert not repository.write(repository.success_ops(read, {"password_hash": read.password_hash}))
