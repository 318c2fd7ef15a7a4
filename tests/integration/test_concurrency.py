"""Races on the API's invariants: requests released at once from threads against the emulation
(each thread runs its own copy of the handlers, as concurrent Lambda invocations do, and moto's
DynamoDB is atomic per operation, as DynamoDB is: ``infra/local/atomic.py``).

Raced next to their features, and not repeated here (``test_<module>.py::test_<name>``):

* one address, one user: ``signup::concurrent_signups_with_one_email_make_one_user``
* a reset link used once: ``passwords::concurrent_resets_with_one_link_succeed_once``
* SMS code guesses: ``passwords::parallel_sms_code_guesses_get_five_comparisons_in_all``
* one TOTP code twice at login: ``mfa::concurrent_use_of_one_code_gives_one_session``
* wrong passwords and the lockout: ``login::parallel_wrong_passwords_cannot_exceed_the_limit``
* one address invited at once: ``user_admin::concurrent_invitations_make_one_membership``
* managers taking each other's full access: ``user_admin::two_managers_demoting_each_other_at_once_leave_one``
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pyotp
import pytest

from portico import keys, store
from portico.auth import lockout
from portico.auth import repository as auth_repository
from tests.integration import flows
from tests.integration.flows import NEW_PASSWORD, Subject, World, fresh_table, needs_route, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.support import PASSWORD, Answer

ACCEPT = "POST /invitations/{token}/accept"
CHANGE_MEMBER = "PATCH /accounts/{account_id}/users/{user_id}"
REMOVE_MEMBER = "DELETE /accounts/{account_id}/users/{user_id}"


def at_once(*requests: Callable[[], Answer]) -> list[Answer]:
    """Send the requests from threads released together; their answers, in order."""
    barrier = threading.Barrier(len(requests))
    answers: list[Answer | BaseException | None] = [None] * len(requests)

    def send(i: int, request: Callable[[], Answer]) -> None:
        barrier.wait()
        try:
            answers[i] = request()
        except BaseException as failed:  # re-raised below, in the test's thread
            answers[i] = failed

    threads = [threading.Thread(target=send, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


def outcomes(answers: list[Answer]) -> Counter:
    """How many answers of each kind: a status, with the problem's code where there is one."""
    return Counter(f"{a.status} {a.body['code']}" if a.status >= 400 else str(a.status) for a in answers)


def cases(email: str) -> list[str]:
    """One address written five ways."""
    alternating = "".join(c.upper() if i % 2 else c for i, c in enumerate(email))
    return [email, email.upper(), email.capitalize(), email.title(), alternating]


# ----------------------------------------------------------------- unique email at sign-up


def test_sign_ups_with_one_address_in_different_cases_make_one_user(world):
    email = Subject().email
    variants = cases(email)
    answers = at_once(*(lambda e=e: world.api.post("/signup", flows.signup_body(e)) for e in variants))
    assert outcomes(answers) == {"201": 1, "409 email_taken": 4}
    [created] = [a for a in answers if a.status == 201]
    assert store.get(keys.credential(email))["user_id"] == created.body["user_id"]
    assert len(world.outbox(email)) == 1  # one verification email


# ----------------------------------------------------------------- single-use links and codes


def test_a_verification_link_verifies_once(world):
    s = Subject()
    flows.signed_up(world, s)
    token = flows.link_token(world.outbox(s.email)[0], "verify-email")
    answers = at_once(*[lambda: world.api.post("/auth/verify-email", {"token": token})] * 6)
    assert outcomes(answers) == {"200": 1, "400 invalid_token": 5}
    assert store.get(keys.credential(s.email))["email_verified"] is True


def test_an_sms_reset_code_resets_once(world):
    s = Subject()
    flows.verified(world, s)
    flows.with_phone(world, s)
    assert world.api.post("/auth/password/forgot", {"email": s.email, "channel": "sms"}).status == 202
    code = flows.code_in(world.outbox(s.phone)[0])
    passwords = [NEW_PASSWORD, "Copper-Meadow-Falcon-58", "Silver-Canyon-Orbit-39", "Amber-Tundra-Kite-64"]
    answers = at_once(
        *(
            lambda p=p: world.api.post("/auth/password/reset", {"email": s.email, "code": code, "new_password": p})
            for p in passwords
        )
    )
    assert outcomes(answers) == {"200": 1, "401 invalid_code": 3}
    [winner] = [p for p, a in zip(passwords, answers, strict=True) if a.status == 200]
    assert [p for p in passwords if flows.can_log_in(world, s.email, p)] == [winner]


