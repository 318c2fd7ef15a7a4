"""Job scaling: the password-expiry and subscription-renewal jobs over tables of N users or
subscriptions of which 1% are due, for each N, each on a fresh emulated stack.

Seeding: one real credential (signed up through the API) and one real subscription (made through
the API) are the templates; the due items are copies of them with new ids and due dates, the
not-due items are minimal items (keys and index attributes only: the jobs never read them, and
their size changes nothing DynamoDB would bill), written with BatchWriteItem. Not-due items are in
the index, under days and hours the run does not read, as they would be in production.

* password-expiry: due users are spread over the days the run reads (reminders 14, 7 and 1 days
  ahead, and the expiry today); the others over days 20 to 89 ahead;
* subscription-renewal: due subscriptions are due half an hour ago; the others over the next
  30 days' hours.

A run is timed with the AWS call recorder counting calls, items returned and read units (but not
write units: those need each written item read twice, too slow inside a timed run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import stack
from bench.capacity import Recorder
from portico import aws, config
from portico.billing import renewal
from portico.jobs import password_expiry
from tests.integration.flows import Subject, cheap_argon2, verified, with_subscription

BATCH = 25


def _write(items: list[dict[str, Any]]) -> None:
    client, table = aws.client("dynamodb"), config.settings().table_name
    for start in range(0, len(items), BATCH):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH]]
        while requests:
            answer = client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


def _item(key: dict[str, str]) -> dict[str, Any]:
    client, table = aws.client("dynamodb"), config.settings().table_name
    return dict(
        client.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True)["Item"]
    )


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _seed_credentials(world: Any, total: int, due: int) -> None:
    s = Subject()
    verified(world, s)
    template = _item({"pk": f"EMAIL#{s.email}", "sk": "CREDENTIAL"})
    now = world.clock.now
    today = datetime.fromtimestamp(now, UTC).date()
    kinds = [(14, None), (7, None), (1, None), (0, now - 60)]  # days ahead; an expiry already past
    items = []
    for i in range(due):
        days, expires = kinds[i % len(kinds)]
        day = (today + timedelta(days=days)).isoformat()
        user_id, email = f"usr_bench_due_{i}", f"due{i}@bench.example.com"
        at = expires if expires is not None else now + days * 86400
        items.append(
            {
                **template,
                "pk": _s(f"EMAIL#{email}"),
                "email": _s(email),
                "user_id": _s(user_id),
                "gsi1pk": _s(f"PWEXP#{day}"),
                "gsi1sk": _s(user_id),
                "password_expires_at": {"N": str(int(at))},
            }
        )
    for i in range(total - due - 1):  # the template user counts as one not due (day 90)
        day = (today + timedelta(days=20 + i % 70)).isoformat()
        items.append(
            {
                "pk": _s(f"EMAIL#n{i}@bench.example.com"),
                "sk": _s("CREDENTIAL"),
                "gsi1pk": _s(f"PWEXP#{day}"),
                "gsi1sk": _s(f"usr_bench_{i}"),
            }
        )
    _write(items)


def _seed_subscriptions(world: Any, total: int, due: int) -> None:
    s = Subject()
    with_subscription(world, s)
    template = _item({"pk": f"ACCOUNT#{s.person.account_id}", "sk": f"SUB#{s.subscription_id}"})
    now = world.clock.now
    due_at = datetime.fromtimestamp(now - 1800, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    items = []
    for i in range(due):
        sid = f"sub_bench_due_{i:06d}"
        items.append(
            {
                **template,
                "sk": _s(f"SUB#{sid}"),
                "subscription_id": _s(sid),
                "gsi2sk": _s(f"SUB#{sid}"),
                "gsi1pk": _s(f"DUE#{due_at[:13]}"),
                "gsi1sk": _s(f"{due_at}#{sid}"),
                "due_at": _s(due_at),
                "current_period_end": _s(due_at),
            }
        )
    for i in range(total - due - 1):  # the template subscription is one not due (next month)
        at = datetime.fromtimestamp(now + 3600 * (1 + i % 720), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append(
            {
                "pk": _s("ACCOUNT#acc_bench"),
                "sk": _s(f"SUB#sub_bench_{i:06d}"),
                "gsi1pk": _s(f"DUE#{at[:13]}"),
                "gsi1sk": _s(f"{at}#sub_bench_{i:06d}"),
            }
        )
    _write(items)


JOBS: dict[str, tuple[Callable[[Any, int, int], None], Callable[[], dict[str, Any]]]] = {
    "password-expiry": (_seed_credentials, password_expiry.run),
    "subscription-renewal": (_seed_subscriptions, renewal.run),
}


def measure(
    sizes: list[int], due_fraction: float, log: Callable[[str], None] = print, deadline: float | None = None
) -> dict[str, Any]:
    """``deadline`` (a ``perf_counter`` time): sizes after the first are skipped once it has passed,
    and listed in ``skipped``."""
    results: dict[str, Any] = {"due_fraction": due_fraction, "runs": [], "skipped": []}
    for job, (seed, run) in JOBS.items():
        for position, total in enumerate(sorted(sizes)):
            if deadline is not None and position > 0 and time.perf_counter() > deadline:
                results["skipped"].append({"job": job, "total": total, "reason": "BENCH_DEADLINE_MINUTES"})
                log(f"  job {job} at {total}: skipped, past the deadline")
                continue
            due = max(1, round(total * due_fraction))
            with stack.world() as world, cheap_argon2():
                started = time.perf_counter()
                seed(world, total, due)
                seeded = time.perf_counter() - started
                recorder = Recorder(write_units=False)
                with recorder.installed(), recorder.recording() as usage:
                    start = time.perf_counter()
                    summary = run()
                    elapsed = time.perf_counter() - start
            usage_dict = usage.as_dict()
            row = {
                "job": job,
                "total": total,
                "due": due,
                "items_read_by_job": summary["items_read"],
                "read_per_due_item": round(summary["items_read"] / due, 2),
                "read_share_of_table": round(usage.items_returned / total, 4),
                "done": {k: v for k, v in summary.items() if isinstance(v, int) and v and k != "items_read"},
                "failed": summary.get("failed", 0),
                "seconds": round(elapsed, 3),
                "seed_seconds": round(seeded, 1),
                "dynamodb_calls": usage_dict["calls"]["dynamodb"],
                "dynamodb_items_returned": usage_dict["dynamodb_items_returned"],
                "dynamodb_rru": usage_dict["dynamodb_rru"],
                "ses_calls": usage_dict["calls"]["ses"],
                "operations": usage_dict["operations"],
            }
            results["runs"].append(row)
            log(
                f"  job {job} at {total}: {row['items_read_by_job']} read, {row['seconds']}s "
                f"(seeded in {row['seed_seconds']}s)"
            )
    return results
