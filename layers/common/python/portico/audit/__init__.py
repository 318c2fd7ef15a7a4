"""The audit log: append-only records of who did what to whom, when and from where.

Records are written in the same transaction as the change they describe (:func:`records` gives
the writes to include), so an action and its record exist together or not at all. No code path
updates or deletes them; DynamoDB TTL is not set on them. Each record is written under every
account it concerns: a login event of a user in two accounts appears in both accounts' logs.

A login may belong to hundreds of accounts, and a transaction holds at most 100 items, so the
transaction carries the records of the first ``INLINE_ACCOUNTS`` accounts and, when there are
more, one *fan-out marker* holding the record and the remaining account ids. After the commit,
:func:`fan_out` copies the record into those accounts in batches and deletes the marker; if that
fails (an outage right after the commit), the marker stays and the ``audit-fanout`` job finishes
it. Either way no record is lost, and a copy written twice is the same item (the key is the
record's own time and id).

One exception keeps the log true rather than merely append-only: a change that is undone because
its email could not be sent (an invitation during an SES outage) takes its record back with it
(:func:`withdraw_ops`), since what the record describes never happened.

Reading the log (``GET /accounts/{a}/audit-log``) is :mod:`portico.audit.log`, so that the many
routes that only write records do not load its models. Storage is :mod:`portico.audit.repository`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from portico import clock, ids
from portico.audit import repository
from portico.keys import Write
from portico.observability import logger, metrics

INLINE_ACCOUNTS = 10


@dataclass(frozen=True)
class Actor:
    type: str  # "user", "customer", "system", "anonymous"
    id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Event:
    action: str  # e.g. "login.succeeded", "login.failed", "login.locked", "password.changed"
    actor: Actor
    target: dict[str, Any] | None = None
    ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Records:
    """The writes that record events: ``ops`` for the transaction of the change, and the fan-outs
    to finish after it committed."""

    ops: list[Write] = field(default_factory=list)
    fanouts: list[repository.Fanout] = field(default_factory=list)

    def __add__(self, other: Records) -> Records:
        return Records([*self.ops, *other.ops], [*self.fanouts, *other.fanouts])


def _entry(event: Event) -> repository.Entry:
    moment = clock.now()
    event_id = ids.new_sortable_id("evt", moment.timestamp())  # ties within a microsecond keep their order
    return repository.Entry(
        ordered=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # records within one second keep their order
        event_id=event_id,
        record={
            "event_id": event_id,
            "at": clock.iso(moment),
            "action": event.action,
            "actor": {k: v for k, v in vars(event.actor).items() if v is not None},
            "target": event.target,
            "ip": event.ip,
            "details": event.details or None,
        },
    )


def records(event: Event, account_ids: Iterable[str]) -> Records:
    """The writes that record ``event`` in each account, for the transaction of the change: the
    records of the first accounts, and a fan-out marker for the rest (see :func:`fan_out`)."""
    entry = _entry(event)
    unique = list(dict.fromkeys(account_ids))
    ops = [repository.put_op(entry, account_id) for account_id in unique[:INLINE_ACCOUNTS]]
    fanouts = []
    if unique[INLINE_ACCOUNTS:]:
        fanout = repository.Fanout(entry, tuple(unique[INLINE_ACCOUNTS:]))
        ops.append(repository.fanout_put_op(fanout))
        fanouts.append(fanout)
    return Records(ops, fanouts)


def fan_out(written: Records) -> None:
    """After the transaction that wrote ``written`` committed: copy each fan-out's record into its
    accounts, then delete its marker. A failure leaves the marker for the ``audit-fanout`` job."""
    for fanout in written.fanouts:
        try:
            repository.complete(fanout)
        except Exception:
            logger.exception("audit fan-out left to the job")
            metrics.add_metric(name="AuditFanoutDeferred", unit="Count", value=1)


def record(event: Event, account_ids: Iterable[str]) -> None:
    record_all([event], account_ids)


def record_all(events: list[Event], account_ids: Iterable[str]) -> None:
    """Records that go with no change of state (refusals, failures): written in batches, so their
    number is not bounded by a transaction; nothing to do for a user without accounts."""
    accounts = list(dict.fromkeys(account_ids))
    repository.put_all([(_entry(event), a) for event in events for a in accounts])


def withdraw_ops(written: Records) -> list[Write]:
    """Delete the records ``written`` holds, for a change that was undone as a whole."""
    return repository.withdraw_ops(written.ops)


def finish_pending(older_than_seconds: int) -> tuple[int, int, list[dict[str, str]]]:
    """Finish the fan-outs a request left behind (the ``audit-fanout`` job): how many markers,
    how many copies written, and what failed."""
    before = clock.iso_epoch(clock.timestamp() - older_than_seconds).replace("Z", "")
    markers = written = 0
    failures: list[dict[str, str]] = []
    for fanout in repository.pending(before):
        markers += 1
        try:
            written += repository.complete(fanout)
        except Exception as exc:  # one marker's failure must not stop the others
            failures.append({"event_id": fanout.entry.event_id, "error": type(exc).__name__})
    return markers, written, failures