def test_one_totp_code_is_accepted_once_across_routes(world):
    """The same code sent at once to the login step (twice), to reauthentication and to replace the
    recovery codes: the last used time step is one, whichever route writes it."""
    s = Subject()
    flows.logged_in(world, s)
    flows.with_totp(world, s)
    code = flows.totp(s.secret, world.clock)
    first, second = (flows.challenge(world, s, "mfa_required") for _ in range(2))
    answers = at_once(
        lambda: world.api.post("/auth/login/mfa", {"challenge": first, "code": code}),
        lambda: world.api.post("/auth/login/mfa", {"challenge": second, "code": code}),
        lambda: world.api.post("/auth/reauthenticate", {"password": PASSWORD, "code": code}, token=s.token),
        lambda: world.api.post("/me/mfa/recovery-codes", {"code": code}, token=s.token),
    )
    counted = outcomes(answers)
    assert counted["401 code_already_used"] == 3, counted
    assert sum(n for kind, n in counted.items() if kind in ("200", "204")) == 1, counted


def test_a_recovery_code_opens_one_session(world):
    s = Subject()
    flows.logged_in(world, s)
    flows.with_totp(world, s)
    challenges = [flows.challenge(world, s, "mfa_required") for _ in range(5)]
    recovery = s.recovery_codes[0]
    answers = at_once(
        *(lambda c=c: world.api.post("/auth/login/mfa", {"challenge": c, "code": recovery}) for c in challenges)
    )
    assert [a.status for a in answers].count(200) == 1, outcomes(answers)
    assert set(outcomes(answers)) - {"200"} <= {"401 code_already_used", "401 invalid_code"}, outcomes(answers)
    assert len(store.get(keys.credential(s.email))["recovery_hashes"]) == 9


# ----------------------------------------------------------------- the lockout limit


