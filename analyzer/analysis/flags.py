"""Flags: runs of consecutive reliable periods whose divergence band stays above a threshold.

A period counts towards a flag when the lower bound of its divergence band is above the
threshold and it has enough stories to be reliable; a flag is a run of at least
``min_periods`` such periods. Its ``confidence`` is the smallest, over the run, of the
probability that the period's divergence exceeds the threshold (normal approximation to the
band). Rows without a band (computed without resampling) fall back to the point estimate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from analyzer.analysis.heat import DEFAULT_LEVEL
from analyzer.analysis.periods import (
    iso_day,
    next_period_start,
)
from analyzer.errors import InputError

DEFAULT_THRESHOLD = 0.75


DEFAULT_MIN_PERIODS = 1


@dataclass
class Flag:
    entity: str
    metric: str | None
    freq: str
    start: str
    end: str
    peak_period: str
    peak_value: float
    periods: int
    threshold: float
    min_periods: int
    top_sentences: list[dict[str, Any]] = field(default_factory=list)
    confidence: float | None = None
    peak_low: float | None = None
    peak_high: float | None = None
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def flag_runs(values: Iterable[float], threshold: float, min_periods: int) -> list[tuple[int, int]]:
    """(first, last) positions of runs of at least ``min_periods`` values above ``threshold``.

    Missing values break a run. Positions are consecutive observed periods.
    """
    if min_periods < 1:
        raise InputError("min_periods must be at least 1")
    runs, start = [], None
    array = np.asarray(list(values), dtype=float)
    for i, value in enumerate(array):
        above = bool(np.isfinite(value) and value > threshold)
        if above and start is None:
            start = i
        if not above and start is not None:
            if i - start >= min_periods:
                runs.append((start, i - 1))
            start = None
    if start is not None and len(array) - start >= min_periods:
        runs.append((start, len(array) - 1))
    return runs


def exceedance_probability(
    value: Any, low: Any, high: Any, threshold: float, level: float = DEFAULT_LEVEL
) -> float | None:
    """P(divergence > threshold) from a point estimate and its ``level`` band (normal approximation:
    the band's half-width is z_{(1+level)/2} standard deviations). None without a value."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high)):
        return 1.0 if value > threshold else 0.0
    sd = (high - low) / (2.0 * NormalDist().inv_cdf(0.5 + level / 2.0))
    if sd <= 1e-12:
        return 1.0 if value > threshold else 0.0
    return float(NormalDist().cdf((value - threshold) / sd))


def _flag_values(group: pd.DataFrame) -> pd.Series:
    """What must exceed the threshold: the band's lower bound (the point estimate where no band
    was computed), missing for unreliable periods so that they break a run."""
    values = group["divergence"].astype(float)
    if "divergence_low" in group.columns:
        low = group["divergence_low"].astype(float)
        banded = low.notna() | group["divergence"].isna()
        if banded.any():
            values = low
    if "reliable" in group.columns:
        reliable = group["reliable"].map(
            lambda r: True if r is None or (isinstance(r, float) and math.isnan(r)) else bool(r)
        )
        values = values.where(reliable.astype(bool))
    return values


def detect_flags(
    frame: pd.DataFrame,
    threshold: float = DEFAULT_THRESHOLD,
    min_periods: int = DEFAULT_MIN_PERIODS,
    *,
    level: float = DEFAULT_LEVEL,
) -> tuple[pd.Series, list[Flag]]:
    """Flags over a divergence frame (one or many entity/metric pairs, ordered by period)."""
    flagged = pd.Series(False, index=frame.index)
    found: list[Flag] = []
    if frame.empty:
        return flagged, found
    keys = frame["metric"].fillna("")
    for (entity, metric), group in frame.groupby([frame["entity"], keys], sort=True):
        group = group.sort_values("period")
        for first, last in flag_runs(_flag_values(group), threshold, min_periods):
            span = group.iloc[first : last + 1]
            flagged.loc[span.index] = True
            peak = span["divergence"].astype(float).idxmax()
            lows = (
                span["divergence_low"]
                if "divergence_low" in span.columns
                else pd.Series(np.nan, index=span.index)
            )
            highs = (
                span["divergence_high"]
                if "divergence_high" in span.columns
                else pd.Series(np.nan, index=span.index)
            )
            probabilities = [
                exceedance_probability(v, lo, hi, threshold, level)
                for v, lo, hi in zip(span["divergence"], lows, highs)
            ]
            known = [p for p in probabilities if p is not None]
            found.append(
                Flag(
                    entity=str(entity),
                    metric=metric or None,
                    freq=str(group["freq"].iloc[0]),
                    start=iso_day(span["period"].iloc[0]),
                    end=iso_day(span["period"].iloc[-1]),
                    peak_period=iso_day(span.loc[peak, "period"]),
                    peak_value=float(span.loc[peak, "divergence"]),
                    periods=len(span),
                    threshold=float(threshold),
                    min_periods=int(min_periods),
                    confidence=min(known) if known else None,
                    peak_low=_finite(lows.loc[peak]),
                    peak_high=_finite(highs.loc[peak]),
                    mode=str(group["mode"].iloc[0])
                    if "mode" in group.columns and group["mode"].notna().any()
                    else None,
                )
            )
    return flagged, found


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def flags_to_json(found: Iterable[Flag]) -> str:
    return json.dumps([f.to_dict() for f in found], default=str)


def span_bounds(start: Any, end: Any, freq: str) -> tuple[str, str]:
    """[first day, day after last) of the periods from ``start`` to ``end`` inclusive."""
    return iso_day(start), iso_day(next_period_start(end, freq))
