"""Explosiveness tests: sup-ADF and generalised sup-ADF (Phillips, Shi & Yu 2015).

For a series y_0..y_{T-1} and a window [s, e] the right-tailed ADF regression is

    dy_t = a + b * y_{t-1} + sum_{i=1..k} c_i * dy_{t-i} + u_t,   t = s+1+k .. e

and its statistic is t(b) = b / se(b). Under a unit root b = 0; explosive behaviour pushes b
above zero. SADF is the supremum over expanding windows [0, e]; BSADF(e) is the supremum over
all start points s for the end point e; GSADF is the supremum of BSADF over e. Every window
holds at least r0 * T observations with r0 = 0.01 + 1.8 / sqrt(T).

All window regressions are solved at once from prefix sums of the regressors' cross products,
so a series of a few hundred points takes milliseconds. Critical values come from a seeded
Monte Carlo simulation under the null of a random walk with asymptotically negligible drift
(y_t = y_{t-1} + T^-1 + e_t), cached per sample size.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from analyzer.errors import InputError

DEFAULT_LEVEL = 0.95
DEFAULT_REPLICATIONS = 999
DEFAULT_SEED = 20150101
MIN_OBSERVATIONS = 20  # below this the minimum window is too short for a regression worth reading
# Keep the simulation to roughly replications * T^2 <= this many window regressions.
MAX_SIMULATED_WINDOWS = 30_000_000
MIN_REPLICATIONS = 49


def minimum_window(n: int, r0: float | None = None, lags: int = 0) -> int:
    """Smallest window in observations: floor(T * r0), r0 = 0.01 + 1.8 / sqrt(T) by default."""
    if r0 is None:
        r0 = 0.01 + 1.8 / math.sqrt(n)
    return max(int(math.floor(n * r0)), 2 * lags + 6)


def adf_window_matrix(y: np.ndarray, min_window: int, lags: int = 0) -> np.ndarray:
    """ADF t-statistics for every window: element [s, e] covers y[s..e]; NaN where too short."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    stats = np.full((n, n), np.nan)
    if n < 3 + lags:
        return stats
    # ADF statistics are invariant to affine rescaling of y; standardising keeps the prefix sums
    # well conditioned for prices in the tens of thousands.
    spread = float(np.std(y))
    y = (y - y[0]) / (spread if spread > 0 else 1.0)
    dy = np.diff(y, prepend=np.nan)  # dy[t] = y[t] - y[t-1]
    p = 2 + lags
    rows = np.zeros((n, p))
    target = np.zeros(n)
    valid_rows = np.arange(n) >= 1 + lags
    rows[valid_rows, 0] = 1.0
    rows[valid_rows, 1] = y[np.arange(n)[valid_rows] - 1]
    for i in range(1, lags + 1):
        rows[valid_rows, 1 + i] = dy[np.arange(n)[valid_rows] - i]
    target[valid_rows] = dy[valid_rows]
    # Prefix sums with a leading zero: window rows t in (a, b] sum to P[b + 1] - P[a + 1].
    xx = np.concatenate(
        [np.zeros((1, p, p)), np.cumsum(rows[:, :, None] * rows[:, None, :], axis=0)]
    )
    xz = np.concatenate([np.zeros((1, p)), np.cumsum(rows * target[:, None], axis=0)])
    zz = np.concatenate([[0.0], np.cumsum(target**2)])

    ends, starts = np.nonzero(
        np.arange(n)[:, None] - np.arange(n)[None, :] + 1 >= min_window
    )  # every window of at least min_window observations, as (end, start) pairs
    lows = starts + lags  # regression rows run from start + 1 + lags to end
    nobs = ends - lows
    keep = nobs > p
    ends, starts, lows, nobs = ends[keep], starts[keep], lows[keep], nobs[keep]
    chunk = 250_000
    for first in range(0, len(ends), chunk):
        e, s, lo, m = (a[first : first + chunk] for a in (ends, starts, lows, nobs))
        stats[s, e] = _window_t_stats(
            xx[e + 1] - xx[lo + 1], xz[e + 1] - xz[lo + 1], zz[e + 1] - zz[lo + 1], m, p
        )
    return stats


