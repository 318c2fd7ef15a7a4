"""Privacy through the real handlers: consent to the policy version in force, the personal data
export through the queue and its consumer, deletion and restriction requests from filing to their
resolution by an admin, and what each can and cannot do."""

from __future__ import annotations

import csv
import importlib.util
import io
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from infra.local.queues import sqs_event
from portico import aws, config, keys, store
from tests.integration.flows import join
from tests.integration.support import PASSWORD, ROOT, Context


def _member(person, name: str, *, into: str, rights=("data:view",)):
    """``name`` signs up (owning their own account), then joins account ``into``; their own account
    is then taken away, so they are an ordinary member of ``into`` only."""
    who = person(f"{name}@example.com", name=name.title())
    join(into, who, rights)
    store.transact(
        [
            store.delete_op(keys.membership(who.account_id, who.user_id)),
            store.delete_op(keys.member_email(who.account_id, who.email)),
            store.update_op(keys.credential(who.email), "SET account_ids = :a", values={":a": [into]}),
        ]
    )
    return who


def _csv_of(outbox, to: str) -> list[dict[str, str]]:
    [message] = [m for m in outbox(to) if m["attachments"]]
    [attachment] = message["attachments"]
    assert attachment["content_type"] == "text/csv"
    assert attachment["filename"].startswith("portico-personal-data-") and attachment["filename"].endswith(".csv")
    return list(csv.DictReader(io.StringIO(attachment["text"])))


def _value(rows, section: str, field: str) -> list[str]:
    return [r["value"] for r in rows if r["section"] == section and r["field"] == field]


# ----------------------------------------------------------------- consent


def test_privacy_view_shows_the_policy_in_force_and_no_consent_yet(api, person, login):
    ada = person()
    view = api.get("/me/privacy", token=login(ada))
    assert view.status == 200, view.body
    assert view.body["policy"] == {"version": "1", "url": "https://app.portico.test/privacy"}
    assert view.body["consent"] is None and view.body["consent_current"] is False
    assert view.body["restricted"] is False and view.body["requests"] == []


def test_consent_is_to_the_version_in_force_and_kept_with_its_time(api, person, login, clock, monkeypatch):
    ada = person()
    token = login(ada)
    stale = api.post("/me/privacy/consent", {"version": "0"}, token=token)
    assert (stale.status, stale.body["code"]) == (409, "stale_policy_version")
    assert "version 1" in stale.body["detail"]

    given = api.post("/me/privacy/consent", {"version": "1"}, token=token)
    assert given.status == 200, given.body
    first = given.body["consent"]
    assert first["version"] == "1" and given.body["consent_current"] is True
    clock.advance(60)
    again = api.post("/me/privacy/consent", {"version": "1"}, token=token)
    assert again.body["consent"] == first  # the first consent to a version stands

    log = api.get(f"/accounts/{ada.account_id}/audit-log", token=token).body["items"]
    assert [r["action"] for r in log].count("privacy.consent_given") == 1

    # a new policy version: the old consent is shown, no longer current; consenting again records it
    monkeypatch.setenv("PRIVACY_POLICY_VERSION", "2026-12")
    config.settings.cache_clear()
    view = api.get("/me/privacy", token=token).body
    assert view["policy"]["version"] == "2026-12" and view["consent"] == first and view["consent_current"] is False
    clock.advance(60)
    renewed = api.post("/me/privacy/consent", {"version": "2026-12"}, token=token).body
    assert renewed["consent"]["version"] == "2026-12" and renewed["consent"]["accepted_at"] > first["accepted_at"]


def test_consent_body_is_validated(api, person, login):
    token = login(person())
    for body in ({}, {"version": ""}, {"version": 1}, {"version": "x" * 65}, {"version": "1", "extra": True}):
        refused = api.post("/me/privacy/consent", body, token=token)
        assert (refused.status, refused.body["code"]) == (422, "validation_error"), body


# ----------------------------------------------------------------- export


