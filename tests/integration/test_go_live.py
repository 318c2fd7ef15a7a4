"""Going live (``portico/billing/golive.py``): ``POST /accounts/{a}/go-live`` creates the test
account's linked live account with copies of the catalog (plans, add-ons, discounts, coupons,
archived ones too, coupons with no redemptions) and of the members with their rights, owner flag and
status -- nothing else: settings, customers, payment methods, subscriptions and invoices stay in the
test account, and an invitation not yet accepted is not a member, so it is not copied.

The copy is resumable: the live account's id is reserved first and the account is created
``opening`` (nobody can use it yet), every copy is written as its original is now, and the test
account is marked live and the live one opened last. An interruption answers 503 and the next call
finishes the same live account (never a second one), bringing earlier copies up to date; once done,
a call is ``409 already_live``.

Everything is checked as users see it through the API (the catalog routes, ``/users``, ``/me``,
the audit log), plus two looks at the table: how many accounts name the test account as theirs (a
live account in the making that nobody was copied into yet shows on no route), and, in the
interruption sweep, the whole table after the retry against the table an uninterrupted go-live
leaves. The generic fault sweep (``test_faults.py``) runs go-live with one plan and checks what a
503 may leave behind; here a copy of every kind is interrupted at each of its calls. Faults are
throttling errors raised at the botocore client boundary, as there.

"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from portico import aws, config, ids, keys, store
from tests.integration import flows
from tests.integration.flows import CARD, Subject, World, fresh_table, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.support import PASSWORD, Answer, Api, Person
from tests.integration.test_concurrency import at_once, outcomes
from tests.integration.test_faults import FAULTS, Items, assert_service_unavailable, kind_of, table_state, watching

THROTTLING = FAULTS["dynamodb"][0]
KINDS = {"plans": "plan_id", "addons": "addon_id", "discounts": "discount_id", "coupons": "coupon_id"}
UNTIL = "2027-06-30T00:00:00Z"  # a coupon's end
# what differs between an item and its copy in the catalog's views (and coupons' redemptions, zero)
COPY_DIFFERS = {"plan_id", "addon_id", "discount_id", "coupon_id", "created_at"}


def problem(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, (answer.status, answer.body)
    assert answer.body["code"] == code, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"


# ----------------------------------------------------------------- a test account to take live


@dataclass
class Sandbox:
    """A test account: its owner, members by label (``"owner"``, ``"admin"``, ``"viewer"``...) and
    what was made in it."""

    world: World
    owner: Person
    account_id: str
    emails: dict[str, str] = field(default_factory=dict)  # label -> address
    tokens: dict[str, str] = field(default_factory=dict)  # label -> session (members who accepted)
    made: dict[str, str] = field(default_factory=dict)  # "plans:gold" -> id

    @property
    def api(self) -> Api:
        return self.world.api

    def token(self, label: str = "owner") -> str:
        return self.tokens[label]

    def url(self, rest: str = "", account_id: str | None = None) -> str:
        return f"/accounts/{account_id or self.account_id}{rest}"

    def get(self, rest: str = "", *, account_id: str | None = None, who: str = "owner") -> Answer:
        return self.api.get(self.url(rest, account_id), token=self.token(who))

    def post(self, rest: str, body: Any = None, *, account_id: str | None = None, who: str = "owner") -> Answer:
        return self.api.post(self.url(rest, account_id), body, token=self.token(who))

    def patch(self, rest: str, body: Any, *, account_id: str | None = None, who: str = "owner") -> Answer:
        return self.api.patch(self.url(rest, account_id), body, token=self.token(who))

    def ok(self, answer: Answer, status: int = 200) -> Any:
        assert answer.status == status, (answer.status, answer.body)
        return answer.body

    def make(self, kind: str, body: dict[str, Any], key: str) -> str:
        made = self.ok(self.post(f"/{kind}", body), 201)
        self.made[f"{kind}:{key}"] = made[KINDS[kind]]
        self.world.clock.advance(1)  # items made a second apart: their order is their age
        return made[KINDS[kind]]

    def go_live(self, who: str = "owner") -> Answer:
        return self.post("/go-live", who=who)

    def user_id(self, label: str) -> str:
        [member] = [m for m in self.members(self.account_id) if m["email"] == self.emails[label]]
        return member["user_id"]

    def members(self, account_id: str) -> list[dict]:
        return self.ok(self.get("/users?limit=100", account_id=account_id))["items"]

    def label(self, email: str) -> str:
        [found] = [label for label, address in self.emails.items() if address == email]
        return found

    def me(self, who: str) -> dict:
        return self.ok(self.api.get("/me", token=self.token(who)))


def invite(s: Sandbox, label: str, *, rights: tuple[str, ...] = (), full_access: bool = False) -> str:
    """Invite a fresh address as ``label``; the invitation's user id."""
    s.emails[label] = Subject().email
    body = {"email": s.emails[label], "rights": list(rights), "full_access": full_access}
    return s.ok(s.post("/users", body), 201)["user_id"]


