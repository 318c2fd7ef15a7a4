"""The member list with each member's second factor, and the admin's 2FA reset."""

import base64
import json

import pytest

from portico import keys, store
from portico.identity import members

RESET_FIELDS = {"totp_sealed", "totp_last_step", "recovery_hashes", "totp_pending_sealed", "totp_pending_expires"}


def join(account_id: str, who, *, rights=("data:view",), status: str = "active") -> None:
    """Add ``who`` to an account the way the user administration will: a membership item."""
    store.put(
        {
            **keys.membership(account_id, who.user_id),
            **keys.membership_index(account_id, who.user_id),
            "account_id": account_id,
            "user_id": who.user_id,
            "email": who.email,
            "owner": False,
            "full_access": False,
            "rights": list(rights),
            "status": status,
        }
    )


def with_mfa(who) -> None:
    """A login with 2FA on, as enrollment leaves it (the secret's ciphertext is opaque here)."""
    store.update(
        keys.credential(who.email),
        "SET mfa_enabled = :t, totp_sealed = :s, totp_last_step = :n, recovery_hashes = :r",
        values={":t": True, ":s": b"sealed-secret", ":n": 59_666_666, ":r": ["a" * 64, "b" * 64]},
    )


@pytest.fixture
def team(person, login):
    """Ada (owner) and Bob (member with 2FA, right data:view) in Ada's account; Ada's token, and a
    session Bob opened before he turned 2FA on."""
    ada = person()
    bob = person("bob@example.com", name="Bob Builder", company="Builders")
    join(ada.account_id, bob)
    bob_token = login(bob)
    with_mfa(bob)
    return ada, bob, login(ada), bob_token


def users(api, ada, token, query: str = ""):
    return api.get(f"/accounts/{ada.account_id}/users{query}", token=token)


def test_list_shows_every_member_with_their_second_factor(api, team, clock):
    ada, bob, token, _ = team
    answer = users(api, ada, token)
    assert answer.status == 200, answer.body
    assert answer.body["next_cursor"] is None
    listed = {item["user_id"]: item for item in answer.body["items"]}
    assert set(listed) == {ada.user_id, bob.user_id}
    owner = listed[ada.user_id]
    changed = store.get(keys.credential(ada.email))["password_changed_at"]
    assert owner == {
        "user_id": ada.user_id,
        "email": ada.email,
        "name": "Ada Lovelace",
        "status": "active",
        "owner": True,
        "full_access": True,
        "rights": [],
        "mfa_enabled": False,
        "last_login_at": "2026-09-21T14:13:20Z",  # the fixed clock: Ada just logged in
        "password_changed_at": changed,
    }
    assert changed.endswith("Z")
    member = listed[bob.user_id]
    assert member["mfa_enabled"] is True and member["name"] == "Bob Builder"
    assert member["owner"] is False and member["full_access"] is False and member["rights"] == ["data:view"]
    assert member["last_login_at"] == "2026-09-21T14:13:20Z"
    assert answer.headers["Cache-Control"] == "no-store"


def test_filter_finds_who_has_not_set_up_2fa(api, team):
    ada, bob, token, _ = team
    without = users(api, ada, token, "?mfa_enabled=false")
    assert without.status == 200
    assert [i["user_id"] for i in without.body["items"]] == [ada.user_id]
    assert without.body["next_cursor"] is None
    enabled = users(api, ada, token, "?mfa_enabled=true")
    assert [i["user_id"] for i in enabled.body["items"]] == [bob.user_id]
    assert users(api, ada, token, "?status=disabled").body["items"] == []
    store.update(
        keys.membership(ada.account_id, bob.user_id), "SET #s = :d", values={":d": "disabled"}, names={"#s": "status"}
    )
    disabled = users(api, ada, token, "?status=disabled")
    assert [(i["user_id"], i["status"]) for i in disabled.body["items"]] == [(bob.user_id, "disabled")]
    assert [i["user_id"] for i in users(api, ada, token, "?status=active&mfa_enabled=true").body["items"]] == []


