"""The daily ``password-expiry`` job.

Reminders go out 14, 7 and 1 days before a password expires, each once, in the user's language;
on the expiry day the password is marked expired, so the next login asks for a new one.

No scan: credentials with an expiring password are indexed by their expiry day
(``gsi1pk = PWEXP#<day>``), and the job queries exactly the days that are due: today + 14, + 7,
+ 1 (and the day before each, for a run that failed yesterday: at most twice the users due), and
the last ``LOOKBACK_DAYS`` days up to today for expiry (a late or failed run catches up).
Marking a password expired takes it out of the index, so nothing is read twice for it.

Idempotent: each reminder is claimed with a conditional write (not yet sent, password unchanged)
before it is sent, so a second run, or two runs at once, send nothing more. A send that fails
releases its claim and is retried in the run; what still fails is reported, and tomorrow's
reminder (or the expiry) follows as usual.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from portico import clock
from portico.auth import repository as credentials
from portico.auth.credentials import Credential
from portico.notify import email
from portico.observability import logger, metrics

REMINDER_DAYS = (14, 7, 1)
LOOKBACK_DAYS = 7
SEND_ATTEMPTS = 3


@dataclass
class Summary:
    job: str = "password-expiry"
    run_at: str = ""
    items_read: int = 0
    reminders_sent: int = 0
    expired: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def run() -> dict[str, Any]:
    now = clock.now()
    today = now.date()
    summary = Summary(run_at=clock.iso(now))
    for days in REMINDER_DAYS:
        # today's reminders, and yesterday's in case that run failed (claims stop doubles)
        for late in (0, 1):
            for credential in credentials.expiring_on((today + timedelta(days=days - late)).isoformat()):
                summary.items_read += 1
                try:
                    _remind(credential, days, summary)
                except Exception as exc:  # one user's failure must not stop the others
                    summary.failed += 1
                    summary.failures.append(
                        {"user_id": credential.user_id, "step": f"reminder-{days}", "error": type(exc).__name__}
                    )
    for back in range(LOOKBACK_DAYS, -1, -1):
        for credential in credentials.expiring_on((today - timedelta(days=back)).isoformat()):
            summary.items_read += 1
            _expire(credential, summary)
    metrics.add_metric(name="PasswordRemindersSent", unit="Count", value=summary.reminders_sent)
    metrics.add_metric(name="PasswordsExpired", unit="Count", value=summary.expired)
    if summary.failed:
        logger.error("password-expiry: some work failed", extra={"failed": summary.failed})
    return asdict(summary)


def _claim(credential: Credential, days: int) -> bool:
    """Claim the reminder: still the same password, still expiring then, not expired, not yet
    reminded. A second run, or two at once, claim nothing more."""
    return credentials.write(
        [
            credentials.update_op(
                credential.email,
                {},
                append={"reminders_sent": [days]},
                condition="password_changed_epoch = :seen AND password_expires_at = :exp AND password_status = :ok "
                "AND NOT contains(reminders_sent, :n)",
                values={
                    ":n": days,
                    ":seen": credential.password_changed_epoch,
                    ":exp": credential.password_expires_at,
                    ":ok": "ok",
                },
                versioned=False,
            )
        ]
    )


def _release(credential: Credential, days: int) -> None:
    fresh = credentials.get_credential(credential.email) or credential
    remaining = [d for d in fresh.reminders_sent if d != days]
    credentials.write([credentials.update_op(credential.email, {"reminders_sent": remaining}, versioned=False)])


def _remind(credential: Credential, days: int, summary: Summary) -> None:
    current = credential.password_status == "ok"  # noqa: S105 (a state, not a password)
    if not current or days in credential.reminders_sent or not _claim(credential, days):
        summary.skipped += 1
        return
    expires = clock.iso_epoch(int(credential.password_expires_at or 0))
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            email.send(
                credential.email,
                "password_expiry_reminder",
                credential.language,
                {"name": credential.name, "days": str(days), "expires_at": expires},
            )
            summary.reminders_sent += 1
            return
        except Exception as exc:  # retried, then reported; the claim is released for a later run
            if attempt == SEND_ATTEMPTS:
                _release(credential, days)
                summary.failed += 1
                summary.failures.append(
                    {"user_id": credential.user_id, "step": f"reminder-{days}", "error": type(exc).__name__}
                )


def _expire(credential: Credential, summary: Summary) -> None:
    """Mark the password expired and take it out of the index, unless it changed meanwhile or is
    not yet due at this hour."""
    expire = credentials.update_op(
        credential.email,
        {"password_status": "expired", "gsi1pk": None, "gsi1sk": None},
        condition="password_changed_epoch = :seen AND password_expires_at <= :now",
        values={":seen": credential.password_changed_epoch, ":now": int(clock.timestamp())},
    )
    try:
        done = credentials.write([expire])
    except Exception as exc:
        summary.failed += 1
        summary.failures.append({"user_id": credential.user_id, "step": "expire", "error": type(exc).__name__})
        return
    if done:
        summary.expired += 1
    else:
        summary.skipped += 1
