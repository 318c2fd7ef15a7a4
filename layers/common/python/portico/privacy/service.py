"""The privacy rules a user and the admins of their accounts meet (``/me/privacy...`` and
``/accounts/{a}/privacy-requests...``).

* **Consent** is to the policy version in configuration (``PRIVACY_POLICY_VERSION``); consenting
  to another version is ``409 stale_policy_version`` (the page the user read is out of date).
  Each consent is kept with its version, time and address; consenting again to the same version
  keeps the first record.
* **Deletion and restriction requests** need a recent authentication (15 minutes, as an email
  change does), so a stolen session alone cannot ask for the login to be erased. A request is
  pending until an admin of one of the person's accounts (right ``users``, holding every right
  the person holds there, never the person themself) completes or rejects it; filing again while
  one is pending answers the pending one. A person who belongs to no account has no admin to
  ask: their deletion is carried out at once (they reauthenticated), a restriction too.
* **Completing** a deletion erases the person (:mod:`portico.privacy.erasure`); completing a
  restriction marks the login restricted: notices other than security ones stop and cannot be
  turned back on (``409 processing_restricted``), and the person is told. A rejection carries
  the admin's comment to the person. Every step is in the audit log of the person's accounts.
"""

from __future__ import annotations

import dataclasses

from portico import audit, clock, ids, pages
from portico.accounts import repository as accounts
from portico.accounts.caller import Caller
from portico.accounts.rights import check_over
from portico.auth import attempts
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.auth.mfa import ReauthenticationRequired
from portico.auth.sessions import Session
from portico.config import settings
from portico.errors import NotFound, define
from portico.identity.profile import NON_ESSENTIAL, own_credential
from portico.notify import email
from portico.observability import logger, metrics
from portico.privacy import erasure, repository
from portico.privacy.models import (
    AccountRequest,
    AccountRequestList,
    Consent,
    ConsentRequest,
    MyRequest,
    Policy,
    PrivacyRequestBody,
    PrivacyView,
    RequestAccepted,
    Resolution,
)
from portico.privacy.repository import ConsentRecord, PrivacyRequest

StalePolicyVersion = define("StalePolicyVersion", 409, "stale_policy_version", "Stale Policy Version")
RequestResolved = define("RequestResolved", 409, "privacy_request_resolved", "Privacy Request Resolved")
OwnRequest = define("OwnRequest", 403, "own_privacy_request", "Own Privacy Request")

SHOWN_REQUESTS = 50


# ----------------------------------------------------------------- the person


def view(session: Session) -> PrivacyView:
    credential = own_credential(session)
    return _view(session, credential, repository.latest_consent(session.user_id))


def _view(
    session: Session,
    credential: Credential,
    consent: ConsentRecord | None,
    requests: list[PrivacyRequest] | None = None,
) -> PrivacyView:
    current = settings().privacy_policy_version
    if requests is None:
        requests = repository.of_user(session.user_id, limit=SHOWN_REQUESTS)
    return PrivacyView(
        policy=Policy(version=current, url=settings().privacy_policy),
        consent=Consent(version=consent.version, accepted_at=consent.accepted_at) if consent else None,
        consent_current=consent is not None and consent.version == current,
        restricted=credential.processing_restricted,
        requests=[_mine(r) for r in requests],
    )


def _mine(request: PrivacyRequest) -> MyRequest:
    return MyRequest(
        request_id=request.request_id,
        type=request.type,
        status=request.status,
        created_at=request.created_at,
        resolved_at=request.resolved_at,
    )


def consent(session: Session, body: ConsentRequest, *, ip: str) -> PrivacyView:
    current = settings().privacy_policy_version
    if body.version != current:
        raise StalePolicyVersion(f"The privacy policy in force is version {current}; read it and consent to that one.")
    credential = own_credential(session)
    latest = repository.latest_consent(session.user_id)
    requests = repository.of_user(
        session.user_id, limit=SHOWN_REQUESTS
    )  # read before the write: nothing fails after it
    if latest is None or latest.version != current:
        record = latest = ConsentRecord(version=current, accepted_at=clock.iso(clock.now()), ip=ip)
        event = audit.Event(
            "privacy.consent_given",
            attempts.actor(credential),
            {"user_id": credential.user_id},
            ip,
            {"version": current},
        )
        records = audit.records(event, joined_accounts(credential.user_id))
        repository.write_all([repository.consent_op(session.user_id, record), *records.ops])
        audit.fan_out(records)
    return _view(session, credential, latest, requests)


def file_request(session: Session, kind: str, body: PrivacyRequestBody, *, ip: str) -> RequestAccepted:
    """File a deletion or restriction request (``kind``)."""
    if not session.recently_authenticated:
        raise ReauthenticationRequired("Confirm your password (and code) first: POST /auth/reauthenticate.")
    credential = own_credential(session)
    account_ids = joined_accounts(credential.user_id)
    now = clock.now()
    request = PrivacyRequest(
        request_id=ids.new_sortable_id("req", now.timestamp()),
        user_id=credential.user_id,
        type=kind,
        created_at=clock.iso(now),
        email=credential.email,
        name=credential.name,
        reason=body.reason or None,
        account_ids=tuple(account_ids),
    )
    event = audit.Event(
        f"privacy.{kind}_requested", attempts.actor(credential), {"user_id": credential.user_id}, ip, {}
    )
    records = audit.records(event, account_ids)
    try:
        repository.file(request, records)
    except repository.AlreadyPending as pending:
        return RequestAccepted(request_id=pending.request_id, status="pending")
    audit.fan_out(records)
    metrics.add_metric(name=f"Privacy{kind.capitalize()}Requests", unit="Count", value=1)
    if not account_ids:  # no admin to ask: the person's own (reauthenticated) word is enough
        _complete(request, by=credential.user_id, actor=attempts.actor(credential), ip=ip, comment=None)
        return RequestAccepted(request_id=request.request_id, status="completed")
    return RequestAccepted(request_id=request.request_id, status="pending")


