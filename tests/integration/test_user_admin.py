"""User administration: invitations, rights, deny access, delete, the owner and last-manager
protections, the audit log."""

from __future__ import annotations

import json
import re
import threading

import pytest

from portico import keys, store

NEW_PASSWORD = "Copper-Meadow-Falcon-93"


def invitation_token(outbox, email: str) -> str:
    [message] = [m for m in outbox(email) if "accept-invitation?token=" in m["text"]][:1]
    return re.search(r"accept-invitation\?token=([A-Za-z0-9_\-]+)", message["text"]).group(1)


@pytest.fixture
def owner(person, login):
    ada = person()
    return ada, login(ada)


def invite(api, owner, email: str, **body):
    ada, token = owner
    return api.post(f"/accounts/{ada.account_id}/users", {"email": email, **body}, token=token)


def join(api, outbox, owner, email: str, rights=(), full_access=False, name="Bob Builder"):
    """Invite ``email`` and accept as a new person; returns (user_id, session token)."""
    invited = invite(api, owner, email, rights=list(rights), full_access=full_access)
    assert invited.status == 201, invited.body
    secret = invitation_token(outbox, email)
    accepted = api.post(f"/invitations/{secret}/accept", {"name": name, "password": NEW_PASSWORD})
    assert accepted.status == 201, accepted.body
    login = api.post("/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert login.status == 200, login.body
    return accepted.body["user_id"], login.body["token"]


def test_invite_accept_as_new_person_and_log_in(api, outbox, owner, table_items):
    ada, token = owner
    invited = invite(api, owner, "bob@example.com", rights=["data:edit"])
    assert invited.status == 201 and invited.body["status"] == "invited"
    user_id = invited.body["user_id"]
    [message] = outbox("bob@example.com")
    assert message["subject"] == "You are invited to join an account on Portico"  # no name anyone chose
    assert "Analytical Engines" in message["text"] and ada.email.replace(".", "[.]") in message["text"]
    secret = invitation_token(outbox, "bob@example.com")
    assert f"https://app.portico.test/accept-invitation?token={secret}" in message["html"]

    listed = api.get(f"/accounts/{ada.account_id}/users?status=invited", token=token).body["items"]
    assert [(m["email"], m["status"], m["rights"]) for m in listed] == [
        ("bob@example.com", "invited", ["data:edit", "data:view"])  # edit brings view
    ]
    seen = api.get(f"/invitations/{secret}")
    assert seen.status == 200
    assert seen.body["account_name"] == "Analytical Engines" and seen.body["email"] == "bob@example.com"
    assert seen.body["has_login"] is False and seen.body["expires_at"].endswith("Z")

    weak = api.post(f"/invitations/{secret}/accept", {"name": "Bob", "password": "password1"})
    assert weak.status == 422 and weak.body["code"] == "weak_password"
    nameless = api.post(f"/invitations/{secret}/accept", {"password": NEW_PASSWORD})
    assert nameless.status == 422 and nameless.body["code"] == "validation_error"
    accepted = api.post(f"/invitations/{secret}/accept", {"name": "Bob Builder", "password": NEW_PASSWORD})
    assert accepted.status == 201 and accepted.body == {"user_id": user_id}
    again = api.post(f"/invitations/{secret}/accept", {"name": "Bob Builder", "password": NEW_PASSWORD})
    assert again.status == 404 and api.get(f"/invitations/{secret}").status == 404

    bob = api.post("/auth/login", {"email": "bob@example.com", "password": NEW_PASSWORD})
    assert bob.status == 200 and bob.body["status"] == "authenticated"  # the link verified the email
    me = api.get("/me", token=bob.body["token"]).body
    assert [(a["account_id"], a["rights"], a["status"]) for a in me["accounts"]] == [
        (ada.account_id, ["data:edit", "data:view"], "active")
    ]


def test_invitation_expires_after_7_days(api, outbox, owner, clock):
    invite(api, owner, "bob@example.com")
    secret = invitation_token(outbox, "bob@example.com")
    clock.advance(7 * 86400 + 1)
    assert api.get(f"/invitations/{secret}").status == 404
    late = api.post(f"/invitations/{secret}/accept", {"name": "Bob", "password": NEW_PASSWORD})
    assert late.status == 404 and late.body["code"] == "not_found"


def test_resend_replaces_the_link(api, outbox, owner, clock):
    ada, token = owner
    user_id = invite(api, owner, "bob@example.com").body["user_id"]
    first = invitation_token(outbox, "bob@example.com")
    too_soon = api.post(f"/accounts/{ada.account_id}/users/{user_id}/invitation", token=token)
    assert too_soon.status == 429 and int(too_soon.headers["Retry-After"]) > 0
    clock.advance(61)
    assert api.post(f"/accounts/{ada.account_id}/users/{user_id}/invitation", token=token).status == 202
    second = invitation_token(outbox, "bob@example.com")
    assert second != first
    assert api.get(f"/invitations/{first}").status == 404
    assert api.get(f"/invitations/{second}").status == 200


def test_resend_for_an_active_member_is_not_invited(api, owner):
    ada, token = owner
    answer = api.post(f"/accounts/{ada.account_id}/users/{ada.user_id}/invitation", token=token)
    assert answer.status == 409 and answer.body["code"] == "not_invited"


def test_existing_login_accepts_with_its_password(api, outbox, person, owner, login):
    ada, _token = owner
    carol = person("carol@example.com", name="Carol Shaw", company="Shaw Games")
    invited = invite(api, owner, "Carol@Example.com", rights=["reports"])
    assert invited.body["user_id"] != carol.user_id  # an invitation reveals nothing of the login
    secret = invitation_token(outbox, "Carol@Example.com")
    assert api.get(f"/invitations/{secret}").body["has_login"] is True
    wrong = api.post(f"/invitations/{secret}/accept", {"password": "Not-Her-Password-11"})
    assert wrong.status == 401 and wrong.body["code"] == "invalid_credentials"
    accepted = api.post(f"/invitations/{secret}/accept", {"password": carol.password})
    assert accepted.status == 201 and accepted.body == {"user_id": carol.user_id}
    accounts = {a["account_id"]: a for a in api.get("/me", token=login(carol)).body["accounts"]}
    assert set(accounts) == {carol.account_id, ada.account_id}
    assert accounts[ada.account_id]["rights"] == ["reports"] and accounts[carol.account_id]["owner"] is True


def test_inviting_a_member_again_is_already_member(api, outbox, owner):
    ada, _ = owner
    assert invite(api, owner, "bob@example.com").status == 201
    again = invite(api, owner, "BOB@example.com")
    assert again.status == 409 and again.body["code"] == "already_member"
    self_invite = invite(api, owner, ada.email)
    assert self_invite.status == 409 and self_invite.body["code"] == "already_member"
    assert len(outbox("bob@example.com")) == 1


def test_concurrent_invitations_make_one_membership(api, outbox, owner, table_items):
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(invite(api, owner, "dana@example.com"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status for a in answers) == [201] + [409] * 7
    assert {a.body["code"] for a in answers if a.status == 409} == {"already_member"}
    ada, _ = owner
    of_ada = keys.members_of(ada.account_id)
    members = [i for i in table_items() if i["pk"] == of_ada.partition and i["sk"].startswith(of_ada.prefix)]
    assert len(members) == 2 and len(outbox("dana@example.com")) == 1


def test_rights_constraints(api, owner):
    payouts = invite(api, owner, "erin@example.com", rights=["payouts"])
    assert payouts.status == 422 and payouts.body["code"] == "right_unavailable"
    sync = invite(api, owner, "erin@example.com", rights=["sync"])
    assert sync.status == 422 and sync.body["code"] == "right_unavailable" and "live" in sync.body["detail"]
    unknown = invite(api, owner, "erin@example.com", rights=["root"])
    assert unknown.status == 422 and unknown.body["code"] == "validation_error"


def test_changing_rights_changes_access_at_once(api, outbox, owner):
    ada, token = owner
    bob_id, bob = join(api, outbox, owner, "bob@example.com", rights=["data:view"])
    users = f"/accounts/{ada.account_id}/users"
    assert api.get(f"/accounts/{ada.account_id}", token=bob).status == 200  # any member
    refused = api.get(users, token=bob)
    assert refused.status == 403 and refused.body["code"] == "forbidden"
    granted = api.patch(f"{users}/{bob_id}", {"rights": ["users", "data:view"]}, token=token)
    assert granted.status == 200 and granted.body["rights"] == ["data:view", "users"]
    assert api.get(users, token=bob).status == 200
    # a user manager without full access cannot hand out full access or rights they lack
    escalate = api.patch(f"{users}/{bob_id}", {"full_access": True}, token=bob)
    assert escalate.status == 403 and escalate.body["code"] == "forbidden"
    more = api.patch(f"{users}/{bob_id}", {"rights": ["users", "data:view", "settings"]}, token=bob)
    assert more.status == 403
    touch_owner = api.patch(f"{users}/{ada.user_id}", {"rights": []}, token=bob)
    assert touch_owner.status == 403
    revoked = api.patch(f"{users}/{bob_id}", {"rights": ["data:view"]}, token=token)
    assert revoked.status == 200 and api.get(users, token=bob).status == 403


def test_deny_access_with_a_live_session_then_allow_again(api, outbox, owner):
    ada, token = owner
    bob_id, bob = join(api, outbox, owner, "bob@example.com", rights=["data:view"])
    account = f"/accounts/{ada.account_id}"
    assert api.get(account, token=bob).status == 200
    denied = api.patch(f"{account}/users/{bob_id}", {"status": "disabled"}, token=token)
    assert denied.status == 200 and denied.body["status"] == "disabled"
    refused = api.get(account, token=bob)
    assert refused.status == 404 and refused.body["code"] == "not_found"
    assert api.get("/me", token=bob).status == 200  # the login itself still works
    assert api.patch(f"{account}/users/{bob_id}", {"status": "active"}, token=token).status == 200
    assert api.get(account, token=bob).status == 200


def test_owner_is_protected(api, outbox, owner):
    ada, token = owner
    path = f"/accounts/{ada.account_id}/users/{ada.user_id}"
    for body in ({"status": "disabled"}, {"full_access": False}):
        answer = api.patch(path, body, token=token)
        assert answer.status == 409 and answer.body["code"] == "owner_protected", body
    deleted = api.delete(path, token=token)
    assert deleted.status == 409 and deleted.body["code"] == "owner_protected"
    assert api.get(path, token=token).body["full_access"] is True


def test_delete_member_ends_their_access_and_keeps_their_login(api, outbox, owner, person, login, clock):
    ada, token = owner
    carol = person("carol@example.com", name="Carol Shaw", company="Shaw Games")
    invite(api, owner, carol.email, rights=["reports"])
    api.post(f"/invitations/{invitation_token(outbox, carol.email)}/accept", {"password": carol.password})
    session = login(carol)
    assert api.get(f"/accounts/{ada.account_id}", token=session).status == 200
    assert api.delete(f"/accounts/{ada.account_id}/users/{carol.user_id}", token=token).status == 204
    assert api.get(f"/accounts/{ada.account_id}", token=session).status == 404
    assert [a["account_id"] for a in api.get("/me", token=session).body["accounts"]] == [carol.account_id]
    again = api.delete(f"/accounts/{ada.account_id}/users/{carol.user_id}", token=token)
    assert again.status == 404
    # removed, the address can be invited again (after the per-address minute)
    assert invite(api, owner, carol.email).status == 429
    clock.advance(60)
    assert invite(api, owner, carol.email).status == 201


def test_deleting_an_invitation_voids_its_link(api, outbox, owner):
    ada, token = owner
    user_id = invite(api, owner, "bob@example.com").body["user_id"]
    secret = invitation_token(outbox, "bob@example.com")
    assert api.delete(f"/accounts/{ada.account_id}/users/{user_id}", token=token).status == 204
    assert api.get(f"/invitations/{secret}").status == 404


def test_other_accounts_admin_cannot_see_or_touch_members(api, outbox, owner, person, login):
    ada, _ = owner
    eve = person("eve@example.com", name="Eve", company="Eavesdrop")
    eve_token = login(eve)
    for call in (
        lambda: api.get(f"/accounts/{ada.account_id}/users", token=eve_token),
        lambda: api.get(f"/accounts/{ada.account_id}/users/{ada.user_id}", token=eve_token),
        lambda: api.patch(f"/accounts/{ada.account_id}/users/{ada.user_id}", {"rights": []}, token=eve_token),
        lambda: api.delete(f"/accounts/{ada.account_id}/users/{ada.user_id}", token=eve_token),
        lambda: api.get(f"/accounts/{ada.account_id}/audit-log", token=eve_token),
        # her own account, someone else's user id
        lambda: api.get(f"/accounts/{eve.account_id}/users/{ada.user_id}", token=eve_token),
        lambda: api.delete(f"/accounts/{eve.account_id}/users/{ada.user_id}", token=eve_token),
    ):
        answer = call()
        assert answer.status == 404 and answer.body["code"] == "not_found"


def _drop_ownership(account_id: str, user_id: str) -> None:
    """An account whose owner flag is gone (as after a completed erasure of its owner): then only
    the last-manager rule keeps someone able to manage users."""
    store.update(keys.membership(account_id, user_id), "SET #o = :f", values={":f": False}, names={"#o": "owner"})


def test_last_user_manager_cannot_lose_the_right(api, outbox, owner):
    ada, token = owner
    _drop_ownership(ada.account_id, ada.user_id)
    path = f"/accounts/{ada.account_id}/users/{ada.user_id}"
    for body in ({"full_access": False}, {"status": "disabled"}):
        answer = api.patch(path, body, token=token)
        assert answer.status == 409 and answer.body["code"] == "last_user_manager", body
    assert api.delete(path, token=token).body["code"] == "last_user_manager"
    # with a second manager, the first may step down
    _bob_id, _ = join(api, outbox, owner, "bob@example.com", rights=["users"])
    assert api.patch(path, {"full_access": False, "rights": ["reports"]}, token=token).status == 200


def test_two_managers_demoting_each_other_at_once_leave_one(api, outbox, owner):
    ada, token = owner
    _drop_ownership(ada.account_id, ada.user_id)
    bob_id, bob = join(api, outbox, owner, "bob@example.com", full_access=True)
    answers = {}
    barrier = threading.Barrier(2)

    def demote(name, caller, target):
        barrier.wait()
        answers[name] = api.patch(f"/accounts/{ada.account_id}/users/{target}", {"full_access": False}, token=caller)

    threads = [
        threading.Thread(target=demote, args=("ada", token, bob_id)),
        threading.Thread(target=demote, args=("bob", bob, ada.user_id)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status for a in answers.values())
    assert statuses in ([200, 409], [200, 403]), answers
    listed = api.get(f"/accounts/{ada.account_id}/users", token=token)
    holders = [m for m in (listed.body or {}).get("items", []) if m["full_access"]]
    if listed.status == 403:  # ada was the one demoted: ask bob
        holders = [m for m in api.get(f"/accounts/{ada.account_id}/users", token=bob).body["items"] if m["full_access"]]
    assert len(holders) == 1


def test_audit_log_newest_first_with_who_what_whom_where(api, outbox, owner, clock):
    ada, token = owner
    bob_id, _ = join(api, outbox, owner, "bob@example.com", rights=["reports"])
    clock.advance(1)
    api.patch(f"/accounts/{ada.account_id}/users/{bob_id}", {"status": "disabled"}, token=token)
    clock.advance(1)
    api.post("/auth/login", {"email": ada.email, "password": "wrong-password-1"})
    log = api.get(f"/accounts/{ada.account_id}/audit-log?limit=100", token=token)
    assert log.status == 200
    actions = [r["action"] for r in log.body["items"]]
    assert actions[:2] == ["login.failed", "user.updated"]
    assert {"user.invited", "invitation.accepted", "login.succeeded"} <= set(actions)
    assert [r["at"] for r in log.body["items"]] == sorted((r["at"] for r in log.body["items"]), reverse=True)
    updated = log.body["items"][1]
    assert updated["actor"] == {"type": "user", "id": ada.user_id, "email": ada.email}
    assert updated["target"] == {"user_id": bob_id, "email": "bob@example.com"}
    assert updated["ip"] == "198.51.100.7"
    assert updated["details"] == {"before": {"status": "active"}, "after": {"status": "disabled"}}
    page = api.get(f"/accounts/{ada.account_id}/audit-log?limit=2", token=token).body
    rest = api.get(f"/accounts/{ada.account_id}/audit-log?limit=100&cursor={page['next_cursor']}", token=token).body
    assert [r["action"] for r in page["items"] + rest["items"]] == actions
    bad = api.get(f"/accounts/{ada.account_id}/audit-log?cursor=abc", token=token)
    assert bad.status == 422


def test_invitation_email_failure_takes_the_invitation_back(api, outbox, owner, table_items, fail_aws):
    before = table_items()
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        failed = invite(api, owner, "bob@example.com")
    assert failed.status == 503 and failed.body["code"] == "service_unavailable"
    assert table_items() == before and outbox("bob@example.com") == []
    assert invite(api, owner, "bob@example.com").status == 201


def test_invitation_email_in_the_account_language(api, outbox, person, login):
    created = api.post(
        "/signup",
        {
            "email": "lena@example.com",
            "password": "Quartz-Lantern-Vivid-42",
            "name": "Lena",
            "company": "Rechenwerk",
            "language": "de",
        },
    )
    [message] = outbox("lena@example.com")
    secret = re.search(r"verify-email\?token=(\S+)", message["text"]).group(1)
    api.post("/auth/verify-email", {"token": secret})
    token = api.post("/auth/login", {"email": "lena@example.com", "password": "Quartz-Lantern-Vivid-42"}).body["token"]
    api.post(f"/accounts/{created.body['account_id']}/users", {"email": "max@example.com"}, token=token)
    [invitation] = outbox("max@example.com")
    assert "eingeladen" in invitation["subject"]


def test_a_user_manager_cannot_reset_a_full_access_members_2fa(api, outbox, owner, person, login):
    ada, _token = owner
    _, bob = join(api, outbox, owner, "bob@example.com", rights=["users"])
    refused = api.post(f"/accounts/{ada.account_id}/users/{ada.user_id}/mfa-reset", token=bob)
    assert refused.status == 403 and refused.body["code"] == "forbidden"


def test_mfa_reset_is_recorded_in_every_account_of_the_login(api, outbox, owner, person, login):
    ada, token = owner
    carol = person("carol@example.com", name="Carol Shaw", company="Shaw Games")
    invite(api, owner, carol.email, rights=["reports"])
    api.post(f"/invitations/{invitation_token(outbox, carol.email)}/accept", {"password": carol.password})
    assert api.post(f"/accounts/{ada.account_id}/users/{carol.user_id}/mfa-reset", token=token).status == 204
    own_log = api.get(f"/accounts/{carol.account_id}/audit-log", token=login(carol)).body["items"]
    [reset] = [r for r in own_log if r["action"] == "mfa.reset"]
    assert reset["actor"]["id"] == ada.user_id and reset["target"] == {"user_id": carol.user_id}


def test_a_refused_request_is_logged_as_a_security_event(api, outbox, owner, caplog):
    ada, _ = owner
    _, bob = join(api, outbox, owner, "bob@example.com", rights=["data:view"])
    caplog.clear()
    assert api.get(f"/accounts/{ada.account_id}/users", token=bob).status == 403
    [refusal] = [r for r in caplog.records if r.getMessage() == "access refused"]
    assert refusal.code == "forbidden" and refusal.route == "/accounts/<account_id>/users"
    assert refusal.user_id.startswith("usr_")
    assert bob not in json.dumps([vars(r) for r in caplog.records], default=str)


def test_invitation_emails_are_limited_per_address_and_per_account(api, outbox, owner, clock, monkeypatch):
    """One a minute and five a day per account and address (across deleting and inviting again),
    and a daily cap per account, so that no sign-up becomes a relay for mail to strangers."""
    from portico.identity import invitations

    ada, token = owner
    sent = []
    for _ in range(invitations.PER_ACCOUNT_AND_ADDRESS_PER_DAY):
        invited = invite(api, owner, "eve@example.com")
        assert invited.status == 201, invited.body
        sent.append(invited.body["user_id"])
        assert api.delete(f"/accounts/{ada.account_id}/users/{invited.body['user_id']}", token=token).status == 204
        clock.advance(61)
    refused = invite(api, owner, "eve@example.com")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 60
    assert len(outbox("eve@example.com")) == invitations.PER_ACCOUNT_AND_ADDRESS_PER_DAY

    monkeypatch.setattr(invitations, "PER_ACCOUNT_PER_DAY", invitations.PER_ACCOUNT_AND_ADDRESS_PER_DAY + 2)
    assert invite(api, owner, "one@example.com").status == 201
    assert invite(api, owner, "two@example.com").status == 201
    capped = invite(api, owner, "three@example.com")
    assert capped.status == 429 and outbox("three@example.com") == []
    invited = api.get(f"/accounts/{ada.account_id}/users?status=invited", token=token).body["items"]
    assert {m["email"] for m in invited} == {"one@example.com", "two@example.com"}  # nobody appears invited untold
