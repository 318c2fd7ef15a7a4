"""The cost model: dollars per 1,000 monthly active users on AWS, from the measured scenarios, the
prices in ``bench/prices.json`` and the usage profile in ``bench/profile.json``, next to Amazon
Cognito's feature plans for the same users. The arithmetic is pure and unit-tested.

Per request of a scenario (its measured warm mean duration and recorded AWS usage):

* Lambda duration: ``ceil(mean_ms x cpu_scale)`` ms billed at MemorySize (GB) x price per GB-s of
  the template's architecture, ``cpu_scale = max(1, 1769 / MemorySize)``;
* Lambda cold starts: ``cold_start_fraction`` of the requests also pay their function's INIT
  (import and first invocation without bytecode, measured, x cpu_scale);
* Lambda and HTTP API requests: one each (a job run: Lambda only);
* DynamoDB: read and write request units as recorded; KMS: requests; SES: emails; SNS: SMS.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / name).read_text()))


def lambda_config(template: Path = ROOT / "template.yaml") -> dict[str, Any]:
    """MemorySize and Architectures of the template's Globals (the functions set neither)."""
    text = template.read_text()
    globals_ = text.split("Globals:", 1)[1].split("\nResources:", 1)[0]
    memory = re.search(r"^\s+MemorySize:\s*(\d+)", globals_, re.M)
    arch = re.search(r"^\s+Architectures:\s*\[\s*([\w-]+)", globals_, re.M)
    overrides = re.findall(r"^\s{6}(MemorySize|Architectures):", text.split("\nResources:", 1)[1], re.M)
    return {
        "memory_mb": int(memory.group(1)) if memory else 128,
        "architecture": arch.group(1) if arch else "x86_64",
        "per_function_overrides": sorted(set(overrides)),
    }


def cpu_scale(memory_mb: int, reference_mb: int = 1769) -> float:
    return max(1.0, reference_mb / memory_mb)


def billed_ms(measured_ms: float, scale: float) -> int:
    return max(1, math.ceil(measured_ms * scale))


def request_cost(
    *,
    duration_ms: float,
    init_ms: float,
    usage: Mapping[str, Any],
    prices: Mapping[str, Any],
    lam: Mapping[str, Any],
    cold_start_fraction: float,
    http: bool = True,
    reference_mb: int = 1769,
) -> dict[str, float]:
    """Dollars of one request (or job run), by component."""
    gb = lam["memory_mb"] / 1024
    scale = cpu_scale(lam["memory_mb"], reference_mb)
    per_gbs = prices["lambda"]["per_gb_second"][lam["architecture"]]
    calls = usage.get("calls", {})
    return {
        "lambda_duration": billed_ms(duration_ms, scale) / 1000 * gb * per_gbs,
        "lambda_cold_start": cold_start_fraction * billed_ms(init_ms, scale) / 1000 * gb * per_gbs,
        "lambda_requests": prices["lambda"]["per_million_requests"] / 1e6,
        "http_api": prices["http_api"]["per_million_requests"] / 1e6 if http else 0.0,
        "dynamodb_reads": (usage.get("dynamodb_rru") or 0) * prices["dynamodb"]["per_million_read_request_units"] / 1e6,
        "dynamodb_writes": (usage.get("dynamodb_wru") or 0)
        * prices["dynamodb"]["per_million_write_request_units"]
        / 1e6,
        "kms": calls.get("kms", 0) * prices["kms"]["per_10000_requests"] / 1e4,
        "ses": calls.get("ses", 0) * prices["ses"]["per_1000_emails"] / 1e3,
        "sns_sms": calls.get("sns", 0) * prices["sns_sms"]["per_message"],
    }


def add(into: dict[str, float], more: Mapping[str, float], times: float = 1.0) -> dict[str, float]:
    for key, value in more.items():
        into[key] = into.get(key, 0.0) + value * times
    return into


IDENTITY = frozenset({"password login", "TOTP step", "portal code request", "portal code verify"})
"""The scenarios Cognito would take over (sign-in and its second factor)."""


