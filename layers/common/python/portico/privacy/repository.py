"""Storage of consents and privacy requests: the only module of :mod:`portico.privacy` that talks
to the table.

* A consent is one item per acceptance (``USER#<id>`` / ``CONSENT#<time>``): the newest is the one
  in force, the others are its history (the export lists them all).
* A request lives under its person (``USER#<id>`` / ``PRIVACY#<request id>``), which holds its
  state; a deletion or restriction request is also *listed* in each account the person belonged
  to when filing it (``ACCOUNT#<a>`` / ``PRIVACY#<request id>``, ids only, no personal data), which
  is how those accounts' admins find it.
* At most one deletion and one restriction request of a person is pending: a guard item
  (``PRIVACY_PENDING#<type>``) is put with ``attribute_not_exists`` in the transaction that files
  the request and deleted in the one that resolves it.
* Resolving is conditional on the request still being pending: two admins resolving at once get
  one resolution and one ``409``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico import audit, keys, pages, store
from portico.keys import Write
from portico.records import Record


@dataclass(frozen=True, kw_only=True)
class PrivacyRequest(Record):
    request_id: str
    user_id: str
    type: str  # export, deletion, restriction
    status: str = "pending"
    created_at: str
    email: str = ""  # the person as they were when filing (the admins' list shows it)
    name: str = ""
    reason: str | None = None
    account_ids: tuple[str, ...] = ()
    resolved_at: str | None = None
    resolved_by: str | None = None
    comment: str | None = None

    def item(self) -> dict[str, Any]:
        return {**keys.privacy_request(self.user_id, self.request_id), **self.to_item()}


@dataclass(frozen=True)
class ConsentRecord:
    version: str
    accepted_at: str
    ip: str | None = None


class AlreadyPending(Exception):
    """A request of this type is pending; ``request_id`` is that one."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


# ----------------------------------------------------------------- consents


def consent_op(user_id: str, consent: ConsentRecord) -> Write:
    item = {
        **keys.consent(user_id, consent.accepted_at),
        "version": consent.version,
        "accepted_at": consent.accepted_at,
    }
    if consent.ip:
        item["ip"] = consent.ip
    return store.put_op(item)


def latest_consent(user_id: str) -> ConsentRecord | None:
    items, _ = store.query(keys.consents_of(user_id), limit=1, forward=False)
    return _consent(items[0]) if items else None


def consents(user_id: str) -> list[ConsentRecord]:
    return [_consent(i) for i in store.query_all(keys.consents_of(user_id))]


def _consent(item: dict[str, Any]) -> ConsentRecord:
    return ConsentRecord(str(item["version"]), str(item["accepted_at"]), item.get("ip"))


# ----------------------------------------------------------------- requests


def _from(item: dict[str, Any]) -> PrivacyRequest:
    return PrivacyRequest.from_item(store.plain(item))


def file(request: PrivacyRequest, records: audit.Records) -> None:
    """Store a new deletion or restriction request with its guard and its listings, all or nothing
    (:class:`AlreadyPending` when one of its type is pending)."""
    guard = keys.pending_privacy_request(request.user_id, request.type)
    ops = [
        store.put_op({**guard, "request_id": request.request_id}, condition="attribute_not_exists(pk)"),
        store.put_op(request.item(), condition="attribute_not_exists(pk)"),
        *(
            store.put_op({**keys.account_privacy_request(a, request.request_id), "user_id": request.user_id})
            for a in request.account_ids
        ),
        *records.ops,
    ]
    try:
        store.transact(ops)
    except store.TransactionFailed as failed:
        if failed.failed(0):
            current = store.get(guard, consistent=True)
            if current:
                raise AlreadyPending(str(current["request_id"])) from None
        raise


def put_export(request: PrivacyRequest, records: audit.Records) -> None:
    store.transact([store.put_op(request.item(), condition="attribute_not_exists(pk)"), *records.ops])


def delete_export(request: PrivacyRequest, records: audit.Records) -> None:
    """Take back an export request (and its records) whose message could not be queued."""
    store.transact(
        [store.delete_op(keys.privacy_request(request.user_id, request.request_id)), *audit.withdraw_ops(records)]
    )


def get(user_id: str, request_id: str, *, consistent: bool = True) -> PrivacyRequest | None:
    item = store.get(keys.privacy_request(user_id, request_id), consistent=consistent)
    return _from(item) if item else None


def of_user(user_id: str, *, limit: int | None = None) -> list[PrivacyRequest]:
    """A person's requests, newest first (request ids sort by time)."""
    if limit is None:
        items = list(reversed(store.query_all(keys.privacy_requests_of(user_id))))
    else:
        items, _ = store.query(keys.privacy_requests_of(user_id), limit=limit, forward=False)
    return [_from(i) for i in items]


