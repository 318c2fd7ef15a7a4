"""The login step machine (``portico.auth.login.next_step``), without a table: which step a
credential needs next, given the steps already done. The order is fixed: a password change, then
the second factor (or its enrollment where an account enforces 2FA), then a session."""

from __future__ import annotations

import dataclasses

import pytest

from portico.auth.credentials import Credential
from portico.auth.login import next_step
from portico.security.settings import Effective, SecuritySettings

NOW = 1_790_000_000.0
DAY = 86_400

PLAIN = Credential(user_id="usr_1", email="ada@example.com", email_verified=True)
ENFORCED = Effective.of([SecuritySettings(), SecuritySettings(enforce_mfa=True)])


def step(credential: Credential, *, password_done: bool = False, mfa_done: bool = False, now: float = NOW) -> str:
    return next_step(credential, now, password_done=password_done, mfa_done=mfa_done)


def walk(credential: Credential) -> list[str]:
    """Every step a login of ``credential`` goes through, each answered in turn."""
    done = {"password_done": False, "mfa_done": False}
    steps = [step(credential, **done)]
    while steps[-1] != "session":
        if steps[-1] == "password_change":
            done["password_done"] = True
        elif steps[-1] == "mfa":
            done["mfa_done"] = True
        elif steps[-1] == "mfa_enrollment":  # enrolling turns the second factor on, answered by it
            credential = dataclasses.replace(credential, mfa_enabled=True)
            done["mfa_done"] = True
        steps.append(step(credential, **done))
        assert len(steps) < 5, steps
    return steps


def test_a_plain_login_gets_a_session():
    assert step(PLAIN) == "session"
    assert walk(PLAIN) == ["session"]


@pytest.mark.parametrize("status", ["expired", "admin_reset", "compromised"])
def test_a_password_that_must_change_comes_first(status: str):
    credential = dataclasses.replace(PLAIN, password_status=status)
    assert step(credential) == "password_change"
    assert step(credential, password_done=True) == "session"


def test_an_ok_password_status_needs_no_change():
    assert step(dataclasses.replace(PLAIN, password_status="ok")) == "session"


def test_a_password_expires_at_its_moment_not_before():
    expiring = dataclasses.replace(PLAIN, password_expires_at=int(NOW) + DAY)
    assert step(expiring, now=NOW + DAY - 1) == "session"
    assert step(expiring, now=NOW + DAY) == "password_change"
    assert step(expiring, now=NOW + 30 * DAY) == "password_change"
    assert step(expiring, now=NOW + 30 * DAY, password_done=True) == "session"


def test_a_password_without_expiry_never_expires():
    assert step(dataclasses.replace(PLAIN, password_expires_at=None), now=NOW + 10_000 * DAY) == "session"


def test_a_login_with_totp_needs_its_code():
    totp = dataclasses.replace(PLAIN, mfa_enabled=True)
    assert step(totp) == "mfa"
    assert step(totp, password_done=True) == "mfa"
    assert step(totp, mfa_done=True) == "session"


def test_a_pending_enrollment_is_no_second_factor():
    pending = dataclasses.replace(PLAIN, totp_pending_sealed="sealed", totp_pending_expires=int(NOW) + 900)
    assert step(pending) == "session"
    assert step(dataclasses.replace(pending, security=ENFORCED)) == "mfa_enrollment"


def test_enforced_mfa_without_a_factor_needs_enrollment():
    assert ENFORCED.enforce_mfa is True  # one enforcing account is enough
    enforced = dataclasses.replace(PLAIN, security=ENFORCED)
    assert step(enforced) == "mfa_enrollment"
    assert step(enforced, mfa_done=True) == "mfa_enrollment"  # nothing to have done without a factor


def test_enforced_mfa_with_a_factor_asks_for_the_code_not_enrollment():
    enrolled = dataclasses.replace(PLAIN, security=ENFORCED, mfa_enabled=True)
    assert step(enrolled) == "mfa"
    assert step(enrolled, mfa_done=True) == "session"


def test_without_enforcement_no_factor_is_asked_for():
    relaxed = Effective.of([SecuritySettings(), SecuritySettings(session_idle_minutes=5)])
    assert relaxed.enforce_mfa is False
    assert step(dataclasses.replace(PLAIN, security=relaxed)) == "session"


def test_enforcement_stored_on_the_credential_item_is_read_back():
    credential = Credential.from_item({"user_id": "usr_1", "email": "ada@example.com", "security": ENFORCED.to_item()})
    assert credential.security.enforce_mfa is True
    assert step(credential) == "mfa_enrollment"


@pytest.mark.parametrize(
    ("changes", "steps"),
    [
        ({}, ["session"]),
        ({"password_status": "admin_reset"}, ["password_change", "session"]),
        ({"mfa_enabled": True}, ["mfa", "session"]),
        ({"security": ENFORCED}, ["mfa_enrollment", "session"]),
        ({"password_status": "expired", "mfa_enabled": True}, ["password_change", "mfa", "session"]),
        ({"password_status": "compromised", "security": ENFORCED}, ["password_change", "mfa_enrollment", "session"]),
        (
            {"password_expires_at": int(NOW) - 1, "mfa_enabled": True, "security": ENFORCED},
            ["password_change", "mfa", "session"],
        ),
    ],
)
def test_password_change_before_second_factor_before_enrollment_before_session(changes: dict, steps: list[str]):
    assert walk(dataclasses.replace(PLAIN, **changes)) == steps


def test_a_done_second_factor_does_not_skip_a_password_change():
    must_change = dataclasses.replace(PLAIN, password_status="expired", mfa_enabled=True)
    assert step(must_change, mfa_done=True) == "password_change"
    assert step(must_change, password_done=True, mfa_done=True) == "session"
