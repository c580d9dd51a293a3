"""Robust standardisation of a series against its own history."""

from __future__ import annotations

from collections.abc import Iterable

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
    x = np.asarray(list(values) if not isinstance(values, (np.ndarray, pd.Series)) else values, dtype=float)
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


