"""The hourly ``subscription-renewal`` job (``portico.billing.renewal``): what a merchant sees
through the API, and the run's summary, when the job runs at scale, twice for one moment, twice at
once, late, after the schedule stopped, and with one subscription's step failing.

Covered elsewhere, and not repeated here: every DynamoDB call and gateway fault of a renewal or a
retry, one subscription at a time (``test_billing_faults.py``); the default 1/3/5-day dunning
schedule, never early, four emails, then expired (``test_billing_faults.py`` and the e2e billing
flow); a trial's end charging the first period, and running the job again at that moment
(e2e); a paused subscription without ``resume_at`` never billed (``test_subscriptions.py``, e2e).

Costs are counted, never timed: DynamoDB calls are recorded at the botocore client. Subscriptions
that only stand by (never due in a run) are written through the billing repository, a hundred to
a transaction, as copies of ones the subscription service made: the emulation answers a call in
about 20 ms, and a thousand creates through the service took a minute here. For the same reason
the run at scale has 30 subscriptions due, not hundreds: what it reads is asserted call by call,
as a function of the due work and the hours, so the numbers make the point at any size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portico import aws, clock, ids, keys, store
from portico.accounts import repository as accounts
from portico.accounts.records import Account
from portico.billing import renewal, repository, subscriptions
from portico.billing.models import SubscriptionCreate
from portico.billing.records import Subscription
from portico.config import settings
from tests.integration.flows import Subject, World, fresh_table, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.test_billing_faults import (
    DECLINED_CARD,
    TIMEOUT_CARD,
    Shop,
    epoch,
    gateway_records,
    open_shop,
    run_job,
)

MINUTE, HOUR, DAY = 60, 3600, 86_400
WORK = tuple(
    f.name for f in dataclasses.fields(renewal.Summary) if f.name not in ("job", "run_at", "items_read", "failures")
)


def did(summary: dict[str, Any]) -> dict[str, int]:
    """What a run's summary says it did (the counts that are not zero)."""
    return {name: summary[name] for name in WORK if summary[name]}


def iso(moment: float) -> str:
    return clock.iso(datetime.fromtimestamp(moment, UTC))


def hour_of(moment: float) -> str:
    """The hour bucket of a moment (``2026-10-21T14``)."""
    return datetime.fromtimestamp(moment, UTC).strftime(renewal.HOUR)


def hours_between(start: float, end: float) -> list[str]:
    """The hour buckets from ``start``'s to ``end``'s, both included."""
    first = datetime.fromtimestamp(start, UTC).replace(minute=0, second=0, microsecond=0)
    last = datetime.fromtimestamp(end, UTC)
    found = []
    while first <= last:
        found.append(first.strftime(renewal.HOUR))
        first += timedelta(hours=1)
    return found


# ----------------------------------------------------------------- the merchant's side


def account_of(shop: Shop) -> Account:
    account = accounts.get_account(shop.account_id)
    assert account is not None
    return account


def admin(shop: Shop) -> dict[str, Any]:
    return {"type": "user", "id": shop.person.user_id, "email": shop.person.email}


def plan(shop: Shop, **body: Any) -> str:
    fields = {"name": "Gold", "amount": 1990, "currency": "EUR", "interval_unit": "month", **body}
    made = shop.post("/plans", {"handle": f"plan-{Subject().n}", **fields})
    assert made.status == 201, made.body
    return str(made.body["plan_id"])


def customer(shop: Shop, card: str) -> tuple[str, str, str]:
    """Another customer of the shop, with one card: (customer_id, email, payment_method_id)."""
    email = f"customer{Subject().n}@example.com"
    made = shop.post("/customers", {"email": email, "name": "Dora Dunning", "language": "en"})
    assert made.status == 201, made.body
    return made.body["customer_id"], email, add_card(shop, made.body["customer_id"], card)


def add_card(shop: Shop, customer_id: str, token: str) -> str:
    body = {"card": {"token": token, "brand": "visa", "last4": "4444", "exp_month": 12, "exp_year": 2031}}
    made = shop.post(f"/customers/{customer_id}/payment-methods", body)
    assert made.status == 201, made.body
    return str(made.body["payment_method_id"])


def subscribe(shop: Shop, plan_id: str, customer_id: str | None = None) -> dict[str, Any]:
    made = shop.post("/subscriptions", {"customer_id": customer_id or shop.customer_id, "plan_id": plan_id})
    assert made.status == 201, made.body
    return dict(made.body)