def listed_in(account_id: str, request_id: str) -> str | None:
    """The person whose request ``request_id`` is listed in ``account_id``, or None."""
    item = store.get(keys.account_privacy_request(account_id, request_id))
    return str(item["user_id"]) if item else None


def account_page(account_id: str, *, limit: int, cursor: str | None) -> tuple[list[PrivacyRequest], str | None]:
    """One page of the requests listed in an account, newest first, with the cursor to the next."""
    listing = keys.account_privacy_requests(account_id)
    start = pages.decode_cursor(cursor, listing) if cursor is not None else None
    items, last = store.query(listing, limit=limit, forward=False, start=start)
    found = store.batch_get(
        [keys.privacy_request(str(i["user_id"]), str(i["sk"]).removeprefix("PRIVACY#")) for i in items],
        consistent=False,
    )
    return [_from(f) for f in found if f], (pages.encode_cursor(last) if last else None)


def resolve_op(
    request: PrivacyRequest, status: str, *, by: str, at: str, comment: str | None, forget: bool = False
) -> Write:
    """Move a pending request to ``status`` (conditional on it still being pending); ``forget``
    blanks the person's details on it (a completed deletion)."""
    fields: dict[str, Any] = {":s": status, ":by": by, ":at": at, ":pending": "pending"}
    expression = "SET #s = :s, resolved_by = :by, resolved_at = :at"
    names = {"#s": "status"}
    if comment:
        expression += ", #c = :c"
        fields[":c"] = comment
        names["#c"] = "comment"
    if forget:
        expression += ", email = :blank, #n = :blank REMOVE reason"
        fields[":blank"] = ""
        names["#n"] = "name"
    return store.update_op(
        keys.privacy_request(request.user_id, request.request_id),
        expression,
        condition="#s = :pending",
        values=fields,
        names=names,
    )


def release_op(request: PrivacyRequest) -> Write:
    """Delete the guard of a request being resolved (if it is still this request's)."""
    return store.delete_op(
        keys.pending_privacy_request(request.user_id, request.type),
        condition="attribute_not_exists(pk) OR request_id = :r",
        values={":r": request.request_id},
    )


def resolve(
    request: PrivacyRequest,
    status: str,
    *,
    by: str,
    at: str,
    comment: str | None,
    extra: list[Write],
    forget: bool = False,
) -> bool:
    """Resolve ``request`` with the other writes of the resolution; False when it was not pending."""
    ops = [resolve_op(request, status, by=by, at=at, comment=comment, forget=forget), release_op(request), *extra]
    try:
        store.transact(ops)
    except store.TransactionFailed as failed:
        if failed.failed(0):
            return False
        raise
    return True


def complete_export(request: PrivacyRequest, at: str) -> bool:
    try:
        store.update(
            keys.privacy_request(request.user_id, request.request_id),
            "SET #s = :done, resolved_at = :at",
            condition="#s = :pending",
            values={":done": "completed", ":at": at, ":pending": "pending"},
            names={"#s": "status"},
        )
    except store.ConditionFailed:
        return False
    return True


# ----------------------------------------------------------------- erasure


def forget_ops(
    user_id: str, others: list[PrivacyRequest], consents_of_user: list[ConsentRecord], *, at: str
) -> list[Write]:
    """What a deletion removes of this module's records before it completes: the consents, and the
    person's details on their other requests (which stay, as the record of what was asked; one
    still pending is closed, there is nobody left to restrict)."""
    ops: list[Write] = [store.delete_op(keys.consent(user_id, c.accepted_at)) for c in consents_of_user]
    for request in others:
        expression = "SET email = :e, #n = :e REMOVE reason"
        values: dict[str, Any] = {":e": ""}
        names = {"#n": "name"}
        if request.status == "pending":
            expression = "SET email = :e, #n = :e, #s = :closed, resolved_at = :at, #c = :why REMOVE reason"
            values |= {":closed": "rejected", ":at": at, ":why": "The person's data was erased."}
            names |= {"#s": "status", "#c": "comment"}
            if request.type != "export":  # exports have no guard (their limit is a rate)
                ops.append(store.delete_op(keys.pending_privacy_request(user_id, request.type)))
        ops.append(
            store.update_op(keys.privacy_request(user_id, request.request_id), expression, values=values, names=names)
        )
    return ops


def write_all(ops: list[Write]) -> None:
    """Independent, repeatable writes in transactions of at most 100."""
    for start in range(0, len(ops), 100):
        store.transact(ops[start : start + 100])