def member(s: Sandbox, label: str, *, rights: tuple[str, ...] = (), full_access: bool = False) -> None:
    """Invite ``label`` and accept as a new person, who then logs in."""
    invite(s, label, rights=rights, full_access=full_access)
    [message] = [m for m in s.world.outbox(s.emails[label]) if "accept-invitation?token=" in m["text"]][:1]
    secret = flows.link_token(message, "accept-invitation")
    accepted = s.api.post(f"/invitations/{secret}/accept", {"name": label.title(), "password": PASSWORD})
    assert accepted.status == 201, accepted.body
    s.tokens[label] = s.world.login(Person(s.emails[label], PASSWORD, accepted.body["user_id"], s.account_id))


def catalog(s: Sandbox, *, archived: bool = True) -> None:
    """A plan (and an archived one), an add-on, a discount and a coupon on it."""
    gold = {"handle": "gold", "name": "Gold", "amount": 1990, "currency": "EUR", "interval_unit": "month"}
    s.make("plans", {**gold, "description": "All of it", "interval_count": 3, "portal_orderable": True}, "gold")
    if archived:
        legacy = {"handle": "legacy", "name": "Legacy", "amount": 990, "currency": "EUR", "interval_unit": "year"}
        legacy = s.make("plans", {**legacy, "trial_days": 14}, "legacy")
        s.ok(s.api.delete(s.url(f"/plans/{legacy}"), token=s.token()))
    s.make("addons", {"handle": "seat", "name": "Extra seat", "amount": 500, "currency": "EUR"}, "seat")
    discount = s.make("discounts", {"handle": "welcome", "name": "Welcome", "percent": 10, "duration": "once"}, "w")
    coupon = {"code": "WELCOME10", "discount_id": discount, "max_redemptions": 10, "valid_until": UNTIL}
    s.make("coupons", coupon, "WELCOME10")


def signed_up(world: World) -> Sandbox:
    """A new owner's test account, empty, the owner logged in."""
    owner = world.person(Subject().email)
    s = Sandbox(world, owner, owner.account_id, emails={"owner": owner.email})
    s.tokens["owner"] = world.login(owner)
    return s


def sandbox(world: World, *, team: bool = True, business: bool = False, archived: bool = True) -> Sandbox:
    """A signed-up owner's test account with the catalog; with ``team`` a member with full access
    (``admin``), one with ``data:view`` only (``viewer``) and an invitation not yet accepted
    (``invitee``); with ``business`` also changed settings, a customer with a card and a
    subscription that redeemed the coupon."""
    s = signed_up(world)
    catalog(s, archived=archived)
    if team:
        member(s, "admin", full_access=True)
        member(s, "viewer", rights=("data:view",))
        invite(s, "invitee", rights=("data:edit",))
    if business:
        settings = {"vat_percent": 19, "timezone": "Europe/Berlin", "company": {"legal_name": "Engines GmbH"}}
        s.ok(s.patch("/settings", settings))
        customer = s.ok(s.post("/customers", {"email": Subject().email, "name": "Grace Hopper"}), 201)
        s.made["customer"] = customer["customer_id"]
        s.ok(s.post(f"/customers/{customer['customer_id']}/payment-methods", {"card": CARD}), 201)
        order = {
            "customer_id": customer["customer_id"],
            "plan_id": s.made["plans:gold"],
            "addons": [{"addon_id": s.made["addons:seat"], "quantity": 2}],
            "coupon_code": "WELCOME10",
        }
        s.ok(s.post("/subscriptions", order), 201)
    return s


# ----------------------------------------------------------------- what users see


