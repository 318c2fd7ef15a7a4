"""The audit log: append-only records of who did what to whom, when and from where.

Records are written in the same transaction as the change they describe (``put_ops``), so an
action and its record exist together or not at all. No code path updates or deletes them; DynamoDB
TTL is not set on them. Each record is written under every account it concerns: a login event of
a user in two accounts appears in both accounts' logs.

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


def put_ops(event: Event, account_ids: list[str]) -> list[dict]:
    moment = clock.now()
    at = clock.iso(moment)
    ordered = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # records within one second keep their order
    event_id = ids.new_id("evt")
    record = {
        "event_id": event_id,
        "at": at,
        "action": event.action,
        "actor": {k: v for k, v in vars(event.actor).items() if v is not None},
        "target": event.target,
        "ip": event.ip,
        "details": event.details or None,
    }
    return [
        store.put_op(
            {**keys.audit(account_id, ordered, event_id), "account_id": account_id, **record},
            condition="attribute_not_exists(pk)",
        )
        for account_id in account_ids
    ]


def record(event: Event, account_ids: list[str]) -> None:
    ops = put_ops(event, account_ids)
    if ops:
        store.transact(ops)


def record_all(events: list[Event], account_ids: list[str]) -> None:
    """Several records in one transaction; nothing to do for a user without accounts."""
    ops = [op for event in events for op in put_ops(event, account_ids)]
    if ops:
        store.transact(ops)


def withdraw_ops(ops: list[dict]) -> list[dict]:
    """Delete the records ``put_ops`` wrote, for a change that was undone as a whole."""
    return [store.delete_op(store.deserialize({k: op["Put"]["Item"][k] for k in ("pk", "sk")})) for op in ops]
