"""User administration as an account's admin and the people they invite run it, over HTTP against
the local stack: invite, accept from the emailed link, rights that change access at once, deny
access with a live session, delete, and the owner and last-manager protections."""

from __future__ import annotations

from portico import keys
from tests.e2e.support import (
    PASSWORD,
    bearer,
    emulated_table,
    invitation_link,
    log_in,
    serialized,
    sign_up,
    unique_email,
    verify,
)

BOB_PASSWORD = "Copper-Meadow-Falcon-93"


def test_invite_accept_rights_deny_delete_and_protections(local_stack):
    stack = local_stack
    owner_email, bob_email = unique_email("owner"), unique_email("bob")
    account_id = sign_up(stack, owner_email)["account_id"]
    verify(stack, owner_email)
    owner = bearer(log_in(stack, owner_email))
    users = f"/accounts/{account_id}/users"

    invited = stack.post(users, json={"email": bob_email, "rights": ["data:view"]}, headers=owner)
    assert invited.status == 201 and invited.json["status"] == "invited"
    bob_id = invited.json["user_id"]
    secret = invitation_link(stack, bob_email)
    shown = stack.get(f"/invitations/{secret}")
    assert shown.status == 200 and shown.json["email"] == bob_email and shown.json["has_login"] is False
    accepted = stack.post(f"/invitations/{secret}/accept", json={"name": "Bob Builder", "password": BOB_PASSWORD})
    assert accepted.status == 201 and accepted.json == {"user_id": bob_id}
    assert stack.post(f"/invitations/{secret}/accept", json={"name": "B", "password": BOB_PASSWORD}).status == 404
    bob = bearer(log_in(stack, bob_email, BOB_PASSWORD))

    # data:view only: the account, not its users
    assert stack.get(f"/accounts/{account_id}", headers=bob).status == 200
    assert stack.get(users, headers=bob).json["code"] == "forbidden"
    granted = stack.patch(f"{users}/{bob_id}", json={"rights": ["users", "data:view"]}, headers=owner)
    assert granted.status == 200 and granted.json["rights"] == ["data:view", "users"]
    listed = stack.get(users, headers=bob)
    assert listed.status == 200 and {m["email"] for m in listed.json["items"]} == {owner_email, bob_email}

    # deny access: bob's session from before stops working in this account at once
    assert stack.patch(f"{users}/{bob_id}", json={"status": "disabled"}, headers=owner).status == 200
    denied = stack.get(f"/accounts/{account_id}", headers=bob)
    assert denied.status == 404 and denied.json["code"] == "not_found"
    assert stack.patch(f"{users}/{bob_id}", json={"status": "active"}, headers=owner).status == 200
    assert stack.get(f"/accounts/{account_id}", headers=bob).status == 200

    # the owner is protected, also from a user manager
    owner_id = next(m["user_id"] for m in listed.json["items"] if m["owner"])
    for body in ({"status": "disabled"}, {"full_access": False}):
        refused = stack.patch(f"{users}/{owner_id}", json=body, headers=owner)
        assert refused.status == 409 and refused.json["code"] == "owner_protected"
    assert stack.delete(f"{users}/{owner_id}", headers=owner).json["code"] == "owner_protected"
    assert stack.delete(f"{users}/{owner_id}", headers=bob).json["code"] == "owner_protected"

    # delete: bob is out of the account, his login stays
    assert stack.delete(f"{users}/{bob_id}", headers=owner).status == 204
    assert stack.get(f"/accounts/{account_id}", headers=bob).status == 404
    assert stack.get("/me", headers=bob).json["accounts"] == []

    # the audit log tells the story, newest first
    log = stack.get(f"/accounts/{account_id}/audit-log?limit=100", headers=owner)
    assert log.status == 200
    actions = [r["action"] for r in log.json["items"]]
    assert actions[0] == "user.removed"
    assert {"user.invited", "invitation.accepted", "user.updated", "login.succeeded"} <= set(actions)


def test_last_user_manager_is_kept(local_stack):
    """With no owner flag (an account whose owner's data was erased), the last active holder of
    `users` cannot give it up, remove themselves or be disabled."""
    stack = local_stack
    email = unique_email("manager")
    created = sign_up(stack, email)
    verify(stack, email)
    manager = bearer(log_in(stack, email, PASSWORD))
    client, name = emulated_table(stack)
    client.update_item(
        TableName=name,
        Key=serialized(keys.membership(created["account_id"], created["user_id"])),
        UpdateExpression="SET #o = :f",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues=serialized({":f": False}),
    )
    me = f"/accounts/{created['account_id']}/users/{created['user_id']}"
    for body in ({"full_access": False}, {"status": "disabled"}):
        refused = stack.patch(me, json=body, headers=manager)
        assert refused.status == 409 and refused.json["code"] == "last_user_manager"
    assert stack.delete(me, headers=manager).json["code"] == "last_user_manager"
    assert stack.get(me, headers=manager).json["full_access"] is True
