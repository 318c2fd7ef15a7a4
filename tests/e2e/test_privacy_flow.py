"""My profile and privacy over HTTP against the local stack: the email change with both of its
emails, read from the outbox, and the race of two users for one address; the personal data export
delivered through the queue and its consumer; the deletion and restriction flows from request to
completion, and what remains after them."""

from __future__ import annotations

import csv
import io
import threading
import time

from tests.e2e.support import (
    bearer,
    invitation_link,
    link,
    log_in,
    sign_up,
    unique_email,
    verify,
)

MEMBER_PASSWORD = "Copper-Meadow-Falcon-93"


def _member(stack, account_id: str, owner: dict[str, str], name: str) -> str:
    """Someone invited to the owner's account who accepted: a login that is no account's owner."""
    email = unique_email(name)
    invited = stack.post(f"/accounts/{account_id}/users", json={"email": email, "rights": ["data:view"]}, headers=owner)
    assert invited.status == 201, invited.text
    secret = invitation_link(stack, email)
    accepted = stack.post(f"/invitations/{secret}/accept", json={"name": "Bob", "password": MEMBER_PASSWORD})
    assert accepted.status == 201, accepted.text
    return email


def _owner(stack) -> tuple[str, dict[str, str]]:
    email = unique_email("owner")
    account_id = sign_up(stack, email)["account_id"]
    verify(stack, email)
    return account_id, bearer(log_in(stack, email))


def test_email_change_with_both_emails(local_stack):
    stack = local_stack
    account_id, owner = _owner(stack)
    old = _member(stack, account_id, owner, "bob")
    new = unique_email("bob-new")
    session = bearer(log_in(stack, old, MEMBER_PASSWORD))

    # an owner cannot change their own address
    locked = stack.post("/me/email", json={"new_email": unique_email("x")}, headers=owner)
    assert (locked.status, locked.json["code"]) == (403, "owner_profile_locked")

    assert stack.post("/me/email", json={"new_email": new}, headers=session).status == 202
    [confirmation] = [m for m in stack.outbox(new) if "/confirm-email?token=" in m["text"]]
    token = link(confirmation, "confirm-email")
    [notice] = [m for m in stack.outbox(old) if "email address" in m["subject"]]
    assert "/confirm-email" not in notice["text"] and "compromised" in notice["text"]

    # the hosted page posts the token without a session
    confirmed = stack.post("/me/email/confirm", json={"token": token})
    assert confirmed.status == 200 and confirmed.json["email"] == new, confirmed.text
    assert stack.get("/me", headers=session).status == 401  # sessions of the old address ended
    assert stack.post("/auth/login", json={"email": old, "password": MEMBER_PASSWORD}).status == 401
    me = stack.get("/me", headers=bearer(log_in(stack, new, MEMBER_PASSWORD)))
    assert me.json["email"] == new and [a["account_id"] for a in me.json["accounts"]] == [account_id]
    members = stack.get(f"/accounts/{account_id}/users", headers=owner).json["items"]
    assert new in {m["email"] for m in members} and old not in {m["email"] for m in members}
    again = stack.post("/me/email/confirm", json={"token": token})
    assert (again.status, again.json["code"]) == (400, "invalid_token")