def user_month(
    user: Mapping[str, Any],
    per_request: Mapping[str, Mapping[str, float]],
    prices: Mapping[str, Any],
    only: frozenset[str] | None = None,
) -> dict[str, float]:
    """Dollars one user of the profile costs in a month, by component (``only``: just those
    scenarios, without the extra emails and SMS)."""
    total: dict[str, float] = {}
    for scenario, count in {**user.get("requests", {}), **user.get("jobs", {})}.items():
        if only is None or scenario in only:
            add(total, per_request[scenario], count)
    if only is not None:
        return total
    total["ses"] = total.get("ses", 0.0) + user.get("extra_emails", 0) * prices["ses"]["per_1000_emails"] / 1e3
    total["sns_sms"] = total.get("sns_sms", 0.0) + user.get("extra_sms", 0) * prices["sns_sms"]["per_message"]
    return total


def cognito_month(mau: int, tier: Mapping[str, Any]) -> float:
    """Dollars a month for ``mau`` monthly active users on one Cognito feature plan: the free
    allowance, then each band's price up to its upper bound (``None``: no bound)."""
    billable = max(0, mau - tier["free_mau"])
    cost, floor = 0.0, tier["free_mau"]
    for upper, price in tier["bands"]:
        if billable <= 0:
            break
        width = billable if upper is None else min(billable, upper - floor)
        cost += width * price
        billable -= width
        floor = upper if upper is not None else floor
    return cost


def cognito_per_1000(tier: Mapping[str, Any]) -> dict[str, float]:
    """A pool's first 1,000 users (inside the free allowance where there is one) and 1,000 more
    users at the first paid band's price (the marginal price of growth)."""
    first = cognito_month(1000, tier)
    beyond = cognito_month(tier["free_mau"] + 1000, tier) - cognito_month(tier["free_mau"], tier)
    return {"first_1000_mau": round(first, 2), "marginal_1000_mau": round(beyond, 2)}


def model(
    warm: Mapping[str, Any],
    cold: Mapping[str, Any],
    prices_file: Mapping[str, Any],
    profile: Mapping[str, Any],
    lam: Mapping[str, Any],
) -> dict[str, Any]:
    prices = prices_file["prices"]
    assumptions = profile["assumptions"]
    uncached = cold.get("conditions", {}).get("no_bytecode", {})
    per_request: dict[str, dict[str, float]] = {}
    for name, result in warm.items():
        function = uncached.get(result["function"], {})
        init_s = function.get("import_wall_s", {}).get("median", 0) + function.get("first_invocation_wall_s", {}).get(
            "median", 0
        )
        per_request[name] = request_cost(
            duration_ms=result["mean_ms"],
            init_ms=init_s * 1000,
            usage=result["aws_per_request"],
            prices=prices,
            lam=lam,
            cold_start_fraction=assumptions["cold_start_fraction"],
            http=not result["route"].startswith("job "),
            reference_mb=assumptions["cpu_scale_reference_mb"],
        )
    users: dict[str, Any] = {}
    for kind, user in profile["users"].items():
        month = user_month(user, per_request, prices)
        users[kind] = {
            "description": user["description"],
            "per_1000_mau_usd": {k: round(v * 1000, 4) for k, v in sorted(month.items())},
            "per_1000_mau_total_usd": round(sum(month.values()) * 1000, 2),
            "sign_in_only_per_1000_mau_usd": round(
                sum(user_month(user, per_request, prices, only=IDENTITY).values()) * 1000, 2
            ),
        }
    cognito = prices_file["cognito"]
    return {
        "lambda": dict(lam),
        "cpu_scale": round(cpu_scale(lam["memory_mb"], assumptions["cpu_scale_reference_mb"]), 3),
        "prices": {"region": prices_file["region"], "date": prices_file["date"], "file": "bench/prices.json"},
        "assumptions": assumptions,
        "per_request_usd": {k: round(sum(v.values()), 8) for k, v in per_request.items()},
        "users": users,
        "cognito": {
            "date": cognito["date"],
            "source": cognito["source"],
            **{name: cognito_per_1000(tier) for name, tier in cognito["tiers"].items()},
            "note": "Cognito prices the identity part only (sign-up, login, MFA, recovery); "
            "Portico's figures include its billing and portal requests too",
        },
    }
