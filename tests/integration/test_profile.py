"""My profile: ``PATCH /me``, the phone verified by SMS and its release, a reported password
compromise, and an admin's password reset, with the attacks on each."""

from __future__ import annotations

import threading

from portico import keys, store
from tests.integration.flows import (  # noqa: F401  (the shared-stack fixtures)
    NEW_PASSWORD,
    code_in,
    fresh_table,
    join,
    template_env,
    world,
)

PHONE = "+4915123456789"
OTHER_PHONE = "+4915198765432"


def _not_owner(who) -> None:
    store.update(
        keys.membership(who.account_id, who.user_id), "SET #o = :f", values={":f": False}, names={"#o": "owner"}
    )


def _phone_code(outbox, number: str) -> str:
    return code_in(outbox(number)[0])


def _verified_phone(api, outbox, token: str, number: str = PHONE) -> None:
    assert api.put("/me/phone", {"number": number}, token=token).status == 202
    answer = api.post("/me/phone/verify", {"code": _phone_code(outbox, number)}, token=token)
    assert answer.status == 200 and answer.body == {"number": number, "status": "verified"}, answer.body


# ----------------------------------------------------------------- PATCH /me


def test_get_me_shows_phone_and_notifications(world):
    api, ada = world.api, world.person("ada@example.com")
    token = world.login(ada)
    me = api.get("/me", token=token).body
    assert me["phone"] is None
    assert me["notifications"] == {"security": True, "billing": True, "product_updates": False}


def test_patch_me_changes_language_and_notifications_but_not_security(world):
    api, ada = world.api, world.person("ada@example.com")
    token = world.login(ada)
    changed = api.patch("/me", {"language": "de", "notifications": {"product_updates": True}}, token=token)
    assert changed.status == 200, changed.body
    assert changed.body["language"] == "de"
    assert changed.body["notifications"] == {"security": True, "billing": True, "product_updates": True}
    off = api.patch("/me", {"notifications": {"security": False, "billing": False}}, token=token)
    assert off.status == 422 and off.body["code"] == "validation_error"
    assert off.body["errors"][0]["loc"] == ["body", "notifications", "security"]
    assert "cannot be turned off" in off.body["errors"][0]["msg"]
    assert api.get("/me", token=token).body["notifications"]["billing"] is True  # nothing changed
    assert (
        api.patch("/me", {"notifications": {"billing": False}}, token=token).body["notifications"]["billing"] is False
    )
    assert api.patch("/me", {"unknown": 1}, token=token).status == 422


def test_an_owner_cannot_change_their_own_name_a_member_can(world):
    api, ada = world.api, world.person("ada@example.com")
    token = world.login(ada)
    locked = api.patch("/me", {"name": "Someone Else"}, token=token)
    assert locked.status == 403 and locked.body["code"] == "owner_profile_locked"
    assert api.get("/me", token=token).body["name"] == "Ada Lovelace"
    assert api.patch("/me", {"name": "Ada Lovelace", "language": "de"}, token=token).status == 200  # same name
    _not_owner(ada)
    renamed = api.patch("/me", {"name": "Ada King"}, token=token)
    assert renamed.status == 200 and renamed.body["name"] == "Ada King"


# ----------------------------------------------------------------- the phone


def test_phone_verify_shows_status_and_enables_sms_recovery(world):
    api, outbox, ada = world.api, world.outbox, world.person("ada@example.com")
    token = world.login(ada)
    assert api.put("/me/phone", {"number": "12345"}, token=token).status == 422
    sent = api.put("/me/phone", {"number": "+49 151 23456789"}, token=token)
    assert sent.status == 202 and sent.body["number"] == PHONE and sent.body["status"] == "not_verified"
    assert api.get("/me", token=token).body["phone"] == {"number": PHONE, "status": "not_verified"}
    # not verified yet: SMS recovery sends nothing
    before = len(outbox(PHONE))
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"}).status == 202
    assert len(outbox(PHONE)) == before
    wrong = api.post("/me/phone/verify", {"code": "000000"}, token=token)
    assert wrong.status == 401 and wrong.body["code"] == "invalid_code"
    code = _phone_code(outbox, PHONE)
    assert code not in str(store.get(keys.user_phone_code(ada.user_id, "verify")))  # stored hashed
    done = api.post("/me/phone/verify", {"code": code}, token=token)
    assert done.status == 200 and done.body == {"number": PHONE, "status": "verified"}
    assert api.get("/me", token=token).body["phone"] == {"number": PHONE, "status": "verified"}
    assert api.post("/me/phone/verify", {"code": code}, token=token).status == 401  # used
    world.clock.advance(61)
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"}).status == 202
    assert "password reset code" in outbox(PHONE)[0]["text"]