def test_export_emails_a_csv_of_the_persons_data_and_nobody_elses(api, person, login, outbox, consumers):
    ada = person()
    bob = _member(person, "bob", into=ada.account_id)
    bob_token = login(bob)
    assert api.post("/me/privacy/consent", {"version": "1"}, token=bob_token).status == 200
    ada_token = login(ada)
    changed = api.patch(
        f"/accounts/{ada.account_id}/users/{bob.user_id}", {"rights": ["data:view", "data:edit"]}, token=ada_token
    )
    assert changed.status == 200, changed.body

    answer = api.post("/me/privacy/export", token=bob_token)
    assert answer.status == 202, answer.body
    request_id = answer.body["request_id"]
    assert not [m for m in outbox(bob.email) if m["attachments"]]  # built and sent by the consumer
    pending = api.get("/me/privacy", token=bob_token).body["requests"]
    assert pending == [
        {
            "request_id": request_id,
            "type": "export",
            "status": "pending",
            "created_at": pending[0]["created_at"],
            "resolved_at": None,
        }
    ]

    assert consumers() == {"done": 1, "failed": 0}
    rows = _csv_of(outbox, bob.email)
    assert set(rows[0]) == {"section", "record", "field", "value"}
    assert _value(rows, "profile", "email") == [bob.email]
    assert _value(rows, "profile", "name") == ["Bob"]
    assert {r["record"] for r in rows if r["section"] == "membership"} == {ada.account_id}
    assert [set(v.split(";")) for v in _value(rows, "membership", "rights")] == [{"data:view", "data:edit"}]
    assert len({r["record"] for r in rows if r["section"] == "session"}) >= 1
    assert _value(rows, "consent", "version") == ["1"]
    assert _value(rows, "privacy_request", "type") == ["export"]
    actions = _value(rows, "audit", "action")
    assert {"privacy.consent_given", "user.updated", "privacy.export_requested"} <= set(actions), actions
    everything = "\n".join(r["value"] for r in rows)
    assert ada.email not in everything  # the admin who changed Bob's rights is named by id only
    assert "argon2" not in everything and "password_hash" not in everything

    done = api.get("/me/privacy", token=bob_token).body["requests"][0]
    assert done["status"] == "completed" and done["resolved_at"]
    assert consumers() == {"done": 0, "failed": 0}  # nothing left on the queue


def test_export_cells_that_read_as_formulas_are_defused(api, person, login, outbox, consumers):
    ada = person()
    token = login(ada)
    # the owner's name is locked; write a hostile one straight to the login
    store.update(keys.credential(ada.email), "SET #n = :n", values={":n": "=HYPERLINK(1)"}, names={"#n": "name"})
    assert api.post("/me/privacy/export", token=token).status == 202
    consumers()
    assert _value(_csv_of(outbox, ada.email), "profile", "name") == ["'=HYPERLINK(1)"]


def test_export_is_limited_to_three_a_day_and_a_refused_queue_does_not_count(
    api, person, login, fail_aws, table_items, clock
):
    ada = person()
    token = login(ada)
    before = [i for i in table_items() if str(i["sk"]).startswith("PRIVACY#")]
    with fail_aws("sqs", "SendMessage", "ServiceUnavailable"):
        failed = api.post("/me/privacy/export", token=token)
    assert (failed.status, failed.body["code"]) == (503, "service_unavailable")
    assert [i for i in table_items() if str(i["sk"]).startswith("PRIVACY#")] == before  # nothing half-written
    assert api.get("/me/privacy", token=token).body["requests"] == []
    log = api.get(f"/accounts/{ada.account_id}/audit-log", token=token).body["items"]
    assert "privacy.export_requested" not in [r["action"] for r in log]

    for _ in range(3):
        assert api.post("/me/privacy/export", token=token).status == 202
    limited = api.post("/me/privacy/export", token=token)
    assert (limited.status, limited.body["code"]) == (429, "too_many_requests"), limited.body
    assert int(limited.headers["Retry-After"]) > 0
    clock.advance(86400)
    assert api.post("/me/privacy/export", token=login(ada)).status == 202