def _window_t_stats(
    xtx: np.ndarray, xtz: np.ndarray, ztz: np.ndarray, nobs: np.ndarray, p: int
) -> np.ndarray:
    """t-statistic of the coefficient on y_{t-1} for a stack of normal-equation systems."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if p == 2:  # closed form: no batched inverse needed for the common lag-0 case
            det = xtx[:, 0, 0] * xtx[:, 1, 1] - xtx[:, 0, 1] * xtx[:, 1, 0]
            singular = np.abs(det) <= 1e-10
            det = np.where(singular, np.nan, det)
            inv11 = xtx[:, 0, 0] / det
            beta0 = (xtx[:, 1, 1] * xtz[:, 0] - xtx[:, 0, 1] * xtz[:, 1]) / det
            beta1 = (xtx[:, 0, 0] * xtz[:, 1] - xtx[:, 1, 0] * xtz[:, 0]) / det
            rss = ztz - beta0 * xtz[:, 0] - beta1 * xtz[:, 1]
        else:
            det = np.linalg.det(xtx)
            singular = np.abs(det) <= 1e-10
            inverse = np.full_like(xtx, np.nan)
            if (~singular).any():
                inverse[~singular] = np.linalg.inv(xtx[~singular])
            beta = np.einsum("wij,wj->wi", inverse, xtz)
            rss = ztz - np.einsum("wi,wi->w", beta, xtz)
            inv11, beta1 = inverse[:, 1, 1], beta[:, 1]
        variance = rss / (nobs - p) * inv11
        return np.where(variance > 1e-300, beta1 / np.sqrt(np.abs(variance)), np.nan)


def sadf_bsadf(
    y: np.ndarray, min_window: int, lags: int = 0
) -> tuple[float, np.ndarray, np.ndarray]:
    """(SADF, ADF over [0, e] for each e, BSADF(e) for each e); NaN before the first full window."""
    stats = adf_window_matrix(y, min_window, lags)
    with np.errstate(all="ignore"):
        forward = stats[0, :]
        bsadf = np.full(len(y), np.nan)
        columns = ~np.all(np.isnan(stats), axis=0)
        bsadf[columns] = np.nanmax(stats[:, columns], axis=0)
    sadf = float(np.nanmax(forward)) if np.isfinite(forward).any() else math.nan
    return sadf, forward, bsadf


def _replications(n: int, requested: int) -> int:
    affordable = MAX_SIMULATED_WINDOWS // max(1, n * n)
    return max(MIN_REPLICATIONS, min(requested, affordable))


@lru_cache(maxsize=64)
def critical_values(
    n: int,
    min_window: int,
    lags: int = 0,
    level: float = DEFAULT_LEVEL,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, tuple[float, ...]]:
    """Monte Carlo (SADF cv, GSADF cv, BSADF cv sequence) for samples of length ``n``.

    Simulated under y_t = y_{t-1} + 1/n + e_t, e_t ~ N(0, 1), the null of Phillips, Shi & Yu.
    """
    rng = np.random.default_rng(seed)
    reps = _replications(n, replications)
    sadfs, gsadfs, sequences = [], [], []
    for _ in range(reps):
        walk = np.cumsum(1.0 / n + rng.standard_normal(n))
        sadf, _, bsadf = sadf_bsadf(walk, min_window, lags)
        sadfs.append(sadf)
        gsadfs.append(np.nanmax(bsadf))
        sequences.append(bsadf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # positions before the first window
        sequence = np.nanquantile(np.vstack(sequences), level, axis=0)
    return (
        float(np.nanquantile(sadfs, level)),
        float(np.nanquantile(gsadfs, level)),
        tuple(float(v) for v in sequence),
    )


@dataclass
class ExplosivenessResult:
    n: int
    min_window: int | None = None
    lags: int = 0
    level: float = DEFAULT_LEVEL
    statistic: float | None = None  # GSADF
    critical_value: float | None = None
    explosive: bool | None = None
    sadf: float | None = None
    sadf_critical_value: float | None = None
    sadf_explosive: bool | None = None
    replications: int | None = None
    periods: list[str] = field(default_factory=list)
    bsadf: list[float | None] = field(default_factory=list)
    bsadf_critical: list[float | None] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _none_if_nan(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def gsadf_test(
    values: Any,
    periods: Any = None,
    *,
    lags: int = 0,
    r0: float | None = None,
    level: float = DEFAULT_LEVEL,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = DEFAULT_SEED,
    min_duration: int = 1,
) -> ExplosivenessResult:
    """SADF and GSADF with Monte Carlo critical values and date-stamped explosive episodes.

    ``values`` must be evenly spaced; missing values are dropped (document the consequence:
    the gap is treated as adjacent). ``periods`` labels each value (ISO dates) for the episode
    dates. An episode is a run of at least ``min_duration`` periods where BSADF exceeds its
    critical value sequence. Too short or constant series return a result with ``reason`` set.
    """
    if lags < 0:
        raise InputError("lags must be >= 0")
    if not 0.5 < level < 1.0:
        raise InputError("level must be between 0.5 and 1")
    y = np.asarray(values, dtype=float)
    labels = [str(p)[:10] for p in (periods if periods is not None else range(len(y)))]
    if len(labels) != len(y):
        raise InputError("periods and values differ in length")
    keep = np.isfinite(y)
    y = y[keep]
    labels = [label for label, k in zip(labels, keep) if k]
    n = len(y)
    result = ExplosivenessResult(n=n, lags=lags, level=level, periods=labels)
    if n < MIN_OBSERVATIONS:
        result.reason = f"needs at least {MIN_OBSERVATIONS} observations, has {n}"
        return result
    if np.ptp(y) == 0:
        result.reason = "the series is constant"
        return result
    window = minimum_window(n, r0, lags)
    if window >= n:
        result.reason = "the minimum window covers the whole sample"
        return result
    sadf, _, bsadf = sadf_bsadf(y, window, lags)
    sadf_cv, gsadf_cv, sequence = critical_values(n, window, lags, level, replications, seed)
    gsadf = float(np.nanmax(bsadf)) if np.isfinite(bsadf).any() else math.nan
    cv_sequence = np.asarray(sequence)
    exceeds = np.isfinite(bsadf) & np.isfinite(cv_sequence) & (bsadf > cv_sequence)
    episodes = []
    start = None
    for i, flag in enumerate([*exceeds, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start >= min_duration:
                peak = start + int(np.nanargmax(bsadf[start:i]))
                episodes.append(
                    {
                        "start": labels[start],
                        "end": labels[i - 1],
                        "peak": labels[peak],
                        "peak_bsadf": float(bsadf[peak]),
                        "periods": i - start,
                    }
                )
            start = None
    result.min_window = window
    result.statistic = _none_if_nan(gsadf)
    result.critical_value = _none_if_nan(gsadf_cv)
    result.explosive = bool(np.isfinite(gsadf) and gsadf > gsadf_cv)
    result.sadf = _none_if_nan(sadf)
    result.sadf_critical_value = _none_if_nan(sadf_cv)
    result.sadf_explosive = bool(np.isfinite(sadf) and sadf > sadf_cv)
    result.replications = _replications(n, replications)
    result.bsadf = [_none_if_nan(v) for v in bsadf]
    result.bsadf_critical = [_none_if_nan(v) for v in cv_sequence]
    result.episodes = episodes
    return result