def joined_accounts(user_id: str) -> list[str]:
    """The accounts a person has joined (not merely been invited to): their admins handle the
    person's requests, and their audit logs record the person's privacy actions."""
    return [m.account_id for m in accounts.memberships_of(user_id) if not m.invited]


# ----------------------------------------------------------------- the admins


def listing(caller: Caller, *, limit: int = pages.DEFAULT_LIMIT, cursor: str | None = None) -> AccountRequestList:
    found, next_cursor = repository.account_page(caller.account_id, limit=limit, cursor=cursor)
    return AccountRequestList(items=[_shown(r) for r in found], next_cursor=next_cursor)


def _shown(request: PrivacyRequest) -> AccountRequest:
    return AccountRequest(
        request_id=request.request_id,
        type=request.type,
        status=request.status,
        user_id=request.user_id,
        email=request.email,
        name=request.name,
        reason=request.reason,
        created_at=request.created_at,
        resolved_at=request.resolved_at,
        resolved_by=request.resolved_by,
        comment=request.comment,
    )


def resolve(caller: Caller, request_id: str, body: Resolution, *, ip: str) -> AccountRequest:
    user_id = repository.listed_in(caller.account_id, request_id) if ids.is_id(request_id, "req") else None
    request = repository.get(user_id, request_id) if user_id else None
    if request is None:
        raise NotFound("No such privacy request in this account.")
    if request.status != "pending":
        raise RequestResolved(f"This request was already {request.status}.")
    if request.user_id == caller.user_id:
        raise OwnRequest("Your own privacy request is resolved by another admin of the account.")
    membership = accounts.get_membership(caller.account_id, request.user_id)
    if membership is not None:
        check_over(caller.membership, membership)
    elif accounts.memberships_of(request.user_id):
        # the person left this account since: their other accounts' admins handle it (a person
        # in no account at all is one whose erasure was interrupted, and resolving finishes it)
        raise NotFound("The person is no longer a member of this account.")
    if body.action == "reject":
        resolved = _reject(request, caller, ip=ip, comment=body.comment)
    else:
        resolved = _complete(request, by=caller.user_id, actor=caller.actor, ip=ip, comment=body.comment)
    return _shown(resolved)


def _resolved(request: PrivacyRequest, status: str, by: str, at: str, comment: str | None) -> PrivacyRequest:
    """The request as its resolution left it (deletion also blanks the person's details on it)."""
    resolved = dataclasses.replace(
        request, status=status, resolved_by=by, resolved_at=at, comment=comment or request.comment
    )
    if status == "completed" and request.type == "deletion":
        return dataclasses.replace(resolved, email="", name="", reason=None)
    return resolved


def _reject(request: PrivacyRequest, caller: Caller, *, ip: str, comment: str | None) -> PrivacyRequest:
    event = audit.Event(
        f"privacy.{request.type}_rejected",
        caller.actor,
        {"user_id": request.user_id},
        ip,
        {"request_id": request.request_id},
    )
    records = audit.records(event, request.account_ids)
    at = clock.iso(clock.now())
    person = erasure.login_of(request.user_id)  # read before the write: nothing fails after it
    if not repository.resolve(request, "rejected", by=caller.user_id, at=at, comment=comment, extra=list(records.ops)):
        raise RequestResolved("This request was resolved at the same time.")
    audit.fan_out(records)
    _tell(request, "privacy_request_rejected", comment, to=(person.email, person.language) if person else None)
    return _resolved(request, "rejected", caller.user_id, at, comment)


def _complete(request: PrivacyRequest, *, by: str, actor: audit.Actor, ip: str, comment: str | None) -> PrivacyRequest:
    event = audit.Event(
        f"privacy.{request.type}_completed", actor, {"user_id": request.user_id}, ip, {"request_id": request.request_id}
    )
    if request.type == "deletion":
        at = clock.iso(clock.now())
        erasure.erase(request, event, by=by, at=at, comment=comment)
        return _resolved(request, "completed", by, at, comment)
    credential = erasure.login_of(request.user_id)
    records = audit.records(event, request.account_ids)
    extra = list(records.ops)
    if credential is not None:
        notices = {**credential.notifications, **dict.fromkeys(NON_ESSENTIAL, False)}
        extra.append(
            credentials.update_op(
                credential.email,
                {"processing_restricted": True, "notifications": notices},
                condition="user_id = :u",
                values={":u": credential.user_id},
            )
        )
    at = clock.iso(clock.now())
    if not repository.resolve(request, "completed", by=by, at=at, comment=comment, extra=extra):
        raise RequestResolved("This request was resolved at the same time.")
    audit.fan_out(records)
    _tell(
        request,
        "privacy_restriction_completed",
        comment,
        to=(credential.email, credential.language) if credential else None,
    )
    return _resolved(request, "completed", by, at, comment)


def _tell(request: PrivacyRequest, template: str, comment: str | None, *, to: tuple[str, str] | None) -> None:
    """Tell the person (address, language) how their request ended. The resolution stands if the
    email cannot be sent (it is logged and counted); ``GET /me/privacy`` shows the status."""
    if to is None:
        return
    address, language = to
    try:
        email.send(address, template, language, {"comment": comment or "-", "request": request.request_id})
    except Exception:
        logger.exception(
            "could not tell the person about their privacy request", extra={"request_id": request.request_id}
        )
        metrics.add_metric(name="PrivacyNoticeFailed", unit="Count", value=1)