def test_resend_is_limited_to_one_a_minute(world):
    api, ada = world.api, world.person("ada@example.com")
    token = world.login(ada)
    assert api.put("/me/phone", {"number": PHONE}, token=token).status == 202
    again = api.put("/me/phone", {"number": PHONE}, token=token)
    assert (
        again.status == 429
        and again.body["code"] == "resend_too_soon"
        and int({k.lower(): v for k, v in again.headers.items()}["retry-after"]) > 0
    )
    world.clock.advance(60)
    assert api.put("/me/phone", {"number": PHONE}, token=token).status == 202


def test_a_code_for_the_old_number_is_not_accepted_for_the_new(world):
    api, outbox, ada = world.api, world.outbox, world.person("ada@example.com")
    token = world.login(ada)
    assert api.put("/me/phone", {"number": PHONE}, token=token).status == 202
    old_code = _phone_code(outbox, PHONE)
    world.clock.advance(60)
    assert api.put("/me/phone", {"number": OTHER_PHONE}, token=token).status == 202
    assert api.post("/me/phone/verify", {"code": old_code}, token=token).status == 401
    new = api.post("/me/phone/verify", {"code": _phone_code(outbox, OTHER_PHONE)}, token=token)
    assert new.status == 200 and new.body["number"] == OTHER_PHONE


