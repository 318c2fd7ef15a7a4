"""The daily ``password-expiry`` job (contract section 11).

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

from portico import clock, store
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


def _due(day: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    start = None
    while True:
        page, start = store.query("gsi1pk = :d", {":d": f"PWEXP#{day}"}, index="gsi1", start=start)
        found.extend(page)
        if not start:
            return found


def run() -> dict[str, Any]:
    now = clock.now()
    today = now.date()
    summary = Summary(run_at=clock.iso(now))
    for days in REMINDER_DAYS:
        # today's reminders, and yesterday's in case that run failed (claims stop doubles)
        for late in (0, 1):
            for item in _due((today + timedelta(days=days - late)).isoformat()):
                summary.items_read += 1
                try:
                    _remind(item, days, summary)
                except Exception as exc:  # one user's failure must not stop the others
                    summary.failed += 1
                    summary.failures.append(
                        {"user_id": str(item.get("user_id")), "step": f"reminder-{days}", "error": type(exc).__name__}
                    )
    for back in range(LOOKBACK_DAYS, -1, -1):
        for item in _due((today - timedelta(days=back)).isoformat()):
            summary.items_read += 1
            _expire(item, summary)
    metrics.add_metric(name="PasswordRemindersSent", unit="Count", value=summary.reminders_sent)
    metrics.add_metric(name="PasswordsExpired", unit="Count", value=summary.expired)
    if summary.failed:
        logger.error("password-expiry: some work failed", extra={"failed": summary.failed})
    return asdict(summary)


def _claim(item: dict[str, Any], days: int) -> bool:
    try:
        store.update(
            {"pk": item["pk"], "sk": item["sk"]},
            "SET reminders_sent = list_append(if_not_exists(reminders_sent, :empty), :d)",
            # still the same password, still expiring then, not expired, not yet reminded
            condition="password_changed_epoch = :seen AND password_expires_at = :exp AND password_status = :ok "
            "AND NOT contains(reminders_sent, :n)",
            values={
                ":empty": [],
                ":d": [days],
                ":n": days,
                ":seen": item["password_changed_epoch"],
                ":exp": item["password_expires_at"],
                ":ok": "ok",
            },
        )
    except store.ConditionFailed:
        return False
    return True


def _release(item: dict[str, Any], days: int) -> None:
    fresh = store.get({"pk": item["pk"], "sk": item["sk"]}, consistent=True) or {}
    remaining = [d for d in fresh.get("reminders_sent", []) if int(d) != days]
    store.update({"pk": item["pk"], "sk": item["sk"]}, "SET reminders_sent = :r", values={":r": remaining})


def _remind(item: dict[str, Any], days: int, summary: Summary) -> None:
    if item.get("password_status", "ok") != "ok" or days in [int(d) for d in item.get("reminders_sent", [])]:
        summary.skipped += 1
        return
    if not _claim(item, days):
        summary.skipped += 1
        return
    expires = clock.iso_epoch(int(item["password_expires_at"]))
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            email.send(
                str(item["email"]),
                "password_expiry_reminder",
                str(item.get("language", "en")),
                {"name": str(item.get("name", "")), "days": str(days), "expires_at": expires},
            )
            summary.reminders_sent += 1
            return
        except Exception as exc:  # retried, then reported; the claim is released for a later run
            if attempt == SEND_ATTEMPTS:
                _release(item, days)
                summary.failed += 1
                summary.failures.append(
                    {"user_id": str(item["user_id"]), "step": f"reminder-{days}", "error": type(exc).__name__}
                )


def _expire(item: dict[str, Any], summary: Summary) -> None:
    try:
        store.update(
            {"pk": item["pk"], "sk": item["sk"]},
            "SET password_status = :expired, version = version + :one REMOVE gsi1pk, gsi1sk",
            condition="password_changed_epoch = :seen AND password_expires_at <= :now",
            values={
                ":expired": "expired",
                ":one": 1,
                ":seen": item["password_changed_epoch"],
                ":now": int(clock.timestamp()),
            },
        )
        summary.expired += 1
    except store.ConditionFailed:
        summary.skipped += 1  # changed in the meantime, or not yet due at this hour
    except Exception as exc:
        summary.failed += 1
        summary.failures.append({"user_id": str(item["user_id"]), "step": "expire", "error": type(exc).__name__})
