"""An account's settings: ``GET, PATCH /accounts/{a}/settings`` with the right ``settings``. Every
field, what a PATCH leaves alone, the audit record of a change, the new name in the members' list of
accounts, the ``payouts`` right that needs ``payouts_enabled``, and AWS failures that must leave the
settings as they were."""

from __future__ import annotations

import re
import threading

import pytest

from tests.integration.flows import cheap_argon2, fresh_table, template_env  # noqa: F401  (one stack per module)
from tests.integration.support import Api

NEW_PASSWORD = "Copper-Meadow-Falcon-93"

DEFAULTS = {
    "name": "Analytical Engines",
    "language": "en",
    "currency": "EUR",
    "vat_percent": 0,
    "timezone": "UTC",
    "logo_url": None,
    "terms_url": None,
    "company": {"legal_name": None, "address": None, "email": None, "phone": None},
    "payouts_enabled": False,
    "dunning_retry_days": [1, 3, 5],
}


@pytest.fixture(autouse=True)
def cheap_hashes():
    with cheap_argon2():
        yield


@pytest.fixture(scope="module")
def handlers(template_env):
    return Api(template_env)


@pytest.fixture
def api(handlers, clock):
    """The handlers loaded once for the module (the table is emptied before each test)."""
    return handlers


@pytest.fixture
def owner(person, login):
    ada = person()
    return ada, login(ada)


def settings_path(ada) -> str:
    return f"/accounts/{ada.account_id}/settings"


