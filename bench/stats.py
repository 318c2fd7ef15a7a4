"""Summary statistics and the budget verdict (pure: no I/O, unit-tested in tests/unit/test_bench.py)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

UNDER, OVER, NOISE = "under", "over", "within noise"


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between the closest ranks (the
    default of numpy and of spreadsheet PERCENTILE.INC): p50 is the median, p0 the minimum."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """The median of some samples and their interquartile range (p25..p75)."""

    median: float
    p25: float
    p75: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        return cls(statistics.median(samples), percentile(samples, 25), percentile(samples, 75), len(samples))

    def as_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {
            "median": round(self.median, digits),
            "p25": round(self.p25, digits),
            "p75": round(self.p75, digits),
            "n": self.n,
        }


def paired_ratios(candidate: Sequence[float], floor: Sequence[float]) -> list[float]:
    """Round by round ratios: the runs were interleaved (floor, f1, f2, ... then again), so run i of
    the candidate and run i of the floor met the same machine state, and their ratio cancels the
    drift that a ratio of two overall medians would keep."""
    if len(candidate) != len(floor):
        raise ValueError("paired samples must have the same length")
    return [c / f for c, f in zip(candidate, floor, strict=True) if f > 0]


def verdict(band_low: float, band_high: float, budget: float) -> str:
    """``under`` when the whole noise band is at or below the budget, ``over`` when it is wholly
    above, otherwise ``within noise``: the measurement cannot tell."""
    if band_low > band_high:
        raise ValueError("band_low above band_high")
    if band_high <= budget:
        return UNDER
    if band_low > budget:
        return OVER
    return NOISE


@dataclass(frozen=True)
class RatioVerdict:
    """A function's cost relative to its floor: the median of the paired ratios, their IQR as the
    noise band, and the verdict against the budget."""

    ratio: float
    band: tuple[float, float]
    budget: float
    verdict: str

    @classmethod
    def of(cls, candidate: Sequence[float], floor: Sequence[float], budget: float) -> RatioVerdict:
        spread = Spread.of(paired_ratios(candidate, floor))
        return cls(spread.median, (spread.p25, spread.p75), budget, verdict(spread.p25, spread.p75, budget))

    def as_dict(self) -> dict[str, object]:
        return {
            "ratio_median": round(self.ratio, 3),
            "noise_band_iqr": [round(self.band[0], 3), round(self.band[1], 3)],
            "budget": self.budget,
            "verdict": self.verdict,
        }


def latency(samples_s: Sequence[float]) -> dict[str, float | int]:
    """Warm latency summary in milliseconds: p50, p99, mean (what Lambda bills), min, max."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
    }
