"""Storage of audit records and fan-out markers: the only module of :mod:`portico.audit` that
talks to the table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from portico import keys, pages, store
from portico.keys import Write

FANOUT = "AUDIT_FANOUT"


@dataclass(frozen=True)
class Entry:
    """One record as it is stored under each account it concerns."""

    ordered: str  # its time to the microsecond: the sort key, with the id
    event_id: str
    record: dict[str, Any]

    def item(self, account_id: str) -> dict[str, Any]:
        actor = self.record.get("actor") or {}
        target = self.record.get("target") or {}
        index = keys.audit_user_index(
            str(actor["id"]) if actor.get("type") == "user" and actor.get("id") else None,
            str(target["user_id"]) if isinstance(target, dict) and target.get("user_id") else None,
            self.ordered,
            self.event_id,
        )
        return {
            **keys.audit(account_id, self.ordered, self.event_id),
            **index,
            "account_id": account_id,
            **self.record,
        }


@dataclass(frozen=True)
class Fanout:
    entry: Entry
    account_ids: tuple[str, ...]


def put_op(entry: Entry, account_id: str) -> Write:
    return store.put_op(entry.item(account_id), condition="attribute_not_exists(pk)")


def fanout_put_op(fanout: Fanout) -> Write:
    entry = fanout.entry
    return store.put_op(
        {
            **keys.audit_fanout(entry.event_id),
            **keys.audit_fanout_index(entry.ordered, entry.event_id),
            "ordered": entry.ordered,
            "record": entry.record,
            "account_ids": list(fanout.account_ids),
        },
        condition="attribute_not_exists(pk)",
    )


def put_all(entries: list[tuple[Entry, str]]) -> None:
    """Unconditional copies in batches (each key is the record's own, so a repeat is the same item)."""
    store.batch_put([entry.item(account_id) for entry, account_id in entries])


def complete(fanout: Fanout) -> int:
    """Write a fan-out's copies (idempotent) and delete its marker; the number of copies written."""
    put_all([(fanout.entry, a) for a in fanout.account_ids])
    store.transact([store.delete_op(keys.audit_fanout(fanout.entry.event_id))])
    return len(fanout.account_ids)


def pending(before: str) -> Iterator[Fanout]:
    """The markers written before ``before``, oldest first (their own index: no scan)."""
    for item in store.query_all(keys.audit_fanouts_before(before)):
        # the record as stored (its numbers stay Decimals, which is what its copies are written as)
        entry = Entry(str(item["ordered"]), str(item["record"]["event_id"]), item["record"])
        yield Fanout(entry, tuple(str(a) for a in item["account_ids"]))


def withdraw_ops(ops: list[Write]) -> list[Write]:
    """Deletes of what ``ops`` put (records and markers)."""
    return [store.delete_op(store.deserialize({k: op["Put"]["Item"][k] for k in ("pk", "sk")})) for op in ops]


def of_user(user_id: str) -> list[dict[str, Any]]:
    """Every record done by or about ``user_id``, once each (a record is kept in every account it
    concerns: the copies are one event), oldest first."""
    found: dict[str, dict[str, Any]] = {}
    for listing in (keys.audit_by_user(user_id), keys.audit_about_user(user_id)):
        for item in store.query_all(listing):
            record = store.plain(item)
            seen = found.setdefault(str(record["event_id"]), {**record, "account_ids": []})
            seen["account_ids"].append(str(record["account_id"]))
    return sorted(found.values(), key=lambda r: (str(r["at"]), str(r["event_id"])))


def page(account_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of an account's records, newest first, from ``cursor`` (which must continue this
    account's log)."""
    listing = keys.audit_of(account_id)
    start = pages.decode_cursor(cursor, listing) if cursor is not None else None
    items, last = store.query(listing, limit=limit, forward=False, start=start)
    return [store.plain(i) for i in items], last
