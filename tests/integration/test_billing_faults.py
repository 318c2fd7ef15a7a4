"""Faults while charging: charging is a write to two systems, and a fault at any step between them
must neither lose a charge nor make a second one.

The order (``portico.billing.invoices``): the invoice is written ``pending`` (with the time its
charge began), the gateway is charged with a key derived from the invoice and its attempt, then
the outcome is written (the invoice ``paid`` or ``failed``, and the subscription created, renewed
or put in dunning). A charge whose outcome was never written is recovered by the renewal job once
it is a minute old: it asks the gateway again with the same key, and charges with it only if the
gateway never saw that key.

For the first charge of a new subscription (the API), a renewal (the job) and a dunning retry (the
job), every DynamoDB call of the step is failed in turn (throttling, a service error, a timeout,
at the botocore client boundary), and the gateway is made to time out, fail or crash before and
after it charges. After each fault:

* the API answers ``503 service_unavailable`` (never 500); the job reports the failure or, for a
  crash, dies, and its next runs finish the work;
* what a customer or merchant sees is one of two things: nothing happened (no subscription, no
  charge, the subscription still due), or the invoice is ``pending`` until the job, after a minute
  and not before, writes its outcome;
* every invoice is charged at most once (counted in the test gateway's own records, one per
  idempotency key), a paid invoice has its subscription, and a subscription has its paid first
  invoice;
* a create sent again with its ``Idempotency-Key`` after the fault does not charge again.

A declined charge is recorded once and retried only when the dunning schedule says so.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from portico import aws, config, keys, store
from portico.billing import repository
from portico.billing.gateway import GatewayTimeout, TestGateway
from portico.billing.records import Invoice, Subscription
from portico.jobs import JOBS
from tests.integration import support
from tests.integration.flows import Subject, World, fresh_table, template_env, world  # noqa: F401  (the shared-stack fixtures)
from tests.integration.support import Answer, Person

GOOD_CARD = "tok_visa_4242"
DECLINED_CARD = "tok_fail_0002"
TIMEOUT_CARD = "tok_timeout_0003"
RECOVER_AFTER = 60  # seconds: a pending charge younger than this is left to its request


# ----------------------------------------------------------------- a merchant with one customer


@dataclass
class Shop:
    """A signed-up merchant with a monthly plan, a customer and the customer's card."""

    world: World
    person: Person
    token: str
    account_id: str
    customer_id: str
    customer_email: str
    payment_method_id: str
    plan_id: str
    coupon_id: str | None = None

    def url(self, rest: str) -> str:
        return f"/accounts/{self.account_id}{rest}"

    def _fresh(self, answer: Callable[[], Answer]) -> Answer:
        """Send, logging in again when the clock moved the session past its idle timeout."""
        got = answer()
        if got.status == 401:
            self.token = self.world.login(self.person)
            got = answer()
        return got

    def get(self, rest: str) -> Answer:
        return self._fresh(lambda: self.world.api.get(self.url(rest), token=self.token))

    def post(self, rest: str, body: Any = None, key: str | None = None) -> Answer:
        headers = {"Idempotency-Key": key} if key else None
        return self._fresh(lambda: self.world.api.post(self.url(rest), body, token=self.token, headers=headers))

    def create(self, key: str | None = None, coupon: bool = False) -> Answer:
        body: dict[str, Any] = {"customer_id": self.customer_id, "plan_id": self.plan_id}
        if coupon:
            body["coupon_code"] = "WELCOME10"
        return self.post("/subscriptions", body, key)

    def card(self, token: str) -> None:
        """The customer's card at the provider now behaves as ``token`` (say, they replaced it)."""
        store.update(
            keys.payment_method(self.account_id, self.customer_id, self.payment_method_id),
            "SET #t = :t",
            values={":t": token},
            names={"#t": "token"},
        )

    def timeline(self) -> Counter:
        answer = self.get(f"/customers/{self.customer_id}/timeline?limit=100")
        assert answer.status == 200, answer.body
        return Counter(e["type"] for e in answer.body["items"])

    def coupon_redemptions(self) -> int:
        answer = self.get(f"/coupons/{self.coupon_id}")
        assert answer.status == 200, answer.body
        return int(answer.body["redemptions"])