def items(s: Sandbox, account_id: str, kind: str) -> list[dict]:
    return s.ok(s.get(f"/{kind}?limit=100", account_id=account_id))["items"]


def catalog_lists(s: Sandbox, account_id: str) -> dict[str, list[dict]]:
    return {kind: items(s, account_id, kind) for kind in KINDS}


def catalog_view(s: Sandbox, account_id: str, found: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """The account's catalog as its lists show it (``found``, or read now), without ids and
    creation times; a coupon names its discount by the handle the discount has in the account."""
    found = found or catalog_lists(s, account_id)
    handles = {d["discount_id"]: d["handle"] for d in found["discounts"]}
    shown: dict[str, list[dict]] = {}
    for kind, listed in found.items():
        rows = []
        for item in listed:
            row = {k: v for k, v in item.items() if k not in COPY_DIFFERS}
            if kind == "coupons":
                row["discount"] = handles.get(item["discount_id"], f"not in this account: {item['discount_id']}")
            rows.append(row)
        shown[kind] = sorted(rows, key=lambda r: str(r.get("handle") or r.get("code")))
    return shown


def team_view(s: Sandbox, account_id: str) -> list[tuple]:
    """The account's members by label, as its user managers see them."""
    return sorted(
        (s.label(m["email"]), m["user_id"], m["status"], m["owner"], m["full_access"], tuple(m["rights"]))
        for m in s.members(account_id)
    )


def accounts_of(s: Sandbox, who: str) -> dict[str, dict]:
    """The accounts in a member's ``GET /me``, by id."""
    return {a["account_id"]: a for a in s.me(who)["accounts"]}


def account_list(s: Sandbox, who: str, live_id: str) -> list[tuple[str, bool]]:
    """The accounts a member finds in ``GET /me``: their modes, and whether they are the two."""
    return sorted((a["mode"], a["account_id"] in (s.account_id, live_id)) for a in accounts_of(s, who).values())


def linked_accounts(test_id: str) -> list[str]:
    """Every account in the table that names ``test_id`` as its test account (the only look at
    the table: an account nobody was copied into yet shows on no route)."""
    accounts = [
        store.deserialize(raw)
        for (pk, sk), raw in table_state().items()
        if kind_of(pk, sk) == "account" and raw.get("test_account_id", {}).get("S") == test_id
    ]
    return sorted(str(a["account_id"]) for a in accounts)


def picture(s: Sandbox, live_id: str) -> dict[str, Any]:
    """A finished go-live as the owner and members see it, the same for any two sandboxes of one
    shape (no ids of the sandbox, members by label)."""
    test = s.ok(s.get())
    live = s.ok(s.get(account_id=live_id))
    test_members = [row for row in team_view(s, s.account_id) if row[2] != "invited"]
    live_members = team_view(s, live_id)
    return {
        "test": (test["mode"], test["live_account_id"] == live_id, test["test_account_id"]),
        "live": (live["mode"], live["test_account_id"] == s.account_id, live["live_account_id"], live["name"]),
        "linked": linked_accounts(s.account_id) == [live_id],
        "catalog": (live_catalog := catalog_view(s, live_id)),
        "catalog as in test": live_catalog == copied(catalog_view(s, s.account_id)),
        "members": [(label, status, owner, full, rights) for label, _, status, owner, full, rights in live_members],
        "members as in test": live_members == test_members,
        "their lists": {label: account_list(s, label, live_id) for label in s.tokens},
        "billing": {kind: items(s, live_id, kind) for kind in ("customers", "subscriptions", "invoices")},
    }


def copied(test_catalog: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """What the live account's catalog should show: the test account's, coupons unredeemed."""
    return {
        kind: [{**row, "redemptions": 0} if kind == "coupons" else row for row in rows]
        for kind, rows in test_catalog.items()
    }


def went_live(s: Sandbox, answer: Answer) -> str:
    assert answer.status == 201, (answer.status, answer.body)
    live_id = answer.body["live_account_id"]
    assert live_id.startswith("acc_") and live_id != s.account_id
    return live_id


# ----------------------------------------------------------------- the table, put back and compared

ID = re.compile(r"\b(?:" + "|".join(sorted(ids.PREFIXES)) + r")_[a-z0-9]{20,}\b")  # any id of ours


def saved_table() -> list[dict[str, Any]]:
    """Every item of the table (rate counters too), as a scan reads it."""
    client, name = aws.client("dynamodb"), config.settings().table_name
    return [item for page in client.get_paginator("scan").paginate(TableName=name) for item in page["Items"]]


def put_back(saved: list[dict[str, Any]]) -> None:
    """The table as it was saved: a fresh start from the same test account (as a new sandbox
    would be, without the minute building one takes)."""
    flows.empty_table()
    client, name = aws.client("dynamodb"), config.settings().table_name
    for start in range(0, len(saved), 25):
        puts = [{"PutRequest": {"Item": item}} for item in saved[start : start + 25]]
        client.batch_write_item(RequestItems={name: puts})


def normalized(before: Items, after: Items) -> Counter[str]:
    """The table after a go-live, the ids it made (the live account's, the copies', the audit
    records') named by their kind only: equal for two go-lives of one test account."""
    known = {found for raw in before.values() for found in ID.findall(json.dumps(raw))}

    def shown(raw: dict[str, Any]) -> str:
        text = json.dumps(raw, sort_keys=True)
        return ID.sub(lambda m: m.group(0) if m.group(0) in known else f"<new {m.group(0)[:3]}>", text)

    return Counter(shown(raw) for raw in after.values())


# ----------------------------------------------------------------- failing one DynamoDB call


@contextlib.contextmanager
def interrupted(when: Callable[[str, dict[str, Any]], bool]) -> Iterator[list[str]]:
    """Throttle the first DynamoDB call for which ``when(operation, params)`` holds (before it is
    sent, as botocore raises it once its own retries are spent); the list names what failed."""
    client = aws.client("dynamodb")
    failed: list[str] = []

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
        if not failed and when(model.name, params):
            failed.append(model.name)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, model.name)

    event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register(event, hook, unique_id="portico-go-live-fault")
    try:
        yield failed
    finally:
        client.meta.events.unregister(event, unique_id="portico-go-live-fault")


def marking_live(operation: str, params: dict[str, Any]) -> bool:
    """The last step: the test account marked live."""
    return operation == "TransactWriteItems" and "REMOVE go_live" in str(params)


def copying_member(email: str) -> Callable[[str, dict[str, Any]], bool]:
    """The step that copies one member (their membership, guard and account list)."""
    credential = keys.credential(email)["pk"]
    return lambda operation, params: (
        operation == "TransactWriteItems" and credential in str(params) and "NOT contains(account_ids" in str(params)
    )


# ----------------------------------------------------------------- 1. the copy


def test_the_live_account_gets_the_catalog_and_the_team_and_nothing_else(world):
    s = sandbox(world, business=True)
    member(s, "off", rights=("reports",))
    s.ok(s.patch(f"/users/{s.user_id('off')}", {"status": "disabled"}))
    test_before = catalog_view(s, s.account_id)
    test_settings = s.ok(s.get("/settings"))

    live_id = went_live(s, s.go_live())

    # nothing of the business: customers, payment methods, subscriptions, invoices
    for kind in ("customers", "subscriptions", "invoices"):
        assert items(s, s.account_id, kind), kind
        assert items(s, live_id, kind) == [], kind
    problem(s.get(f"/customers/{s.made['customer']}", account_id=live_id), 404, "not_found")
    problem(s.get(f"/customers/{s.made['customer']}/payment-methods", account_id=live_id), 404, "not_found")

    # the accounts are linked both ways
    test, live = s.ok(s.get()), s.ok(s.get(account_id=live_id))
    assert (test["mode"], test["live_account_id"]) == ("test", live_id)
    assert (live["mode"], live["test_account_id"], live["live_account_id"]) == ("live", s.account_id, None)
    assert live["name"] == test["name"]
    assert linked_accounts(s.account_id) == [live_id]

    # the catalog: the same items (archived ones too) under new ids, coupons unredeemed and on the
    # live copy of their discount
    test_lists, live_lists = catalog_lists(s, s.account_id), catalog_lists(s, live_id)
    assert [c["redemptions"] for c in test_lists["coupons"]] == [1]
    assert catalog_view(s, s.account_id, test_lists) == test_before
    assert catalog_view(s, live_id, live_lists) == copied(test_before)
    for kind, id_field in KINDS.items():
        test_ids = {i[id_field] for i in test_lists[kind]}
        assert live_lists[kind] and not test_ids & {i[id_field] for i in live_lists[kind]}, kind
        item = live_lists[kind][0]  # a copy opens on its own, in the live account only
        assert s.ok(s.get(f"/{kind}/{item[id_field]}", account_id=live_id)) == item
        problem(s.get(f"/{kind}/{item[id_field]}"), 404, "not_found")
    assert {p["handle"]: p["state"] for p in live_lists["plans"]} == {"gold": "active", "legacy": "archived"}
    [coupon], [discount] = live_lists["coupons"], live_lists["discounts"]
    assert coupon["discount_id"] == discount["discount_id"] and coupon["redemptions"] == 0

    # the copies work: handles and codes are taken in the live account, and a subscription there
    # is sold with the live plan, add-on and coupon (redeemed in the live account only)
    gold = {"handle": "gold", "name": "Other", "amount": 1, "currency": "EUR", "interval_unit": "month"}
    problem(s.post("/plans", gold, account_id=live_id), 409, "handle_taken")
    problem(
        s.post("/coupons", {"code": "welcome10", "discount_id": discount["discount_id"]}, account_id=live_id),
        409,
        "handle_taken",
    )
    live_plans = {p["handle"]: p["plan_id"] for p in live_lists["plans"]}
    [seat] = live_lists["addons"]
    buyer = s.ok(s.post("/customers", {"email": Subject().email, "name": "Ada"}, account_id=live_id), 201)
    s.ok(s.post(f"/customers/{buyer['customer_id']}/payment-methods", {"card": CARD}, account_id=live_id), 201)
    order = {"customer_id": buyer["customer_id"], "plan_id": live_plans["gold"], "coupon_code": "WELCOME10"}
    sold = s.post(
        "/subscriptions", {**order, "addons": [{"addon_id": seat["addon_id"], "quantity": 1}]}, account_id=live_id
    )
    assert sold.status == 201, sold.body
    assert [c["redemptions"] for c in items(s, live_id, "coupons")] == [1]
    assert [c["redemptions"] for c in items(s, s.account_id, "coupons")] == [1]
    archived = s.post("/subscriptions", {**order, "plan_id": live_plans["legacy"]}, account_id=live_id)
    assert archived.status == 422, archived.body

    # one record of it, in each account's audit log
    for account_id in (s.account_id, live_id):
        log = s.ok(s.get("/audit-log?limit=100", account_id=account_id))["items"]
        [record] = [r for r in log if r["action"] == "account.went_live"]
        assert record["details"] == {"live_account_id": live_id} and record["actor"]["id"] == s.owner.user_id

    # the team: the same members, rights, owner flag and status; the invitation stays behind
    test_team = team_view(s, s.account_id)
    assert [row[0] for row in test_team if row[2] == "invited"] == ["invitee"]
    assert team_view(s, live_id) == [row for row in test_team if row[0] != "invitee"]
    assert {m["email"]: m["status"] for m in s.members(live_id)}[s.emails["off"]] == "disabled"

    # the settings stay in the test account (the live one has the name and language, and defaults)
    live_settings = s.ok(s.get("/settings", account_id=live_id))
    assert test_settings["vat_percent"] == 19 and test_settings["timezone"] == "Europe/Berlin"
    assert live_settings["vat_percent"] == 0 and live_settings["timezone"] == "UTC"
    assert live_settings["company"]["legal_name"] is None and live_settings["name"] == test_settings["name"]
    assert s.ok(s.get("/settings")) == test_settings  # the test account's are untouched

    # every member who accepted logs in and finds the live account, with their rights there
    for label in ("owner", "admin", "viewer"):
        person = Person(s.emails[label], PASSWORD, "", s.account_id)
        s.tokens[label] = world.login(person)
        mine = accounts_of(s, label)
        assert set(mine) == {s.account_id, live_id}, label
        assert mine[live_id]["mode"] == "live" and mine[s.account_id]["mode"] == "test"
        assert {k: mine[live_id][k] for k in ("owner", "full_access", "rights", "status")} == {
            k: mine[s.account_id][k] for k in ("owner", "full_access", "rights", "status")
        }
        assert s.ok(s.get(account_id=live_id, who=label))["mode"] == "live"
    seen = s.ok(s.get("/customers", account_id=live_id, who="viewer"))["items"]
    assert [c["customer_id"] for c in seen] == [buyer["customer_id"]]  # the live account's own
    problem(
        s.post(
            "/plans",
            {"handle": "x", "name": "X", "amount": 1, "currency": "EUR", "interval_unit": "month"},
            account_id=live_id,
            who="viewer",
        ),
        403,
        "forbidden",
    )

    # a disabled member is copied disabled: their login does not open the live account
    s.tokens["off"] = world.login(Person(s.emails["off"], PASSWORD, "", s.account_id))
    problem(s.get(account_id=live_id, who="off"), 404, "not_found")


def test_a_pending_invitation_stays_in_the_test_account(world):
    """An invitation is not yet a member: go-live leaves it behind. Accepted afterwards, it makes
    a member of the test account only; the live account invites the person on its own."""
    s = sandbox(world, team=False, archived=False)
    invite(s, "invitee", rights=("data:edit",))
    live_id = went_live(s, s.go_live())
    assert s.emails["invitee"] not in {m["email"] for m in s.members(live_id)}

    [message] = [m for m in world.outbox(s.emails["invitee"]) if "accept-invitation?token=" in m["text"]][:1]
    secret = flows.link_token(message, "accept-invitation")
    accepted = world.api.post(f"/invitations/{secret}/accept", {"name": "Late", "password": PASSWORD})
    assert accepted.status == 201, accepted.body
    s.tokens["invitee"] = world.login(Person(s.emails["invitee"], PASSWORD, accepted.body["user_id"], s.account_id))
    assert set(accounts_of(s, "invitee")) == {s.account_id}
    problem(s.get(account_id=live_id, who="invitee"), 404, "not_found")

    again = s.post("/users", {"email": s.emails["invitee"], "rights": ["data:edit"]}, account_id=live_id)
    assert again.status == 201, again.body


def test_the_live_catalog_lists_oldest_first_as_the_test_catalog_does(world):
    s = sandbox(world, team=False)
    live_id = went_live(s, s.go_live())
    world.clock.advance(1)  # made after the copies' originals (ids made in one millisecond sort at random)
    platinum = {"handle": "platinum", "name": "Platinum", "amount": 4990, "currency": "EUR", "interval_unit": "month"}
    s.ok(s.post("/plans", platinum, account_id=live_id), 201)
    test_order = [p["handle"] for p in items(s, s.account_id, "plans")]
    assert test_order == ["gold", "legacy"]
    assert [p["handle"] for p in items(s, live_id, "plans")] == [*test_order, "platinum"]


# ----------------------------------------------------------------- 2. interrupted at every step


def test_an_interruption_at_any_call_is_finished_by_the_retry(world):
    """Every DynamoDB call of the request failing in turn (throttled), each time from the same test
    account (the table put back as it was before its go-live): the answer is 503 and the test
    account is not live yet; calling again answers 201 with the live account in the making, if
    any, and leaves the table as an uninterrupted go-live does -- one live account, everything in it
    once -- which users see as the same picture."""
    s = sandbox(world, team=False, archived=False)  # every kind of step once (the owner is the member
    invite(s, "invitee", rights=("data:edit",))  # copied): a second plan or member only repeats one
    saved, before = saved_table(), table_state()
    with watching("dynamodb") as counted:
        reference = s.go_live()
    live_id = went_live(s, reference)
    expected, expected_table = picture(s, live_id), normalized(before, table_state())
    assert expected["linked"] and expected["catalog as in test"] and expected["members as in test"], expected
    assert [label for label, *_ in expected["members"]] == ["owner"]
    assert sum(expected_table.values()) > len(before)
    calls = counted.calls

    problems: dict[int, str] = {}
    for nth in range(1, calls + 1):
        put_back(saved)
        name, error = THROTTLING.variant(nth)
        with watching("dynamodb", nth, error) as watched:
            first = s.go_live()
        try:
            assert watched.failed, f"go-live made {watched.calls} calls, fewer than {calls}"
            if first.status == 201:  # the failure could not change the outcome
                live_id = first.body["live_account_id"]
            else:
                assert_service_unavailable(first)
                test = s.ok(s.get())
                assert (test["mode"], test["live_account_id"]) == ("test", None), test
                in_the_making = linked_accounts(s.account_id)
                assert len(in_the_making) <= 1, in_the_making
                live_id = went_live(s, s.go_live())
                assert in_the_making in ([], [live_id]), "the retry made another live account"
            assert normalized(before, table_state()) == expected_table
        except AssertionError as failure:
            problems[nth] = f"call {nth} ({watched.failed}) failing with {name}: {failure}"
    assert not problems, "\n".join(problems.values())
    problem(s.go_live(), 409, "already_live")
    assert [a for a, v in accounts_of(s, "owner").items() if v["mode"] == "live"] == [live_id]


def test_what_the_test_account_gains_before_the_retry_is_copied_too(world):
    """After an interruption, the retry copies what is new: a plan and a coupon made in the test
    account in between are in the live account after it."""
    s = sandbox(world, team=False)
    with interrupted(marking_live) as failed:
        assert_service_unavailable(s.go_live())
    assert failed == ["TransactWriteItems"]
    [in_the_making] = [a for a, v in accounts_of(s, "owner").items() if v["mode"] == "live"]

    s.make(
        "plans",
        {"handle": "platinum", "name": "Platinum", "amount": 4990, "currency": "EUR", "interval_unit": "month"},
        "platinum",
    )
    loyal = s.make(
        "discounts",
        {"handle": "loyal", "name": "Loyal", "amount": 500, "currency": "EUR", "duration": "forever"},
        "loyal",
    )
    s.make("coupons", {"code": "LOYAL5", "discount_id": loyal}, "LOYAL5")

    live_id = went_live(s, s.go_live())
    assert live_id == in_the_making and linked_accounts(s.account_id) == [live_id]
    assert catalog_view(s, live_id) == copied(catalog_view(s, s.account_id))
    assert {p["handle"] for p in items(s, live_id, "plans")} == {"gold", "legacy", "platinum"}
    codes = {c["code"]: c["discount_id"] for c in items(s, live_id, "coupons")}
    [live_loyal] = [d["discount_id"] for d in items(s, live_id, "discounts") if d["handle"] == "loyal"]
    assert codes["LOYAL5"] == live_loyal
    problem(s.go_live(), 409, "already_live")


def test_a_plan_archived_before_the_retry_is_archived_in_the_live_account(world):
    s = sandbox(world, team=False, archived=False)
    with interrupted(marking_live):
        assert_service_unavailable(s.go_live())
    [in_the_making] = [a for a, v in accounts_of(s, "owner").items() if v["mode"] == "live"]
    problem(s.get(account_id=in_the_making), 404, "not_found")  # nobody works in it before it opens
    problem(s.api.get(f"/accounts/{in_the_making}/plans", token=s.token()), 404, "not_found")
    s.ok(s.api.delete(s.url(f"/plans/{s.made['plans:gold']}"), token=s.token()))
    s.ok(s.patch(f"/coupons/{s.made['coupons:WELCOME10']}", {"max_redemptions": 3}))

    live_id = went_live(s, s.go_live())
    assert [p["state"] for p in items(s, live_id, "plans")] == ["archived"]
    assert catalog_view(s, live_id) == copied(catalog_view(s, s.account_id))


def test_a_member_promoted_before_the_retry_counts_as_a_user_manager_in_the_live_account(world):
    s = signed_up(world)
    member(s, "viewer", rights=("data:view",))
    with interrupted(copying_member(s.emails["viewer"])) as failed:
        assert_service_unavailable(s.go_live())
    assert failed == ["TransactWriteItems"]
    viewer = s.user_id("viewer")
    s.ok(s.patch(f"/users/{viewer}", {"rights": ["users", "data:view"]}))

    live_id = went_live(s, s.go_live())
    assert team_view(s, live_id) == team_view(s, s.account_id)
    demoted = s.patch(f"/users/{viewer}", {"rights": ["data:view"]}, account_id=live_id)
    assert demoted.status == 200, demoted.body  # the owner still manages users


def test_a_member_removed_before_the_retry_is_not_in_the_live_account(world):
    s = signed_up(world)
    member(s, "viewer", rights=("data:view",))
    with interrupted(marking_live):
        assert_service_unavailable(s.go_live())
    assert s.api.delete(s.url(f"/users/{s.user_id('viewer')}"), token=s.token()).status == 204

    live_id = went_live(s, s.go_live())
    assert {m["email"] for m in s.members(live_id)} == {s.emails["owner"]}
    problem(s.get(account_id=live_id, who="viewer"), 404, "not_found")


# ----------------------------------------------------------------- 3. two at once


def test_go_lives_at_once_make_one_live_account(world):
    """Two requests at once reserve one live account: one answers 201, the other 409 already_live
    (it either finds the live account reserved and copies into it, or finds the test account marked)."""
    s = sandbox(world, team=False)
    member(s, "admin", full_access=True)
    answers = at_once(lambda: s.go_live(), lambda: s.go_live("admin"))
    assert outcomes(answers) == {"201": 1, "409 already_live": 1}, [a.body for a in answers]
    [winner] = [a for a in answers if a.status == 201]
    live_id = winner.body["live_account_id"]
    assert linked_accounts(s.account_id) == [live_id]
    assert s.ok(s.get())["live_account_id"] == live_id
    assert catalog_view(s, live_id) == copied(catalog_view(s, s.account_id))
    assert team_view(s, live_id) == team_view(s, s.account_id)
    for label in ("owner", "admin"):
        assert [a for a, v in accounts_of(s, label).items() if v["mode"] == "live"] == [live_id]


# ----------------------------------------------------------------- 4. once, rights and access


def test_a_second_go_live_is_already_live_from_either_account(world):
    s = sandbox(world, team=False, archived=False)
    live_id = went_live(s, s.go_live())
    problem(s.go_live(), 409, "already_live")
    problem(s.post("/go-live", account_id=live_id), 409, "already_live")
    assert linked_accounts(s.account_id) == [live_id]
    assert catalog_view(s, live_id) == copied(catalog_view(s, s.account_id))  # copied once


def test_sync_is_granted_in_the_live_account_only(world):
    s = signed_up(world)
    member(s, "viewer", rights=("data:view",))
    viewer = s.user_id("viewer")
    for answer in (
        s.patch(f"/users/{viewer}", {"rights": ["data:view", "sync"]}),
        s.post("/users", {"email": Subject().email, "rights": ["sync"]}),
    ):
        problem(answer, 422, "right_unavailable")
    assert accounts_of(s, "viewer")[s.account_id]["rights"] == ["data:view"]

    live_id = went_live(s, s.go_live())
    granted = s.patch(f"/users/{viewer}", {"rights": ["data:view", "sync"]}, account_id=live_id)
    assert granted.status == 200 and granted.body["rights"] == ["data:view", "sync"], granted.body
    assert s.post("/users", {"email": Subject().email, "rights": ["sync"]}, account_id=live_id).status == 201
    mine = accounts_of(s, "viewer")
    assert (mine[live_id]["rights"], mine[s.account_id]["rights"]) == (["data:view", "sync"], ["data:view"])
    problem(s.patch(f"/users/{viewer}", {"rights": ["data:view", "sync"]}), 422, "right_unavailable")


def test_go_live_needs_the_right_users_and_a_membership(world):
    """The right ``users`` (not ownership, not full access); without it 403, for another tenant
    (and a disabled member) 404 -- and a refused call reserves nothing."""
    s = signed_up(world)
    member(s, "editor", rights=("settings", "data:edit", "reports", "developer"))
    member(s, "off", rights=("users",))
    s.ok(s.patch(f"/users/{s.user_id('off')}", {"status": "disabled"}))
    stranger = world.person(Subject().email)
    s.tokens["stranger"] = world.login(stranger)
    other = Sandbox(world, stranger, stranger.account_id, tokens={"owner": s.tokens["stranger"]})

    problem(s.go_live("editor"), 403, "forbidden")
    problem(s.go_live("off"), 404, "not_found")
    problem(s.go_live("stranger"), 404, "not_found")
    problem(s.api.post(s.url("/go-live")), 401, "unauthenticated")
    assert s.ok(s.get())["live_account_id"] is None and linked_accounts(s.account_id) == []
    assert other.ok(other.get())["live_account_id"] is None  # the stranger's own account is untouched

    member(s, "manager", rights=("users",))  # user management is what go-live needs
    live_id = went_live(s, s.go_live("manager"))
    assert s.ok(s.get(account_id=live_id, who="manager"))["mode"] == "live"
    problem(s.go_live("stranger"), 404, "not_found")
    problem(s.post("/go-live", account_id=live_id, who="stranger"), 404, "not_found")
    problem(s.post("/go-live", account_id=live_id, who="editor"), 403, "forbidden")
