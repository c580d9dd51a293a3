"""Robust standardisation of a series against its own history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_HISTORY = 3  # fewer observations than this carry no information about "unusual"


Z_CLIP = 10.0  # one runaway component must not swamp the others without bound


MAD_TO_SD = 1.4826  # MAD of a normal sample times this estimates its standard deviation


MEANAD_TO_SD = 1.2533  # likewise for the mean absolute deviation (sqrt(pi/2))


def robust_z(values: Iterable[float] | pd.Series | np.ndarray) -> np.ndarray:
    """Standardise against the series' own history: (x - median) / robust scale.

    Scale is the larger of 1.4826 * MAD and 1.2533 * mean absolute deviation from the median
    (both estimate the standard deviation of a normal sample). MAD alone collapses when half
    the history is one repeated value (a long quiet spell), which would turn any later movement
    into an enormous z; the mean absolute deviation does not. When both are zero the series
    is constant and every z is 0. Fewer than ``MIN_HISTORY`` observations give 0 (nothing to
    compare against). Missing values stay NaN; results are clipped to +/- ``Z_CLIP``.
    """
    x = np.asarray(
        list(values) if not isinstance(values, (np.ndarray, pd.Series)) else values, dtype=float
    )
    out = np.full(x.shape, np.nan)
    finite = np.isfinite(x)
    n = int(finite.sum())
    if n == 0:
        return out
    if n < MIN_HISTORY:
        out[finite] = 0.0
        return out
    observed = x[finite]
    median = float(np.median(observed))
    deviations = np.abs(observed - median)
    tolerance = 1e-12 * max(1.0, abs(median))
    scale = max(MAD_TO_SD * float(np.median(deviations)), MEANAD_TO_SD * float(np.mean(deviations)))
    if scale <= tolerance:
        out[finite] = 0.0
        return out
    out[finite] = np.clip((observed - median) / scale, -Z_CLIP, Z_CLIP)
    return out


# --------------------------------------------------------------------------- panels
# A panel is a periods x series grid (one column per entity, or per entity and metric), NaN
# where a series has no value. Standardising a panel adds three things to robust_z:
#
# * a scale floor per cell: the denominator is max(robust scale, floor), so a series that
#   barely moves (or moves only by sampling noise) cannot produce a large z;
# * real-time windows: in "realtime" mode each period is standardised against the series'
#   history up to and including that period only (an expanding window), in "hindsight" mode
#   against the whole series;
# * empirical-Bayes shrinkage of the reference towards the pooled cross-series distribution,
#   so a short history is neither wild (a scale estimated from two points) nor pinned at zero.
#
# With ``se`` (the sampling standard error of each cell) the deviation is also multiplied by
# the cell's reliability tau^2 / (tau^2 + se^2), tau^2 being the signal variance left after the
# average noise variance is taken out of the scale: a deviation no larger than its sampling
# noise is mostly noise (Fay-Herriot small-area shrinkage). Formulas: docs/METHOD.md.

MODES = ("realtime", "hindsight")
DEFAULT_MODE = "realtime"
SCALE_PRIOR_PERIODS = (
    4.0  # pseudo-periods the pooled scale counts for (a prior with 4 degrees of freedom)
)
CENTER_PRIOR_MAX = 8.0  # most pseudo-periods the pooled centre may count for


def check_mode(mode: str) -> str:
    from analyzer.errors import InputError

    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def _window_stats(window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``window``: count of finite values, median, and robust scale (as robust_z)."""
    finite = np.isfinite(window)
    count = finite.sum(axis=0)
    median = np.full(window.shape[1], np.nan)
    scale = np.full(window.shape[1], np.nan)
    has = count > 0
    if not has.any():
        return count, median, scale
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median[has] = np.nanmedian(window[:, has], axis=0)
            deviations = np.abs(window[:, has] - median[has])
            mad = np.nanmedian(deviations, axis=0)
            meanad = np.nanmean(deviations, axis=0)
    scale[has] = np.maximum(MAD_TO_SD * mad, MEANAD_TO_SD * meanad)
    return count, median, scale