def open_shop(world: World, *, card: str = GOOD_CARD, coupon: bool = False) -> Shop:
    who = world.person(Subject().email)
    token = world.login(who)
    a = who.account_id
    api = world.api
    plan = api.post(
        f"/accounts/{a}/plans",
        {"handle": "gold", "name": "Gold", "amount": 1990, "currency": "EUR", "interval_unit": "month"},
        token=token,
    )
    assert plan.status == 201, plan.body
    email = f"customer-{who.user_id[-8:]}@example.com"
    customer = api.post(f"/accounts/{a}/customers", {"email": email, "name": "Grace Hopper"}, token=token)
    assert customer.status == 201, customer.body
    c = customer.body["customer_id"]
    method = api.post(
        f"/accounts/{a}/customers/{c}/payment-methods",
        {"card": {"token": card, "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031}},
        token=token,
    )
    assert method.status == 201, method.body
    shop = Shop(world, who, token, a, c, email, method.body["payment_method_id"], plan.body["plan_id"])
    if coupon:
        discount = api.post(
            f"/accounts/{a}/discounts",
            {"handle": "welcome", "name": "Welcome", "percent": 10, "duration": "once"},
            token=token,
        )
        assert discount.status == 201, discount.body
        made = api.post(
            f"/accounts/{a}/coupons",
            {"code": "WELCOME10", "discount_id": discount.body["discount_id"], "max_redemptions": 10},
            token=token,
        )
        assert made.status == 201, made.body
        shop.coupon_id = made.body["coupon_id"]
    return shop


def subscribed(shop: Shop) -> dict:
    """A subscription created and paid (no fault)."""
    created = shop.create()
    assert created.status == 201, created.body
    return created.body


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run_job() -> dict:
    return JOBS["subscription-renewal"]()


# ----------------------------------------------------------------- what is stored


@dataclass
class Ledger:
    """The account's subscriptions and invoices as stored, and the test gateway's charges."""

    subscriptions: list[Subscription]
    invoices: list[Invoice]
    charges: dict[str, list[dict]]  # invoice id -> the gateway's records of its attempts

    def succeeded(self, invoice_id: str) -> int:
        return sum(1 for r in self.charges.get(invoice_id, []) if r["status"] == "succeeded")

    @property
    def charged(self) -> int:
        """Successful charges in all."""
        return sum(self.succeeded(i) for i in self.charges)

    def invoice(self, state: str | None = None, purpose: str | None = None) -> Invoice:
        [found] = [i for i in self.invoices if (state in (None, i.state)) and (purpose in (None, i.purpose))]
        return found

    def subscription(self) -> Subscription:
        [found] = self.subscriptions
        return found


def gateway_records() -> dict[str, list[dict]]:
    client, table = aws.client("dynamodb"), config.settings().table_name
    found: dict[str, list[dict]] = {}
    pages = client.get_paginator("scan").paginate(
        TableName=table, FilterExpression="begins_with(pk, :g)", ExpressionAttributeValues={":g": {"S": "GATEWAY#"}}
    )
    for page in pages:
        for raw in page["Items"]:
            item = store.plain(store.deserialize(raw))
            key = item["pk"].removeprefix("GATEWAY#")
            found.setdefault(key.split(":")[0], []).append({**item, "key": key})
    return found


def ledger(shop: Shop) -> Ledger:
    subscriptions, _ = repository.subscriptions_page(shop.account_id, 100, None)
    invoices, _ = repository.invoices_page(shop.account_id, 100, None)
    return Ledger(subscriptions, invoices, gateway_records())


def assert_consistent(book: Ledger) -> None:
    """Every invoice charged at most once, and what the invoices and subscriptions say agrees."""
    subscriptions = {s.subscription_id: s for s in book.subscriptions}
    assert set(book.charges) <= {i.invoice_id for i in book.invoices}, "a charge without its invoice"
    periods = Counter((i.subscription_id, i.period_start) for i in book.invoices if i.state != "failed")
    assert all(n == 1 for n in periods.values()), f"more than one live invoice for a period: {periods}"
    for invoice in book.invoices:
        records = book.charges.get(invoice.invoice_id, [])
        assert all(n == 1 for n in Counter(r["key"] for r in records).values())
        succeeded = book.succeeded(invoice.invoice_id)
        assert succeeded <= 1, f"{invoice.handle} was charged {succeeded} times"
        paid_transactions = [t for t in invoice.transactions if t.state == "succeeded"]
        if invoice.state == "paid":
            assert succeeded == 1, f"{invoice.handle} is paid but the gateway has no charge for it"
            assert [r["amount"] for r in records if r["status"] == "succeeded"] == [invoice.amount]
            assert len(paid_transactions) == 1
            assert invoice.subscription_id in subscriptions, f"{invoice.handle} is paid, its subscription missing"
            assert invoice.charging_since is None and invoice.pending_subscription is None
        elif invoice.state == "failed":
            assert succeeded == 0 and not paid_transactions
            assert invoice.charging_since is None
            declined = [t for t in invoice.transactions if t.state == "declined"]
            assert len(declined) == len(records), "one declined transaction per declined attempt"
        else:
            assert invoice.charging_since is not None, f"{invoice.handle} is pending with no charge in flight"
            assert not paid_transactions
        if invoice.purpose == "first" and invoice.state != "paid":
            assert invoice.subscription_id not in subscriptions, "a subscription whose first invoice is unpaid"
    for subscription in book.subscriptions:
        firsts = [
            i for i in book.invoices if i.subscription_id == subscription.subscription_id and i.purpose == "first"
        ]
        assert [i.state for i in firsts] == ["paid"], f"{subscription.subscription_id} has no paid first invoice"


# ----------------------------------------------------------------- injecting faults


def call_kind(operation: str, params: dict[str, Any]) -> str:
    """What a DynamoDB call touches: ``idempotency`` (the idempotency table), the kind of item in
    an account (``CUSTOMER``, ``PM``, ``INV``, ``COUNTER``...) or the partition's (``GATEWAY``,
    ``JOB``, ``SESSION``); a query's partition (``DUE``); nothing for transactions and batches."""
    table = params.get("TableName", "")
    if table and table == config.settings().idempotency_table_name:
        return "idempotency"
    if operation == "Query":
        return str(params.get("ExpressionAttributeValues", {}).get(":p", {}).get("S", "")).split("#")[0]
    key = params.get("Key") or params.get("Item")
    if not key or "pk" not in key:
        return ""
    pk, sk = key["pk"]["S"], key["sk"]["S"]
    return sk.split("#")[0] if pk.startswith("ACCOUNT#") else pk.split("#")[0]


@dataclass(frozen=True)
class Step:
    """One DynamoDB call of a flow: the ``nth`` call of ``operation`` on items of ``kind``; and how
    far the charge had got when it fails (``before``: nothing written yet; ``uncharged``: the invoice
    pending, the gateway not asked; ``charged``: the gateway charged, the outcome not written;
    ``done``: everything written)."""

    name: str
    operation: str
    kind: str
    phase: str
    nth: int = 1

    def __str__(self) -> str:
        return self.name


ERRORS: tuple[tuple[str, Callable[[str], Exception]], ...] = (
    ("throttled", lambda op: ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, op)),
    ("service error", lambda op: ClientError({"Error": {"Code": "InternalServerError"}}, op)),
    ("read timeout", lambda op: ReadTimeoutError(endpoint_url="https://dynamodb.invalid")),
)


@contextlib.contextmanager
def failing(step: Step, error: Callable[[str], Exception]) -> Iterator[list[str]]:
    """Fail the step's call (once) while inside; yields the calls failed, to check it was reached."""
    seen: Counter = Counter()
    failed: list[str] = []
    lock = threading.Lock()

    def boom(params: dict[str, Any], model: Any, **_: Any) -> None:
        with lock:
            if (model.name, call_kind(model.name, params)) != (step.operation, step.kind):
                return
            seen[step] += 1
            if seen[step] != step.nth:
                return
            failed.append(step.name)
        raise error(model.name)

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", boom, unique_id="billing-fault")
    try:
        yield failed
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="billing-fault")


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, str]]]:
    """The DynamoDB calls made while inside, as (operation, kind)."""
    calls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        with lock:
            calls.append((model.name, call_kind(model.name, params)))

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", record, unique_id="billing-record")
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="billing-record")