def act(shop: Shop, subscription_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = shop.post(f"/subscriptions/{subscription_id}/{action}", body or {})
    assert answer.status == 200, answer.body
    return dict(answer.body)


def sell(shop: Shop, account: Account, plan_id: str) -> Subscription:
    """A subscription made by the subscription service, as the API's create makes it."""
    body = SubscriptionCreate(customer_id=shop.customer_id, plan_id=plan_id)
    made, _ = subscriptions.create(account, body, source="admin", actor=admin(shop))
    return made


def view(shop: Shop, subscription_id: str) -> dict[str, Any]:
    answer = shop.get(f"/subscriptions/{subscription_id}")
    assert answer.status == 200, answer.body
    return dict(answer.body)


def invoices_of(shop: Shop, subscription_id: str) -> list[dict[str, Any]]:
    """The subscription's invoices, oldest first."""
    answer = shop.get(f"/invoices?subscription_id={subscription_id}&limit=100")
    assert answer.status == 200, answer.body
    return list(reversed(answer.body["items"]))


def every_invoice(shop: Shop) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = shop.get("/invoices?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status == 200, answer.body
        found += answer.body["items"]
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return found


def timeline(shop: Shop, customer_id: str) -> list[dict[str, Any]]:
    """The customer's timeline, oldest first."""
    answer = shop.get(f"/customers/{customer_id}/timeline?limit=100")
    assert answer.status == 200 and not answer.body.get("next_cursor"), answer.body
    return list(reversed(answer.body["items"]))


def events(shop: Shop, customer_id: str) -> Counter:
    return Counter(e["type"] for e in timeline(shop, customer_id))


def seen_by_merchant(shop: Shop, subscription_ids: list[str], customer_ids: list[str]) -> dict[str, Any]:
    """Everything the merchant can read about these subscriptions and customers."""
    return {
        "subscriptions": {s: view(shop, s) for s in subscription_ids},
        "invoices": sorted(every_invoice(shop), key=lambda i: i["invoice_id"]),
        "timelines": {c: timeline(shop, c) for c in customer_ids},
    }


def charges() -> dict[str, list[tuple[str, str]]]:
    """The test gateway's own records: invoice id -> [(attempt, outcome)], one per idempotency key."""
    return {
        invoice_id: sorted((r["key"].split(":")[1], r["status"]) for r in records)
        for invoice_id, records in gateway_records().items()
    }


# ----------------------------------------------------------------- subscriptions in bulk


def copy_of(subscription: Subscription, later: float) -> Subscription:
    """Another subscription like ``subscription``, made ``later`` seconds after it: every moment
    it holds (its anchor, period, trial's end, due time) as much later."""

    def moved(text: str | None) -> str | None:
        return iso(epoch(text) + later) if text else None

    return dataclasses.replace(
        subscription,
        subscription_id=ids.new_sortable_id("sub", epoch(subscription.created_at) + later),
        anchor_at=str(moved(subscription.anchor_at)),
        current_period_start=str(moved(subscription.current_period_start)),
        current_period_end=str(moved(subscription.current_period_end)),
        trial_end=moved(subscription.trial_end),
        due_at=moved(subscription.due_at),
        created_at=str(moved(subscription.created_at)),
    )


def stored(many: list[Subscription]) -> None:
    """Write new subscriptions through the repository, a hundred to a transaction."""
    for start in range(0, len(many), 100):
        assert repository.write([repository.subscription_put_op(s, seen=None) for s in many[start : start + 100]])


# ----------------------------------------------------------------- watching DynamoDB


@contextlib.contextmanager
def dynamodb_calls() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB call made while inside: (operation, its parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        with lock:
            calls.append((model.name, params))

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", record, unique_id="renewal-calls")
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="renewal-calls")


def pk_sk(key: dict[str, Any]) -> tuple[str, str]:
    return str(key["pk"]), str(key["sk"])


def subscriptions_written(params: dict[str, Any]) -> list[str]:
    """The ids of the subscriptions a TransactWriteItems call puts."""
    items = [store.deserialize(op["Put"]["Item"]) for op in params.get("TransactItems", []) if "Put" in op]
    return [str(item["subscription_id"]) for item in items if keys.is_subscription(item)]


@contextlib.contextmanager
def failing_for(subscription_id: str) -> Iterator[list[str]]:
    """Throttle the first transaction that writes this one subscription (and nothing else)."""
    failed: list[str] = []

    def boom(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems" and not failed and subscription_id in subscriptions_written(params):
            failed.append(subscription_id)
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, model.name)

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", boom, unique_id="renewal-fault")
    try:
        yield failed
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="renewal-fault")


def two_runs_in_lockstep(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Two runs at once that read the same due work, then race on every subscription: each run
    waits, before its first write of a subscription, until the other is about to write it too."""
    started = threading.Barrier(2, timeout=20)
    racing: dict[str, threading.Barrier] = {}
    waited: set[tuple[int, str]] = set()
    lock = threading.Lock()
    read_account, write = accounts.get_account, repository.write

    def get_account(account_id: str, **options: Any) -> Account | None:
        with lock:
            first = (threading.get_ident(), "") not in waited
            waited.add((threading.get_ident(), ""))
        if first:  # the run read its due work: wait for the other to have read it too
            started.wait()
        return read_account(account_id, **options)

    def write_in_step(ops: list[keys.Write]) -> bool:
        for subscription_id in subscriptions_written({"TransactItems": ops}):
            with lock:
                first = (threading.get_ident(), subscription_id) not in waited
                waited.add((threading.get_ident(), subscription_id))
                barrier = racing.setdefault(subscription_id, threading.Barrier(2, timeout=10))
            if first:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
        return write(ops)

    summaries: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            summaries.append(run_job())
        except BaseException as exc:
            errors.append(exc)

    with monkeypatch.context() as patched:
        patched.setattr(accounts, "get_account", get_account)
        patched.setattr(repository, "write", write_in_step)
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert len(summaries) == 2
    return summaries


# ----------------------------------------------------------------- 1. at scale: only what is due is read

DUE = 30  # due within the last three hours, one every five minutes
LATER_THIS_HOUR = 10  # in the run's own hour bucket, due after it
STANDING_BY = {"active": 500, "trialing": 250, "cancelled": 125, "paused": 125}  # due in weeks, or never


def test_a_run_reads_what_is_due_and_nothing_of_the_subscriptions_that_are_not(world):
    shop = open_shop(world)
    account = account_of(shop)
    first = sell(shop, account, shop.plan_id)  # paid, monthly: renews on 21 October at 14:13:20
    trialing = sell(shop, account, plan(shop, trial_days=60))
    due = [first] + [copy_of(first, n * 5 * MINUTE) for n in range(1, DUE)]
    run_at = epoch(str(due[-1].due_at)) + MINUTE
    after = run_at - epoch(str(first.due_at))
    later = [copy_of(first, after + n * 2 * MINUTE) for n in range(1, LATER_THIS_HOUR + 1)]
    assert {hour_of(epoch(str(s.due_at))) for s in later} == {hour_of(run_at)}

    def weeks_later(n: int) -> Subscription:
        return copy_of(first, (7 + n % 20) * DAY + n)  # its period ends 7 to 26 days after the run

    def then(n: int, action: subscriptions.Action) -> Subscription:
        made = weeks_later(n)  # cancelled (ending with its period) or paused (until resumed) a day on
        return subscriptions.transition(made, action, datetime.fromtimestamp(epoch(made.created_at) + DAY, UTC))

    standing_by = (
        [weeks_later(n) for n in range(STANDING_BY["active"])]
        + [copy_of(trialing, n) for n in range(STANDING_BY["trialing"])]
        + [then(n, "cancel") for n in range(STANDING_BY["cancelled"])]
        + [then(n, "pause") for n in range(STANDING_BY["paused"])]
    )
    stored(due[1:] + later + standing_by)
    samples = [later[0].subscription_id, standing_by[0].subscription_id, trialing.subscription_id]
    samples += [standing_by[-STANDING_BY["paused"] - 1].subscription_id, standing_by[-1].subscription_id]
    world.clock.now = run_at
    before = {s: view(shop, s) for s in samples}

    with dynamodb_calls() as calls:
        summary = run_job()

    assert summary["items_read"] == DUE, summary  # not the 1,011 that are not due
    assert did(summary) == {"renewed": DUE, "paid": DUE} and summary["failures"] == []
    operations = Counter(operation for operation, _ in calls)
    assert operations == {
        "Query": 49,  # one per hour bucket: the last 48 hours and this one
        "GetItem": 2 + DUE,  # the job's mark and the account, then the card of each charge
        "UpdateItem": DUE,  # an invoice number each
        "TransactWriteItems": 2 * DUE,  # the new period with its invoice, then the charge's outcome
        "PutItem": DUE + 1,  # the test gateway's record of each charge, and the job's mark
    }, operations
    read = [params["ExpressionAttributeValues"] for operation, params in calls if operation == "Query"]
    wanted = [keys.due_in_hour(hour, iso(run_at)) for hour in hours_between(run_at - 48 * HOUR, run_at)]
    assert sorted(read, key=str) == sorted((store.serialize(q.values) for q in wanted), key=str)
    got = Counter(pk_sk(store.deserialize(params["Key"])) for operation, params in calls if operation == "GetItem")
    card = keys.payment_method(shop.account_id, shop.customer_id, shop.payment_method_id)
    assert got == {
        pk_sk(keys.job_mark("subscription-renewal")): 1,
        pk_sk(keys.account(shop.account_id)): 1,
        pk_sk(card): DUE,
    }

    told = timeline(shop, shop.customer_id)  # the due ones, and only they, renewed and paid
    renewed = [e["details"]["subscription_id"] for e in told if e["type"] == "subscription.renewed"]
    assert sorted(renewed) == sorted(s.subscription_id for s in due)
    assert Counter(e["type"] for e in told)["invoice.paid"] == 1 + DUE
    assert len(charges()) == 1 + DUE  # the first one's first invoice, and one renewal each
    for subscription in (due[0], due[-1]):
        now = view(shop, subscription.subscription_id)
        assert now["state"] == "active"
        assert now["current_period_start"] == subscription.current_period_end
    _, renewal_invoice = invoices_of(shop, first.subscription_id)
    assert renewal_invoice["state"] == "paid" and renewal_invoice["period_start"] == first.current_period_end
    assert renewal_invoice["period_end"] == view(shop, first.subscription_id)["current_period_end"]
    assert {s: view(shop, s) for s in samples} == before


# ----------------------------------------------------------------- 2. the same moment twice


def due_together(shop: Shop) -> dict[str, str]:
    """One subscription for each thing the job does, all due when it returns (the clock moved):
    a renewal, a trial's end (declined: dunning), a cancelled one's end, a pause's end. Their ids,
    and the declining customer's id and email."""
    declining, email, _ = customer(shop, DECLINED_CARD)
    renews = subscribe(shop, shop.plan_id)
    ends = subscribe(shop, shop.plan_id)
    act(shop, ends["subscription_id"], "cancel")
    resumes = subscribe(shop, shop.plan_id)
    resume_at = iso(epoch(resumes["current_period_end"]) + 5 * MINUTE)
    act(shop, resumes["subscription_id"], "pause", {"resume_at": resume_at})
    run_at = epoch(resume_at) + 5 * MINUTE
    shop.world.clock.now = run_at - DAY - 5 * MINUTE
    trial = subscribe(shop, plan(shop, trial_days=1), declining)
    shop.world.clock.now = run_at
    made = {"renews": renews, "ends": ends, "resumes": resumes, "trial": trial}
    return {name: s["subscription_id"] for name, s in made.items()} | {"declining": declining, "email": email}


def test_running_twice_for_the_same_moment_changes_nothing_more(world):
    shop = open_shop(world)
    made = due_together(shop)
    first = run_job()
    assert did(first) == {
        "renewed": 1,
        "trials_ended": 1,
        "expired": 1,
        "resumed": 1,
        "paid": 1,
        "declined": 1,
    }, first
    subscription_ids = [made[name] for name in ("renews", "ends", "resumes", "trial")]
    customers = [shop.customer_id, made["declining"]]
    seen, charged, emails = seen_by_merchant(shop, subscription_ids, customers), charges(), world.outbox(made["email"])
    assert len(emails) == 1

    again = run_job()

    assert did(again) == {} and again["failures"] == [], again
    assert seen_by_merchant(shop, subscription_ids, customers) == seen
    assert charges() == charged
    assert len(world.outbox(made["email"])) == 1


# ----------------------------------------------------------------- 3. two runs at once


def test_two_runs_at_once_do_each_step_once(world, monkeypatch):
    shop = open_shop(world)
    renewals = [subscribe(shop, shop.plan_id)["subscription_id"] for _ in range(4)]
    ends = subscribe(shop, shop.plan_id)["subscription_id"]
    act(shop, ends, "cancel")
    declining, email, _ = customer(shop, DECLINED_CARD)
    trial_plan = plan(shop, trial_days=1)
    period_end = epoch(view(shop, ends)["current_period_end"])  # the four renew then, and one ends
    world.clock.now = period_end - 3 * DAY
    retried = subscribe(shop, trial_plan, declining)["subscription_id"]
    world.clock.now = period_end - 2 * DAY + MINUTE
    assert did(run_job()) == {"trials_ended": 1, "declined": 1}  # retried a day later
    world.clock.now = period_end - DAY + 5 * MINUTE
    trial = subscribe(shop, trial_plan)["subscription_id"]  # ends five minutes after the period
    world.clock.now = period_end + 10 * MINUTE
    assert epoch(view(shop, retried)["dunning"]["next_retry_at"]) < world.clock.now
    assert epoch(view(shop, trial)["trial_end"]) < world.clock.now

    summaries = two_runs_in_lockstep(monkeypatch)

    both = Counter(did(summaries[0])) + Counter(did(summaries[1]))
    for summary in summaries:
        assert summary["failed"] == 0 and summary["failures"] == [], summary
    assert both["renewed"] == 4 and both["expired"] == 1 and both["retried"] == 1, summaries
    assert both["trials_ended"] == 1 and both["skipped"] == 4 + 1 + 1 + 1, summaries  # one run's each
    charged = charges()
    for subscription_id in renewals:
        invoices = invoices_of(shop, subscription_id)
        assert [i["state"] for i in invoices] == ["paid", "paid"]
        assert [len(i["transactions"]) for i in invoices] == [1, 1]
        assert charged[invoices[-1]["invoice_id"]] == [("0", "succeeded")]
    assert view(shop, ends)["state"] == "expired"
    [failed] = invoices_of(shop, retried)
    assert failed["state"] == "failed" and [t["state"] for t in failed["transactions"]] == ["declined"] * 2
    assert charged[failed["invoice_id"]] == [("0", "declined"), ("1", "declined")]
    assert len(world.outbox(email)) == 2  # the trial's end, and the one retry
    [paid] = invoices_of(shop, trial)
    assert paid["state"] == "paid" and charges()[paid["invoice_id"]] == [("0", "succeeded")]
    mine = events(shop, shop.customer_id)
    assert mine["subscription.renewed"] == 4 and mine["subscription.expired"] == 1, mine
    assert mine["subscription.trial_ended"] == 1, mine
    assert events(shop, declining)["invoice.failed"] == 2


def a_pause_ending(shop: Shop) -> Callable[[list[dict[str, Any]]], None]:
    """A paused subscription due to resume after its paid period (a new period, charged)."""
    resumes = subscribe(shop, shop.plan_id)
    resume_at = iso(epoch(resumes["current_period_end"]) + 5 * MINUTE)
    act(shop, resumes["subscription_id"], "pause", {"resume_at": resume_at})
    shop.world.clock.now = epoch(resume_at) + 5 * MINUTE

    def resumed_once(summaries: list[dict[str, Any]]) -> None:
        assert sum(s["resumed"] for s in summaries) == 1, summaries
        _, resumed = invoices_of(shop, resumes["subscription_id"])
        assert resumed["state"] == "paid" and len(resumed["transactions"]) == 1
        assert charges()[resumed["invoice_id"]] == [("0", "succeeded")]
        assert events(shop, shop.customer_id)["subscription.resumed"] == 1

    return resumed_once


def a_first_charge_answer_lost(shop: Shop) -> Callable[[list[dict[str, Any]]], None]:
    """A create whose gateway charged, then did not answer (503): the job writes the outcome."""
    buyer, _, _ = customer(shop, TIMEOUT_CARD)
    answer = shop.post("/subscriptions", {"customer_id": buyer, "plan_id": shop.plan_id})
    assert answer.status == 503, answer.body
    shop.world.clock.advance(renewal.RECOVER_AFTER_SECONDS + 1)

    def created_once(summaries: list[dict[str, Any]]) -> None:
        assert sum(s["charges_recovered"] for s in summaries) >= 1, summaries
        [made] = shop.get(f"/subscriptions?customer_id={buyer}").body["items"]
        [invoice] = invoices_of(shop, made["subscription_id"])
        assert invoice["state"] == "paid" and len(invoice["transactions"]) == 1
        assert charges()[invoice["invoice_id"]] == [("0", "succeeded")]
        assert events(shop, buyer)["subscription.created"] == 1

    return created_once


RACES = {"pause ending": a_pause_ending, "first charge answer lost": a_first_charge_answer_lost}


@pytest.mark.parametrize("race", list(RACES))
def test_two_runs_at_once_do_it_once_and_neither_reports_a_failure(world, monkeypatch, race):
    shop = open_shop(world)
    done_once = RACES[race](shop)

    summaries = two_runs_in_lockstep(monkeypatch)

    done_once(summaries)
    assert [s["failures"] for s in summaries] == [[], []], summaries


# ----------------------------------------------------------------- 4. a cancel's end and a pause's end


def test_the_job_expires_a_cancelled_subscription_and_resumes_a_paused_one_with_a_charge(world):
    shop = open_shop(world)
    ends = subscribe(shop, shop.plan_id)
    cancelled = act(shop, ends["subscription_id"], "cancel")
    resumes = subscribe(shop, shop.plan_id)
    resume_at = iso(epoch(resumes["current_period_end"]) + 3 * DAY)
    act(shop, resumes["subscription_id"], "pause", {"resume_at": resume_at})
    world.clock.now = epoch(cancelled["ends_at"]) + 20 * MINUTE
    assert did(run_job()) == {"expired": 1}
    ended = view(shop, ends["subscription_id"])
    assert ended["state"] == "expired" and ended["ends_at"] == cancelled["ends_at"]
    assert len(invoices_of(shop, ends["subscription_id"])) == 1
    world.clock.now = epoch(resume_at) - MINUTE
    assert did(run_job()) == {}  # paused past its paid period, until resume_at: not billed
    assert len(invoices_of(shop, resumes["subscription_id"])) == 1
    world.clock.now = epoch(resume_at) + 20 * MINUTE

    assert did(run_job()) == {"resumed": 1}

    back = view(shop, resumes["subscription_id"])
    assert back["state"] == "active" and back["paused_at"] is None and back["resume_at"] is None
    _, new = invoices_of(shop, resumes["subscription_id"])
    assert (new["period_start"], new["period_end"]) == (back["current_period_start"], back["current_period_end"])
    assert new["state"] == "paid" and charges()[new["invoice_id"]] == [("0", "succeeded")]
    assert epoch(resume_at) <= epoch(back["current_period_start"]) <= world.clock.now
    kinds = events(shop, shop.customer_id)
    assert kinds["subscription.expired"] == 1 and kinds["subscription.resumed"] == 1, kinds


def test_a_cancelled_subscription_ends_at_ends_at_whenever_the_job_runs(world):
    shop = open_shop(world)
    ends = subscribe(shop, shop.plan_id)
    cancelled = act(shop, ends["subscription_id"], "cancel")
    world.clock.now = epoch(cancelled["ends_at"]) + 20 * MINUTE  # the next hourly run
    assert did(run_job()) == {"expired": 1}
    ended = view(shop, ends["subscription_id"])
    assert ended["ended_at"] == ended["ends_at"] == cancelled["ends_at"]


def test_a_pause_ends_at_resume_at_whenever_the_job_runs(world):
    shop = open_shop(world)
    resumes = subscribe(shop, shop.plan_id)
    resume_at = iso(epoch(resumes["current_period_end"]) + 3 * DAY)
    act(shop, resumes["subscription_id"], "pause", {"resume_at": resume_at})
    world.clock.now = epoch(resume_at) + 20 * MINUTE  # the next hourly run
    assert did(run_job()) == {"resumed": 1}
    back = view(shop, resumes["subscription_id"])
    assert back["current_period_start"] == resume_at


# ----------------------------------------------------------------- 5. dunning


def test_dunning_follows_the_accounts_retry_days_and_emails_a_portal_link_each_time(world):
    shop = open_shop(world)
    changed = world.api.patch(shop.url("/settings"), {"dunning_retry_days": [2, 4]}, token=shop.token)
    assert changed.status == 200 and changed.body["dunning_retry_days"] == [2, 4], changed.body
    declining, email, _ = customer(shop, DECLINED_CARD)
    trial = subscribe(shop, plan(shop, trial_days=1), declining)
    world.clock.now = epoch(trial["trial_end"]) + 10 * MINUTE
    failed_at = world.clock.now
    assert did(run_job()) == {"trials_ended": 1, "declined": 1}
    dunning = view(shop, trial["subscription_id"])["dunning"]
    assert dunning["attempt"] == 1 and epoch(dunning["next_retry_at"]) == failed_at + 2 * DAY
    world.clock.now = failed_at + DAY + HOUR  # the default schedule's first retry: not this account's
    assert did(run_job()) == {}
    world.clock.now = failed_at + 2 * DAY + 10 * MINUTE
    assert did(run_job()) == {"retried": 1, "declined": 1}
    dunning = view(shop, trial["subscription_id"])["dunning"]
    assert dunning["attempt"] == 2 and epoch(dunning["next_retry_at"]) == failed_at + 4 * DAY
    world.clock.now = failed_at + 4 * DAY + 10 * MINUTE

    assert did(run_job()) == {"retried": 1, "declined": 1}

    ended = view(shop, trial["subscription_id"])
    assert ended["state"] == "expired" and ended["dunning"] is None
    [invoice] = invoices_of(shop, trial["subscription_id"])
    assert invoice["state"] == "failed" and [t["state"] for t in invoice["transactions"]] == ["declined"] * 3
    kinds = events(shop, declining)
    assert kinds["invoice.failed"] == 3 and kinds["subscription.expired"] == 1, kinds
    [expired] = [e for e in timeline(shop, declining) if e["type"] == "subscription.expired"]
    assert expired["source"] == "system" and expired["details"]["reason"] == "dunning_exhausted"

    portal = f"{settings().public_url.rstrip('/')}/portal/{shop.account_id}"
    last, second, first = world.outbox(email)  # newest first
    for message in (first, second, last):
        assert message["to"] == [email] and portal in message["text"] and portal in message["html"]
    for message, retry in ((first, failed_at + 2 * DAY), (second, failed_at + 4 * DAY)):
        assert iso(retry).replace("T", " ").replace("Z", " UTC") in message["text"]
    assert last["subject"] != first["subject"] == second["subject"]  # the last tells it has ended


def test_a_card_changed_during_dunning_is_charged_at_the_next_run(world):
    shop = open_shop(world)
    declining, _, old_card = customer(shop, DECLINED_CARD)
    trial = subscribe(shop, plan(shop, trial_days=1), declining)
    world.clock.now = epoch(trial["trial_end"]) + 10 * MINUTE
    assert did(run_job()) == {"trials_ended": 1, "declined": 1}
    next_retry_at = view(shop, trial["subscription_id"])["dunning"]["next_retry_at"]
    world.clock.advance(2 * HOUR)
    new_card = add_card(shop, declining, "tok_visa_5555")
    # the admin's change of the subscription's card (no admin route yet; the portal's is not in the template)
    changed = subscriptions.change_payment_method(
        account_of(shop), trial["subscription_id"], new_card, source="admin", actor=admin(shop)
    )
    assert changed.payment_method_id == new_card and changed.dunning is not None
    shown = view(shop, trial["subscription_id"])
    assert shown["payment_method_id"] == new_card and shown["dunning"]["attempt"] == 1

    assert did(run_job()) == {"retried": 1, "paid": 1}

    assert world.clock.now < epoch(next_retry_at)  # not on the old schedule
    paid = view(shop, trial["subscription_id"])
    assert paid["state"] == "active" and paid["dunning"] is None and paid["payment_method_id"] == new_card
    [invoice] = invoices_of(shop, trial["subscription_id"])
    assert invoice["state"] == "paid" and [t["state"] for t in invoice["transactions"]] == ["declined", "succeeded"]
    assert charges()[invoice["invoice_id"]] == [("0", "declined"), ("1", "succeeded")]
    [event] = [e for e in timeline(shop, declining) if e["type"] == "subscription.payment_method_changed"]
    assert event["source"] == "admin" and event["details"]["before"]["payment_method_id"] == old_card
    assert epoch(paid["current_period_end"]) > world.clock.now


# ----------------------------------------------------------------- 6. catching up after the schedule stopped


def test_one_run_catches_up_every_renewal_missed_while_the_schedule_stopped(world):
    shop = open_shop(world)
    monthly = subscribe(shop, shop.plan_id)  # renews on 21 October
    world.clock.now = epoch(monthly["current_period_end"]) - 2 * DAY
    daily = subscribe(shop, plan(shop, interval_unit="day", amount=500))
    assert did(run_job()) == {}  # the last run before the schedule stopped
    stopped = world.clock.now
    world.clock.now = stopped + 5 * DAY + 5 * MINUTE

    with dynamodb_calls() as calls:
        summary = run_job()

    assert did(summary) == {"renewed": 6, "paid": 6} and summary["items_read"] == 2, summary
    read = [params for operation, params in calls if operation == "Query"]
    assert len(read) == len(hours_between(stopped, world.clock.now)) == 5 * 24 + 1
    days = invoices_of(shop, daily["subscription_id"])
    assert len(days) == 6 and all(i["state"] == "paid" for i in days)
    assert [i["period_start"] for i in days[1:]] == [i["period_end"] for i in days[:-1]]  # no gap, no overlap
    assert days[-1]["period_end"] == view(shop, daily["subscription_id"])["current_period_end"]
    assert epoch(days[-1]["period_start"]) <= world.clock.now < epoch(days[-1]["period_end"])
    month = invoices_of(shop, monthly["subscription_id"])
    assert len(month) == 2 and month[-1]["period_start"] == monthly["current_period_end"]
    assert events(shop, shop.customer_id)["subscription.renewed"] == 6
    world.clock.advance(HOUR)
    with dynamodb_calls() as calls:
        assert did(run_job()) == {}
    assert sum(1 for operation, _ in calls if operation == "Query") == 49  # back to the last 48 hours


def test_after_a_long_stop_a_run_reads_back_catch_up_days_and_no_further(world, monkeypatch):
    monkeypatch.setattr(renewal, "CATCH_UP_DAYS", 3)  # 90 in production: 2,161 hour buckets in one run
    assert did(run_job()) == {}
    world.clock.advance(5 * DAY)
    with dynamodb_calls() as calls:
        run_job()
    hours = [params["ExpressionAttributeValues"] for operation, params in calls if operation == "Query"]
    start = world.clock.now - 3 * DAY
    wanted = [keys.due_in_hour(hour, iso(world.clock.now)) for hour in hours_between(start, world.clock.now)]
    assert sorted(hours, key=str) == sorted((store.serialize(q.values) for q in wanted), key=str)


def test_a_subscription_stepped_to_the_limit_is_finished_by_the_next_runs(world, monkeypatch):
    monkeypatch.setattr(renewal, "MAX_STEPS", 1)  # 36 in production: a daily plan's 37th missed day
    shop = open_shop(world)
    daily = subscribe(shop, plan(shop, interval_unit="day", amount=500))
    assert did(run_job()) == {}
    world.clock.advance(4 * DAY + 5 * MINUTE)
    # the limit: one step, three days left due and the hour kept marked
    assert did(run_job()) == {"renewed": 1, "paid": 1, "pending": 1}
    world.clock.advance(49 * HOUR)  # its hour is past the lookback: only the run's mark brings it back
    monkeypatch.setattr(renewal, "MAX_STEPS", 36)
    assert did(run_job()) == {"renewed": 5, "paid": 5}  # the three days left and the two since
    assert len(invoices_of(shop, daily["subscription_id"])) == 1 + 1 + 5


# ----------------------------------------------------------------- 7. one step fails, the others go on


def test_a_failed_step_is_reported_the_others_done_and_the_next_run_finishes_it(world):
    shop = open_shop(world)
    stuck = subscribe(shop, shop.plan_id)  # renews at 14:13:20, two hour buckets before the run
    world.clock.advance(HOUR + 50 * MINUTE)
    others = [subscribe(shop, shop.plan_id) for _ in range(2)]
    world.clock.now = epoch(others[-1]["current_period_end"]) + 10 * MINUTE

    with failing_for(stuck["subscription_id"]) as failed:
        summary = run_job()

    assert failed == [stuck["subscription_id"]]
    assert did(summary) == {"renewed": 2, "paid": 2, "failed": 1}, summary
    assert summary["failures"] == [{"id": stuck["subscription_id"], "error": "ClientError"}]
    assert view(shop, stuck["subscription_id"])["current_period_end"] == stuck["current_period_end"]
    assert len(invoices_of(shop, stuck["subscription_id"])) == 1
    for other in others:
        assert [i["state"] for i in invoices_of(shop, other["subscription_id"])] == ["paid", "paid"]
    world.clock.advance(49 * HOUR)  # its hour is past the lookback: the run's mark kept it

    summary = run_job()

    assert did(summary) == {"renewed": 1, "paid": 1}, summary
    assert view(shop, stuck["subscription_id"])["current_period_start"] == stuck["current_period_end"]
    assert [i["state"] for i in invoices_of(shop, stuck["subscription_id"])] == ["paid", "paid"]
    assert events(shop, shop.customer_id)["subscription.renewed"] == 3
