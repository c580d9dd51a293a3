"""Flags: runs of consecutive periods whose divergence stays above a threshold."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analyzer.analysis.periods import (
    iso_day,
    next_period_start,
)
from analyzer.errors import InputError

DEFAULT_THRESHOLD = 1.0


DEFAULT_MIN_PERIODS = 2


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


def detect_flags(
    frame: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD, min_periods: int = DEFAULT_MIN_PERIODS
) -> tuple[pd.Series, list[Flag]]:
    """Flags over a divergence frame (one or many entity/metric pairs, ordered by period)."""
    flagged = pd.Series(False, index=frame.index)
    found: list[Flag] = []
    if frame.empty:
        return flagged, found
    keys = frame["metric"].fillna("")
    for (entity, metric), group in frame.groupby([frame["entity"], keys], sort=True):
        group = group.sort_values("period")
        for first, last in flag_runs(group["divergence"], threshold, min_periods):
            span = group.iloc[first : last + 1]
            flagged.loc[span.index] = True
            peak = span["divergence"].astype(float).idxmax()
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
                )
            )
    return flagged, found


def flags_to_json(found: Iterable[Flag]) -> str:
    return json.dumps([f.to_dict() for f in found], default=str)


def span_bounds(start: Any, end: Any, freq: str) -> tuple[str, str]:
    """[first day, day after last) of the periods from ``start`` to ``end`` inclusive."""
    return iso_day(start), iso_day(next_period_start(end, freq))