def join(api, outbox, owner, email: str, rights=(), name="Bob Builder") -> tuple[str, str]:
    """Invite ``email`` with ``rights`` and accept as a new person; (user_id, session token)."""
    ada, token = owner
    invited = api.post(f"/accounts/{ada.account_id}/users", {"email": email, "rights": list(rights)}, token=token)
    assert invited.status == 201, invited.body
    [message] = [m for m in outbox(email) if "accept-invitation?token=" in m["text"]][:1]
    secret = re.search(r"accept-invitation\?token=([A-Za-z0-9_\-]+)", message["text"]).group(1)
    accepted = api.post(f"/invitations/{secret}/accept", {"name": name, "password": NEW_PASSWORD})
    assert accepted.status == 201, accepted.body
    logged_in = api.post("/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert logged_in.status == 200, logged_in.body
    return accepted.body["user_id"], logged_in.body["token"]


def patch(api, owner, body):
    ada, token = owner
    return api.patch(settings_path(ada), body, token=token)


def current(api, owner) -> dict:
    ada, token = owner
    answer = api.get(settings_path(ada), token=token)
    assert answer.status == 200, answer.body
    return answer.body


def refused(answer, field: str | None = None) -> bool:
    """A 422 validation error (about ``field`` when given) that does not echo the value sent."""
    if answer.status != 422 or answer.body["code"] != "validation_error":
        return False
    return field is None or any(field in e["loc"] for e in answer.body["errors"])


def audit_records(api, owner, action: str) -> list[dict]:
    ada, token = owner
    answer = api.get(f"/accounts/{ada.account_id}/audit-log", token=token)
    assert answer.status == 200, answer.body
    return [r for r in answer.body["items"] if r["action"] == action]


# ----------------------------------------------------------------- every field


def test_a_new_account_has_the_default_settings(api, owner):
    answer = api.get(settings_path(owner[0]), token=owner[1])
    assert answer.status == 200
    assert answer.body == DEFAULTS
    assert answer.headers["Cache-Control"] == "no-store"


def test_every_field_can_be_set_and_reads_back(api, owner):
    body = {
        "name": "Analytical Engines Ltd",
        "language": "de",
        "currency": "CHF",
        "vat_percent": 7.7,
        "timezone": "Europe/Zurich",
        "logo_url": "https://cdn.example.com/logo.png",
        "terms_url": "https://example.com/terms?lang=de#billing",
        "company": {
            "legal_name": "Analytical Engines AG",
            "address": "Bahnhofstrasse 1, 8001 Zürich",
            "email": "billing@example.com",
            "phone": "+41441234567",
        },
        "payouts_enabled": True,
        "dunning_retry_days": [2, 4, 8, 16],
    }
    answer = patch(api, owner, body)
    assert answer.status == 200, answer.body
    assert answer.body == body
    assert current(api, owner) == body


def test_patch_changes_only_what_is_sent(api, owner):
    assert patch(api, owner, {"vat_percent": 19, "timezone": "Europe/Berlin"}).status == 200
    assert patch(api, owner, {"company": {"legal_name": "AE GmbH"}}).status == 200
    answer = patch(api, owner, {"language": "de"})
    assert answer.status == 200
    assert answer.body == {
        **DEFAULTS,
        "vat_percent": 19,
        "timezone": "Europe/Berlin",
        "language": "de",
        "company": {**DEFAULTS["company"], "legal_name": "AE GmbH"},
    }
    empty = patch(api, owner, {})
    assert empty.status == 200 and empty.body == answer.body


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KRW", "BHD", "KWD", "TND", "CLF", "XCG"])
def test_active_iso_4217_currencies_are_accepted_whatever_their_minor_units(api, owner, code):
    # JPY and KRW have no minor unit, BHD, KWD and TND three decimals, CLF four: all billing currencies
    answer = patch(api, owner, {"currency": code})
    assert answer.status == 200, answer.body
    assert answer.body["currency"] == code == current(api, owner)["currency"]


def test_codes_that_are_not_active_currencies_are_refused(api, owner):
    for code in ["eur", "Eur", "EURO", "EU", "ABC", "XAU", "XXX", "XTS", "HRK", "BGN", " EUR", "", 978]:
        answer = patch(api, owner, {"currency": code})
        assert refused(answer, "currency"), (code, answer.status, answer.body)
    assert current(api, owner)["currency"] == "EUR"


def test_vat_percent_is_a_decimal_between_0_and_100_with_two_places(api, owner):
    for value, shown in [(0, 0), (100, 100), (19.25, 19.25), (7.7, 7.7), (16.0, 16)]:
        answer = patch(api, owner, {"vat_percent": value})
        assert answer.status == 200, (value, answer.body)
        assert answer.body["vat_percent"] == shown
    for value in [-0.01, -1, 100.01, 101, 7.125, "19", True, None, [19]]:
        answer = patch(api, owner, {"vat_percent": value})
        assert refused(answer, "vat_percent"), (value, answer.status, answer.body)
    assert current(api, owner)["vat_percent"] == 16


def test_time_zone_must_be_an_iana_name(api, owner):
    for zone in ["Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "Etc/GMT+2", "UTC"]:
        answer = patch(api, owner, {"timezone": zone})
        assert answer.status == 200 and answer.body["timezone"] == zone, (zone, answer.body)
    for zone in [
        "Mars/Olympus_Mons",
        "CEST+2",
        "GMT+02:00",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/../Europe/Berlin",
        " Europe/Berlin",
        "Europe/Berlin\n",
        "",
        "Europe/" + "x" * 100,
    ]:
        answer = patch(api, owner, {"timezone": zone})
        assert refused(answer, "timezone"), (zone, answer.status, answer.body)
    assert current(api, owner)["timezone"] == "UTC"


def test_logo_and_terms_urls_are_https_only_and_clear_with_null(api, owner):
    for field in ["logo_url", "terms_url"]:
        good = f"https://example.com/{field}.png"
        answer = patch(api, owner, {field: good})
        assert answer.status == 200 and answer.body[field] == good
        for bad in [
            "http://example.com/logo.png",
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)//https://example.com",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "https://",
            "https:///path-without-host",
            "https://exa mple.com/",
            "//example.com/logo.png",
            "ftp://example.com/logo.png",
            "example.com/logo.png",
        ]:
            answer = patch(api, owner, {field: bad})
            assert refused(answer, field), (field, bad, answer.status, answer.body)
            assert bad not in str(answer.body)
        assert current(api, owner)[field] == good
        cleared = patch(api, owner, {field: None})
        assert cleared.status == 200 and cleared.body[field] is None
    assert current(api, owner) == DEFAULTS


def test_company_details_merge_and_clear_with_null(api, owner):
    first = patch(api, owner, {"company": {"legal_name": "AE Ltd", "address": "1 Analytical Way, London"}})
    assert first.status == 200
    second = patch(api, owner, {"company": {"email": "Billing@Example.COM", "phone": "+442071234567"}})
    assert second.status == 200
    assert second.body["company"] == {
        "legal_name": "AE Ltd",
        "address": "1 Analytical Way, London",
        "email": "Billing@example.com",  # the domain is normalised, the local part kept as typed
        "phone": "+442071234567",
    }
    third = patch(api, owner, {"company": {"address": None, "legal_name": "AE Limited"}})
    assert third.status == 200
    assert third.body["company"] == {
        "legal_name": "AE Limited",
        "address": None,
        "email": "Billing@example.com",
        "phone": "+442071234567",
    }
    untouched = patch(api, owner, {"company": {}})
    assert untouched.status == 200 and untouched.body["company"] == third.body["company"]
    cleared = patch(api, owner, {"company": None})
    assert cleared.status == 200 and cleared.body["company"] == DEFAULTS["company"]
    assert current(api, owner) == DEFAULTS


def test_company_details_are_validated(api, owner):
    for company in [
        {"email": "not-an-email"},
        {"phone": "030 1234567"},
        {"phone": "+0301234567"},
        {"legal_name": ""},
        {"legal_name": "Evil\nBcc: victim@example.com"},
        {"legal_name": "x" * 201},
        {"address": "x" * 501},
        {"website": "https://example.com"},
    ]:
        answer = patch(api, owner, {"company": company})
        assert refused(answer), (company, answer.status, answer.body)
    assert current(api, owner)["company"] == DEFAULTS["company"]


def test_required_settings_cannot_be_cleared_and_bodies_are_strict(api, owner):
    for field in ["name", "language", "currency", "vat_percent", "timezone", "payouts_enabled", "dunning_retry_days"]:
        answer = patch(api, owner, {field: None})
        assert refused(answer, field), (field, answer.status, answer.body)
    for body in [
        {"name": ""},
        {"name": "   "},
        {"name": "Line\nbreak"},
        {"name": "x" * 201},
        {"language": "fr"},
        {"payouts_enabled": "true"},
        {"payouts_enabled": 1},
        {"mode": "live"},
        {"live_account_id": "acc_x"},
        {"security": {"enforce_mfa": False}},
    ]:
        answer = patch(api, owner, body)
        assert refused(answer), (body, answer.status, answer.body)
    assert current(api, owner) == DEFAULTS


def test_dunning_retry_days_grow_within_bounds(api, owner):
    for days in [[1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [7, 30, 60]]:
        answer = patch(api, owner, {"dunning_retry_days": days})
        assert answer.status == 200 and answer.body["dunning_retry_days"] == days
    for days in [[], [0], [61], [3, 1], [2, 2], list(range(1, 12)), [1.5], ["1"], 3]:
        answer = patch(api, owner, {"dunning_retry_days": days})
        assert refused(answer, "dunning_retry_days"), (days, answer.status, answer.body)
    assert current(api, owner)["dunning_retry_days"] == [7, 30, 60]


# ----------------------------------------------------------------- audit, names, rights


def test_a_change_is_audited_with_old_and_new_values_of_what_changed(api, owner, clock):
    ada, _ = owner
    assert patch(api, owner, {"vat_percent": 19.5, "company": {"legal_name": "AE Ltd"}}).status == 200
    clock.advance(1)
    assert patch(api, owner, {"vat_percent": 19.5, "timezone": "UTC"}).status == 200  # nothing changes
    assert patch(api, owner, {"vat_percent": 20, "logo_url": "https://example.com/l.png"}).status == 200
    records = audit_records(api, owner, "account.settings_changed")
    assert len(records) == 2, records  # the change that changed nothing left no record
    newest, oldest = records
    assert oldest["details"] == {
        "before": {"vat_percent": "0", "company": {}},
        "after": {"vat_percent": "19.5", "company": {"legal_name": "AE Ltd"}},
    }
    assert newest["details"] == {
        "before": {"vat_percent": "19.5", "logo_url": None},
        "after": {"vat_percent": "20", "logo_url": "https://example.com/l.png"},
    }
    assert newest["actor"] == {"type": "user", "id": ada.user_id, "email": ada.email}
    assert newest["target"] == {"account_id": ada.account_id}
    assert newest["ip"] == "198.51.100.7" and newest["at"].endswith("Z")


def test_changes_made_within_one_second_are_listed_newest_first(api, owner):
    """The audit log is newest first, also for changes less than a second apart (a script, or two
    admins): its records sort by the time in seconds, then by the event's id."""
    for percent in range(1, 7):
        assert patch(api, owner, {"vat_percent": percent}).status == 200
    records = audit_records(api, owner, "account.settings_changed")
    assert [r["details"]["after"]["vat_percent"] for r in records] == ["6", "5", "4", "3", "2", "1"]


def test_a_new_name_shows_in_every_members_list_of_accounts(api, outbox, owner):
    ada, token = owner
    _, bob_token = join(api, outbox, owner, "bob@example.com", rights=["reports"])
    answer = patch(api, owner, {"name": "Difference Engines"})
    assert answer.status == 200 and answer.body["name"] == "Difference Engines"
    for who in [token, bob_token]:
        [listed] = [a for a in api.get("/me", token=who).body["accounts"] if a["account_id"] == ada.account_id]
        assert listed["name"] == "Difference Engines"
    assert api.get(f"/accounts/{ada.account_id}", token=bob_token).body["name"] == "Difference Engines"
    [record] = audit_records(api, owner, "account.settings_changed")
    assert record["details"] == {"before": {"name": "Analytical Engines"}, "after": {"name": "Difference Engines"}}


def test_the_payouts_right_needs_payouts_enabled(api, outbox, owner):
    ada, token = owner
    users = f"/accounts/{ada.account_id}/users"
    [payouts] = [r for r in api.get("/rights", token=token).body if r["id"] == "payouts"]
    assert payouts["constraint"] == "payouts_enabled"

    invited = api.post(users, {"email": "carol@example.com", "rights": ["payouts"]}, token=token)
    assert invited.status == 422 and invited.body["code"] == "right_unavailable"
    bob_id, _ = join(api, outbox, owner, "bob@example.com", rights=["reports"])
    denied = api.patch(f"{users}/{bob_id}", {"rights": ["reports", "payouts"]}, token=token)
    assert denied.status == 422 and denied.body["code"] == "right_unavailable"
    assert api.get(f"{users}/{bob_id}", token=token).body["rights"] == ["reports"]

    assert patch(api, owner, {"payouts_enabled": True}).status == 200
    granted = api.patch(f"{users}/{bob_id}", {"rights": ["reports", "payouts"]}, token=token)
    assert granted.status == 200 and granted.body["rights"] == ["payouts", "reports"]
    invited = api.post(users, {"email": "carol@example.com", "rights": ["payouts"]}, token=token)
    assert invited.status == 201, invited.body

    assert patch(api, owner, {"payouts_enabled": False}).status == 200
    again = api.patch(f"{users}/{bob_id}", {"rights": ["payouts"]}, token=token)
    assert again.status == 422 and again.body["code"] == "right_unavailable"


def test_a_member_without_the_settings_right_is_refused(api, outbox, owner, person, login):
    ada, _ = owner
    _, bob_token = join(api, outbox, owner, "bob@example.com", rights=["users", "data:edit", "reports"])
    for answer in [
        api.get(settings_path(ada), token=bob_token),
        api.patch(settings_path(ada), {"name": "Bob's now"}, token=bob_token),
        api.patch(settings_path(ada), {"name": ""}, token=bob_token),  # refused before its body is read
    ]:
        assert answer.status == 403 and answer.body["code"] == "forbidden", answer.body
    _, carol_token = join(api, outbox, owner, "carol@example.com", rights=["settings"], name="Carol Shaw")
    assert api.patch(settings_path(ada), {"vat_percent": 5}, token=carol_token).status == 200
    assert api.get(settings_path(ada), token=carol_token).body["vat_percent"] == 5

    stranger = person("eve@example.com", name="Eve Evans", company="Eavesdroppers")
    eve_token = login(stranger)
    for answer in [
        api.get(settings_path(ada), token=eve_token),
        api.patch(settings_path(ada), {"name": "Owned"}, token=eve_token),
    ]:
        assert answer.status == 404 and answer.body["code"] == "not_found"
    assert api.get(settings_path(ada)).status == 401
    assert current(api, owner)["name"] == "Analytical Engines"


def test_parallel_changes_of_different_fields_all_apply(api, owner):
    bodies = [
        {"vat_percent": 19},
        {"timezone": "Europe/Berlin"},
        {"currency": "USD"},
        {"language": "de"},
        {"company": {"legal_name": "AE Ltd"}},
    ]
    answers = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def send(i):
        barrier.wait()
        answers[i] = patch(api, owner, bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status for a in answers] == [200] * len(bodies), [a.body for a in answers]
    assert current(api, owner) == {
        **DEFAULTS,
        "vat_percent": 19,
        "timezone": "Europe/Berlin",
        "currency": "USD",
        "language": "de",
        "company": {**DEFAULTS["company"], "legal_name": "AE Ltd"},
    }
    assert len(audit_records(api, owner, "account.settings_changed")) == len(bodies)


# ----------------------------------------------------------------- AWS calls and failures


def test_reading_and_changing_settings_cost_few_calls(api, owner, aws_calls):
    ada, token = owner
    with aws_calls() as calls:
        assert api.get(settings_path(ada), token=token).status == 200
    assert calls == {"dynamodb": 2}  # session, then membership and account in one batch read
    with aws_calls() as calls:
        assert patch(api, owner, {"vat_percent": 19}).status == 200
    assert calls == {"dynamodb": 4}  # + a consistent read of the account, one transaction


@pytest.mark.parametrize("operation", ["TransactWriteItems", "GetItem"])
def test_a_failing_table_changes_nothing(api, owner, fail_aws, table_items, operation):
    before = table_items()
    with fail_aws("dynamodb", operation, "ProvisionedThroughputExceededException"):
        answer = patch(api, owner, {"vat_percent": 19, "company": {"legal_name": "AE Ltd"}})
    if operation == "GetItem" and answer.status == 401:  # the session read failed first
        pytest.fail("a DynamoDB failure reading the session must be 503, not 401")
    assert answer.status == 503 and answer.body["code"] == "service_unavailable", answer.body
    assert answer.headers.get("Retry-After")
    assert table_items() == before
    assert current(api, owner) == DEFAULTS
    assert patch(api, owner, {"vat_percent": 19}).status == 200  # the retry succeeds


def test_a_rename_that_fails_part_way_leaves_no_half_renamed_account(api, outbox, owner, fail_aws, login):
    """The account is renamed in a transaction, the memberships (which carry the name for the
    members' list of accounts) after it: a failure there must not answer 503 for a rename that
    stands while the members keep seeing the old name."""
    ada, token = owner
    join(api, outbox, owner, "bob@example.com", rights=["reports"])
    with fail_aws("dynamodb", "UpdateItem", "InternalServerError"):
        answer = patch(api, owner, {"name": "Difference Engines"})
    shown = current(api, owner)["name"]
    [listed] = [a for a in api.get("/me", token=token).body["accounts"] if a["account_id"] == ada.account_id]
    if answer.status == 503:
        assert shown == "Analytical Engines", "503 answered, yet the account was renamed"
    else:
        assert answer.status == 200 and shown == "Difference Engines"
        assert listed["name"] == "Difference Engines"
    assert listed["name"] == shown, "the members' list of accounts disagrees with the account's name"
