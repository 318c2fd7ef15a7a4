"""Two-factor authentication as a user runs it, over HTTP against the local stack, with the
local clock moved to cover drift, replay and challenge expiry."""

from __future__ import annotations

import pyotp

from tests.e2e.support import PASSWORD, bearer, log_in, now, sign_up, unique_email, verify


def test_enforce_enroll_login_replay_drift_and_expiry(local_stack):
    email = unique_email("totp")
    created = sign_up(local_stack, email)
    verify(local_stack, email)
    token = log_in(local_stack, email)
    security = local_stack.get(f"/accounts/{created['account_id']}/security", headers=bearer(token)).json
    enforced = local_stack.put(
        f"/accounts/{created['account_id']}/security", json={**security, "enforce_mfa": True}, headers=bearer(token)
    )
    assert enforced.status == 200
    refused = local_stack.get(f"/accounts/{created['account_id']}", headers=bearer(token))
    assert refused.status == 403 and refused.json["code"] == "mfa_required"

    step = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD}).json
    assert step["status"] == "mfa_enrollment_required"
    enrollment = local_stack.post("/auth/login/mfa-enrollment", json={"challenge": step["challenge"]}).json
    secret = enrollment["secret"]
    assert enrollment["otpauth_uri"].startswith("otpauth://totp/Portico:")
    assert enrollment["qr_svg"].lstrip().startswith("<svg")
    totp = pyotp.TOTP(secret)
    done = local_stack.post(
        "/auth/login/mfa-enrollment/confirm", json={"challenge": step["challenge"], "code": totp.at(now(local_stack))}
    ).json
    assert done["status"] == "authenticated" and len(done["recovery_codes"]) == 10
    assert local_stack.get(f"/accounts/{created['account_id']}", headers=bearer(done["token"])).status == 200
    assert any(m["subject"] == "Two-factor authentication is on" for m in local_stack.outbox(email))

    # replay of the enrollment code within its window
    local_stack.advance_clock(30)
    step = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD}).json
    assert step["status"] == "mfa_required"
    current = totp.at(now(local_stack))
    assert local_stack.post("/auth/login/mfa", json={"challenge": step["challenge"], "code": current}).status == 200
    again = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD}).json
    replay = local_stack.post("/auth/login/mfa", json={"challenge": again["challenge"], "code": current})
    assert replay.status == 401 and replay.json["code"] == "code_already_used"

    # a phone one step behind is accepted; two steps is not
    local_stack.advance_clock(90)
    behind = local_stack.post(
        "/auth/login/mfa", json={"challenge": again["challenge"], "code": totp.at(now(local_stack) - 30)}
    )
    assert behind.status == 200
    third = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD}).json
    local_stack.advance_clock(60)
    too_old = local_stack.post(
        "/auth/login/mfa", json={"challenge": third["challenge"], "code": totp.at(now(local_stack) - 60)}
    )
    assert too_old.status == 401 and too_old.json["code"] == "invalid_code"

    # the challenge expires after 10 minutes
    local_stack.advance_clock(601)
    late = local_stack.post(
        "/auth/login/mfa", json={"challenge": third["challenge"], "code": totp.at(now(local_stack))}
    )
    assert late.status == 401 and late.json["code"] == "invalid_challenge"

    # a recovery code stands in for the phone, once
    fourth = local_stack.post("/auth/login", json={"email": email, "password": PASSWORD}).json
    rescued = local_stack.post(
        "/auth/login/mfa", json={"challenge": fourth["challenge"], "code": done["recovery_codes"][0]}
    ).json
    assert rescued["status"] == "authenticated"
    me = local_stack.get("/me", headers=bearer(rescued["token"])).json
    assert me["mfa"] == {"totp": True, "recovery_codes_left": 9}
