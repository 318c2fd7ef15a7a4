"""The audit log: append-only records of who did what to whom, when and from where.

Records are written in the same transaction as the change they describe (``put_ops``), so an
action and its record exist together or not at all. No code path updates or deletes them; DynamoDB
TTL is not set on them. Each record is written under every account it concerns: a login event of
a user in two accounts appears in both accounts' logs.

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

Reading the log (``GET /accounts/{a}/audit-log``) is :mod:`portico.audit_log`, so that the many
routes that only write records do not load its models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portico import clock, ids, keys, store
from portico.observability import logger, metrics


@dataclass(frozen=True)
class Actor:
    type: str  # "user", "system", "anonymous"
    id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Event:
    action: str  # e.g. "login.succeeded", "login.failed", "login.locked", "password.changed"
    actor: Actor
    target: dict[str, Any] | None = None
    ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def actor_of(credential: dict[str, Any]) -> Actor:
    """The user a login credential belongs to, as an audit actor."""
    return Actor("user", str(credential["user_id"]), str(credential["email"]))


def accounts_of(credential: dict[str, Any]) -> list[str]:
    """The accounts whose logs record what happens to a login."""
    return [str(a) for a in credential.get("account_ids") or []]


INLINE_ACCOUNTS = 10
FANOUT = "AUDIT_FANOUT"


def _record(event: Event) -> tuple[str, str, dict[str, Any]]:
    moment = clock.now()
    ordered = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # records within one second keep their order
    event_id = ids.new_id("evt")
    record = {
        "event_id": event_id,
        "at": clock.iso(moment),
        "action": event.action,
        "actor": {k: v for k, v in vars(event.actor).items() if v is not None},
        "target": event.target,
        "ip": event.ip,
        "details": event.details or None,
    }
    return ordered, event_id, record


def _copy(account_id: str, ordered: str, event_id: str, record: dict[str, Any]) -> dict[str, Any]:
    return {**keys.audit(account_id, ordered, event_id), "account_id": account_id, **record}


def put_ops(event: Event, account_ids: list[str]) -> list[dict]:
    """The writes that record ``event`` in each account, for the transaction of the change: the
    records of the first accounts, and a fan-out marker for the rest (see :func:`fan_out`)."""
    ordered, event_id, record = _record(event)
    unique = list(dict.fromkeys(account_ids))
    ops = [
        store.put_op(_copy(account_id, ordered, event_id, record), condition="attribute_not_exists(pk)")
        for account_id in unique[:INLINE_ACCOUNTS]
    ]
    rest = unique[INLINE_ACCOUNTS:]
    if rest:
        ops.append(
            store.put_op(
                {
                    **keys.audit_fanout(event_id),
                    **keys.audit_fanout_index(ordered, event_id),
                    "ordered": ordered,
                    "record": record,
                    "account_ids": rest,
                },
                condition="attribute_not_exists(pk)",
            )
        )
    return ops


def fan_out(ops: list[dict]) -> None:
    """After the transaction that wrote ``ops`` committed: copy each marker's record into its
    accounts, then delete the marker. A failure leaves the marker for the ``audit-fanout`` job."""
    for op in ops:
        item = op.get("Put", {}).get("Item", {})
        if item.get("sk", {}).get("S") != FANOUT:
            continue
        try:
            complete(store.deserialize(item))
        except Exception:
            logger.exception("audit fan-out left to the job")
            metrics.add_metric(name="AuditFanoutDeferred", unit="Count", value=1)


def complete(marker: dict[str, Any]) -> int:
    """Write a marker's copies (idempotent) and delete it; the number of copies written."""
    record = store.plain(marker["record"])
    accounts = [str(a) for a in marker["account_ids"]]
    ordered, event_id = str(marker["ordered"]), str(record["event_id"])
    store.batch_put([_copy(a, ordered, event_id, record) for a in accounts])
    store.transact([store.delete_op(keys.audit_fanout(event_id))])
    return len(accounts)


def record(event: Event, account_ids: list[str]) -> None:
    record_all([event], account_ids)


def record_all(events: list[Event], account_ids: list[str]) -> None:
    """Records that go with no change of state (refusals, failures): written in batches, so
    their number is not bounded by a transaction; nothing to do for a user without accounts."""
    items = []
    for event in events:
        ordered, event_id, record = _record(event)
        items.extend(_copy(a, ordered, event_id, record) for a in dict.fromkeys(account_ids))
    if items:
        store.batch_put(items)


def withdraw_ops(ops: list[dict]) -> list[dict]:
    """Delete the records ``put_ops`` wrote, for a change that was undone as a whole."""
    return [store.delete_op(store.deserialize({k: op["Put"]["Item"][k] for k in ("pk", "sk")})) for op in ops]
