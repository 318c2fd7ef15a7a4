"""Writes whose size depends on the data stay within DynamoDB's limits at the largest sizes the
README states: a login in 250 accounts, an account of 1,000 members, a login with 1,000 sessions.

DynamoDB refuses a transaction of more than 100 items and a ``BatchGetItem`` of more than 100
keys; every request below is watched at the client boundary and none may pass those limits. Audit
records beyond what a transaction carries are fanned out after the change (``portico.audit``): if
that fails, nothing is lost, the ``audit-fanout`` job finishes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from portico import aws, keys, store
from portico.jobs import JOBS

ACCOUNTS_PER_LOGIN = 250
MEMBERS_PER_ACCOUNT = 1_000
SESSIONS_PER_LOGIN = 1_000
WRONG = "Wrong-Password-123!x"


@contextlib.contextmanager
def dynamodb_requests() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB request made in the block, by operation and parameters."""
    seen: list[tuple[str, dict[str, Any]]] = []
    client = aws.client("dynamodb")

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, params))

    client.meta.events.register("provide-client-params.dynamodb", record, unique_id="portico-sizes")
    try:
        yield seen
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", unique_id="portico-sizes")


def assert_within_limits(requests: list[tuple[str, dict[str, Any]]]) -> None:
    for operation, params in requests:
        if operation == "TransactWriteItems":
            assert len(params["TransactItems"]) <= 100, len(params["TransactItems"])
        if operation == "BatchGetItem":
            assert sum(len(t["Keys"]) for t in params["RequestItems"].values()) <= 100
        if operation == "BatchWriteItem":
            assert sum(len(t) for t in params["RequestItems"].values()) <= 25


def join_accounts(who, count: int) -> list[str]:
    """Make ``who`` a full-access member of ``count`` more accounts, written as acceptance writes them."""
    account_ids = [f"acc_size{n:05d}" for n in range(count)]
    items = []
    for account_id in account_ids:
        items.append({**keys.account(account_id), "account_id": account_id, "name": "Bulk", "mode": "test"})
        items.append(
            {
                **keys.membership(account_id, who.user_id),
                **keys.membership_index(account_id, who.user_id),
                "account_id": account_id,
                "account_name": "Bulk",
                "user_id": who.user_id,
                "email": who.email,
                "full_access": True,
                "rights": [],
                "status": "active",
                "version": 0,
            }
        )
    store.batch_put(items)
    store.update(
        keys.credential(who.email), "SET account_ids = list_append(account_ids, :a)", values={":a": account_ids}
    )
    return account_ids


def actions(account_id: str) -> list[str]:
    items, _ = store.query(keys.audit_of(account_id))
    return [str(i["action"]) for i in items]


def test_a_login_in_250_accounts_fails_locks_and_logs_in_within_the_limits(api, person, clock):
    ada = person()
    many = join_accounts(ada, ACCOUNTS_PER_LOGIN - 1)
    with dynamodb_requests() as requests:
        answers = [api.post("/auth/login", {"email": ada.email, "password": WRONG}) for _ in range(5)]
        clock.advance(2)
        logged_in = api.post("/auth/login", {"email": ada.email, "password": ada.password})
        me = api.get("/me", token=logged_in.body["token"])
    assert [a.status for a in answers] == [401] * 5
    assert logged_in.status == 200 and len(me.body["accounts"]) == ACCOUNTS_PER_LOGIN
    assert_within_limits(requests)
    for account_id in (ada.account_id, many[0], many[-1]):
        seen = actions(account_id)
        assert seen.count("login.failed") == 5 and "login.locked" in seen and "login.succeeded" in seen
    assert not store.query(keys.audit_fanouts_before("9999"))[0]  # nothing left over


def test_a_fan_out_that_fails_after_the_change_is_finished_by_the_job(api, person, clock, fail_aws):
    ada = person()
    many = join_accounts(ada, 40)
    token = api.post("/auth/login", {"email": ada.email, "password": ada.password}).body["token"]
    with fail_aws("dynamodb", "BatchWriteItem", "ProvisionedThroughputExceededException"):
        changed = api.post(
            "/me/password", {"current_password": ada.password, "new_password": "Harbor-Violet-Spruce-77"}, token=token
        )
    assert changed.status == 204  # the change stands; its records are not lost
    assert "password.changed" in actions(ada.account_id)  # written with the change
    assert "password.changed" not in actions(many[-1])
    markers, _ = store.query(keys.audit_fanouts_before("9999"))
    assert len(markers) == 1

    assert JOBS["audit-fanout"]()["markers"] == 0  # a request may still be copying it
    clock.advance(61)
    summary = JOBS["audit-fanout"]()
    assert summary["markers"] == 1 and summary["records_written"] == 41 - 10 and summary["failed"] == 0
    assert all("password.changed" in actions(a) for a in many)
    assert JOBS["audit-fanout"]()["markers"] == 0


def test_security_settings_of_an_account_of_1000_members(api, person, login):
    ada = person()
    token = login(ada)
    emails = [f"member{n:04d}@example.com" for n in range(MEMBERS_PER_ACCOUNT - 1)]
    items = []
    for n, email in enumerate(emails):
        user_id = f"usr_size{n:05d}"
        items.append(
            {
                **keys.credential(email),
                "user_id": user_id,
                "email": email,
                "account_ids": [ada.account_id],
                "version": 0,
                "password_changed_epoch": 1_790_000_000,
            }
        )
        items.append(
            {
                **keys.membership(ada.account_id, user_id),
                "account_id": ada.account_id,
                "user_id": user_id,
                "email": email,
                "status": "active",
                "rights": [],
            }
        )
    store.batch_put(items)
    security = api.get(f"/accounts/{ada.account_id}/security", token=token).body
    stricter = {
        **security,
        "session_idle_minutes": 10,
        "password_policy": {**security["password_policy"], "history": 9},
    }
    with dynamodb_requests() as requests:
        answer = api.put(f"/accounts/{ada.account_id}/security", stricter, token=token)
    assert answer.status == 200
    assert_within_limits(requests)
    reads = [op for op, _ in requests if op in ("GetItem", "BatchGetItem", "Query")]
    assert len(reads) < 60, len(reads)  # batches, not a read per member
    for email in (emails[0], emails[-1], ada.email):
        stored = store.get(keys.credential(email))["security"]
        assert stored["session_idle_minutes"] == 10 and stored["password_policy"]["history"] == 9


@pytest.mark.parametrize("keep_current", [True, False])
def test_a_login_with_1000_sessions_ends_them_all(api, person, login, keep_current):
    ada = person()
    token = login(ada)
    store.batch_put(
        [
            {
                **keys.session(f"bulk{n:05d}"),
                **keys.session_index(ada.user_id, f"ses_bulk{n:05d}"),
                "session_id": f"ses_bulk{n:05d}",
                "user_id": ada.user_id,
                "email": ada.email,
                "created_at": 1_790_000_000,
                "last_seen_at": 1_790_000_000,
                "idle_seconds": 1800,
                "expires_at": 1_790_043_200,
            }
            for n in range(SESSIONS_PER_LOGIN - 1)
        ]
    )
    with dynamodb_requests() as requests:
        if keep_current:
            answer = api.delete("/me/sessions", token=token)
        else:
            answer = api.post(
                "/me/password",
                {"current_password": ada.password, "new_password": "Harbor-Violet-Spruce-77"},
                token=token,
            )
    assert answer.status == 204
    assert_within_limits(requests)
    left, _ = store.query(keys.sessions_of(ada.user_id))
    assert len(left) == 1  # the caller's own: kept by both
