"""Sign-up and email verification through the real handler, against moto with the template's tables."""

import json
import re
import threading

import pytest

from portico import keys, store

STRONG = "Quartz-Lantern-Vivid-42"


def signup_body(**overrides):
    body = {"email": "ada@example.com", "password": STRONG, "name": "Ada Lovelace", "company": "Analytical Engines"}
    body.update(overrides)
    return body


def token_from(message) -> str:
    found = re.search(r"/verify-email\?token=([A-Za-z0-9_\-]+)", message["text"])
    assert found, message["text"]
    return found.group(1)


def test_signup_creates_test_account_owner_and_sends_verification(api, outbox):
    answer = api.post("/signup", signup_body())
    assert answer.status == 201, answer.body
    assert answer.body["account_id"].startswith("acc_") and answer.body["user_id"].startswith("usr_")

    account = store.get(keys.account(answer.body["account_id"]))
    assert account["mode"] == "test" and account["name"] == "Analytical Engines"
    membership = store.get(keys.membership(answer.body["account_id"], answer.body["user_id"]))
    assert membership["owner"] is True and membership["full_access"] is True and membership["status"] == "active"
    user = store.get(keys.user(answer.body["user_id"]))
    assert user["name"] == "Ada Lovelace" and user["email"] == "ada@example.com"
    credential = store.get(keys.credential("ada@example.com"))
    assert credential["user_id"] == answer.body["user_id"]
    assert credential["email_verified"] is False
    assert credential["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert STRONG not in json.dumps([user, credential], default=str)

    [message] = outbox("ada@example.com")
    assert message["subject"].startswith("Confirm your email address")
    assert "https://app.portico.test/verify-email?token=" in message["text"]
    assert "https://app.portico.test/verify-email?token=" in message["html"]


def test_verification_language_follows_body_then_accept_language(api, outbox):
    api.post("/signup", signup_body(email="de@example.com", language="de"))
    api.post("/signup", signup_body(email="hdr@example.com"), headers={"Accept-Language": "de-CH, en;q=0.5"})
    api.post("/signup", signup_body(email="en@example.com"), headers={"Accept-Language": "fr"})
    assert outbox("de@example.com")[0]["subject"].startswith("Bitte bestätigen")
    assert outbox("hdr@example.com")[0]["subject"].startswith("Bitte bestätigen")
    assert outbox("en@example.com")[0]["subject"].startswith("Confirm")


def test_verify_once_then_reuse_is_invalid(api, outbox):
    created = api.post("/signup", signup_body()).body
    token = token_from(outbox("ada@example.com")[0])
    first = api.post("/auth/verify-email", {"token": token})
    assert first.status == 200 and first.body == {"status": "verified"}
    credential = store.get(keys.credential("ada@example.com"))
    assert credential["email_verified"] is True and credential["user_id"] == created["user_id"]
    again = api.post("/auth/verify-email", {"token": token})
    assert again.status == 400 and again.body["code"] == "invalid_token"


def test_verification_link_expires_after_24_hours(api, outbox, clock):
    api.post("/signup", signup_body())
    token = token_from(outbox("ada@example.com")[0])
    clock.advance(24 * 3600 + 1)
    expired = api.post("/auth/verify-email", {"token": token})
    assert expired.status == 400 and expired.body["code"] == "invalid_token"


def test_unknown_token_is_invalid(api):
    answer = api.post("/auth/verify-email", {"token": "not-a-real-token"})
    assert answer.status == 400 and answer.body["code"] == "invalid_token"
    assert "not-a-real-token" not in json.dumps(answer.body)


def test_email_is_unique_case_insensitively(api):
    assert api.post("/signup", signup_body()).status == 201
    again = api.post("/signup", signup_body(email="ADA@Example.com", company="Other"))
    assert again.status == 409 and again.body["code"] == "email_taken"


def test_concurrent_signups_with_one_email_make_one_user(api):
    results: list[int] = []

    def attempt(i):
        results.append(api.post("/signup", signup_body(company=f"Company {i}")).status)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [201] + [409] * 5
    members, _ = store.query(keys.memberships_of(store.get(keys.credential("ada@example.com"))["user_id"]))
    assert len(members) == 1


def test_weak_password_lists_reasons_and_stores_nothing(api, table_items):
    answer = api.post("/signup", signup_body(password="analytical"))
    assert answer.status == 422 and answer.body["code"] == "weak_password"
    assert {"too_short", "missing_uppercase", "missing_digit", "missing_special"} <= set(answer.body["reasons"])
    assert "analytical" not in json.dumps(answer.body)
    assert table_items() == []


def test_password_with_personal_info_is_refused(api):
    answer = api.post("/signup", signup_body(password="Lovelace!Xq7#Zr9"))
    assert answer.status == 422 and "contains_personal_info" in answer.body["reasons"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        (json.dumps({"email": "ada@example.com"}), 422, "validation_error"),
        (json.dumps({**signup_body(), "email": 5}), 422, "validation_error"),
        (json.dumps({**signup_body(), "admin": True}), 422, "validation_error"),
        (json.dumps({**signup_body(), "email": "not-an-email"}), 422, "validation_error"),
        (json.dumps({**signup_body(), "language": "xx"}), 422, "validation_error"),
        (json.dumps({**signup_body(), "name": "   "}), 422, "validation_error"),
        (json.dumps({**signup_body(), "company": "x" * 201}), 422, "validation_error"),
        (json.dumps({**signup_body(), "password": "Aa1!" * 2500}), 422, "weak_password"),
        (json.dumps({**signup_body(), "name": "x" * (10 * 1024 * 1024)}), 413, "payload_too_large"),
    ],
    ids=[
        "malformed",
        "missing",
        "wrong-type",
        "unknown-field",
        "bad-email",
        "bad-language",
        "blank-name",
        "long-company",
        "10k-password",
        "10MB-body",
    ],
)
def test_bad_signup_input_is_a_clear_4xx_and_stores_nothing(api, table_items, outbox, body, status, code):
    answer = api.post("/signup", body)
    assert answer.status == status, answer.body
    assert answer.body["code"] == code
    assert table_items() == [] and outbox() == []


