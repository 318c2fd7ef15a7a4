"""TOTP two-factor authentication through the real handlers: enrollment, login, replay, recovery
codes, removal, reauthentication and "Enforce 2FA"."""

import base64
import math
import threading

import pyotp
import pytest

from portico import keys, store

NEW = "Harbor-Violet-Spruce-77"


def code(secret: str, at: float, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(at + 30 * offset_steps)


@pytest.fixture
def enrolled(api, person, login, clock):
    """A user with TOTP on: (person, secret, recovery codes, session token)."""
    ada = person()
    token = login(ada)
    started = api.post("/me/mfa/totp", token=token)
    assert started.status == 200, started.body
    secret = started.body["secret"]
    confirmed = api.post("/me/mfa/totp/confirm", {"code": code(secret, clock.now)}, token=token)
    assert confirmed.status == 200, confirmed.body
    clock.advance(30)  # the confirming code's step is used up
    return ada, secret, confirmed.body["recovery_codes"], token


def test_enrollment_returns_uri_qr_and_stores_the_secret_sealed(api, person, login, clock, outbox):
    ada = person()
    token = login(ada)
    started = api.post("/me/mfa/totp", token=token)
    assert started.status == 200
    secret = started.body["secret"]
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20  # 160 bits
    assert started.body["otpauth_uri"].startswith("otpauth://totp/Portico:ada%40example.com?secret=" + secret)
    assert started.body["qr_svg"].startswith("<svg") and "viewBox" in started.body["qr_svg"]
    assert started.headers["Cache-Control"] == "no-store"
    credential = store.get(keys.credential(ada.email))
    assert secret not in str(credential)  # sealed with KMS, never stored in clear
    wrong = api.post(
        "/me/mfa/totp/confirm", {"code": "000000" if code(secret, clock.now) != "000000" else "111111"}, token=token
    )
    assert wrong.status == 401 and wrong.body["code"] == "invalid_code"
    confirmed = api.post("/me/mfa/totp/confirm", {"code": code(secret, clock.now)}, token=token)
    assert confirmed.status == 200 and len(confirmed.body["recovery_codes"]) == 10
    assert len(set(confirmed.body["recovery_codes"])) == 10
    assert outbox(ada.email)[0]["subject"] == "Two-factor authentication is on"
    again = api.post("/me/mfa/totp", token=token)
    assert again.status == 409 and again.body["code"] == "mfa_already_enabled"
    assert api.post("/me/mfa/totp/confirm", {"code": "123456"}, token=token).status in (401, 409)


def test_confirm_without_pending_enrollment_is_409(api, person, login):
    ada = person()
    answer = api.post("/me/mfa/totp/confirm", {"code": "123456"}, token=login(ada))
    assert answer.status == 409 and answer.body["code"] == "no_pending_enrollment"


def test_login_asks_for_the_code_and_accepts_drift_of_one_step(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.body == {"status": "mfa_required", "challenge": step.body["challenge"]}
    clock.advance(60)  # the phone's clock is one step behind ours
    late = api.post("/auth/login/mfa", {"challenge": step.body["challenge"], "code": code(secret, clock.now, -1)})
    assert late.status == 200 and late.body["status"] == "authenticated"
    ahead = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    early = api.post("/auth/login/mfa", {"challenge": ahead, "code": code(secret, clock.now, +1)})
    assert early.status == 200


def test_codes_two_steps_away_are_refused(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    for offset in (-2, 2):
        answer = api.post(
            "/auth/login/mfa", {"challenge": step.body["challenge"], "code": code(secret, clock.now, offset)}
        )
        assert answer.status == 401 and answer.body["code"] == "invalid_code"


def test_a_code_works_once(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    now_code = code(secret, clock.now)
    first = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    assert api.post("/auth/login/mfa", {"challenge": first, "code": now_code}).status == 200
    second = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    replay = api.post("/auth/login/mfa", {"challenge": second, "code": now_code})
    assert replay.status == 401 and replay.body["code"] == "code_already_used"
    clock.advance(30)
    assert api.post("/auth/login/mfa", {"challenge": second, "code": code(secret, clock.now)}).status == 200


def test_concurrent_use_of_one_code_gives_one_session(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    challenges = [
        api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"] for _ in range(2)
    ]
    now_code = code(secret, clock.now)
    results: list[dict] = []
    threads = [
        threading.Thread(
            target=lambda c=c: results.append(api.post("/auth/login/mfa", {"challenge": c, "code": now_code}).body)
        )
        for c in challenges
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    statuses = sorted(r.get("code") or r["status"] for r in results)
    assert statuses == ["authenticated", "code_already_used"]


def test_recovery_codes_are_single_use_and_counted(api, enrolled):
    ada, _, recovery, _ = enrolled
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    assert api.post("/auth/login/mfa", {"challenge": step, "code": recovery[0].upper()}).status == 200
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    used = api.post("/auth/login/mfa", {"challenge": step, "code": recovery[0]})
    assert used.status == 401
    assert len(store.get(keys.credential(ada.email))["recovery_hashes"]) == 9
    assert recovery[1] not in str(store.get(keys.credential(ada.email)))


def test_recovery_codes_carry_over_112_bits_and_forgive_typing(api, enrolled):
    ada, _, recovery, _ = enrolled
    alphabet = set("abcdefghjkmnpqrstuvwxyz23456789")
    assert len(recovery) == len(set(recovery)) == 10
    for shown in recovery:
        groups = shown.split("-")
        assert [len(g) for g in groups] == [6, 6, 6, 6] and set("".join(groups)) <= alphabet
    assert 24 * math.log2(len(alphabet)) >= 112  # ASVS 5.0 V6.5.2: plain SHA-256 is then allowed
    typed = " ".join(recovery[2].upper().split("-"))  # read off paper: capitals, spaces for dashes
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    assert api.post("/auth/login/mfa", {"challenge": step, "code": typed}).status == 200


def test_regenerating_recovery_codes_replaces_them(api, enrolled, clock):
    ada, secret, recovery, token = enrolled
    fresh = api.post("/me/mfa/recovery-codes", {"code": code(secret, clock.now)}, token=token)
    assert fresh.status == 200 and len(fresh.body["recovery_codes"]) == 10
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    assert api.post("/auth/login/mfa", {"challenge": step, "code": recovery[1]}).status == 401
    assert api.post("/auth/login/mfa", {"challenge": step, "code": fresh.body["recovery_codes"][0]}).status == 200


def test_wrong_codes_count_in_the_lockout(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    wrong = "000000" if code(secret, clock.now) != "000000" else "111111"
    for _ in range(5):
        assert api.post("/auth/login/mfa", {"challenge": step, "code": wrong}).status == 401
    locked = api.post("/auth/login/mfa", {"challenge": step, "code": code(secret, clock.now)})
    assert locked.status == 429 and locked.body["code"] == "too_many_attempts"


def test_challenge_of_another_purpose_or_expired_is_refused(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    wrong_purpose = api.post("/auth/login/mfa-enrollment", {"challenge": step})
    assert wrong_purpose.status == 401 and wrong_purpose.body["code"] == "invalid_challenge"
    clock.advance(601)
    late = api.post("/auth/login/mfa", {"challenge": step, "code": code(secret, clock.now)})
    assert late.status == 401 and late.body["code"] == "invalid_challenge"


def test_removing_totp_needs_recent_authentication_password_and_code(api, enrolled, clock, outbox, login):
    ada, secret, _, token = enrolled
    clock.advance(16 * 60)
    stale = api.call("DELETE", "/me/mfa/totp", {"password": ada.password, "code": code(secret, clock.now)}, token=token)
    assert stale.status == 403 and stale.body["code"] == "reauthentication_required"
    reauth = api.post("/auth/reauthenticate", {"password": ada.password, "code": code(secret, clock.now)}, token=token)
    assert reauth.status == 204
    clock.advance(30)
    wrong = api.call(
        "DELETE", "/me/mfa/totp", {"password": "Wrong-Password-1", "code": code(secret, clock.now)}, token=token
    )
    assert wrong.status == 401
    removed = api.call(
        "DELETE", "/me/mfa/totp", {"password": ada.password, "code": code(secret, clock.now)}, token=token
    )
    assert removed.status == 204
    assert outbox(ada.email)[0]["subject"] == "Two-factor authentication was turned off"
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["status"] == "authenticated"


def test_reauthenticate_needs_the_code_when_totp_is_on(api, enrolled, clock):
    ada, _, _, token = enrolled
    without = api.post("/auth/reauthenticate", {"password": ada.password}, token=token)
    assert without.status == 401
    assert api.post("/auth/reauthenticate", {"password": "nope"}, token=token).status == 401


def test_enforce_2fa_enrollment_at_login(api, person, login, clock, outbox):
    ada = person()
    token = login(ada)
    settings = api.get(f"/accounts/{ada.account_id}/security", token=token).body
    assert api.put(f"/accounts/{ada.account_id}/security", {**settings, "enforce_mfa": True}, token=token).status == 200
    assert api.get(f"/accounts/{ada.account_id}", token=token).body["code"] == "mfa_required"
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.body["status"] == "mfa_enrollment_required"
    enrollment = api.post("/auth/login/mfa-enrollment", {"challenge": step.body["challenge"]})
    assert enrollment.status == 200 and enrollment.body["otpauth_uri"].startswith("otpauth://totp/")
    secret = enrollment.body["secret"]
    done = api.post(
        "/auth/login/mfa-enrollment/confirm", {"challenge": step.body["challenge"], "code": code(secret, clock.now)}
    )
    assert done.status == 200 and done.body["status"] == "authenticated" and len(done.body["recovery_codes"]) == 10
    assert api.get(f"/accounts/{ada.account_id}", token=done.body["token"]).status == 200
    # while enforced, the factor cannot be removed
    clock.advance(30)
    removal = api.call(
        "DELETE", "/me/mfa/totp", {"password": ada.password, "code": code(secret, clock.now)}, token=done.body["token"]
    )
    assert removal.status == 409 and removal.body["code"] == "mfa_enforced"


def test_reset_password_still_asks_for_the_second_factor(api, enrolled, outbox):
    import re

    ada, _, _, _ = enrolled
    api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"})
    token = re.search(r"reset-password\?token=([\w\-]+)", outbox(ada.email)[0]["text"]).group(1)
    assert api.post("/auth/password/reset", {"token": token, "new_password": NEW}).status == 200
    assert api.post("/auth/login", {"email": ada.email, "password": NEW}).body["status"] == "mfa_required"


def test_kms_failure_is_503_and_changes_nothing(api, person, login, fail_aws):
    ada = person()
    token = login(ada)
    before = store.get(keys.credential(ada.email))
    with fail_aws("kms", "Encrypt", "KMSInternalException"):
        answer = api.post("/me/mfa/totp", token=token)
    assert answer.status == 503 and answer.body["code"] == "service_unavailable"
    after = store.get(keys.credential(ada.email))
    assert "totp_pending_sealed" not in after and after["version"] == before["version"]


def test_login_mfa_step_costs_at_most_three_dynamodb_calls(api, enrolled, clock, aws_calls):
    ada, secret, _, _ = enrolled
    challenge = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    with aws_calls() as calls:
        assert api.post("/auth/login/mfa", {"challenge": challenge, "code": code(secret, clock.now)}).status == 200
    assert calls.count("dynamodb") <= 4
    assert calls.count("kms") == 1


def test_me_shows_2fa_state_and_recovery_codes_left(api, enrolled):
    ada, _, recovery, token = enrolled
    me = api.get("/me", token=token)
    assert me.status == 200
    assert me.body["mfa"] == {"totp": True, "recovery_codes_left": 10}
    assert me.body["email"] == ada.email and me.body["name"] == "Ada Lovelace" and me.body["phone"] is None
    assert me.body["password_expires_at"].endswith("Z")
    assert me.body["accounts"] == [
        {
            "account_id": ada.account_id,
            "name": "Analytical Engines",
            "mode": "test",
            "owner": True,
            "full_access": True,
            "rights": [],
            "status": "active",
        }
    ]
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    api.post("/auth/login/mfa", {"challenge": step, "code": recovery[3]})
    assert api.get("/me", token=token).body["mfa"]["recovery_codes_left"] == 9


def test_replay_is_audited(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    used = code(secret, clock.now)
    first = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    api.post("/auth/login/mfa", {"challenge": first, "code": used})
    second = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    assert api.post("/auth/login/mfa", {"challenge": second, "code": used}).status == 401
    records, _ = store.query(keys.audit_of(ada.account_id))
    replays = [r for r in records if r["action"] == "mfa.replay_refused"]
    assert len(replays) == 1 and replays[0]["ip"] == "198.51.100.7"
    assert "mfa.enabled" in [r["action"] for r in records]


def test_knowing_the_password_does_not_reset_the_count_of_wrong_codes(api, enrolled, clock):
    ada, secret, _, _ = enrolled
    wrong = "000000" if code(secret, clock.now) != "000000" else "111111"
    for _ in range(4):
        step = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
        assert api.post("/auth/login/mfa", {"challenge": step, "code": wrong}).status == 401
    step = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert step.status == 200  # four failures: not locked yet
    assert api.post("/auth/login/mfa", {"challenge": step.body["challenge"], "code": wrong}).status == 401
    locked = api.post("/auth/login", {"email": ada.email, "password": ada.password})
    assert locked.status == 429


def test_a_reset_that_commits_while_a_code_is_counted_ends_the_challenge(api, enrolled, clock, monkeypatch, login):
    """The race of the review: a challenge read, then an admin's 2FA reset (or a password reset)
    commits before the code's attempt is counted, and the counting write loses to it. The step
    reads the credential again and finds it in another state: the challenge is over, no session
    opens, and the removed secret proves nothing."""
    from portico.auth import repository

    ada, secret, _, _ = enrolled
    challenge = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["challenge"]
    record = repository.record_attempt
    raced = []

    def reset_then_lose(*args, **kwargs):
        if not raced:
            raced.append(True)
            credential = repository.get_credential(ada.email)
            fields = {**repository.moved_on(credential), "mfa_enabled": False}
            fields.update(dict.fromkeys(repository.SECOND_FACTOR_FIELDS))
            assert repository.write([repository.update_op(ada.email, fields)])
            return False  # this attempt lost to the reset's write
        return record(*args, **kwargs)

    monkeypatch.setattr(repository, "record_attempt", reset_then_lose)
    answer = api.post("/auth/login/mfa", {"challenge": challenge, "code": code(secret, clock.now)})
    assert raced and answer.status == 401 and answer.body["code"] == "invalid_challenge"
    monkeypatch.undo()
    assert api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["status"] == "authenticated"
