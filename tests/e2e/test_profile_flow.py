"""My profile over HTTP against the local stack: a merchant user verifies a phone with the code from
the outbox's SMS, SMS password recovery works while it is verified, the phone is released with a
code sent to it, and recovery by SMS then sends nothing.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.e2e.support import bearer, log_in, sign_up, unique_email, verify
from tests.localstack import LocalStack

NEW_PASSWORD = "Harbor-Violet-Spruce-77"


def code_in(message: dict[str, Any]) -> str:
    found = re.search(r"\b(\d{6})\b", message["text"])
    assert found, message["text"]
    return found.group(1)


def test_phone_verify_and_release_and_sms_recovery_only_while_verified(local_stack: LocalStack):
    stack = local_stack
    email = unique_email("profile")
    number = f"+49151{uuid.uuid4().int % 10**8:08d}"
    sign_up(stack, email)
    verify(stack, email)
    token = log_in(stack, email)
    me = bearer(token)

    patched = stack.request("PATCH", "/me", json={"language": "de"}, headers=me)
    assert patched.status == 200 and patched.json["language"] == "de", patched.text

    # set the number (spaces allowed, E.164 kept) and verify it with the SMS code
    sent = stack.request("PUT", "/me/phone", json={"number": number[:6] + " " + number[6:]}, headers=me)
    assert sent.status == 202 and sent.json["number"] == number, sent.text
    assert stack.get("/me", headers=me).json["phone"] == {"number": number, "status": "not_verified"}
    [sms] = stack.outbox(number)
    assert "Telefonnummer" in sms["text"]  # in the user's language
    verified = stack.post("/me/phone/verify", json={"code": code_in(sms)}, headers=me)
    assert verified.status == 200 and verified.json == {"number": number, "status": "verified"}, verified.text

    # recovery by SMS reaches the verified phone, and its code resets the password
    assert stack.post("/auth/password/forgot", json={"email": email, "channel": "sms"}).status == 202
    reset_sms = stack.outbox(number)[0]
    assert "password reset code" in reset_sms["text"]
    reset = stack.post(
        "/auth/password/reset", json={"email": email, "code": code_in(reset_sms), "new_password": NEW_PASSWORD}
    )
    assert reset.status == 200, reset.text
    token = log_in(stack, email, NEW_PASSWORD)
    me = bearer(token)

    # a verified number is replaced only after its release, confirmed with a code sent to it
    other = stack.request("PUT", "/me/phone", json={"number": "+4915123456789"}, headers=me)
    assert other.status == 409 and other.json["code"] == "phone_change_requires_release"
    assert stack.post("/me/phone/release", headers=me).status == 202
    release_sms = stack.outbox(number)[0]
    assert release_sms["text"] != reset_sms["text"]
    released = stack.post("/me/phone/release/confirm", json={"code": code_in(release_sms)}, headers=me)
    assert released.status == 204, released.text
    assert stack.get("/me", headers=me).json["phone"] is None

    # without a verified phone, recovery by SMS sends nothing (and answers the same)
    stack.advance_clock(61)
    sent_before = len(stack.outbox(number))
    assert stack.post("/auth/password/forgot", json={"email": email, "channel": "sms"}).status == 202
    assert len(stack.outbox(number)) == sent_before
