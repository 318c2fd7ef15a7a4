"""The readable summary ``make bench`` prints from its report (the JSON file has everything)."""

from __future__ import annotations

from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ms(spread: dict[str, Any]) -> str:
    return f"{spread['median'] * 1000:.0f} ({spread['p25'] * 1000:.0f}-{spread['p75'] * 1000:.0f})"


def _ratio(v: dict[str, Any]) -> str:
    low, high = v["noise_band_iqr"]
    return f"{v['ratio_median']:.2f} [{low:.2f}-{high:.2f}] {v['verdict']}"


def cold(section: dict[str, Any]) -> str:
    out = [
        "COLD START (fresh interpreters; median (IQR) ms; ratio to floor [IQR of per-round ratios] "
        f"vs {section['budget_ratio']}x)"
    ]
    for condition, by_name in section["conditions"].items():
        rows = []
        for name, r in by_name.items():
            rows.append(
                [
                    name,
                    _ms(r["import_wall_s"]),
                    _ms(r["import_cpu_s"]),
                    f"{r['first_invocation_wall_s']['median'] * 1000:.1f} ({r['first_invocation_status']})",
                    _ratio(r["vs_floor_import_wall"]) if "vs_floor_import_wall" in r else "-",
                    _ratio(r["vs_floor_import_cpu"]) if "vs_floor_import_cpu" in r else "-",
                    _ratio(r["vs_floor_import_and_first_invocation_wall"]) if "floor" in r else "-",
                ]
            )
        out.append(f"\n[{condition.replace('_', ' ')}]")
        out.append(
            _table(
                [
                    "function",
                    "import wall",
                    "import cpu",
                    "1st invocation ms",
                    "wall ratio",
                    "cpu ratio",
                    "import+1st wall ratio",
                ],
                rows,
            )
        )
    for name, error in section.get("failed", {}).items():
        out.append(f"\n  {name}: left out, its probe failed: {error.strip().splitlines()[-1]}")
    return "\n".join(out)


def argon2(section: dict[str, Any]) -> str:
    c = section["chosen"]
    rows = [
        [
            name,
            f"{r['wall']['median']} ({r['wall']['p25']}-{r['wall']['p75']})",
            r["cpu"]["median"],
            r.get("verdict_wall", "-"),
        ]
        for name, r in section["ms"].items()
    ]
    head = (
        f"ARGON2ID (chosen m={c['memory_kib']} KiB t={c['time_cost']} p={c['parallelism']}; "
        f"OWASP minimum m=19456 KiB t=2 p=1; budget {section['budget_ms']} ms; median (IQR) ms)"
    )
    return head + "\n" + _table(["case", "wall ms", "cpu ms", "vs budget"], rows)


def warm(section: dict[str, Any]) -> str:
    rows = []
    for name, r in section.items():
        a = r["aws_per_request"]
        rows.append(
            [
                name,
                r["n"],
                r["p50_ms"],
                r["p99_ms"],
                r["mean_ms"],
                a["calls"]["dynamodb"],
                a["dynamodb_rru"],
                a["dynamodb_wru"],
                a["calls"]["ses"],
                a["calls"]["sns"],
                a["calls"]["kms"],
            ]
        )
    return "WARM, IN PROCESS ON MOTO (ms; AWS usage per request from a recorded pass)\n" + _table(
        ["flow", "n", "p50", "p99", "mean", "DDB calls", "RRU", "WRU", "SES", "SNS", "KMS"], rows
    )


def jobs(section: dict[str, Any]) -> str:
    rows = [
        [
            r["job"],
            r["total"],
            r["due"],
            r["items_read_by_job"],
            r.get("read_per_due_item", "-"),
            f"{r.get('read_share_of_table', 0):.2%}",
            r["dynamodb_calls"],
            r["dynamodb_items_returned"],
            r["dynamodb_rru"],
            r["failed"],
            r["seconds"],
        ]
        for r in section["runs"]
    ]
    skipped = "".join(f"\n  skipped: {r['job']} at {r['total']} ({r['reason']})" for r in section.get("skipped", []))
    return (
        f"JOB SCALING ({section['due_fraction']:.0%} due; time is moto's, whose index queries scan the table)\n"
        + _table(
            [
                "job",
                "total",
                "due",
                "read by job",
                "read/due",
                "returned/total",
                "DDB calls",
                "items returned",
                "RRU",
                "failed",
                "s",
            ],
            rows,
        )
        + skipped
    )


def cost(section: dict[str, Any]) -> str:
    lam = section["lambda"]
    out = [
        f"COST MODEL (USD per 1,000 monthly active users; {section['prices']['region']} prices of "
        f"{section['prices']['date']}; Lambda {lam['memory_mb']} MB {lam['architecture']}, cpu scale "
        f"{section['cpu_scale']}, cold-start share {section['assumptions']['cold_start_fraction']:.0%})"
    ]
    for kind, u in section["users"].items():
        parts = ", ".join(f"{k} {v:.3f}" for k, v in u["per_1000_mau_usd"].items() if v >= 0.0005)
        out.append(
            f"  {kind}: {u['per_1000_mau_total_usd']:.2f} total "
            f"(sign-in alone {u['sign_in_only_per_1000_mau_usd']:.2f})"
            f"\n    {parts}"
        )
    c = section["cognito"]
    tiers = ", ".join(
        f"{t} {c[t]['first_1000_mau']:.2f} first / {c[t]['marginal_1000_mau']:.2f} marginal"
        for t in ("lite", "essentials", "plus")
    )
    out.append(f"  Amazon Cognito per 1,000 MAU ({c['date']}): {tiers}")
    return "\n".join(out)


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    parts = [
        f"make bench, {report['date']} on {m['host']} ({m['cpu_count']} CPUs, Python {m['python']}, "
        f"load {m['load_average_at_start']} -> {m.get('load_average_at_end')}), {report.get('elapsed_seconds')} s "
        f"({', '.join(f'{k} {v:.0f}s' for k, v in report.get('section_seconds', {}).items())})"
    ]
    renderers = {
        "cold_start": cold,
        "argon2id": argon2,
        "warm": warm,
        "job_scaling": jobs,
        "cost_model": cost,
    }
    for key, render_section in renderers.items():
        if key in report:
            parts.append(render_section(report[key]))
    if "password_policy" in report:
        p = report["password_policy"]
        parts.append(
            f"PASSWORD POLICY: first check {p['first_call_ms']} ms, then {p['median_ms_128_chars']} ms (128 chars)"
        )
    for section, error in report.get("errors", {}).items():
        parts.append(f"SECTION FAILED: {section}: {error}")
    parts.append("Budgets are reported, not enforced: 'within noise' means the band straddles the budget.")
    return "\n\n".join(parts)