def _ses_fails_once() -> Callable[[], None]:
    """SES refuses the next email only; the returned function removes the fault."""
    ses = aws.client("ses")
    event = f"before-call.{ses.meta.service_model.endpoint_prefix}.SendRawEmail"
    left = [1]

    def boom(**_: Any) -> None:
        if left[0]:
            left[0] -= 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "injected"}}, "SendRawEmail")

    ses.meta.events.register(event, boom, unique_id="privacy-once")
    return lambda: ses.meta.events.unregister(event, unique_id="privacy-once")


def test_an_export_that_fails_is_retried(api, person, login, outbox, consumers):
    ada = person()
    token = login(ada)
    assert api.post("/me/privacy/export", token=token).status == 202
    remove = _ses_fails_once()
    try:
        assert consumers(retry_now=True) == {"done": 1, "failed": 1}  # the second delivery sent it
    finally:
        remove()
    assert len([m for m in outbox(ada.email) if m["attachments"]]) == 1
    assert api.get("/me/privacy", token=token).body["requests"][0]["status"] == "completed"


def test_an_export_that_keeps_failing_lands_in_the_dead_letter_queue(
    api, person, login, outbox, consumers, fail_aws, template_env
):
    ada = person()
    token = login(ada)
    assert api.post("/me/privacy/export", token=token).status == 202
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        assert consumers(retry_now=True) == {"done": 0, "failed": 5}  # the queue's maxReceiveCount
    dead_letters = template_env.resolve({"Fn::GetAtt": ["PrivacyExportDeadLetters", "QueueUrl"]})
    dead = aws.client("sqs").receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10).get("Messages", [])
    assert len(dead) == 1 and '"request_id"' in dead[0]["Body"] and ada.email not in dead[0]["Body"]
    assert not [m for m in outbox(ada.email) if m["attachments"]]
    assert api.get("/me/privacy", token=token).body["requests"][0]["status"] == "pending"