def test_10k_character_password_is_too_long(api):
    answer = api.post("/signup", signup_body(password="Aa1!" * 2500))
    assert answer.body["reasons"] == ["too_long"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("[", 400, "malformed_json"),
        (json.dumps({}), 422, "validation_error"),
        (json.dumps({"token": 123}), 422, "validation_error"),
        (json.dumps({"token": "t", "extra": 1}), 422, "validation_error"),
        (json.dumps({"token": "t" * 2000}), 422, "validation_error"),
    ],
)
def test_bad_verify_input(api, body, status, code):
    answer = api.post("/auth/verify-email", body)
    assert answer.status == status and answer.body["code"] == code


def test_resend_replaces_link_and_always_answers_202(api, outbox, clock):
    api.post("/signup", signup_body())
    first = token_from(outbox("ada@example.com")[0])
    clock.advance(61)
    assert api.post("/auth/verify-email/resend", {"email": "ada@example.com"}).status == 202
    messages = outbox("ada@example.com")
    assert len(messages) == 2
    second = token_from(messages[0])
    assert second != first
    assert api.post("/auth/verify-email", {"token": first}).body["code"] == "invalid_token"
    assert api.post("/auth/verify-email", {"token": second}).status == 200
    clock.advance(61)
    # verified: still 202, nothing sent
    assert api.post("/auth/verify-email/resend", {"email": "ada@example.com"}).status == 202
    assert len(outbox("ada@example.com")) == 2


def test_resend_for_unknown_email_is_202_and_sends_nothing(api, outbox):
    answer = api.post("/auth/verify-email/resend", {"email": "nobody@example.com"})
    assert answer.status == 202
    assert outbox() == []


