"""The pure parts of ``make bench``: statistics and the budget verdict, DynamoDB capacity-unit
arithmetic, the Argon2 parameter reading and the cost model."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from bench import cost, stats
from bench.argon import chosen, parameters
from bench.capacity import index_writes, item_size, number_size, read_units, value_size, write_units

# ----------------------------------------------------------------- statistics and verdicts


def test_percentile_interpolates_between_ranks():
    samples = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert stats.percentile(samples, 0) == 1.0
    assert stats.percentile(samples, 50) == 3.0
    assert stats.percentile(samples, 100) == 5.0
    assert stats.percentile(samples, 25) == 2.0
    assert stats.percentile([1.0, 2.0], 50) == 1.5
    assert stats.percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)
    assert stats.percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("bad", [-1, 101])
def test_percentile_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        stats.percentile([1.0], bad)
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_spread_is_median_and_interquartile_range():
    spread = stats.Spread.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (spread.median, spread.p25, spread.p75, spread.n) == (3.0, 2.0, 4.0, 5)


def test_ratios_are_paired_round_by_round():
    assert stats.paired_ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    with pytest.raises(ValueError):
        stats.paired_ratios([1.0], [1.0, 2.0])


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.0, 1.2, stats.UNDER),
        (1.1, 1.3, stats.UNDER),  # at the budget is within it
        (1.2, 1.4, stats.NOISE),
        (1.3, 1.4, stats.NOISE),  # the band touches the budget: cannot tell
        (1.31, 1.5, stats.OVER),
    ],
)
def test_verdict_against_the_noise_band(low, high, expected):
    assert stats.verdict(low, high, 1.3) == expected


def test_verdict_refuses_an_inverted_band():
    with pytest.raises(ValueError):
        stats.verdict(1.5, 1.2, 1.3)


def test_ratio_verdict_drift_hits_both_alike():
    floor = [1.0, 2.0, 1.0, 2.0, 1.0]  # the machine slows down every other round
    candidate = [1.5 * f for f in floor]
    result = stats.RatioVerdict.of(candidate, floor, 1.3)
    assert result.ratio == pytest.approx(1.5)
    assert result.band == pytest.approx((1.5, 1.5))
    assert result.verdict == stats.OVER
    noisy = stats.RatioVerdict.of([1.1, 1.5, 1.2, 1.4, 1.3], [1.0] * 5, 1.3)
    assert noisy.verdict == stats.NOISE and noisy.ratio == pytest.approx(1.3)


def test_latency_summary_in_milliseconds():
    summary = stats.latency([0.001 * i for i in range(1, 101)])
    assert summary["n"] == 100
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["mean_ms"] == pytest.approx(50.5)
    assert (summary["min_ms"], summary["max_ms"]) == (1.0, 100.0)


# ----------------------------------------------------------------- DynamoDB units


def test_item_size_follows_dynamodbs_rules():
    assert number_size("1999") == 3  # 4 significant digits: 2 bytes + 1
    assert number_size("100") == 2
    assert number_size("-0.5") == 2
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"BOOL": True}) == 1
    assert value_size({"B": b"\x00\x01"}) == 2
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    item = {"pk": {"S": "EMAIL#a@b.c"}, "n": {"N": "12"}}
    assert item_size(item) == (2 + 11) + (1 + 2)
    assert item_size(None) == 0


def test_read_units_round_up_to_4kb_and_halve_when_eventual():
    assert read_units(0, consistent=True) == 1  # a read that finds nothing costs the minimum
    assert read_units(4096, consistent=True) == 1
    assert read_units(4097, consistent=True) == 2
    assert read_units(4097, consistent=False) == 1
    assert read_units(100, consistent=False) == 0.5
    assert read_units(5000, consistent=True, transactional=True) == 4


def test_write_units_round_up_to_1kb_on_the_larger_image():
    assert write_units(0, 1024) == 1
    assert write_units(0, 1025) == 2
    assert write_units(3000, 100) == 3  # an update that shrinks an item pays for the old size
    assert write_units(0, 0) == 1  # a failed conditional write still costs a unit
    assert write_units(0, 1500, transactional=True) == 4


def test_index_writes_count_entries_put_deleted_or_moved():
    a = {"gsi1pk": {"S": "DUE#1"}, "gsi1sk": {"S": "x"}}
    b = {"gsi1pk": {"S": "DUE#2"}, "gsi1sk": {"S": "x"}}
    assert index_writes(None, {"pk": {"S": "p"}}) == 0
    assert index_writes(None, a) == 1
    assert index_writes(a, a) == 1
    assert index_writes(a, b) == 2  # old entry deleted, new one put
    assert index_writes(a, {"pk": {"S": "p"}}) == 1
    assert index_writes(a, {**a, "gsi2pk": {"S": "C"}, "gsi2sk": {"S": "s"}}) == 2


def test_argon2_parameters_read_from_a_phc_string():
    phc = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
    assert parameters(phc) == {"memory_kib": 65536, "time_cost": 3, "parallelism": 1}
    with pytest.raises(ValueError):
        parameters("$2b$12$bcrypt")


def test_argon2_parameters_fall_back_to_what_the_module_exposes():
    constants = SimpleNamespace(TIME_COST=2, MEMORY_COST_KIB=8192, PARALLELISM=1)
    found, _, _ = chosen(constants)
    assert (found["memory_kib"], found["time_cost"], found["parallelism"]) == (8192, 2, 1)
    settings = SimpleNamespace(settings=SimpleNamespace(memory_kib=4096, time_cost=1, parallelism=1))
    assert chosen(settings)[0]["memory_kib"] == 4096
    assert "defaults" in chosen(SimpleNamespace())[0]["source"]


# ----------------------------------------------------------------- cost model

PRICES = {
    "lambda": {"per_gb_second": {"arm64": 0.00001, "x86_64": 0.00002}, "per_million_requests": 0.2},
    "http_api": {"per_million_requests": 1.0},
    "dynamodb": {"per_million_write_request_units": 1.0, "per_million_read_request_units": 0.2},
    "kms": {"per_10000_requests": 0.03},
    "ses": {"per_1000_emails": 0.1},
    "sns_sms": {"per_message": 0.08},
}
LAMBDA = {"memory_mb": 1024, "architecture": "arm64"}
USAGE = {"calls": {"dynamodb": 3, "ses": 1, "sns": 0, "kms": 2}, "dynamodb_rru": 2.5, "dynamodb_wru": 4}


def test_cpu_scale_and_billed_milliseconds():
    assert cost.cpu_scale(1024) == pytest.approx(1769 / 1024)
    assert cost.cpu_scale(2048) == 1.0  # more than a vCPU does not make one thread faster
    assert cost.billed_ms(10.1, 1.0) == 11
    assert cost.billed_ms(0.2, 1.0) == 1
    assert cost.billed_ms(10, 1.5) == 15


def test_request_cost_by_component():
    c = cost.request_cost(
        duration_ms=100, init_ms=1000, usage=USAGE, prices=PRICES, lam=LAMBDA, cold_start_fraction=0.02
    )
    scale = 1769 / 1024
    assert c["lambda_duration"] == pytest.approx(math.ceil(100 * scale) / 1000 * 1.0 * 0.00001)
    assert c["lambda_cold_start"] == pytest.approx(0.02 * math.ceil(1000 * scale) / 1000 * 0.00001)
    assert c["lambda_requests"] == pytest.approx(0.2e-6)
    assert c["http_api"] == pytest.approx(1e-6)
    assert c["dynamodb_reads"] == pytest.approx(2.5 * 0.2e-6)
    assert c["dynamodb_writes"] == pytest.approx(4e-6)
    assert c["kms"] == pytest.approx(2 * 0.03 / 1e4)
    assert c["ses"] == pytest.approx(1e-4)
    assert c["sns_sms"] == 0
    job = cost.request_cost(
        duration_ms=100, init_ms=0, usage={}, prices=PRICES, lam=LAMBDA, cold_start_fraction=0, http=False
    )
    assert job["http_api"] == 0 and job["dynamodb_reads"] == 0


def test_user_month_adds_counts_and_extras():
    per_request = {"read": {"http_api": 1e-6, "ses": 0.0}, "login": {"http_api": 1e-6, "ses": 1e-4}}
    user = {"requests": {"read": 300, "login": 20}, "extra_emails": 2, "extra_sms": 0.5}
    month = cost.user_month(user, per_request, PRICES)
    assert month["http_api"] == pytest.approx(320e-6)
    assert month["ses"] == pytest.approx(20e-4 + 2 * 1e-4)
    assert month["sns_sms"] == pytest.approx(0.04)
    only = cost.user_month(user, per_request, PRICES, only=frozenset({"login"}))
    assert only["http_api"] == pytest.approx(20e-6) and only["ses"] == pytest.approx(20e-4)


LITE = {"free_mau": 10000, "bands": [[100000, 0.0055], [1000000, 0.0046], [10000000, 0.00325], [None, 0.0025]]}


def test_cognito_tiers():
    assert cost.cognito_month(1000, LITE) == 0
    assert cost.cognito_month(10000, LITE) == 0
    assert cost.cognito_month(100000, LITE) == pytest.approx(90000 * 0.0055)
    assert cost.cognito_month(150000, LITE) == pytest.approx(90000 * 0.0055 + 50000 * 0.0046)
    assert cost.cognito_month(20_000_000, LITE) == pytest.approx(
        90000 * 0.0055 + 900000 * 0.0046 + 9_000_000 * 0.00325 + 10_000_000 * 0.0025
    )
    plus = {"free_mau": 0, "bands": [[None, 0.02]]}
    assert cost.cognito_month(1000, plus) == pytest.approx(20)
    assert cost.cognito_per_1000(LITE) == {"first_1000_mau": 0, "marginal_1000_mau": 5.5}
    assert cost.cognito_per_1000(plus) == {"first_1000_mau": 20, "marginal_1000_mau": 20}


def test_lambda_configuration_comes_from_the_template():
    lam = cost.lambda_config()
    assert lam["memory_mb"] > 0 and lam["architecture"] in ("arm64", "x86_64")


def test_the_price_file_has_dates_sources_and_every_price_the_model_uses():
    prices = cost.load("prices.json")
    assert prices["region"] == "eu-central-1" and prices["date"]
    for name, entry in prices["prices"].items():
        assert entry["source"].startswith("https://") and entry["date"], name
    cost.request_cost(
        duration_ms=1, init_ms=1, usage=USAGE, prices=prices["prices"], lam=LAMBDA, cold_start_fraction=0.1
    )
    assert set(prices["cognito"]["tiers"]) == {"lite", "essentials", "plus"}


def test_model_prices_each_user_of_the_profile():
    warm = {
        "read": {"function": "me", "route": "GET /me", "mean_ms": 10.0, "aws_per_request": USAGE},
        "renew": {"function": "jobs", "route": "job x", "mean_ms": 50.0, "aws_per_request": {"calls": {}}},
    }
    cold = {
        "conditions": {
            "no_bytecode": {"me": {"import_wall_s": {"median": 1.0}, "first_invocation_wall_s": {"median": 0.01}}}
        }
    }
    profile = {
        "assumptions": {"cold_start_fraction": 0.0, "cpu_scale_reference_mb": 1024},
        "users": {"u": {"description": "d", "requests": {"read": 10}, "jobs": {"renew": 1}}},
    }
    prices_file = {
        "region": "r",
        "date": "d",
        "prices": PRICES,
        "cognito": {"date": "d", "source": "s", "tiers": {"plus": {"free_mau": 0, "bands": [[None, 0.02]]}}},
    }
    result = cost.model(warm, cold, prices_file, profile, LAMBDA)
    read = sum(
        cost.request_cost(
            duration_ms=10,
            init_ms=1010,
            usage=USAGE,
            prices=PRICES,
            lam=LAMBDA,
            cold_start_fraction=0,
            reference_mb=1024,
        ).values()
    )
    renew = sum(
        cost.request_cost(
            duration_ms=50,
            init_ms=0,
            usage={},
            prices=PRICES,
            lam=LAMBDA,
            cold_start_fraction=0,
            http=False,
            reference_mb=1024,
        ).values()
    )
    assert result["users"]["u"]["per_1000_mau_total_usd"] == pytest.approx(round((10 * read + renew) * 1000, 2))
    assert result["cognito"]["plus"] == {"first_1000_mau": 20, "marginal_1000_mau": 20}