def test_two_users_confirming_one_address_at_once(local_stack):
    stack = local_stack
    account_id, owner = _owner(stack)
    target = unique_email("contested")
    for name in ("ann", "ben"):
        email = _member(stack, account_id, owner, name)
        sent = stack.post(
            "/me/email", json={"new_email": target}, headers=bearer(log_in(stack, email, MEMBER_PASSWORD))
        )
        assert sent.status == 202, sent.text
    tokens = [link(m, "confirm-email") for m in stack.outbox(target) if "/confirm-email?token=" in m["text"]]
    assert len(tokens) == 2
    answers: list = []
    barrier = threading.Barrier(2)

    def confirm(secret: str) -> None:
        barrier.wait()
        answers.append(stack.post("/me/email/confirm", json={"token": secret}))

    threads = [threading.Thread(target=confirm, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status for a in answers) == [200, 409], [a.text for a in answers]
    assert [a.json["code"] for a in answers if a.status == 409] == ["email_taken"]
    assert stack.post("/auth/login", json={"email": target, "password": MEMBER_PASSWORD}).status == 200


def _wait_for(read, *, seconds: float = 20.0):
    """What ``read()`` returns once it is truthy (the export arrives from a queue, within seconds)."""
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_export_arrives_as_a_csv_of_the_users_data_and_nobody_elses(local_stack):
    stack = local_stack
    account_id, owner = _owner(stack)
    bob = _member(stack, account_id, owner, "bob")
    other = _member(stack, account_id, owner, "carol")
    session = bearer(log_in(stack, bob, MEMBER_PASSWORD))
    assert stack.post("/me/privacy/consent", json={"version": "1"}, headers=session).status == 200

    queued = stack.post("/me/privacy/export", headers=session)
    assert queued.status == 202, queued.text
    message = _wait_for(lambda: [m for m in stack.outbox(bob) if m["attachments"]])
    assert message, "the export email did not arrive"
    [attachment] = message[0]["attachments"]
    assert attachment["content_type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(attachment["text"])))
    assert {(r["section"], r["field"], r["value"]) for r in rows} >= {
        ("profile", "email", bob),
        ("membership", "status", "active"),
        ("consent", "version", "1"),
        ("privacy_request", "type", "export"),
    }
    assert {r["record"] for r in rows if r["section"] == "membership"} == {account_id}
    text = attachment["text"]
    assert other not in text and stack.get("/me", headers=owner).json["email"] not in text
    shown = stack.get("/me/privacy", headers=session).json["requests"]
    assert [(r["type"], r["status"]) for r in shown] == [("export", "completed")]


def test_deletion_from_request_to_completion(local_stack):
    stack = local_stack
    account_id, owner = _owner(stack)
    bob = _member(stack, account_id, owner, "bob")
    session = bearer(log_in(stack, bob, MEMBER_PASSWORD))
    filed = stack.post("/me/privacy/deletion-request", json={"reason": "I left the company"}, headers=session)
    assert filed.status == 202 and filed.json["status"] == "pending", filed.text

    listed = stack.get(f"/accounts/{account_id}/privacy-requests", headers=owner).json["items"]
    assert [(i["type"], i["email"], i["reason"]) for i in listed] == [("deletion", bob, "I left the company")]
    path = f"/accounts/{account_id}/privacy-requests/{filed.json['request_id']}"
    done = stack.post(path, json={"action": "complete", "comment": "Done as asked"}, headers=owner)
    assert done.status == 200 and done.json["status"] == "completed", done.text

    # what remains: no login, no session, no member; the request without personal details; the audit log
    assert stack.get("/me", headers=session).status == 401
    assert stack.post("/auth/login", json={"email": bob, "password": MEMBER_PASSWORD}).status == 401
    members = stack.get(f"/accounts/{account_id}/users", headers=owner).json["items"]
    assert bob not in [m["email"] for m in members]
    [kept] = stack.get(f"/accounts/{account_id}/privacy-requests", headers=owner).json["items"]
    assert (kept["status"], kept["email"], kept["name"], kept["reason"]) == ("completed", "", "", None)
    actions = [r["action"] for r in stack.get(f"/accounts/{account_id}/audit-log", headers=owner).json["items"]]
    assert {"privacy.deletion_requested", "user.erased", "privacy.deletion_completed"} <= set(actions)
    [notice] = [m for m in stack.outbox(bob) if "deleted" in m["subject"]]
    assert "Done as asked" in notice["text"]
    assert stack.post(path, json={"action": "reject"}, headers=owner).status == 409


def test_restriction_keeps_only_security_notices(local_stack):
    stack = local_stack
    account_id, owner = _owner(stack)
    bob = _member(stack, account_id, owner, "bob")
    session = bearer(log_in(stack, bob, MEMBER_PASSWORD))
    filed = stack.post("/me/privacy/restriction-request", json={}, headers=session)
    assert filed.status == 202, filed.text
    path = f"/accounts/{account_id}/privacy-requests/{filed.json['request_id']}"
    assert stack.post(path, json={"action": "complete"}, headers=owner).status == 200
    me = stack.get("/me", headers=session).json
    assert me["notifications"] == {"security": True, "billing": False, "product_updates": False}
    refused = stack.patch("/me", json={"notifications": {"product_updates": True}}, headers=session)
    assert (refused.status, refused.json["code"]) == (409, "processing_restricted")
    assert stack.get("/me/privacy", headers=session).json["restricted"] is True
    assert [m for m in stack.outbox(bob) if "restricted" in m["subject"]]