def test_resend_is_rate_limited_per_address(api, outbox, clock):
    api.post("/signup", signup_body())
    clock.advance(61)
    assert api.post("/auth/verify-email/resend", {"email": "ada@example.com"}).status == 202
    limited = api.post("/auth/verify-email/resend", {"email": "ada@example.com"})
    assert limited.status == 429 and limited.body["code"] == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # also for addresses without an account, so 429 tells nothing
    assert api.post("/auth/verify-email/resend", {"email": "ghost@example.com"}).status == 202
    assert api.post("/auth/verify-email/resend", {"email": "ghost@example.com"}).status == 429
    for _ in range(4):
        clock.advance(61)
        api.post("/auth/verify-email/resend", {"email": "ada@example.com"})
    clock.advance(61)
    assert api.post("/auth/verify-email/resend", {"email": "ada@example.com"}).status == 429  # 5 an hour
    assert len(outbox("ada@example.com")) == 1 + 5


def test_ses_failure_is_503_and_undoes_the_signup(api, table_items, outbox, fail_aws):
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        answer = api.post("/signup", signup_body())
    assert answer.status == 503 and answer.body["code"] == "service_unavailable"
    assert table_items() == [] and outbox() == []
    retry = api.post("/signup", signup_body())
    assert retry.status == 201


def test_dynamodb_failure_is_503_and_nothing_sent(api, table_items, outbox, fail_aws):
    with fail_aws("dynamodb", "TransactWriteItems", "InternalServerError"):
        answer = api.post("/signup", signup_body())
    assert answer.status == 503
    assert table_items() == [] and outbox() == []


def test_resend_with_ses_down_keeps_the_earlier_link(api, outbox, clock, fail_aws):
    api.post("/signup", signup_body())
    first = token_from(outbox("ada@example.com")[0])
    clock.advance(61)
    with fail_aws("ses", "SendRawEmail", "ServiceUnavailable"):
        assert api.post("/auth/verify-email/resend", {"email": "ada@example.com"}).status == 503
    assert api.post("/auth/verify-email", {"token": first}).status == 200


def test_signup_costs_bounded_aws_calls(api, aws_calls):
    with aws_calls() as calls:
        assert api.post("/signup", signup_body()).status == 201
    assert calls.count("dynamodb") == 2  # uniqueness pre-check + the transaction
    assert calls.count("ses") == 1


def test_idempotency_key_replays_the_first_signup(api, outbox, table_items):
    key = {"Idempotency-Key": "signup-attempt-1"}
    first = api.post("/signup", signup_body(), headers=key)
    again = api.post("/signup", signup_body(), headers=key)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert len(outbox("ada@example.com")) == 1  # no second email, no second user
    other = api.post("/signup", signup_body(company="Another Company"), headers=key)
    assert other.status == 422 and other.body["code"] == "idempotency_key_reused"
    without = api.post("/signup", signup_body())
    assert without.status == 409 and without.body["code"] == "email_taken"


def test_failed_request_is_not_remembered_by_its_key(api, fail_aws):
    key = {"Idempotency-Key": "retry-me"}
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        assert api.post("/signup", signup_body(), headers=key).status == 503
    assert api.post("/signup", signup_body(), headers=key).status == 201


def test_bad_idempotency_key_is_422(api):
    answer = api.post("/signup", signup_body(), headers={"Idempotency-Key": "x" * 300})
    assert answer.status == 422 and answer.body["errors"][0]["loc"] == ["header", "idempotency-key"]


def test_a_resend_that_failed_can_be_retried_at_once(api, outbox, clock, fail_aws):
    api.post("/signup", signup_body())
    clock.advance(61)
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        assert api.post("/auth/verify-email/resend", {"email": "ada@example.com"}).status == 503
    retried = api.post("/auth/verify-email/resend", {"email": "ada@example.com"})
    assert retried.status == 202 and len(outbox("ada@example.com")) == 2
    again = api.post("/auth/verify-email/resend", {"email": "ada@example.com"})
    assert again.status == 429  # a resend that went out still holds the minute
