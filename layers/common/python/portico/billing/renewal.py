"""What the hourly ``subscription-renewal`` job does.

Every subscription says what it waits for next and when (``due_action``, ``due_at``), and is
indexed under that hour; so is an invoice whose charge began but whose outcome was never written
(``charging_since``). The job reads the hours from ``LOOKBACK_HOURS`` ago up to now -- only what is
due, never the table -- and for each:

* ``renew`` (active, at the period's end): a new period with its invoice, charged;
* ``trial_end`` (trialing): the first paid period, anchored at the trial's end, charged;
* ``retry`` (active in dunning): the failed invoice charged again, as the next attempt;
* ``expire`` (cancelled, at ``ends_at``): expired;
* ``resume`` (paused, at ``resume_at``): resumed, with a new period and its charge;
* a pending invoice left for a minute: the gateway asked for the charge made with its key, and the
  outcome written (creating the subscription of a first charge that succeeded); a charge never
  made is made then, with the same key.

Each step is a write conditional on the version read, so running the job twice for the same moment
changes nothing more, and two runs at once do each step once. A step that fails is reported and
left due: the next run tries again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portico import clock
from portico.accounts import repository as accounts
from portico.accounts.records import Account
from portico.billing import customers, invoices, periods, repository, subscriptions
from portico.billing.records import Invoice, Subscription
from portico.observability import logger, metrics

LOOKBACK_HOURS = 48
READERS = 8
"""Hour buckets read at once (most of them empty, one round trip each)."""
CATCH_UP_DAYS = 90
"""How far back a run reads after the schedule stopped (its mark is older than the lookback)."""
MAX_STEPS = 36
"""Steps one subscription may take in one run (three years of monthly renewals); one still due after
them keeps its hour marked, and the next run goes on."""
HOUR = "%Y-%m-%dT%H"
RECOVER_AFTER_SECONDS = 60
SYSTEM = {"type": "system"}


@dataclass
class Summary:
    job: str = "subscription-renewal"
    run_at: str = ""
    items_read: int = 0
    renewed: int = 0
    trials_ended: int = 0
    retried: int = 0
    expired: int = 0
    resumed: int = 0
    charges_recovered: int = 0
    paid: int = 0
    declined: int = 0
    pending: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def run() -> dict[str, Any]:
    now = clock.now()
    summary = Summary(run_at=clock.iso(now))
    until = clock.iso(now)
    hours = _hours(now, repository.renewal_mark())
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        due = list(pool.map(lambda hour: repository.due(hour, until), hours))
    accounts_seen: dict[str, Account | None] = {}
    left: list[str] = []  # hours still holding work after this run
    for hour, bucket in zip(hours, due, strict=True):
        for item in bucket:
            summary.items_read += 1
            account_id = item.account_id
            if account_id not in accounts_seen:
                accounts_seen[account_id] = accounts.get_account(account_id)
            account = accounts_seen[account_id]
            before = (summary.failed, summary.pending)
            try:
                if account is None:
                    summary.skipped += 1
                elif isinstance(item, Invoice):
                    _recover(account, item, now, summary)
                else:
                    _catch_up(account, item, now, summary)
            except subscriptions.Conflict:  # changed meanwhile (another run, a person): left for the next run
                logger.info("renewal step met a concurrent change", extra={"account_id": account_id})
                summary.pending += 1
            except Exception as exc:  # one item's failure must not stop the others
                logger.exception("renewal step failed")
                summary.failed += 1
                ident = item.invoice_id if isinstance(item, Invoice) else item.subscription_id
                summary.failures.append({"id": ident, "error": type(exc).__name__})
            if (summary.failed, summary.pending) != before:
                left.append(hour)
    repository.renewal_mark_put(min(left, default=hours[-1]))
    metrics.add_metric(name="SubscriptionsRenewed", unit="Count", value=summary.renewed)
    if summary.failed:
        logger.error("subscription-renewal: some work failed", extra={"failed": summary.failed})
    return asdict(summary)


def _hours(now: datetime, mark: str | None) -> list[str]:
    """The hour buckets to read: the last ``LOOKBACK_HOURS``, and back to the mark the previous run
    left (the earliest hour it left work in, or its own hour) when that is older -- after an outage
    of the schedule, nothing due is skipped -- but never more than ``CATCH_UP_DAYS``."""
    start = now - timedelta(hours=LOOKBACK_HOURS)
    if mark is not None:
        marked = datetime.strptime(mark, HOUR).replace(tzinfo=now.tzinfo)
        start = max(min(start, marked), now - timedelta(days=CATCH_UP_DAYS))
    start = start.replace(minute=0, second=0, microsecond=0)
    count = int((now - start).total_seconds() // 3600)
    return [(start + timedelta(hours=n)).strftime(HOUR) for n in range(count + 1)]


def _catch_up(account: Account, subscription: Subscription, now: datetime, summary: Summary) -> None:
    """Step the subscription while it is due: a schedule that stopped for longer than a period
    leaves several renewals to make, each its own invoice."""
    current: Subscription | None = subscription
    for _ in range(MAX_STEPS):
        if current is None or current.due_at is None or _at(current.due_at) > now:
            return
        current = _step(account, current, now, summary)
    if current is not None and current.due_at is not None and _at(current.due_at) <= now:
        summary.pending += 1  # still due after MAX_STEPS: its hour stays marked for the next run


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _outcome(summary: Summary, after: Subscription | None, invoice: Invoice | None) -> None:
    if after is None or invoice is None:
        summary.pending += 1
    elif after.dunning is None and after.state != "expired":
        summary.paid += 1
    else:
        summary.declined += 1


def _step(account: Account, subscription: Subscription, now: datetime, summary: Summary) -> Subscription | None:
    """One due step; the subscription after it, or None when there is nothing more to do now."""
    action = subscription.due_action
    if action in ("expire", "resume"):
        verb: subscriptions.Action = "expire" if action == "expire" else "resume"
        try:
            after = subscriptions.act(
                account,
                subscription.subscription_id,
                verb,
                source="system",
                actor=SYSTEM,
                effective=min(_at(str(subscription.due_at)), clock.now()),  # when it was due, not when run
            )
        except subscriptions.InvalidTransition:
            summary.skipped += 1  # another run, or a person, got there first
            return None
        if action == "expire":
            summary.expired += 1
        else:
            summary.resumed += 1
        return after
    if action in ("renew", "trial_end"):
        return _new_period(account, subscription, summary, trial=action == "trial_end")
    if action == "retry":
        return _retry(account, subscription, summary)
    summary.skipped += 1
    return None


def _new_period(account: Account, subscription: Subscription, summary: Summary, *, trial: bool) -> Subscription | None:
    """Start the next period (the first paid one after a trial) and charge it."""
    start = _at(subscription.current_period_end if not trial else str(subscription.trial_end))
    plan = subscription.plan
    anchor = start if trial else _at(subscription.anchor_at)
    end = periods.period_end(start, plan.interval_unit, plan.interval_count, anchor=anchor, tz=account.timezone)
    after = dataclasses.replace(
        subscription,
        state="active",
        anchor_at=clock.iso(anchor),
        current_period_start=clock.iso(start),
        current_period_end=clock.iso(end),
        due_at=clock.iso(end),
        due_action="renew",
        version=subscription.version + 1,
    )
    invoice = invoices.build(
        account,
        after,
        period_start=after.current_period_start,
        period_end=after.current_period_end,
        purpose="trial_end" if trial else "renewal",
        first=trial,
    )
    kind = "subscription.trial_ended" if trial else "subscription.renewed"
    event = customers.event_op(
        subscription,
        "system",
        SYSTEM,
        kind,
        {"subscription_id": subscription.subscription_id, "invoice_id": invoice.invoice_id},
    )
    ops = [
        repository.subscription_put_op(after, seen=subscription.version),
        repository.invoice_put_op(invoice, seen=None),
        event,
    ]
    if not repository.write(ops):
        summary.skipped += 1  # another run got there first
        return None
    if trial:
        summary.trials_ended += 1
    else:
        summary.renewed += 1
    result = invoices.charge(invoice)
    settled = subscriptions.record_charge(account, after, invoice, result) if result else None
    _outcome(summary, settled, invoice if result else None)
    return settled


def _retry(account: Account, subscription: Subscription, summary: Summary) -> Subscription | None:
    """Charge the invoice in dunning again, as its next attempt."""
    if subscription.dunning is None:
        summary.skipped += 1
        return None
    invoice = repository.invoice_get(account.account_id, subscription.dunning.invoice_id)
    if invoice is None or invoice.state != "failed":
        summary.skipped += 1
        return None
    again = invoices.retried(invoice, subscription.payment_method_id)
    # moving the subscription's version claims this retry: a second run finds it taken
    claimed = dataclasses.replace(subscription, due_at=None, due_action="retrying", version=subscription.version + 1)
    ops = [
        repository.invoice_put_op(again, seen=invoice.version),
        repository.subscription_put_op(claimed, seen=subscription.version),
    ]
    if not repository.write(ops):
        summary.skipped += 1
        return None
    summary.retried += 1
    result = invoices.charge(again)
    settled = subscriptions.record_charge(account, claimed, again, result) if result else None
    _outcome(summary, settled, again if result else None)
    return settled


def _recover(account: Account, invoice: Invoice, now: datetime, summary: Summary) -> None:
    """Ask the gateway again about a charge whose outcome was never written."""
    if invoice.state != "pending" or invoice.charging_since is None:
        summary.skipped += 1
        return
    if (now - _at(invoice.charging_since)).total_seconds() < RECOVER_AFTER_SECONDS:
        summary.skipped += 1  # its request may still be waiting for the answer
        return
    result = invoices.recovered(invoice)
    if result is None:
        summary.pending += 1
        return
    summary.charges_recovered += 1
    if invoice.pending_subscription is not None:
        with contextlib.suppress(invoices.PaymentDeclined):  # declined: no subscription, the invoice kept
            subscriptions.settle_first(invoice, result, source="system", actor=SYSTEM)
        summary.paid += result.status == "succeeded"
        summary.declined += result.status != "succeeded"
        return
    subscription = repository.subscription_get(account.account_id, invoice.subscription_id)
    if subscription is None:
        summary.skipped += 1
        return
    settled = subscriptions.record_charge(account, subscription, invoice, result)
    _outcome(summary, settled, invoice)
