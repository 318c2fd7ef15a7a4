"""Changing the login's email address through the real handlers: the reauthentication window, the
owner lock, both emails, the move of the credential with its guards, the links and sessions that end
with the old address, the race for one address, and SES faults."""

from __future__ import annotations

import threading

from portico import aws, config, keys, store
from tests.integration.flows import join, link_token, live_token
from tests.integration.support import PASSWORD

NEW = "ada.new@example.com"


def _not_owner(who) -> None:
    """Make ``who`` an ordinary member of their account (an owner cannot change the address)."""
    store.update(
        keys.membership(who.account_id, who.user_id), "SET #o = :f", values={":f": False}, names={"#o": "owner"}
    )


def _member(person, name: str):
    who = person(f"{name}@example.com")
    _not_owner(who)
    return who


def _confirmation(outbox, to: str) -> str:
    return link_token(next(m for m in outbox(to) if "/confirm-email?token=" in m["text"]), "confirm-email")


def test_change_sends_a_link_to_the_new_address_and_a_notice_to_the_old(api, person, login, outbox, clock):
    ada = _member(person, "ada")
    token = login(ada)
    answer = api.post("/me/email", {"new_email": NEW}, token=token)
    assert answer.status == 202, answer.body
    secret = _confirmation(outbox, NEW)
    assert live_token(secret, clock)
    notice = outbox(ada.email)[0]
    assert "ada[.]new@" in notice["text"] and "/confirm-email" not in notice["text"]
    assert store.get(keys.credential(ada.email))["email"] == ada.email  # nothing changes before the link

    confirmed = api.post("/me/email/confirm", {"token": secret})
    assert confirmed.status == 200, confirmed.body
    assert confirmed.body["email"] == NEW
    assert store.get(keys.credential(ada.email)) is None
    moved = store.get(keys.credential(NEW))
    assert moved["user_id"] == ada.user_id and moved["email_verified"] is True and "email_change_hash" not in moved
    assert store.get(keys.user(ada.user_id))["email"] == NEW
    assert store.get(keys.membership(ada.account_id, ada.user_id))["email"] == NEW
    assert store.get(keys.member_email(ada.account_id, NEW))["user_id"] == ada.user_id
    assert store.get(keys.member_email(ada.account_id, ada.email)) is None
    # every session of the old address ended; the new address logs in with the same password
    assert api.get("/me", token=token).status == 401
    assert api.post("/auth/login", {"email": ada.email, "password": PASSWORD}).status == 401
    relogged = api.post("/auth/login", {"email": NEW, "password": PASSWORD})
    assert relogged.status == 200 and relogged.body["status"] == "authenticated", relogged.body
    me = api.get("/me", token=relogged.body["token"])
    assert me.body["email"] == NEW and me.body["accounts"][0]["account_id"] == ada.account_id
    # the link works once
    again = api.post("/me/email/confirm", {"token": secret})
    assert (again.status, again.body["code"]) == (400, "invalid_token")


def test_memberships_of_every_account_move_with_the_login(api, person, login, outbox):
    ada = _member(person, "ada")
    grace = person("grace@example.com")
    join(grace.account_id, ada)
    store.put({**keys.member_email(grace.account_id, ada.email), "user_id": ada.user_id})
    assert api.post("/me/email", {"new_email": NEW}, token=login(ada)).status == 202
    assert api.post("/me/email/confirm", {"token": _confirmation(outbox, NEW)}).status == 200
    assert store.get(keys.membership(grace.account_id, ada.user_id))["email"] == NEW
    assert store.get(keys.member_email(grace.account_id, NEW))["user_id"] == ada.user_id
    assert store.get(keys.member_email(grace.account_id, ada.email)) is None


def test_needs_a_recent_authentication(api, person, login, clock, outbox):
    ada = _member(person, "ada")
    token = login(ada)
    clock.advance(16 * 60)
    refused = api.post("/me/email", {"new_email": NEW}, token=token)
    assert (refused.status, refused.body["code"]) == (403, "reauthentication_required")
    assert outbox(NEW) == []
    assert api.post("/auth/reauthenticate", {"password": PASSWORD}, token=token).status == 204
    assert api.post("/me/email", {"new_email": NEW}, token=token).status == 202


def test_an_owner_cannot_change_their_address(api, person, login, outbox):
    ada = person()
    refused = api.post("/me/email", {"new_email": NEW}, token=login(ada))
    assert (refused.status, refused.body["code"]) == (403, "owner_profile_locked")
    assert outbox(NEW) == []


def test_an_address_with_a_login_is_taken(api, person, login, outbox):
    ada = _member(person, "ada")
    person("grace@example.com")
    for address in ("GRACE@example.com", ada.email):
        refused = api.post("/me/email", {"new_email": address}, token=login(ada))
        assert (refused.status, refused.body["code"]) == (409, "email_taken"), address