def _wrong_totp_codes(world: World) -> tuple[list[Callable[[], Answer]], Callable[[], int]]:
    s = Subject()
    flows.logged_in(world, s)
    flows.with_totp(world, s)
    valid = {pyotp.TOTP(s.secret).at(world.clock.now + 30 * step) for step in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    challenges = [flows.challenge(world, s, "mfa_required") for _ in range(12)]
    requests = [lambda c=c: world.api.post("/auth/login/mfa", {"challenge": c, "code": wrong}) for c in challenges]
    return requests, lambda: auth_repository.get_credential(s.email).failed_count


def _unknown_email(world: World) -> tuple[list[Callable[[], Answer]], Callable[[], int]]:
    email = Subject().email  # never signed up
    requests = [
        lambda i=i: world.api.post("/auth/login", {"email": email, "password": f"Wrong-Password-{i}"})
        for i in range(12)
    ]
    return requests, lambda: auth_repository.unknown_lockout(email)[0].failed_count


@pytest.mark.parametrize("guesses", [_wrong_totp_codes, _unknown_email], ids=["wrong TOTP codes", "unknown email"])
def test_parallel_wrong_guesses_never_check_more_than_the_limit(world, guesses):
    requests, failures = guesses(world)
    answers = at_once(*requests)
    counted = outcomes(answers)
    checked = sum(n for kind, n in counted.items() if kind.startswith("401"))
    assert 1 <= checked <= lockout.THRESHOLD, counted
    assert counted["429 too_many_attempts"] == len(requests) - checked, counted
    # every guess that was checked was counted first, and no other
    assert failures() == checked


# ----------------------------------------------------------------- invitations and user managers


def owner(world: World) -> Subject:
    s = Subject()
    flows.logged_in(world, s)
    return s


def invite(world: World, s: Subject, email: str, **grant) -> Answer:
    return world.api.post(f"/accounts/{s.person.account_id}/users", {"email": email, **grant}, token=s.token)


def manager(world: World, s: Subject) -> tuple[str, str]:
    """A second user with full access in ``s``'s account, through an invitation: (user id, token)."""
    email = f"manager{s.n}@example.com"
    assert invite(world, s, email, full_access=True).status == 201
    link = flows.link_token(world.outbox(email)[0], "accept-invitation")
    accepted = world.api.post(f"/invitations/{link}/accept", {"name": "Grace Hopper", "password": NEW_PASSWORD})
    assert accepted.status == 201, accepted.body
    login = world.api.post("/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert login.status == 200, login.body
    return accepted.body["user_id"], login.body["token"]


def managers_left(world: World, s: Subject, tokens: list[str]) -> list[str]:
    """The active members holding ``users``, as whoever of ``tokens`` may still list them sees it."""
    for token in tokens:
        listed = world.api.get(f"/accounts/{s.person.account_id}/users", token=token)
        if listed.status == 200:
            return [
                m["user_id"]
                for m in listed.body["items"]
                if m["status"] == "active" and (m["full_access"] or "users" in m["rights"])
            ]
    raise AssertionError("nobody can list the account's users any more")


@needs_route(flows.INVITE)
def test_one_address_invited_in_different_cases_at_once_is_one_membership(world):
    s = owner(world)
    email = Subject().email
    variants = cases(email)[:4]
    answers = at_once(*(lambda e=e: invite(world, s, e) for e in variants))
    assert outcomes(answers) == {"201": 1, "409 already_member": 3}
    listed = world.api.get(f"/accounts/{s.person.account_id}/users", token=s.token).body["items"]
    assert [m["email"].lower() for m in listed].count(email) == 1
    assert len(world.outbox(email)) == 1


@needs_route(flows.INVITE, ACCEPT)
def test_an_invitation_link_is_accepted_once(world):
    s = owner(world)
    email = Subject().email
    assert invite(world, s, email, rights=["data:view"]).status == 201
    link = flows.link_token(world.outbox(email)[0], "accept-invitation")
    body = {"name": "Dana Scully", "password": NEW_PASSWORD}
    answers = at_once(*[lambda: world.api.post(f"/invitations/{link}/accept", body)] * 4)
    counted = outcomes(answers)
    assert counted["201"] == 1, counted
    assert set(counted) - {"201"} <= {"404 not_found"}, counted
    [accepted] = [a for a in answers if a.status == 201]
    assert store.get(keys.credential(email))["user_id"] == accepted.body["user_id"]
    listed = world.api.get(f"/accounts/{s.person.account_id}/users", token=s.token).body["items"]
    assert [m["status"] for m in listed if m["user_id"] == accepted.body["user_id"]] == ["active"]


@needs_route(flows.INVITE, ACCEPT, CHANGE_MEMBER, REMOVE_MEMBER)
@pytest.mark.parametrize("action", ["disable", "delete"])
def test_two_managers_removing_each_other_at_once_leave_one(world, action):
    s = owner(world)
    # The owner always holds every right, so the rule bites only in an account whose owner does not
    # count; take the owner's flag away in the table (test_user_admin.py does the same).
    store.update(
        keys.membership(s.person.account_id, s.person.user_id),
        "SET #o = :f",
        values={":f": False},
        names={"#o": "owner"},
    )
    other, other_token = manager(world, s)
    path = f"/accounts/{s.person.account_id}/users/{{}}"

    def remove(target: str, token: str) -> Callable[[], Answer]:
        if action == "disable":
            return lambda: world.api.patch(path.format(target), {"status": "disabled"}, token=token)
        return lambda: world.api.delete(path.format(target), token=token)

    answers = at_once(remove(other, s.token), remove(s.person.user_id, other_token))
    counted = outcomes(answers)
    assert sum(n for kind, n in counted.items() if kind in ("200", "204")) == 1, counted
    # the other one is refused by the rule, or (when it came second) as a caller who just lost access
    assert set(counted) - {"200", "204"} <= {"409 last_user_manager", "404 not_found"}, counted
    assert len(managers_left(world, s, [s.token, other_token])) == 1