def walk(api, ada, token, query: str) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(10):
        answer = users(api, ada, token, query + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status == 200, answer.body
        pages.append([i["user_id"] for i in answer.body["items"]])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def test_pagination_walks_every_member_once(api, team, person):
    ada, bob, token, _ = team
    carol = person("carol@example.com", name="Carol Chen", company="Chen")
    join(ada.account_id, carol, status="invited")
    assert (
        next(i for i in users(api, ada, token).body["items"] if i["user_id"] == carol.user_id)["last_login_at"] is None
    )  # never logged in
    pages = walk(api, ada, token, "?limit=1")
    assert len(pages) == 3 and all(len(p) == 1 for p in pages)  # no empty page at the end
    assert sorted(p[0] for p in pages) == sorted([ada.user_id, bob.user_id, carol.user_id])
    assert walk(api, ada, token, "?limit=2") == [pages[0] + pages[1], pages[2]]
    # Filtered pages are full while members remain: Bob (with 2FA) is skipped, not a short page.
    filtered = walk(api, ada, token, "?limit=1&mfa_enabled=false")
    assert sorted(p[0] for p in filtered) == sorted([ada.user_id, carol.user_id])
    assert all(len(p) == 1 for p in filtered) and len(filtered) == 2


def test_filtered_list_of_a_large_account_reads_on_but_bounded(api, person, login, aws_calls, monkeypatch):
    ada = person()
    token = login(ada)
    # 7 members with 2FA between Ada and the one without, read 3 memberships per page
    monkeypatch.setattr(members, "FILTER_PAGE", 3)
    for n in range(8):
        store.put(
            {
                **keys.membership(ada.account_id, f"usr_{n:02d}"),
                "account_id": ada.account_id,
                "user_id": f"usr_{n:02d}",
                "email": f"member{n}@example.com",
                "owner": False,
                "full_access": False,
                "rights": [],
                "status": "active",
            }
        )
        email = f"member{n}@example.com"
        store.put({**keys.credential(email), "user_id": f"usr_{n:02d}", "email": email, "mfa_enabled": n != 7})
    with aws_calls() as calls:
        found = users(api, ada, token, "?mfa_enabled=false&limit=2")
    assert found.status == 200
    assert sorted(i["user_id"] for i in found.body["items"]) == sorted([ada.user_id, "usr_07"])
    assert calls.count("dynamodb") == 2 + 2 * 3  # access check, then 3 pages of (query, batch get)
    monkeypatch.setattr(members, "MAX_PAGES", 2)
    capped = users(api, ada, token, "?mfa_enabled=false&limit=2")
    assert capped.status == 200 and len(capped.body["items"]) < 2 and capped.body["next_cursor"]
    rest = users(api, ada, token, f"?mfa_enabled=false&limit=2&cursor={capped.body['next_cursor']}")
    got = [i["user_id"] for i in capped.body["items"] + rest.body["items"]]
    assert sorted(got) == sorted([ada.user_id, "usr_07"])


def test_list_of_a_small_account_costs_four_dynamodb_calls(api, team, aws_calls):
    ada, _, token, _ = team
    with aws_calls() as calls:
        assert users(api, ada, token).status == 200
    assert calls.count("dynamodb") == 4  # session, membership + account, one query, one batch get
    with aws_calls() as calls:
        assert users(api, ada, token, "?mfa_enabled=false").status == 200
    assert calls.count("dynamodb") == 4


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?mfa_enabled=maybe",
        "?status=deleted",
        "?cursor=not*base64",
        "?cursor=" + cursor_of("not json"),
        "?cursor=" + cursor_of('["a"]'),
        "?cursor=" + cursor_of(json.dumps(keys.membership("acc_other", "usr_x"))),  # another account's member
        "?cursor=" + cursor_of('{"pk": "x", "sk": "y", "gsi1pk": "z"}'),
        "?cursor=" + "A" * 2000,
    ],
)
def test_bad_query_is_422(api, team, query):
    ada, _, token, _ = team
    answer = users(api, ada, token, query)
    assert answer.status == 422 and answer.body["code"] == "validation_error", answer.body
    assert answer.body["errors"][0]["loc"][0] == "query"


def test_a_cursor_of_another_account_is_refused(api, team, person, login):
    ada, bob, token, bob_token = team
    join(ada.account_id, person("carol@example.com", name="Carol Chen", company="Chen"))
    cursor = users(api, ada, token, "?limit=1").body["next_cursor"]
    # Bob's own account: Bob is its owner, the cursor belongs to Ada's
    answer = api.get(f"/accounts/{bob.account_id}/users?cursor={cursor}", token=bob_token)
    assert answer.status == 422


def test_list_needs_the_users_right_and_membership(api, team, person, login):
    ada, bob, _, bob_token = team
    denied = api.get(f"/accounts/{ada.account_id}/users", token=bob_token)
    assert denied.status == 403 and denied.body["code"] == "forbidden"
    assert api.post(f"/accounts/{ada.account_id}/users/{ada.user_id}/mfa-reset", token=bob_token).status == 403
    eve = person("eve@example.com", name="Eve Intruder", company="Eavesdrop")
    eve_token = login(eve)
    stranger = api.get(f"/accounts/{ada.account_id}/users", token=eve_token)
    assert stranger.status == 404 and stranger.body["code"] == "not_found"
    reset = api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset", token=eve_token)
    assert reset.status == 404
    assert api.get(f"/accounts/{ada.account_id}/users").status == 401
    assert store.get(keys.credential(bob.email))["mfa_enabled"] is True