def test_five_wrong_codes_burn_it_and_parallel_guesses_share_the_five(world):
    api, outbox, ada = world.api, world.outbox, world.person("ada@example.com")
    token = world.login(ada)
    assert api.put("/me/phone", {"number": PHONE}, token=token).status == 202
    code = _phone_code(outbox, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(api.post("/me/phone/verify", {"code": wrong}, token=token).status)
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [401] * 8
    assert store.get(keys.user_phone_code(ada.user_id, "verify"), consistent=True)["attempts"] == 5
    burnt = api.post("/me/phone/verify", {"code": code}, token=token)
    assert burnt.status == 401 and burnt.body["code"] == "code_exhausted"
    assert api.get("/me", token=token).body["phone"]["status"] == "not_verified"


def test_a_verified_phone_is_replaced_only_after_release(world):
    api, outbox, ada = world.api, world.outbox, world.person("ada@example.com")
    token = world.login(ada)
    _verified_phone(api, outbox, token)
    world.clock.advance(60)
    refused = api.put("/me/phone", {"number": OTHER_PHONE}, token=token)
    assert refused.status == 409 and refused.body["code"] == "phone_change_requires_release"
    assert api.post("/me/phone/release", token=token).status == 202
    code = _phone_code(outbox, PHONE)  # to the old number
    assert "remove this phone number" in outbox(PHONE)[0]["text"]
    wrong = "000000" if code != "000000" else "111111"
    assert api.post("/me/phone/release/confirm", {"code": wrong}, token=token).status == 401
    assert api.post("/me/phone/release/confirm", {"code": code}, token=token).status == 204
    assert api.get("/me", token=token).body["phone"] is None
    # no verified phone: SMS recovery sends nothing (the outbox is shared by the module's tests)
    before = len(outbox(PHONE))
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"}).status == 202
    assert len(outbox(PHONE)) == before
    assert api.post("/me/phone/release", token=token).body["code"] == "no_verified_phone"
    _verified_phone(api, outbox, token, OTHER_PHONE)


def test_releasing_ends_a_reset_code_sent_to_the_phone(world):
    api, outbox, ada = world.api, world.outbox, world.person("ada@example.com")
    token = world.login(ada)
    _verified_phone(api, outbox, token)
    assert api.post("/auth/password/forgot", {"email": ada.email, "channel": "sms"}).status == 202
    reset_code = _phone_code(outbox, PHONE)
    world.clock.advance(60)
    assert api.post("/me/phone/release", token=token).status == 202
    assert api.post("/me/phone/release/confirm", {"code": _phone_code(outbox, PHONE)}, token=token).status == 204
    late = api.post("/auth/password/reset", {"email": ada.email, "code": reset_code, "new_password": NEW_PASSWORD})
    assert late.status == 401


def test_another_users_session_cannot_release_your_phone(world):
    api, outbox = world.api, world.outbox
    ada, eve = world.person("ada@example.com"), world.person("eve@example.com")
    ada_token, eve_token = world.login(ada), world.login(eve)
    _verified_phone(api, outbox, ada_token)
    assert api.post("/me/phone/release", token=ada_token).status == 202
    code = _phone_code(outbox, PHONE)
    # Eve has no verified phone of her own, and Ada's code means nothing for her login
    assert api.post("/me/phone/release", token=eve_token).body["code"] == "no_verified_phone"
    assert api.post("/me/phone/release/confirm", {"code": code}, token=eve_token).status == 401
    assert api.get("/me", token=ada_token).body["phone"] == {"number": PHONE, "status": "verified"}


def test_setting_or_releasing_a_phone_needs_a_recent_authentication(world):
    api, outbox, ada = world.api, world.outbox, world.person("ada@example.com")
    token = world.login(ada)
    _verified_phone(api, outbox, token)
    world.clock.advance(16 * 60)
    api.get("/me", token=token)  # keep the session alive (idle timeout 30 min)
    stale = api.post("/me/phone/release", token=token)
    assert stale.status == 403 and stale.body["code"] == "reauthentication_required"
    assert api.post("/auth/reauthenticate", {"password": ada.password}, token=token).status == 204
    assert api.post("/me/phone/release", token=token).status == 202


# ----------------------------------------------------------------- a compromised password


def test_compromised_ends_every_session_and_forces_a_new_password_and_tells_the_managers(world):
    api, outbox = world.api, world.outbox
    ada, bob, carl = world.person("ada@example.com"), world.person("bob@example.com"), world.person("carl@example.com")
    join(ada.account_id, bob, ("data:view",))
    join(ada.account_id, carl, ("data:view",))  # not a user manager: not told
    ada_token = world.login(ada)
    first, second = world.login(bob), world.login(bob)
    reported = api.post("/me/password/compromised", {"comment": "I typed it on a phishing page"}, token=first)
    assert reported.status == 202
    assert api.get("/me", token=first).status == 401
    assert api.get("/me", token=second).status == 401
    step = api.post("/auth/login", {"email": bob.email, "password": bob.password})
    assert step.status == 200 and step.body["status"] == "password_change_required"
    assert step.body["reason"] == "compromised"
    changed = api.post("/auth/login/password", {"challenge": step.body["challenge"], "new_password": NEW_PASSWORD})
    assert changed.status == 200 and changed.body["status"] == "authenticated"
    told = [m for m in outbox(ada.email) if "compromised" in (m["subject"] or "")]
    assert len(told) == 1 and "bob@example[.]com" in told[0]["text"] and "phishing page" in told[0]["text"]
    assert not [m for m in outbox(carl.email) if "compromised" in (m["subject"] or "")]
    assert not [m for m in outbox(bob.email) if "compromised" in (m["subject"] or "")]
    log = api.get(f"/accounts/{ada.account_id}/audit-log", token=ada_token).body["items"]
    [event] = [e for e in log if e["action"] == "password.compromise_reported"]
    assert event["target"]["user_id"] == bob.user_id


def test_compromised_without_a_body(world):
    api, bob = world.api, world.person("bob@example.com")
    assert api.post("/me/password/compromised", token=world.login(bob)).status == 202


# ----------------------------------------------------------------- an admin's password reset


def test_admin_reset_forces_a_new_password_ends_sessions_and_emails_the_member(world):
    api, outbox = world.api, world.outbox
    ada, bob = world.person("ada@example.com"), world.person("bob@example.com")
    join(ada.account_id, bob, ("data:view",))
    admin, bobs = world.login(ada), world.login(bob)
    path = f"/accounts/{ada.account_id}/users/{bob.user_id}/password-reset"
    assert api.post(path, token=admin).status == 204
    assert api.get("/me", token=bobs).status == 401
    assert "asked you to set a new" in outbox(bob.email)[0]["subject"]
    step = api.post("/auth/login", {"email": bob.email, "password": bob.password})
    assert step.body["status"] == "password_change_required" and step.body["reason"] == "admin_reset"
    log = api.get(f"/accounts/{ada.account_id}/audit-log", token=admin).body["items"]
    [event] = [e for e in log if e["action"] == "password.admin_reset"]
    assert event["target"]["user_id"] == bob.user_id and event["actor"]["id"] == ada.user_id


def test_admin_reset_is_refused_for_the_owner_and_over_rights_the_admin_lacks(world):
    api = world.api
    ada, bob, carol = (
        world.person("ada@example.com"),
        world.person("bob@example.com"),
        world.person("carol@example.com"),
    )
    join(ada.account_id, bob, ("data:view",))
    join(ada.account_id, carol, ("users",))
    carols = world.login(carol)
    owner = api.post(f"/accounts/{ada.account_id}/users/{ada.user_id}/password-reset", token=carols)
    assert owner.status == 409 and owner.body["code"] == "owner_protected"
    over = api.post(f"/accounts/{ada.account_id}/users/{bob.user_id}/password-reset", token=carols)
    assert over.status == 403 and over.body["code"] == "forbidden"
    assert api.post("/auth/login", {"email": bob.email, "password": bob.password}).body["status"] == "authenticated"
    unknown = api.post(f"/accounts/{ada.account_id}/users/usr_nobody/password-reset", token=carols)
    assert unknown.status == 404