def test_a_newer_request_ends_the_older_link(api, person, login, outbox, clock):
    ada = _member(person, "ada")
    token = login(ada)
    assert api.post("/me/email", {"new_email": "first@example.com"}, token=token).status == 202
    first = _confirmation(outbox, "first@example.com")
    assert api.post("/me/email", {"new_email": NEW}, token=token).status == 202
    assert live_token(first, clock) is None
    refused = api.post("/me/email/confirm", {"token": first})
    assert (refused.status, refused.body["code"]) == (400, "invalid_token")
    assert api.post("/me/email/confirm", {"token": _confirmation(outbox, NEW)}).status == 200


def test_pending_links_of_the_old_address_end(api, person, login, outbox, clock):
    ada = _member(person, "ada")
    assert api.post("/me/email", {"new_email": NEW}, token=login(ada)).status == 202
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "email"}).status == 202
    reset = link_token(next(m for m in outbox(ada.email) if "/reset-password?token=" in m["text"]), "reset-password")
    assert api.post("/me/email/confirm", {"token": _confirmation(outbox, NEW)}).status == 200
    assert live_token(reset, clock) is None
    used = api.post("/auth/password/reset", {"token": reset, "new_password": "Harbor-Violet-Spruce-77"})
    assert used.status == 400, used.body


def test_an_expired_or_unknown_link_is_invalid(api, person, login, outbox, clock):
    ada = _member(person, "ada")
    assert api.post("/me/email", {"new_email": NEW}, token=login(ada)).status == 202
    for token in ("nope", "x" * 300):
        answer = api.post("/me/email/confirm", {"token": token})
        assert (answer.status, answer.body["code"]) == (400, "invalid_token")
    clock.advance(24 * 3600 + 1)
    answer = api.post("/me/email/confirm", {"token": _confirmation(outbox, NEW)})
    assert (answer.status, answer.body["code"]) == (400, "invalid_token")
    assert store.get(keys.credential(ada.email)) is not None


def test_a_sign_up_with_the_address_before_confirming_wins(api, person, login, outbox):
    ada = _member(person, "ada")
    assert api.post("/me/email", {"new_email": NEW}, token=login(ada)).status == 202
    person(NEW)
    taken = api.post("/me/email/confirm", {"token": _confirmation(outbox, NEW)})
    assert (taken.status, taken.body["code"]) == (409, "email_taken")
    assert store.get(keys.credential(ada.email))["user_id"] == ada.user_id


def test_two_users_confirming_one_address_at_once_give_one_login(api, person, login, outbox):
    ada, grace = _member(person, "ada"), _member(person, "grace")
    for who in (ada, grace):
        assert api.post("/me/email", {"new_email": NEW}, token=login(who)).status == 202
    tokens = [link_token(m, "confirm-email") for m in outbox(NEW) if "/confirm-email?token=" in m["text"]]
    assert len(tokens) == 2
    answers: list = []
    barrier = threading.Barrier(2)

    def confirm(secret: str) -> None:
        barrier.wait()
        answers.append(api.post("/me/email/confirm", {"token": secret}))

    threads = [threading.Thread(target=confirm, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status for a in answers) == [200, 409], [a.body for a in answers]
    owner = store.get(keys.credential(NEW))["user_id"]
    loser = grace if owner == ada.user_id else ada
    assert store.get(keys.credential(loser.email))["user_id"] == loser.user_id  # the loser keeps their login


def test_ses_down_is_503_and_no_change_is_pending(api, person, login, outbox, fail_aws):
    ada = _member(person, "ada")
    token = login(ada)
    with fail_aws("ses", "SendRawEmail", "ServiceUnavailable"):
        answer = api.post("/me/email", {"new_email": NEW}, token=token)
    assert answer.status == 503, answer.body
    assert "email_change_hash" not in store.get(keys.credential(ada.email))
    assert api.post("/me/email", {"new_email": NEW}, token=token).status == 202


def test_bad_bodies_are_refused_without_change(api, person, login):
    ada = _member(person, "ada")
    token = login(ada)
    for body in ({}, {"new_email": "not an address"}, {"new_email": NEW, "extra": 1}, {"new_email": 5}):
        assert api.post("/me/email", body, token=token).status == 422, body
    assert "email_change_hash" not in store.get(keys.credential(ada.email))
    assert api.post("/me/email/confirm", {}).status == 422


def test_the_link_is_never_logged_nor_stored_in_clear(api, person, login, outbox, capsys):
    ada = _member(person, "ada")
    assert api.post("/me/email", {"new_email": NEW}, token=login(ada)).status == 202
    secret = _confirmation(outbox, NEW)
    assert api.post("/me/email/confirm", {"token": secret}).status == 200
    logged = capsys.readouterr()
    assert secret not in logged.out and secret not in logged.err
    client, name = aws.client("dynamodb"), config.settings().table_name
    assert secret not in str(client.scan(TableName=name)["Items"])