def test_an_export_delivered_twice_is_sent_once(api, person, login, outbox, template_env):
    ada = person()
    token = login(ada)
    request_id = api.post("/me/privacy/export", token=token).body["request_id"]
    sqs = aws.client("sqs")
    consumer = template_env.consumers()[0]
    [message] = sqs.receive_message(QueueUrl=consumer.queue_url, MaxNumberOfMessages=10)["Messages"]
    spec = importlib.util.spec_from_file_location("_it_privacy_twice", ROOT / "functions/privacy/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = sqs_event([message], "arn:aws:sqs:eu-central-1:123456789012:q", "eu-central-1")
    assert module.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert module.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert len([m for m in outbox(ada.email) if m["attachments"]]) == 1
    [shown] = api.get("/me/privacy", token=token).body["requests"]
    assert (shown["request_id"], shown["status"]) == (request_id, "completed")


# ----------------------------------------------------------------- requests


def test_deletion_and_restriction_requests_need_a_recent_authentication(api, person, login, clock):
    ada = person()
    bob = _member(person, "bob", into=ada.account_id)
    token = login(bob)
    clock.advance(16 * 60)
    for kind in ("deletion", "restriction"):
        refused = api.post(f"/me/privacy/{kind}-request", {}, token=token)
        assert (refused.status, refused.body["code"]) == (403, "reauthentication_required"), kind
    assert api.post("/auth/reauthenticate", {"password": PASSWORD}, token=token).status == 204
    assert api.post("/me/privacy/deletion-request", {"reason": "leaving"}, token=token).status == 202


def test_a_request_is_pending_once_and_listed_to_the_admins_of_the_persons_accounts(api, person, login):
    ada = person()
    other = person("zoe@example.com", name="Zoe")
    bob = _member(person, "bob", into=ada.account_id)
    token = login(bob)
    filed = api.post("/me/privacy/deletion-request", {"reason": "I am leaving"}, token=token)
    assert filed.status == 202 and filed.body["status"] == "pending", filed.body
    again = api.post("/me/privacy/deletion-request", None, token=token)
    assert again.body == filed.body  # the pending one, not a second
    restriction = api.post("/me/privacy/restriction-request", {}, token=token)
    assert restriction.status == 202 and restriction.body["request_id"] != filed.body["request_id"]

    listed = api.get(f"/accounts/{ada.account_id}/privacy-requests", token=login(ada))
    assert listed.status == 200, listed.body
    assert [(i["type"], i["email"], i["status"]) for i in listed.body["items"]] == [
        ("restriction", bob.email, "pending"),
        ("deletion", bob.email, "pending"),
    ]
    assert listed.body["items"][1]["reason"] == "I am leaving" and listed.body["items"][1]["user_id"] == bob.user_id
    # another account's admin neither sees nor resolves it
    zoe = login(other)
    assert api.get(f"/accounts/{other.account_id}/privacy-requests", token=zoe).body["items"] == []
    foreign = api.post(
        f"/accounts/{other.account_id}/privacy-requests/{filed.body['request_id']}", {"action": "complete"}, token=zoe
    )
    assert (foreign.status, foreign.body["code"]) == (404, "not_found")
    mine = api.get("/me/privacy", token=token).body["requests"]
    assert [(r["type"], r["status"]) for r in mine] == [("restriction", "pending"), ("deletion", "pending")]


def test_the_list_pages_with_a_cursor(api, person, login):
    ada = person()
    members = [_member(person, f"m{i}", into=ada.account_id) for i in range(3)]
    for who in members:
        assert api.post("/me/privacy/restriction-request", {}, token=login(who)).status == 202
    token = login(ada)
    first = api.get(f"/accounts/{ada.account_id}/privacy-requests?limit=2", token=token).body
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(f"/accounts/{ada.account_id}/privacy-requests?limit=2&cursor={first['next_cursor']}", token=token)
    assert [i["email"] for i in first["items"] + rest.body["items"]] == [m.email for m in reversed(members)]
    assert rest.body["next_cursor"] is None
    bad = api.get(f"/accounts/{ada.account_id}/privacy-requests?cursor=nonsense", token=token)
    assert bad.status == 422


def test_rejecting_tells_the_person_and_allows_a_new_request(api, person, login, outbox):
    ada = person()
    bob = _member(person, "bob", into=ada.account_id)
    token = login(bob)
    request_id = api.post("/me/privacy/deletion-request", {}, token=token).body["request_id"]
    admin = login(ada)
    path = f"/accounts/{ada.account_id}/privacy-requests/{request_id}"
    rejected = api.post(path, {"action": "reject", "comment": "Invoices we must keep"}, token=admin)
    assert rejected.status == 200, rejected.body
    assert rejected.body["status"] == "rejected" and rejected.body["resolved_by"] == ada.user_id
    assert rejected.body["comment"] == "Invoices we must keep"
    [notice] = [m for m in outbox(bob.email) if "declined" in m["subject"]]
    assert "Invoices we must keep" in notice["text"]
    twice = api.post(path, {"action": "complete"}, token=admin)
    assert (twice.status, twice.body["code"]) == (409, "privacy_request_resolved")
    assert api.get("/me", token=token).status == 200  # nothing was erased
    renewed = api.post("/me/privacy/deletion-request", {}, token=token)
    assert renewed.status == 202 and renewed.body["request_id"] != request_id
    log = [r["action"] for r in api.get(f"/accounts/{ada.account_id}/audit-log", token=admin).body["items"]]
    assert {"privacy.deletion_requested", "privacy.deletion_rejected"} <= set(log)


def test_completing_a_deletion_erases_the_login_and_its_data(api, person, login, outbox, table_items):
    ada = person()
    bob = _member(person, "bob", into=ada.account_id)
    token = login(bob)
    assert api.post("/me/privacy/consent", {"version": "1"}, token=token).status == 200
    assert api.put("/me/phone", {"number": "+4915112345678"}, token=token).status == 202
    request_id = api.post("/me/privacy/deletion-request", {"reason": "bye"}, token=token).body["request_id"]
    admin = login(ada)

    done = api.post(f"/accounts/{ada.account_id}/privacy-requests/{request_id}", {"action": "complete"}, token=admin)
    assert done.status == 200, done.body
    assert done.body["status"] == "completed" and done.body["email"] == "" and done.body["reason"] is None

    assert api.get("/me", token=token).status == 401  # every session ended
    assert api.post("/auth/login", {"email": bob.email, "password": PASSWORD}).status == 401
    left = [i for i in table_items() if bob.user_id in str(i.get("pk")) or i.get("user_id") == bob.user_id]
    kinds = sorted({str(i["sk"]).split("#")[0] for i in left if not str(i["pk"]).startswith(("AUDIT", "TOKEN"))})
    assert kinds == ["PRIVACY"], left  # the request (and its listing) are all that is kept
    # used one-time links wait for their TTL (7 days after expiry); an unused one is erased
    assert all(i.get("used_at") for i in left if str(i["pk"]).startswith("TOKEN"))
    assert not any(bob.email in str(i) for i in table_items() if not str(i["pk"]).startswith(("AUDIT", "TOKEN")))
    members = api.get(f"/accounts/{ada.account_id}/users", token=admin).body["items"]
    assert bob.user_id not in [m["user_id"] for m in members]
    # the address is free again: it can be invited anew
    invited = api.post(f"/accounts/{ada.account_id}/users", {"email": bob.email, "rights": ["data:view"]}, token=admin)
    assert invited.status == 201, invited.body
    [notice] = [m for m in outbox(bob.email) if "deleted" in m["subject"]]
    assert request_id in notice["text"]
    log = [r["action"] for r in api.get(f"/accounts/{ada.account_id}/audit-log", token=admin).body["items"]]
    assert {"privacy.deletion_completed", "user.erased"} <= set(log)


def test_an_owner_is_never_erased(api, person, login):
    ada = person()
    zoe = person("zoe@example.com", name="Zoe")
    join(ada.account_id, zoe, ("data:view",))  # Zoe owns her account and is a member of Ada's
    request_id = api.post("/me/privacy/deletion-request", {}, token=login(zoe)).body["request_id"]
    refused = api.post(
        f"/accounts/{ada.account_id}/privacy-requests/{request_id}", {"action": "complete"}, token=login(ada)
    )
    assert (refused.status, refused.body["code"]) == (409, "owner_protected")
    assert api.get("/me", token=login(zoe)).status == 200
    listed = api.get(f"/accounts/{ada.account_id}/privacy-requests", token=login(ada)).body["items"]
    assert listed[0]["status"] == "pending"


def test_admins_resolve_only_what_they_may(api, person, login):
    ada = person()
    carl = _member(person, "carl", into=ada.account_id, rights=("users",))
    bob = _member(person, "bob", into=ada.account_id, rights=("users", "data:view"))
    own = api.post("/me/privacy/deletion-request", {}, token=login(carl)).body["request_id"]
    refused = api.post(f"/accounts/{ada.account_id}/privacy-requests/{own}", {"action": "reject"}, token=login(carl))
    assert (refused.status, refused.body["code"]) == (403, "own_privacy_request")
    # Bob holds a right Carl lacks: Carl cannot erase him
    bobs = api.post("/me/privacy/deletion-request", {}, token=login(bob)).body["request_id"]
    over = api.post(f"/accounts/{ada.account_id}/privacy-requests/{bobs}", {"action": "complete"}, token=login(carl))
    assert over.status == 403, over.body
    viewer = _member(person, "vera", into=ada.account_id, rights=("data:view",))
    assert api.get(f"/accounts/{ada.account_id}/privacy-requests", token=login(viewer)).status == 403
    for body in ({}, {"action": "erase"}, {"action": "complete", "comment": "x" * 1001}, {"action": "reject", "x": 1}):
        bad = api.post(f"/accounts/{ada.account_id}/privacy-requests/{bobs}", body, token=login(ada))
        assert (bad.status, bad.body["code"]) == (422, "validation_error"), body
    card = api.post(
        f"/accounts/{ada.account_id}/privacy-requests/{bobs}",
        {"action": "reject", "comment": "card 4111 1111 1111 1111"},
        token=login(ada),
    )
    assert (card.status, card.body["code"]) == (422, "raw_card_data_rejected")
    unknown = api.post(
        f"/accounts/{ada.account_id}/privacy-requests/req_nosuchrequest", {"action": "reject"}, token=login(ada)
    )
    assert (unknown.status, unknown.body["code"]) == (404, "not_found")


def test_an_account_the_person_left_no_longer_handles_their_request(api, person, login):
    ada = person()
    zoe = person("zoe@example.com", name="Zoe")
    bob = _member(person, "bob", into=ada.account_id)
    join(zoe.account_id, bob)
    request_id = api.post("/me/privacy/deletion-request", {}, token=login(bob)).body["request_id"]
    ada_token = login(ada)
    assert api.delete(f"/accounts/{ada.account_id}/users/{bob.user_id}", token=ada_token).status == 204
    path = f"/accounts/{ada.account_id}/privacy-requests/{request_id}"
    gone = api.post(path, {"action": "complete"}, token=ada_token)
    assert (gone.status, gone.body["code"]) == (404, "not_found")
    assert api.get("/me", token=login(bob)).status == 200
    done = api.post(
        f"/accounts/{zoe.account_id}/privacy-requests/{request_id}", {"action": "complete"}, token=login(zoe)
    )
    assert done.status == 200 and done.body["status"] == "completed", done.body


def test_two_admins_resolving_at_once_resolve_once(api, person, login):
    ada = person()
    carl = _member(person, "carl", into=ada.account_id, rights=("users", "data:view"))
    bob = _member(person, "bob", into=ada.account_id)
    request_id = api.post("/me/privacy/restriction-request", {}, token=login(bob)).body["request_id"]
    tokens = [login(ada), login(carl)]
    path = f"/accounts/{ada.account_id}/privacy-requests/{request_id}"
    answers = []
    barrier = threading.Barrier(2)

    def resolve(token: str, action: str) -> None:
        barrier.wait()
        answers.append(api.post(path, {"action": action}, token=token))

    threads = [
        threading.Thread(target=resolve, args=(t, a)) for t, a in zip(tokens, ("complete", "reject"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status for a in answers)
    assert statuses == [200, 409], [a.body for a in answers]
    winner = next(a for a in answers if a.status == 200).body["status"]
    assert api.get("/me/privacy", token=login(bob)).body["requests"][0]["status"] == winner


def test_completing_a_restriction_stops_optional_notices(api, person, login, outbox):
    ada = person()
    bob = _member(person, "bob", into=ada.account_id)
    token = login(bob)
    assert api.patch("/me", {"notifications": {"product_updates": True}}, token=token).status == 200
    request_id = api.post("/me/privacy/restriction-request", {"reason": "pause"}, token=token).body["request_id"]
    done = api.post(
        f"/accounts/{ada.account_id}/privacy-requests/{request_id}", {"action": "complete"}, token=login(ada)
    )
    assert done.status == 200 and done.body["status"] == "completed", done.body
    me = api.get("/me", token=token).body
    assert me["notifications"] == {"security": True, "billing": False, "product_updates": False}
    assert api.get("/me/privacy", token=token).body["restricted"] is True
    refused = api.patch("/me", {"notifications": {"billing": True}}, token=token)
    assert (refused.status, refused.body["code"]) == (409, "processing_restricted")
    assert api.patch("/me", {"language": "de"}, token=token).status == 200  # the profile itself still works
    [notice] = [m for m in outbox(bob.email) if "restricted" in m["subject"]]
    assert request_id in notice["text"]


def test_a_person_without_accounts_is_erased_at_once(api, person, login, outbox):
    ada = person()
    bob = _member(person, "bob", into=ada.account_id)
    store.transact([store.delete_op(keys.membership(ada.account_id, bob.user_id))])
    token = login(bob)
    filed = api.post("/me/privacy/deletion-request", {}, token=token)
    assert filed.status == 202 and filed.body["status"] == "completed", filed.body
    assert api.post("/auth/login", {"email": bob.email, "password": PASSWORD}).status == 401
    assert [m for m in outbox(bob.email) if "deleted" in m["subject"]]


def test_request_bodies_are_validated(api, person, login):
    token = login(person())
    for body in ({"reason": 5}, {"reason": "x" * 1001}, {"why": "x"}, []):
        refused = api.post("/me/privacy/deletion-request", body, token=token)
        assert refused.status == 422, (body, refused.body)
    card = api.post("/me/privacy/restriction-request", {"reason": "4111111111111111"}, token=token)
    assert (card.status, card.body["code"]) == (422, "raw_card_data_rejected")
