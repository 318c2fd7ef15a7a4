"""A password the user suspects is compromised (``POST /me/password/compromised``; what the user
should then do: change it at once and tell the account admin).

The credential moves to a new state with ``password_status = "compromised"`` (every challenge,
reset link and code issued before ends, and the next login answers ``password_change_required``
with reason ``compromised``), written with an audit record in each of the user's accounts; then
each user manager (an active member holding ``users``) of each of the user's accounts gets an
email; then every session of the user ends, the current one too. Each step can be repeated: if
DynamoDB or SES fails midway the answer is 503 and sending the report again (the session still
works until the last step) finishes it; a manager may then get the email twice, never none.
"""

from __future__ import annotations

from portico import audit
from portico.accounts import repository as accounts
from portico.accounts.records import Membership
from portico.accounts.rights import manages_users
from portico.auth import attempts, passwords, sessions
from portico.auth import repository as credentials
from portico.auth.sessions import Session
from portico.errors import define
from portico.identity.profile import own_credential
from portico.identity.profile_models import CompromiseReport
from portico.notify import email
from portico.observability import logger, metrics

Conflict = define("Conflict", 409, "conflict", "Conflict")
_ATTEMPTS = 5


def report(session: Session, body: CompromiseReport, *, ip: str) -> None:
    memberships = [m for m in accounts.memberships_of(session.user_id) if not m.invited]
    for _ in range(_ATTEMPTS):
        credential = own_credential(session)
        details = {"comment": body.comment} if body.comment else {}
        event = audit.Event(
            "password.compromise_reported", attempts.actor(credential), {"user_id": credential.user_id}, ip, details
        )
        records = audit.records(event, [*credential.account_ids, *(m.account_id for m in memberships)])
        if credentials.write([passwords.force_change_op(credential, "compromised"), *records.ops]):
            audit.fan_out(records)
            break
    else:
        raise Conflict("The login changed at the same time; send the report again.")
    # The managers are told while the session still works: if that fails, the answer is 503 and the
    # same session can send the report again; the sessions end last.
    told = _tell_managers(memberships, credential.user_id, credential.email, credential.name, body.comment or "")
    ended = sessions.revoke_all(session.user_id)
    metrics.add_metric(name="PasswordCompromiseReports", unit="Count", value=1)
    logger.info(
        "password compromise reported", extra={"user_id": session.user_id, "sessions_ended": ended, "told": told}
    )


def _tell_managers(memberships: list[Membership], user_id: str, user_email: str, user_name: str, comment: str) -> int:
    """Email the user managers of each of the user's accounts (not the user); how many were sent."""
    sent = 0
    for membership in memberships:
        managers = [m for m in accounts.all_members(membership.account_id) if _tells(m, user_id)]
        logins = credentials.get_credentials([m.email for m in managers]) if managers else []
        for manager, login in zip(managers, logins, strict=True):
            if login is None or login.user_id != manager.user_id:
                continue  # the address now belongs to someone else
            email.send(
                login.email,
                "password_compromised",
                login.language,
                {
                    "name": login.name,
                    "user": f"{user_name} <{user_email}>" if user_name else user_email,
                    "account": membership.account_name,
                    "comment": comment or "-",
                },
            )
            sent += 1
    return sent


def _tells(member: Membership, user_id: str) -> bool:
    return member.user_id != user_id and not member.invited and bool(member.email) and manages_users(member)