def audit_records(account_id: str, action: str) -> list[dict]:
    records, _ = store.query(keys.audit_of(account_id))
    return [r for r in records if r["action"] == action]


def test_mfa_reset_removes_the_second_factor_and_ends_sessions(api, team, login, outbox):
    ada, bob, token, _ = team
    store.update(
        keys.credential(bob.email),
        "SET totp_pending_sealed = :p, totp_pending_expires = :e",
        values={":p": b"pending", ":e": 1},
    )
    store.update(keys.credential(bob.email), "SET #l = :de", values={":de": "de"}, names={"#l": "language"})
    version = store.get(keys.credential(bob.email))["version"]

    answer = api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset", token=token)
    assert answer.status == 204 and answer.body is None

    credential = store.get(keys.credential(bob.email))
    assert credential["mfa_enabled"] is False
    assert RESET_FIELDS.isdisjoint(credential)
    assert credential["version"] == version + 1
    assert credential["password_hash"]  # the password is untouched
    [record] = audit_records(ada.account_id, "mfa.reset")
    assert record["actor"] == {"type": "user", "id": ada.user_id, "email": ada.email}
    assert record["target"] == {"user_id": bob.user_id}
    assert record["ip"] == "198.51.100.7"
    notices = [m for m in outbox(bob.email) if "Zwei-Faktor" in m["subject"]]
    assert len(notices) == 1  # in Bob's language
    assert "Analytical Engines" in notices[0]["text"]
    listed = {i["user_id"]: i for i in users(api, ada, token).body["items"]}
    assert listed[bob.user_id]["mfa_enabled"] is False
    # Without a second factor Bob logs in with his password alone (his accounts do not enforce 2FA).
    assert login(bob)


def test_mfa_reset_logs_the_user_out_everywhere(api, team):
    ada, bob, token, bob_token = team
    assert api.get("/me/sessions", token=bob_token).status == 200  # stands for the lost phone's session
    assert api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset", token=token).status == 204
    gone = api.get("/me/sessions", token=bob_token)
    assert gone.status == 401 and gone.body["code"] == "unauthenticated"
    assert api.get(f"/accounts/{ada.account_id}", token=token).status == 200  # Ada's own session stands


def test_mfa_reset_is_idempotent(api, team, outbox):
    ada, bob, token, _ = team
    url = f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset"
    assert api.post(url, token=token).status == 204
    assert api.post(url, token=token).status == 204  # nothing left to remove: the same end state
    assert store.get(keys.credential(bob.email))["mfa_enabled"] is False
    assert api.post(f"/accounts/{ada.account_id}/users/{ada.user_id}/mfa-reset", token=token).status == 204


def test_mfa_reset_of_a_non_member_is_404(api, team, person):
    ada, _, token, _ = team
    carol = person("carol@example.com", name="Carol Chen", company="Chen")
    with_mfa(carol)
    for user_id in (carol.user_id, "usr_doesnotexist", "not-an-id", "usr_" + "x" * 200):
        answer = api.post(f"/accounts/{ada.account_id}/users/{user_id}/mfa-reset", token=token)
        assert answer.status == 404 and answer.body["code"] == "not_found", user_id
    assert store.get(keys.credential(carol.email))["mfa_enabled"] is True
    assert audit_records(ada.account_id, "mfa.reset") == []


def test_mfa_reset_survives_a_failed_notice(api, team, fail_aws):
    ada, bob, token, _ = team
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        answer = api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset", token=token)
    assert answer.status == 204
    assert store.get(keys.credential(bob.email))["mfa_enabled"] is False


def test_dynamodb_failure_during_mfa_reset_is_503_and_changes_nothing(api, team, fail_aws, outbox):
    ada, bob, token, _ = team
    before = store.get(keys.credential(bob.email))
    sent = len(outbox(bob.email))
    with fail_aws("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException"):
        answer = api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset", token=token)
    assert answer.status == 503 and answer.body["code"] == "service_unavailable"
    assert store.get(keys.credential(bob.email)) == before
    assert audit_records(ada.account_id, "mfa.reset") == []
    assert len(outbox(bob.email)) == sent
    assert api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/mfa-reset", token=token).status == 204


def test_rights_catalog_is_data(api, person, login):
    ada = person()
    answer = api.get("/rights", token=login(ada))
    assert answer.status == 200
    by_id = {r["id"]: r for r in answer.body}
    assert list(by_id) == ["users", "data:view", "data:edit", "reports", "settings", "developer", "payouts", "sync"]
    assert by_id["data:edit"]["requires"] == ["data:view"]
    assert by_id["payouts"]["constraint"] == "payouts_enabled" and by_id["sync"]["constraint"] == "live_account"
    assert all(r["name"] and r["description"] for r in answer.body)
    assert api.get("/rights").status == 401
