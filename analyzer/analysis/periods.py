"""Calendar periods (day, week, month, quarter, year): the grid every series is put on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from analyzer.errors import InputError

FREQUENCIES = ("day", "week", "month", "quarter")


PERIODS_PER_YEAR = {"day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}


def check_freq(freq: str) -> str:
    if freq not in FREQUENCIES:
        raise InputError(f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)}")
    return freq


def period_start(value: Any, freq: str) -> pd.Timestamp:
    """Start of the period containing ``value`` (a date, datetime or ISO string)."""
    ts = pd.Timestamp(str(value)[:10]) if isinstance(value, str) else pd.Timestamp(value)
    ts = ts.tz_localize(None) if ts.tzinfo is not None else ts
    ts = ts.normalize()
    if freq == "day":
        return ts
    if freq == "week":
        return ts - pd.Timedelta(days=ts.weekday())
    if freq == "month":
        return ts.replace(day=1)
    if freq == "quarter":
        return ts.replace(month=((ts.month - 1) // 3) * 3 + 1, day=1)
    if freq == "year":
        return ts.replace(month=1, day=1)
    raise InputError(f"unknown frequency {freq!r}")


def period_starts(values: pd.Series, freq: str) -> pd.Series:
    """Vectorised :func:`period_start` over a Series of ISO strings; unparsable values become NaT."""
    days = pd.to_datetime(
        values.astype("string").str.slice(0, 10), errors="coerce", format="%Y-%m-%d"
    )
    if freq == "day":
        return days
    if freq == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    alias = {"month": "M", "quarter": "Q", "year": "Y"}.get(freq)
    if alias is None:
        raise InputError(f"unknown frequency {freq!r}")
    return days.dt.to_period(alias).dt.start_time


def next_period_start(start: Any, freq: str) -> pd.Timestamp:
    start = period_start(start, freq)
    if freq == "day":
        return start + pd.Timedelta(days=1)
    if freq == "week":
        return start + pd.Timedelta(days=7)
    if freq == "month":
        return start + pd.DateOffset(months=1)
    if freq == "quarter":
        return start + pd.DateOffset(months=3)
    if freq == "year":
        return start + pd.DateOffset(years=1)
    raise InputError(f"unknown frequency {freq!r}")


def period_end(start: Any, freq: str) -> pd.Timestamp:
    """Last calendar day of the period that begins at ``start``."""
    return next_period_start(start, freq) - pd.Timedelta(days=1)


def iso_day(value: Any) -> str:
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, (date, pd.Timestamp)):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def shift_days(day: str, days: int) -> str:
    return (date.fromisoformat(day[:10]) + timedelta(days=days)).isoformat()


def period_ends(starts: pd.DatetimeIndex | Sequence[Any], freq: str) -> pd.DatetimeIndex:
    """:func:`period_end` of many period starts at once (each must be the first day of its period)."""
    index = pd.DatetimeIndex(starts)
    step = {
        "day": pd.Timedelta(days=1),
        "week": pd.Timedelta(days=7),
        "month": pd.DateOffset(months=1),
        "quarter": pd.DateOffset(months=3),
        "year": pd.DateOffset(years=1),
    }.get(freq)
    if step is None:
        raise InputError(f"unknown frequency {freq!r}")
    return index + step - pd.Timedelta(days=1)


def day_numbers(values: pd.Series | pd.Index) -> np.ndarray:
    """Days since 1970-01-01 of ISO dates (their first ten characters); -1 where unparsable."""
    days = pd.to_datetime(
        pd.Series(values).astype("string").str.slice(0, 10), errors="coerce", format="%Y-%m-%d"
    )
    numbers = days.to_numpy(dtype="datetime64[D]").astype(np.int64)
    return np.where(days.isna().to_numpy(), -1, numbers)


def period_numbers(days: np.ndarray, freq: str) -> np.ndarray:
    """Consecutive integers numbering the periods of ``freq`` that hold ``days`` (day numbers):
    the periods of :func:`period_start` as integers, for array arithmetic on a gap-free grid."""
    if freq == "day":
        return days
    if freq == "week":
        return (days + 3) // 7  # 1970-01-01 was a Thursday; weeks start on Monday
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    if freq == "month":
        return months
    if freq == "quarter":
        return months // 3
    if freq == "year":
        return months // 12
    raise InputError(f"unknown frequency {freq!r}")