def _own_stats(values: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, centre and scale of each column as known at each row (realtime) or overall."""
    rows, cols = values.shape
    count = np.zeros((rows, cols))
    center = np.full((rows, cols), np.nan)
    scale = np.full((rows, cols), np.nan)
    if rows == 0 or cols == 0:
        return count, center, scale
    if mode == "hindsight":
        c, m, s = _window_stats(values)
        return (
            np.broadcast_to(c, (rows, cols)).astype(float),
            np.broadcast_to(m, (rows, cols)).copy(),
            np.broadcast_to(s, (rows, cols)).copy(),
        )
    for t in range(rows):
        c, m, s = _window_stats(values[: t + 1])
        count[t], center[t], scale[t] = c, m, s
    return count, center, scale


def _pooled(own: np.ndarray, count: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per row, the median across columns (of the same group) of ``own`` among columns whose
    history is at least MIN_HISTORY long; NaN where no column qualifies. Rows are calendar
    periods, so row t only pools what every series knew at t."""
    qualified = np.where(count >= MIN_HISTORY, own, np.nan)
    # A series that has stopped reporting keeps its last reference (carried forward).
    carried = pd.DataFrame(qualified).ffill().to_numpy()
    out = np.full(own.shape, np.nan)
    labels = np.zeros(own.shape[1], dtype=int) if groups is None else np.asarray(groups)
    import warnings

    for label in np.unique(labels):
        members = labels == label
        if members.sum() == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pooled = np.nanmedian(carried[:, members], axis=1)
        out[:, members] = pooled[:, None]
    return out


def _pooled_spread(
    own_center: np.ndarray, count: np.ndarray, groups: np.ndarray | None
) -> np.ndarray:
    """Per row, the robust spread of the qualified series' centres across series (between-series scale)."""
    qualified = np.where(count >= MIN_HISTORY, own_center, np.nan)
    carried = pd.DataFrame(qualified).ffill().to_numpy()
    out = np.full(own_center.shape, np.nan)
    labels = np.zeros(own_center.shape[1], dtype=int) if groups is None else np.asarray(groups)
    for label in np.unique(labels):
        members = labels == label
        block = carried[:, members].T  # series x periods
        if block.shape[0] < MIN_HISTORY:
            continue
        _, _, spread = _window_stats(block)
        enough = np.isfinite(block).sum(axis=0) >= MIN_HISTORY
        out[:, members] = np.where(enough, spread, np.nan)[:, None]
    return out


@dataclass
class Standardised:
    """A standardised panel: ``z`` and what produced it, cell by cell (periods x series)."""

    z: np.ndarray
    center: np.ndarray
    denom: np.ndarray
    rho: np.ndarray

    def apply(self, values: np.ndarray, *, shrink: bool = True) -> np.ndarray:
        """Standardise other values of the same cells (bootstrap resamples) with the same reference;
        ``values`` may carry extra leading axes. ``shrink=False`` leaves out the reliability factor."""
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (self.rho if shrink else 1.0) * (values - self.center) / self.denom
        return np.clip(np.where(self.denom > 0, z, 0.0), -Z_CLIP, Z_CLIP)


def standardise_panel(
    values: np.ndarray,
    *,
    mode: str = DEFAULT_MODE,
    floor: np.ndarray | float = 0.0,
    se: np.ndarray | None = None,
    pool_center: bool = True,
    relative_scale: bool = False,
    groups: np.ndarray | None = None,
) -> Standardised:
    """Robust z-scores of a periods x series panel with floors, real-time windows and shrinkage.

    For cell (t, j) with own history h (the finite values of column j up to row t in realtime
    mode, the whole column in hindsight mode; n values, median m, robust scale s):

    * pooled reference (row t, same group): M = median of the series' centres, S = median of
      their scales (of scale / |centre| with ``relative_scale``), over series with at least
      MIN_HISTORY values; T = robust spread of the centres across series;
    * centre = (n m + k M) / (n + k) with k = min((S / T)^2, CENTER_PRIOR_MAX) when
      ``pool_center`` (the normal-normal posterior mean of the series' level), else m;
    * scale^2 = ((n - 1) s^2 + k0 S^2) / ((n - 1) + k0), k0 = SCALE_PRIOR_PERIODS (a scaled
      inverse chi-square prior); without a pooled S, s alone, and none at all below
      MIN_HISTORY values (z = 0, as robust_z);
    * denom = max(scale, floor, rms se of the history); rho = tau^2 / (tau^2 + se^2) with
      tau^2 = max(mean squared deviation from the centre - mean of the history's se^2, 0) when
      ``se`` is given, else 1;
    * z = clip(rho (x - centre) / denom, +-Z_CLIP).
    """
    check_mode(mode)
    x = np.asarray(values, dtype=float)
    rows, cols = x.shape
    floor_grid = np.broadcast_to(np.asarray(floor, dtype=float), x.shape)
    floor_grid = np.where(np.isfinite(floor_grid), floor_grid, 0.0)
    count, own_center, own_scale = _own_stats(x, mode)
    base = np.abs(own_center) if relative_scale else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = own_scale / base if relative_scale else own_scale
        relative = np.where(np.isfinite(relative), relative, np.nan)
    pooled_scale = _pooled(relative, count, groups)
    if relative_scale:
        pooled_scale = pooled_scale * np.abs(own_center)
    center = own_center.copy()
    if pool_center:
        pooled_center = _pooled(own_center, count, groups)
        spread = _pooled_spread(own_center, count, groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.minimum((pooled_scale / spread) ** 2, CENTER_PRIOR_MAX)
        k = np.where(
            np.isfinite(k),
            k,
            np.where(np.isfinite(pooled_center) & np.isfinite(pooled_scale), CENTER_PRIOR_MAX, 0.0),
        )
        usable = np.isfinite(pooled_center) & (k > 0)
        center = np.where(
            usable,
            (count * own_center + k * np.nan_to_num(pooled_center)) / (count + k),
            own_center,
        )
    dof = np.maximum(count - 1.0, 0.0)
    own_var = np.where(np.isfinite(own_scale), own_scale**2, 0.0)
    has_pool = np.isfinite(pooled_scale) & (pooled_scale > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shrunk = (dof * own_var + SCALE_PRIOR_PERIODS * np.nan_to_num(pooled_scale) ** 2) / (
            dof + SCALE_PRIOR_PERIODS
        )
    scale = np.where(has_pool, np.sqrt(shrunk), np.where(count >= MIN_HISTORY, own_scale, 0.0))
    scale = np.where(np.isfinite(scale), scale, 0.0)
    tolerance = 1e-12 * np.maximum(1.0, np.abs(np.nan_to_num(center)))
    scale = np.where(scale <= tolerance, 0.0, scale)
    rho = np.ones(x.shape)
    denom = np.maximum(scale, floor_grid)
    if se is not None:
        se_grid = np.where(np.isfinite(se), np.asarray(se, dtype=float), 0.0)
        noise = np.where(np.isfinite(x), se_grid**2, np.nan)
        mean_noise = _history_mean(noise, mode)
        # The signal variance is read from the mean squared deviation, not from the robust scale:
        # a regime change is exactly the "outlier" a robust scale ignores, and it is signal.
        spread = _mean_square_deviation(x, center, mode)
        tau2 = np.maximum(np.nan_to_num(spread) - np.nan_to_num(mean_noise), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.where(se_grid > 0, tau2 / (tau2 + se_grid**2), 1.0)
        # The floor is the history's typical sampling error, not this period's own: a period with
        # fewer stories than usual then gets a wider band in z units, as it should.
        denom = np.maximum(denom, np.sqrt(np.nan_to_num(mean_noise)))
    # No reference at all (a lone series with too short a history): nothing is unusual.
    denom = np.where(scale > 0, denom, np.where(floor_grid > 0, denom, 0.0))
    denom = np.where(np.isfinite(center), denom, 0.0)
    out = Standardised(z=np.zeros(x.shape), center=center, denom=denom, rho=rho)
    z = out.apply(x)
    out.z = np.where(np.isfinite(x), z, np.nan)
    return out


def _history_mean(values: np.ndarray, mode: str) -> np.ndarray:
    """Mean of each column's finite values up to each row (realtime) or overall (hindsight)."""
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    if mode == "hindsight":
        with np.errstate(invalid="ignore", divide="ignore"):
            overall = filled.sum(axis=0) / finite.sum(axis=0)
        return np.broadcast_to(overall, values.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.cumsum(filled, axis=0) / np.cumsum(finite, axis=0)


def _mean_square_deviation(x: np.ndarray, center: np.ndarray, mode: str) -> np.ndarray:
    """Mean of (x - centre)^2 over each column's history window, the centre being the one of the
    window's last row (realtime) or the column's (hindsight)."""
    finite = np.isfinite(x)
    values = np.where(finite, x, 0.0)
    if mode == "hindsight":
        n, s1, s2 = finite.sum(axis=0), values.sum(axis=0), (values**2).sum(axis=0)
    else:
        n, s1, s2 = (
            np.cumsum(finite, axis=0),
            np.cumsum(values, axis=0),
            np.cumsum(values**2, axis=0),
        )
    c = np.nan_to_num(center)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (s2 - 2.0 * c * s1 + n * c**2) / n
    return np.where(n > 0, np.maximum(out, 0.0), np.nan)
