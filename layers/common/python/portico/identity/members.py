"""An account's members as its user managers see them (contract section 7): the list, with each
member's second factor and activity, and resetting a member's second factor.

* The list reads the account's memberships (one ``Query`` per page) and the members' logins (one
  ``BatchGetItem`` per page: name, ``mfa_enabled``, ``last_login_at`` and ``password_changed_at``
  live on the credential). With a filter, pages are read until ``limit`` members match, so a page
  is not short while more members exist; the work per request is capped at ``MAX_PAGES`` pages
  (``2 + 2 * MAX_PAGES`` DynamoDB calls with the access check). Past the cap the answer carries
  what it found and a cursor to go on from.
* The cursor is the url-safe base64 of the key of the last member looked at, and only continues
  this account's list: anything else is ``422 validation_error``.
* A second-factor reset (a lost phone) removes the TOTP secret, recovery codes and any pending
  enrollment in one transaction with its audit record and a check that the membership still
  exists, then ends the user's sessions (whoever holds the lost phone's sessions is out) and sends
  a notice. If the account enforces 2FA, the user enrolls again at the next login.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from portico import audit, keys, store
from portico.access import Caller
from portico.auth import passwords, sessions
from portico.errors import NotFound, ValidationFailed
from portico.identity.member_models import Member, MemberList, MemberStatus
from portico.observability import logger, metrics

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 1024
# A filtered page reads memberships 100 at a time: BatchGetItem takes at most 100 keys.
FILTER_PAGE = 100
MAX_PAGES = 5
MFA_FIELDS = ("totp_sealed", "totp_last_step", "recovery_hashes", "totp_pending_sealed", "totp_pending_expires")


def listing(
    caller: Caller,
    *,
    mfa_enabled: bool | None = None,
    status: MemberStatus | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> MemberList:
    """One page of members, ``limit`` (1..``MAX_LIMIT``, checked by the route) at most."""
    account_id = _account_id(caller)
    start = _decode_cursor(cursor, account_id) if cursor is not None else None
    unfiltered = mfa_enabled is None and status is None
    found: list[Member] = []
    for _ in range(MAX_PAGES):
        need = limit - len(found)
        page, last = store.query(
            "pk = :a AND begins_with(sk, :m)",
            {":a": f"ACCOUNT#{account_id}", ":m": "MEMBER#"},
            # unfiltered, one member more than needed tells whether the list goes on
            limit=need + 1 if unfiltered else FILTER_PAGE,
            start=start,
        )
        wanted = [m for m in page if status is None or m.get("status") == status]
        if mfa_enabled is None:  # only the members shown need their login read
            matching, beyond = _members(wanted[:need]), len(wanted) > need
        else:
            matching = [m for m in _members(wanted) if m.mfa_enabled == mfa_enabled]
            matching, beyond = matching[:need], len(matching) > need
        found.extend(matching)
        if beyond:  # the list goes on within this page: continue after the last member shown
            return MemberList(items=found, next_cursor=_encode_cursor(keys.membership(account_id, found[-1].user_id)))
        if last is None:
            return MemberList(items=found, next_cursor=None)
        if len(found) == limit:
            return MemberList(items=found, next_cursor=_encode_cursor(last))
        start = last
    return MemberList(items=found, next_cursor=_encode_cursor(start))


def reset_mfa(caller: Caller, user_id: str, *, ip: str) -> None:
    """Remove a member's second factor; nothing to remove is no error (the same end state)."""
    account = caller.account or {}
    account_id = _account_id(caller)
    membership = (
        store.get(keys.membership(account_id, user_id), consistent=True)
        if user_id.startswith("usr_") and len(user_id) <= 64
        else None
    )
    if membership is None:
        raise NotFound("No such user in this account.")
    email = membership.get("email")
    credential = store.get(keys.credential(str(email)), consistent=True) if email else None
    if credential is None or credential.get("user_id") != user_id:
        return  # invited, no login yet: no second factor to remove
    event = audit.Event(
        "mfa.reset",
        audit.Actor("user", caller.session.user_id, caller.session.email),
        {"user_id": user_id},
        ip,
        {"had_mfa": bool(credential.get("mfa_enabled"))},
    )
    try:
        store.transact(
            [
                store.condition_op(keys.membership(account_id, user_id), "attribute_exists(pk)"),
                passwords.update_op(
                    str(credential["email"]),
                    {"mfa_enabled": False, **dict.fromkeys(MFA_FIELDS)},
                    condition="attribute_exists(pk) AND user_id = :user",
                    values={":user": user_id},
                ),
                *audit.put_ops(event, [account_id]),
            ]
        )
    except store.TransactionFailed:  # removed from the account (or the login deleted) meanwhile
        raise NotFound("No such user in this account.") from None
    # Not best effort: if this fails the answer is 503 and a retry (the same end state) ends them.
    ended = sessions.revoke_all(user_id)
    passwords.notify(credential, "mfa_reset", {"account": str(account.get("name", ""))})
    metrics.add_metric(name="MfaResets", unit="Count", value=1)
    logger.info(
        "second factor reset",
        extra={"user_id": user_id, "account_id": account_id, "by": caller.session.user_id, "sessions_ended": ended},
    )


def _account_id(caller: Caller) -> str:
    return str((caller.account or {})["account_id"])


def _credentials(memberships: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Each member's login, read in one call; None for a member without one (invited) or whose
    email now belongs to someone else."""
    emails = sorted({keys.normalise_email(str(m["email"])) for m in memberships if m.get("email")})
    if not emails:
        return [None] * len(memberships)
    by_email = dict(zip(emails, store.batch_get([keys.credential(e) for e in emails]), strict=True))
    found: list[dict[str, Any] | None] = []
    for membership in memberships:
        credential = by_email.get(keys.normalise_email(str(membership["email"]))) if membership.get("email") else None
        found.append(credential if credential and credential.get("user_id") == membership.get("user_id") else None)
    return found


def _members(memberships: list[dict[str, Any]]) -> list[Member]:
    return [_member(m, c) for m, c in zip(memberships, _credentials(memberships), strict=True)]


def _member(membership: dict[str, Any], credential: dict[str, Any] | None) -> Member:
    login = credential or {}
    return Member(
        user_id=str(membership["user_id"]),
        email=str(membership.get("email") or login.get("email") or ""),
        name=login.get("name") or membership.get("name"),
        status=membership.get("status", "active"),
        owner=bool(membership.get("owner")),
        full_access=bool(membership.get("full_access")),
        rights=sorted(str(r) for r in membership.get("rights") or ()),
        mfa_enabled=bool(login.get("mfa_enabled")),
        last_login_at=login.get("last_login_at"),
        password_changed_at=login.get("password_changed_at"),
    )


def _encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps({"pk": key["pk"], "sk": key["sk"]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, account_id: str) -> dict[str, str]:
    key: Any = None
    if len(cursor) <= MAX_CURSOR_CHARS:
        try:
            key = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
        except (binascii.Error, ValueError):  # also UnicodeDecodeError and JSONDecodeError
            key = None
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk"}
        or key["pk"] != f"ACCOUNT#{account_id}"
        or not isinstance(key["sk"], str)
        or not key["sk"].startswith("MEMBER#")
    ):
        raise ValidationFailed(
            [{"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}],
            "The query is not valid.",
        )
    return key
