"""Small statistics for benchmark samples (no numpy: the peers' venvs share this file)."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["percentile", "latency_ms", "ratio"]


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation; NaN for no values."""
    xs = sorted(values)
    if not xs:
        return math.nan
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def latency_ms(seconds: Iterable[float]) -> dict[str, float]:
    """``{p50, p99, max, n}`` in milliseconds of durations given in seconds."""
    xs = [s * 1000 for s in seconds]
    return {
        "p50": round(percentile(xs, 50), 3),
        "p99": round(percentile(xs, 99), 3),
        "max": round(max(xs), 3) if xs else math.nan,
        "n": len(xs),
    }


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs`` rounded, or None when either side is missing or zero."""
    if not ours or not theirs or math.isnan(ours) or math.isnan(theirs):
        return None
    return round(ours / theirs, 3)
