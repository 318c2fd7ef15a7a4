"""The personal data export (``POST /me/privacy/export``): a CSV of everything Portico holds about
the person, emailed to them as a ``text/csv`` attachment.

The request is answered at once (``202 {request_id}``) and the work is done by the
``privacy-export`` consumer from a queue (SQS), so a large history never holds an HTTP request
and an SES outage is retried, not lost: the request item and the message are written in the
request (if the queue cannot take the message, the request is taken back and the answer is
``503``); the consumer builds the file, sends it and marks the request completed. A message
that keeps failing is retried by SQS and then lands in the dead-letter queue (an alarm watches
it); the request stays pending and visible to the person. At most ``DAILY_EXPORTS`` requests a
day per person (``429``; an attempt the queue refused does not count).

The file has one row per value: ``section, record, field, value``. Sections: ``profile``,
``membership`` (per account), ``session``, ``consent``, ``privacy_request`` and ``audit`` (every
record done by or about the person, with the accounts it is in; of a record another person made
about them, that person's address and IP are left out: they are that person's data). Cells that
a spreadsheet would read as a formula are prefixed with ``'`` (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from portico import audit, clock, ids, queues, ratelimit
from portico.accounts import repository as accounts
from portico.audit import repository as audit_records
from portico.auth import attempts, sessions
from portico.auth.credentials import Credential
from portico.auth.sessions import Session
from portico.identity import repository as identity
from portico.identity.profile import DEFAULT_NOTIFICATIONS, own_credential
from portico.notify import email
from portico.observability import logger, metrics
from portico.privacy import repository, service
from portico.privacy.erasure import login_of
from portico.privacy.models import ExportAccepted
from portico.privacy.repository import PrivacyRequest

DAILY_EXPORTS = 3
HEADER = ("section", "record", "field", "value")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def request(session: Session, *, ip: str) -> ExportAccepted:
    credential = own_credential(session)
    account_ids = service.joined_accounts(credential.user_id)
    with ratelimit.quota_released_on_failure("privacy_export", credential.user_id, DAILY_EXPORTS, 86400):
        now = clock.now()
        wanted = PrivacyRequest(
            request_id=ids.new_sortable_id("req", now.timestamp()),
            user_id=credential.user_id,
            type="export",
            created_at=clock.iso(now),
        )
        event = audit.Event(
            "privacy.export_requested", attempts.actor(credential), {"user_id": credential.user_id}, ip, {}
        )
        records = audit.records(event, account_ids)
        repository.put_export(wanted, records)
        try:
            queues.send_export({"request_id": wanted.request_id, "user_id": wanted.user_id})
        except Exception:
            repository.delete_export(wanted, records)
            raise
    audit.fan_out(records)
    metrics.add_metric(name="PrivacyExportRequests", unit="Count", value=1)
    return ExportAccepted(request_id=wanted.request_id)


def deliver(message: dict[str, Any]) -> str:
    """Build and email one export (a queue message's body); what happened: ``sent``, or
    ``skipped`` for a request already completed or no longer there (a message delivered twice)."""
    found = repository.get(str(message["user_id"]), str(message["request_id"]))
    if found is None or found.type != "export" or found.status != "pending":
        return "skipped"
    credential = login_of(found.user_id)
    if credential is None:  # erased since: nothing to send, nobody to send it to
        repository.complete_export(found, clock.iso(clock.now()))
        return "skipped"
    data = build_csv(credential)
    day = clock.now().strftime("%Y-%m-%d")
    email.send(
        credential.email,
        "privacy_export",
        credential.language,
        {"name": credential.name or credential.email},
        (email.Attachment(f"portico-personal-data-{day}.csv", "text/csv", data),),
    )
    repository.complete_export(found, clock.iso(clock.now()))
    metrics.add_metric(name="PrivacyExportsSent", unit="Count", value=1)
    logger.info("personal data export sent", extra={"request_id": found.request_id, "bytes": len(data)})
    return "sent"


def build_csv(credential: Credential) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for section, record, field, value in _rows(credential):
        writer.writerow((section, record, field, _cell(value)))
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _rows(credential: Credential) -> Iterator[tuple[str, str, str, Any]]:
    user_id = credential.user_id
    user = identity.get_user(user_id)
    expires = credential.password_expires_at
    profile: dict[str, Any] = {
        "user_id": user_id,
        "email": credential.email,
        "email_verified": credential.email_verified,
        "email_verified_at": credential.email_verified_at,
        "name": credential.name,
        "language": credential.language,
        "created_at": user.created_at if user else None,
        "phone": credential.phone,
        "phone_status": ("verified" if credential.phone_verified else "not_verified") if credential.phone else None,
        "password_changed_at": credential.password_changed_at,
        "password_expires_at": clock.iso_epoch(expires) if expires is not None else None,
        "password_status": credential.password_status,
        "mfa_totp": credential.mfa_enabled,
        "recovery_codes_left": len(credential.recovery_hashes),
        "last_login_at": credential.last_login_at,
        "processing_restricted": credential.processing_restricted,
        **{f"notifications.{k}": v for k, v in sorted({**DEFAULT_NOTIFICATIONS, **credential.notifications}.items())},
    }
    for field, value in profile.items():
        yield "profile", user_id, field, value
    for m in accounts.memberships_of(user_id):
        for field, value in (
            ("account_name", m.account_name),
            ("account_mode", m.account_mode),
            ("status", m.status),
            ("owner", m.owner),
            ("full_access", m.full_access),
            ("rights", ";".join(m.rights)),
            ("created_at", m.created_at),
            ("accepted_at", m.accepted_at),
            ("invited_by", m.invited_by),
        ):
            yield "membership", m.account_id, field, value
    for s in sorted(sessions.of_user(user_id), key=lambda s: s.created_at):
        for field, value in (
            ("created_at", clock.iso_epoch(s.created_at)),
            ("last_seen_at", clock.iso_epoch(s.last_seen_at) if s.last_seen_at else None),
            ("expires_at", clock.iso_epoch(s.expires_at)),
            ("ip", s.ip),
            ("user_agent", s.user_agent),
        ):
            yield "session", s.session_id, field, value
    for c in repository.consents(user_id):
        for field, value in (("version", c.version), ("accepted_at", c.accepted_at), ("ip", c.ip)):
            yield "consent", c.accepted_at, field, value
    for r in reversed(repository.of_user(user_id)):
        for field, value in (
            ("type", r.type),
            ("status", r.status),
            ("created_at", r.created_at),
            ("resolved_at", r.resolved_at),
            ("reason", r.reason),
            ("comment", r.comment),
        ):
            yield "privacy_request", r.request_id, field, value
    for record in audit_records.of_user(user_id):
        actor = dict(record.get("actor") or {})
        if actor.get("id") != user_id:
            actor.pop("email", None)  # another person's address is theirs, not the requester's
        for field, value in (
            ("at", record.get("at")),
            ("action", record.get("action")),
            ("account_ids", record.get("account_ids")),
            ("actor", actor),
            ("target", record.get("target")),
            ("ip", record.get("ip") if actor.get("id") == user_id else None),
            ("details", record.get("details")),
        ):
            yield "audit", str(record["event_id"]), field, value