class Crash(BaseException):
    """The Lambda is killed (its timeout, an out-of-memory): nothing after this point runs, and no
    ``except Exception`` sees it."""


_REAL_CHARGE = TestGateway.charge


@dataclass(frozen=True)
class GatewayFault:
    """The gateway misbehaves once: it raises ``error`` before charging, or after it charged."""

    name: str
    charged: bool
    error: Callable[[], BaseException]

    def __str__(self) -> str:
        return self.name

    def install(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Patch the test gateway; returns the keys it misbehaved for."""
        hit: list[str] = []

        def charge(gateway: TestGateway, token: str, amount: int, currency: str, idempotency_key: str):
            if hit:
                return _REAL_CHARGE(gateway, token, amount, currency, idempotency_key)
            hit.append(idempotency_key)
            if self.charged:
                _REAL_CHARGE(gateway, token, amount, currency, idempotency_key)
            raise self.error()

        monkeypatch.setattr(TestGateway, "charge", charge)
        return hit

    @property
    def phase(self) -> str:
        return "charged" if self.charged else "uncharged"


GATEWAY_FAULTS = (
    GatewayFault("timeout after charging", True, lambda: GatewayTimeout("no answer in time")),
    GatewayFault("timeout before charging", False, lambda: GatewayTimeout("no answer in time")),
    GatewayFault("connection reset after charging", True, lambda: ConnectionResetError("reset by peer")),
    GatewayFault("error before charging", False, lambda: RuntimeError("the provider's SDK failed")),
    GatewayFault("crash after charging", True, Crash),
    GatewayFault("crash before charging", False, Crash),
)


# ----------------------------------------------------------------- checks shared by the sweeps


def assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, f"expected 503, got {answer.status}: {answer.body}"
    assert answer.body["code"] == "service_unavailable"
    assert answer.headers.get("Content-Type") == "application/problem+json"


def assert_first_charge_pending(shop: Shop, *, charged: bool) -> Invoice:
    """The first invoice is pending, nothing is subscribed yet, and the gateway charged it or not."""
    book = ledger(shop)
    assert_consistent(book)
    assert book.subscriptions == []
    invoice = book.invoice()
    assert invoice.state == "pending" and invoice.purpose == "first"
    assert book.succeeded(invoice.invoice_id) == (1 if charged else 0)
    listed = shop.get("/subscriptions")
    assert listed.status == 200 and listed.body["items"] == []
    shown = shop.get(f"/invoices/{invoice.invoice_id}")
    assert shown.status == 200 and shown.body["state"] == "pending" and shown.body["transactions"] == []
    return invoice


def assert_left_alone_then_recovered(shop: Shop, began: float, check: Callable[[], None]) -> dict:
    """The job leaves a pending charge to its request for a minute (``check`` still holds), then
    writes its outcome; the summary of the run that recovered it."""
    clock = shop.world.clock
    for seconds in (0, RECOVER_AFTER - 1):
        clock.now = began + seconds
        summary = run_job()
        assert summary["charges_recovered"] == 0, summary
        check()
    clock.now = began + RECOVER_AFTER + 1
    summary = run_job()
    assert summary["charges_recovered"] == 1 and summary["failed"] == 0, summary
    return summary


def assert_subscribed_once(shop: Shop) -> Ledger:
    """One subscription, active, its first invoice paid by one charge, and the timeline telling so."""
    book = ledger(shop)
    assert_consistent(book)
    subscription = book.subscription()
    assert subscription.state == "active"
    first = book.invoice(purpose="first")
    assert first.state == "paid" and book.charged == 1
    shown = shop.get(f"/subscriptions/{subscription.subscription_id}")
    assert shown.status == 200 and shown.body["state"] == "active"
    events = shop.timeline()
    assert events["subscription.created"] == 1 and events["invoice.paid"] == 1, events
    return book


def assert_nothing_made(shop: Shop) -> None:
    book = ledger(shop)
    assert book.subscriptions == [] and book.invoices == [] and book.charges == {}
    assert shop.get("/subscriptions").body["items"] == []
    assert shop.get("/invoices").body["items"] == []
    assert shop.timeline()["subscription.created"] == 0


# ----------------------------------------------------------------- the first charge (the API)


CREATE_STEPS = (
    Step("session read", "GetItem", "SESSION", "before"),
    Step("membership and account read", "BatchGetItem", "", "before"),
    Step("idempotency record", "PutItem", "idempotency", "before"),
    Step("customer read", "GetItem", "CUSTOMER", "before"),
    Step("plan read", "GetItem", "PLAN", "before"),
    Step("coupon code read", "GetItem", "COUPON_CODE", "before"),
    Step("coupon read", "GetItem", "COUPON", "before"),
    Step("discount read", "GetItem", "DISCOUNT", "before"),
    Step("payment method read", "GetItem", "PM", "before"),
    Step("invoice number", "UpdateItem", "COUNTER", "before"),
    Step("pending invoice write", "TransactWriteItems", "", "before"),
    Step("payment method read for the charge", "GetItem", "PM", "uncharged", nth=2),
    Step("the gateway's own write (it fails before charging)", "PutItem", "GATEWAY", "uncharged"),
    Step("outcome write", "TransactWriteItems", "", "charged", nth=2),
    Step("idempotency answer", "UpdateItem", "idempotency", "done"),
)


def test_every_call_of_a_create_is_in_the_sweep(world):
    shop = open_shop(world, coupon=True)
    with recording() as calls:
        assert shop.create(key="order-1", coupon=True).status == 201
    swept = {(s.operation, s.kind, s.nth) for s in CREATE_STEPS}
    made = Counter()
    for operation, kind in calls:
        made[(operation, kind)] += 1
        assert (operation, kind, made[(operation, kind)]) in swept, f"not swept: {operation} {kind}"


@pytest.mark.parametrize("step", CREATE_STEPS, ids=str)
def test_a_create_with_a_failing_call_answers_503_and_is_recovered(world, step):
    shop = open_shop(world, coupon=True)
    began = world.clock.now
    error_name, error = ERRORS[CREATE_STEPS.index(step) % len(ERRORS)]
    with failing(step, error) as failed:
        answer = shop.create(key="order-1", coupon=True)
    assert failed == [step.name], f"the create never made the call {step} ({error_name})"
    assert_unavailable(answer)

    if step.phase == "before":
        assert_nothing_made(shop)
        assert shop.coupon_redemptions() == 0
        world.clock.now = began + RECOVER_AFTER + 1
        run_job()
        assert_nothing_made(shop)
        return
    if step.phase == "done":  # the answer was lost, not the work
        assert_subscribed_once(shop)
        assert shop.coupon_redemptions() == 1
        return

    charged = step.phase == "charged"
    assert_first_charge_pending(shop, charged=charged)
    assert shop.coupon_redemptions() == 1  # held by the pending invoice
    assert_left_alone_then_recovered(shop, began, lambda: assert_first_charge_pending(shop, charged=charged))
    book = assert_subscribed_once(shop)
    assert book.invoice().discount_amount > 0
    assert shop.coupon_redemptions() == 1
    world.clock.advance(3600)
    run_job()  # and again: nothing more
    assert ledger(shop).charged == 1


@pytest.mark.parametrize("fault", GATEWAY_FAULTS, ids=str)
def test_a_create_whose_gateway_fails_answers_503_and_is_recovered(world, monkeypatch, fault):
    shop = open_shop(world)
    began = world.clock.now
    hit = fault.install(monkeypatch)
    if fault.error is Crash:
        with pytest.raises(Crash):
            shop.create(key="order-1")
    else:
        answer = shop.create(key="order-1")
        assert_unavailable(answer)
    assert len(hit) == 1
    assert_first_charge_pending(shop, charged=fault.charged)
    assert_left_alone_then_recovered(shop, began, lambda: assert_first_charge_pending(shop, charged=fault.charged))
    book = assert_subscribed_once(shop)
    # asked again with the invoice's own key: the charge it made, or the one the recovery made
    assert [r["key"] for r in book.charges[book.invoice().invoice_id]] == [hit[0]]


def test_the_test_gateway_timing_out_after_charging_leaves_one_charge(world):
    """The bundled gateway's own ``timeout`` cards: charged, then no answer."""
    shop = open_shop(world, card=TIMEOUT_CARD)
    began = world.clock.now
    answer = shop.create()
    assert_unavailable(answer)
    assert answer.headers.get("Retry-After") == "60"
    invoice = assert_first_charge_pending(shop, charged=True)
    assert answer.body.get("invoice_id") == invoice.invoice_id
    assert_left_alone_then_recovered(shop, began, lambda: assert_first_charge_pending(shop, charged=True))
    assert_subscribed_once(shop)


def test_a_recovery_that_fails_is_finished_by_the_next_run(world, monkeypatch):
    shop = open_shop(world)
    began = world.clock.now
    GATEWAY_FAULTS[0].install(monkeypatch)  # timeout after charging
    assert_unavailable(shop.create())
    world.clock.now = began + RECOVER_AFTER + 1
    outcome = Step("recovered outcome write", "TransactWriteItems", "", "charged")
    with failing(outcome, ERRORS[0][1]) as failed:
        summary = run_job()
    assert failed and summary["failed"] == 1, summary
    assert_first_charge_pending(shop, charged=True)
    world.clock.advance(3600)
    summary = run_job()
    assert summary["charges_recovered"] == 1, summary
    assert_subscribed_once(shop)


# ----------------------------------------------------------------- the same create sent again


def _pending_write_fails(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager:
    return failing(Step("pending invoice write", "TransactWriteItems", "", "before"), ERRORS[0][1])


def _outcome_write_fails(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager:
    return failing(Step("outcome write", "TransactWriteItems", "", "charged", nth=2), ERRORS[1][1])


def _answer_record_fails(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager:
    return failing(Step("idempotency answer", "UpdateItem", "idempotency", "done"), ERRORS[2][1])


def _gateway(fault: GatewayFault) -> Callable[[pytest.MonkeyPatch], contextlib.AbstractContextManager]:
    def install(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager:
        fault.install(monkeypatch)
        return contextlib.nullcontext()

    return install


REPLAYS = {
    "pending invoice write fails": _pending_write_fails,
    "gateway times out after charging": _gateway(GATEWAY_FAULTS[0]),
    "gateway times out before charging": _gateway(GATEWAY_FAULTS[1]),
    "outcome write fails": _outcome_write_fails,
    "idempotency answer not saved": _answer_record_fails,
    "crash after charging": _gateway(GATEWAY_FAULTS[4]),
}


@pytest.mark.parametrize("fault", list(REPLAYS))
def test_a_create_sent_again_with_its_key_after_a_fault_charges_once(world, monkeypatch, fault):
    """The client does what the 503 asks: it sends the same request with the same key once
    ``Retry-After`` has passed (and, after a crash, once the dead invocation's time is up: the
    idempotency record of a request still running blocks the key only that long)."""
    monkeypatch.setattr(support.Context, "get_remaining_time_in_millis", staticmethod(lambda: 1))
    shop = open_shop(world)
    began = world.clock.now
    with REPLAYS[fault](monkeypatch):
        try:
            first = shop.create(key="order-1")
        except Crash:
            first = None
    if first is not None:
        assert_unavailable(first)
        world.clock.advance(int(first.headers.get("Retry-After", "1")))
    again = shop.create(key="order-1")
    assert again.status in (201, 409, 503), again.body
    world.clock.now = max(world.clock.now, began) + RECOVER_AFTER + 1
    run_job()
    last = shop.create(key="order-1")
    book = ledger(shop)
    assert_consistent(book)
    assert len(book.subscriptions) == 1, (
        f"one request made {len(book.subscriptions)} subscriptions and {book.charged} charges"
    )
    assert book.charged == 1
    if last.status == 201:
        assert last.body["subscription_id"] == book.subscription().subscription_id


# ----------------------------------------------------------------- a renewal (the job)


def due_now(shop: Shop, subscription: dict) -> float:
    """Move the clock just past the subscription's period end; returns that moment."""
    moment = epoch(subscription["current_period_end"]) + 30
    shop.world.clock.now = moment
    return moment


RENEWAL_STEPS = (
    Step("renewal mark read", "GetItem", "JOB", "before"),
    Step("due work query", "Query", "DUE", "before"),
    Step("account read", "GetItem", "ACCOUNT", "before"),
    Step("invoice number", "UpdateItem", "COUNTER", "before"),
    Step("new period and pending invoice write", "TransactWriteItems", "", "before"),
    Step("payment method read for the charge", "GetItem", "PM", "uncharged"),
    Step("the gateway's own write (it fails before charging)", "PutItem", "GATEWAY", "uncharged"),
    Step("outcome write", "TransactWriteItems", "", "charged", nth=2),
    Step("renewal mark write", "PutItem", "JOB", "done"),
)


def test_every_call_of_a_renewal_is_in_the_sweep(world):
    shop = open_shop(world)
    due_now(shop, subscribed(shop))
    with recording() as calls:
        assert run_job()["renewed"] == 1
    swept = {(s.operation, s.kind) for s in RENEWAL_STEPS}
    assert {c for c in calls if c not in swept} == set()


def assert_renewal_pending(shop: Shop, *, charged: bool) -> None:
    book = ledger(shop)
    assert_consistent(book)
    subscription = book.subscription()
    renewal = book.invoice(purpose="renewal")
    assert renewal.state == "pending" and book.succeeded(renewal.invoice_id) == (1 if charged else 0)
    assert subscription.current_period_start == renewal.period_start  # the new period runs, unpaid yet
    assert subscription.dunning is None and subscription.state == "active"


def assert_renewed_once(shop: Shop, first: dict) -> None:
    book = ledger(shop)
    assert_consistent(book)
    subscription = book.subscription()
    assert subscription.state == "active" and subscription.dunning is None
    assert subscription.current_period_start == first["current_period_end"]
    assert subscription.due_action == "renew" and subscription.due_at == subscription.current_period_end
    assert sorted(i.purpose for i in book.invoices) == ["first", "renewal"]
    assert all(i.state == "paid" for i in book.invoices) and book.charged == 2
    events = shop.timeline()
    assert events["subscription.renewed"] == 1 and events["invoice.paid"] == 2, events


def _run_expecting(step_or_fault: Any) -> dict | None:
    """One run of the job; None when it died."""
    try:
        return run_job()
    except Crash:
        return None
    except (ClientError, ReadTimeoutError):  # a failure outside any one subscription's step
        assert step_or_fault.phase in ("before", "done")
        return None


@pytest.mark.parametrize("step", RENEWAL_STEPS, ids=str)
def test_a_renewal_with_a_failing_call_is_finished_by_the_next_runs(world, step):
    shop = open_shop(world)
    first = subscribed(shop)
    began = due_now(shop, first)
    _, error = ERRORS[RENEWAL_STEPS.index(step) % len(ERRORS)]
    with failing(step, error) as failed:
        summary = _run_expecting(step)
    assert failed == [step.name], f"the run never made the call {step}"
    if summary is not None and step.phase != "done":
        # a failure inside the gateway leaves the charge pending (its outcome unknown), not failed
        left = "pending" if step.kind == "GATEWAY" else "failed"
        assert summary[left] == 1 and summary["renewed"] == 0 + (step.phase != "before"), summary

    if step.phase == "before":  # nothing changed: still due, renewed by the next run
        book = ledger(shop)
        assert len(book.invoices) == 1 and book.charged == 1
        assert book.subscription().current_period_end == first["current_period_end"]
        summary = run_job()
        assert summary["renewed"] == 1 and summary["paid"] == 1, summary
    elif step.phase == "done":
        assert_renewed_once(shop, first)
    else:
        charged = step.phase == "charged"
        assert_renewal_pending(shop, charged=charged)
        assert_left_alone_then_recovered(shop, began, lambda: assert_renewal_pending(shop, charged=charged))
    assert_renewed_once(shop, first)
    world.clock.advance(3600)
    run_job()
    assert_renewed_once(shop, first)


@pytest.mark.parametrize("fault", GATEWAY_FAULTS, ids=str)
def test_a_renewal_whose_gateway_fails_is_recovered_with_one_charge(world, monkeypatch, fault):
    shop = open_shop(world)
    first = subscribed(shop)
    began = due_now(shop, first)
    hit = fault.install(monkeypatch)
    summary = _run_expecting(fault)
    assert len(hit) == 1
    if fault.error is Crash:
        assert summary is None
    else:
        assert summary is not None and summary["renewed"] == 1, summary
        assert summary["pending"] + summary["failed"] == 1, summary
    assert_renewal_pending(shop, charged=fault.charged)
    assert_left_alone_then_recovered(shop, began, lambda: assert_renewal_pending(shop, charged=fault.charged))
    assert_renewed_once(shop, first)
    book = ledger(shop)
    assert [r["key"] for r in book.charges[book.invoice(purpose="renewal").invoice_id]] == [hit[0]]


def test_a_run_that_dies_midway_is_finished_by_the_next_without_a_second_charge(world, monkeypatch):
    """Two subscriptions due; the run dies right after charging the first. The next run, at the same
    moment, renews the second and leaves the first's charge alone; a run a minute later writes it."""
    shop = open_shop(world)
    one = subscribed(shop)
    two = subscribed(shop)
    began = due_now(shop, two)
    hit = GATEWAY_FAULTS[4].install(monkeypatch)  # crash after charging
    with pytest.raises(Crash):
        run_job()
    assert len(hit) == 1
    summary = run_job()
    assert summary["renewed"] == 1 and summary["charges_recovered"] == 0, summary
    world.clock.now = began + RECOVER_AFTER + 1
    summary = run_job()
    assert summary["charges_recovered"] == 1 and summary["renewed"] == 0, summary
    book = ledger(shop)
    assert_consistent(book)
    assert len(book.subscriptions) == 2 and all(i.state == "paid" for i in book.invoices)
    assert len(book.invoices) == 4 and book.charged == 4
    for created in (one, two):
        mine = [i for i in book.invoices if i.subscription_id == created["subscription_id"]]
        assert sorted(i.purpose for i in mine) == ["first", "renewal"]


def test_a_run_that_dies_after_recording_changes_nothing_more_when_run_again(world, monkeypatch):
    shop = open_shop(world)
    first = subscribed(shop)
    due_now(shop, first)

    def die(hour: str) -> None:
        raise Crash()

    with monkeypatch.context() as patched:
        patched.setattr(repository, "renewal_mark_put", die)
        with pytest.raises(Crash):
            run_job()
    assert_renewed_once(shop, first)
    summary = run_job()
    assert summary["renewed"] == 0 and summary["charges_recovered"] == 0, summary
    assert_renewed_once(shop, first)


# ----------------------------------------------------------------- a dunning retry (the job)


def in_dunning(shop: Shop) -> tuple[dict, Invoice]:
    """A subscription whose renewal was declined, and the customer's card then replaced by one that
    works: the next retry is due."""
    first = subscribed(shop)
    due_now(shop, first)
    shop.card(DECLINED_CARD)
    summary = run_job()
    assert summary["renewed"] == 1 and summary["declined"] == 1, summary
    book = ledger(shop)
    failed = book.invoice(state="failed")
    dunning = book.subscription().dunning
    assert dunning is not None and dunning.attempt == 1 and dunning.invoice_id == failed.invoice_id
    shop.card(GOOD_CARD)
    shop.world.clock.now = epoch(dunning.next_retry_at) + 30
    return first, failed


RETRY_STEPS = (
    Step("renewal mark read", "GetItem", "JOB", "before"),
    Step("due work query", "Query", "DUE", "before"),
    Step("account read", "GetItem", "ACCOUNT", "before"),
    Step("failed invoice read", "GetItem", "INV", "before"),
    Step("retry claim and pending invoice write", "TransactWriteItems", "", "before"),
    Step("payment method read for the charge", "GetItem", "PM", "uncharged"),
    Step("the gateway's own write (it fails before charging)", "PutItem", "GATEWAY", "uncharged"),
    Step("outcome write", "TransactWriteItems", "", "charged", nth=2),
    Step("renewal mark write", "PutItem", "JOB", "done"),
)


def test_every_call_of_a_retry_is_in_the_sweep(world):
    shop = open_shop(world)
    in_dunning(shop)
    with recording() as calls:
        assert run_job()["retried"] == 1
    swept = {(s.operation, s.kind) for s in RETRY_STEPS}
    assert {c for c in calls if c not in swept} == set()


def assert_retry_pending(shop: Shop, failed: Invoice, *, charged: bool) -> None:
    book = ledger(shop)
    assert_consistent(book)
    invoice = next(i for i in book.invoices if i.invoice_id == failed.invoice_id)
    assert invoice.state == "pending" and book.succeeded(failed.invoice_id) == (1 if charged else 0)
    subscription = book.subscription()
    assert subscription.state == "active" and subscription.dunning is not None  # still owed


def assert_retried_once(shop: Shop, failed: Invoice) -> None:
    book = ledger(shop)
    assert_consistent(book)
    invoice = next(i for i in book.invoices if i.invoice_id == failed.invoice_id)
    assert invoice.state == "paid"
    records = sorted(book.charges[failed.invoice_id], key=lambda r: r["key"])
    assert [(r["key"].split(":")[1], r["status"]) for r in records] == [("0", "declined"), ("1", "succeeded")]
    assert [t.state for t in invoice.transactions] == ["declined", "succeeded"]
    subscription = book.subscription()
    assert subscription.state == "active" and subscription.dunning is None
    assert subscription.due_action == "renew" and subscription.due_at == subscription.current_period_end
    assert len(book.invoices) == 2 and book.charged == 2
    events = shop.timeline()
    assert events["invoice.failed"] == 1 and events["invoice.paid"] == 2, events


@pytest.mark.parametrize("step", RETRY_STEPS, ids=str)
def test_a_retry_with_a_failing_call_is_finished_by_the_next_runs(world, step):
    shop = open_shop(world)
    _, failed_invoice = in_dunning(shop)
    began = world.clock.now
    _, error = ERRORS[RETRY_STEPS.index(step) % len(ERRORS)]
    with failing(step, error) as failed:
        summary = _run_expecting(step)
    assert failed == [step.name], f"the run never made the call {step}"
    if summary is not None and step.phase != "done":
        assert summary["pending" if step.kind == "GATEWAY" else "failed"] == 1, summary

    if step.phase == "before":
        book = ledger(shop)
        invoice = next(i for i in book.invoices if i.invoice_id == failed_invoice.invoice_id)
        assert invoice.state == "failed" and book.succeeded(invoice.invoice_id) == 0
        assert book.subscription().dunning.attempt == 1
        summary = run_job()
        assert summary["retried"] == 1 and summary["paid"] == 1, summary
    elif step.phase != "done":
        charged = step.phase == "charged"
        assert_retry_pending(shop, failed_invoice, charged=charged)
        assert_left_alone_then_recovered(
            shop, began, lambda: assert_retry_pending(shop, failed_invoice, charged=charged)
        )
    assert_retried_once(shop, failed_invoice)
    world.clock.advance(3600)
    run_job()
    assert_retried_once(shop, failed_invoice)


@pytest.mark.parametrize("fault", GATEWAY_FAULTS, ids=str)
def test_a_retry_whose_gateway_fails_is_recovered_with_one_charge(world, monkeypatch, fault):
    shop = open_shop(world)
    _, failed_invoice = in_dunning(shop)
    began = world.clock.now
    hit = fault.install(monkeypatch)
    summary = _run_expecting(fault)
    assert hit == [f"{failed_invoice.invoice_id}:1"]
    if summary is not None:
        assert summary["retried"] == 1 and summary["pending"] + summary["failed"] == 1, summary
    assert_retry_pending(shop, failed_invoice, charged=fault.charged)
    assert_left_alone_then_recovered(
        shop, began, lambda: assert_retry_pending(shop, failed_invoice, charged=fault.charged)
    )
    assert_retried_once(shop, failed_invoice)


# ----------------------------------------------------------------- declined charges


def test_a_declined_first_charge_is_recorded_once_and_never_retried(world):
    shop = open_shop(world, card=DECLINED_CARD, coupon=True)
    answer = shop.create(key="order-1", coupon=True)
    assert answer.status == 402 and answer.body["code"] == "payment_declined"
    book = ledger(shop)
    assert_consistent(book)
    assert book.subscriptions == []
    invoice = book.invoice()
    assert invoice.state == "failed" and [t.state for t in invoice.transactions] == ["declined"]
    assert [r["status"] for r in book.charges[invoice.invoice_id]] == ["declined"]
    assert shop.coupon_redemptions() == 0  # given back
    shown = shop.get(f"/invoices/{invoice.invoice_id}")
    assert shown.body["state"] == "failed" and [t["state"] for t in shown.body["transactions"]] == ["declined"]
    for seconds in (0, RECOVER_AFTER + 1, 3600, 86400, 3 * 86400):
        world.clock.now = epoch(invoice.created_at) + seconds
        run_job()
    book = ledger(shop)
    assert len(book.charges[invoice.invoice_id]) == 1 and book.subscriptions == []
    assert book.invoice().state == "failed"


def test_a_declined_renewal_is_retried_only_on_the_dunning_schedule(world, outbox):
    """Declined at renewal, then retried 1, 3 and 5 days after the first failure (one attempt
    each, each declined and emailed), and expired after the last."""
    shop = open_shop(world)
    first = subscribed(shop)
    due_now(shop, first)
    shop.card(DECLINED_CARD)
    summary = run_job()
    assert summary["declined"] == 1, summary
    book = ledger(shop)
    renewal = book.invoice(purpose="renewal")
    failed_at = epoch(book.subscription().dunning.first_failed_at)

    def attempts() -> list[str]:
        return sorted(r["key"].split(":")[1] for r in ledger(shop).charges[renewal.invoice_id])

    schedule = {1: 1, 2: 3, 3: 5}  # attempt -> days after the first failure
    for attempt, days in schedule.items():
        for early in (0, 3600, days * 86400 - 3600):  # not yet: nothing charged
            if failed_at + early <= world.clock.now:
                continue
            world.clock.now = failed_at + early
            run_job()
            assert len(attempts()) == attempt, f"attempt {attempt + 1} made {early} s after the failure"
        world.clock.now = failed_at + days * 86400 + 60
        summary = run_job()
        assert summary["retried"] == 1 and summary["declined"] == 1, summary
        assert attempts() == [str(n) for n in range(attempt + 1)]
        subscription = ledger(shop).subscription()
        if attempt < len(schedule):
            assert subscription.state == "active" and subscription.dunning.attempt == attempt + 1
            assert epoch(subscription.dunning.next_retry_at) == failed_at + schedule[attempt + 1] * 86400
        else:
            assert subscription.state == "expired" and subscription.dunning is None
        summary = run_job()  # the same moment again: nothing more
        assert summary["retried"] == 0 and len(attempts()) == attempt + 1, summary
    book = ledger(shop)
    assert_consistent(book)
    assert book.invoice(purpose="renewal").state == "failed"
    assert [t.state for t in book.invoice(purpose="renewal").transactions] == ["declined"] * 4
    assert len(outbox(shop.customer_email)) == 4  # one email per declined charge
    world.clock.advance(40 * 86400)
    run_job()
    assert len(attempts()) == 4 and ledger(shop).charged == 1  # the first invoice's, only
