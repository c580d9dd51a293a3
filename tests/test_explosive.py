"""Sup-ADF / GSADF: regression arithmetic, size under a random walk, power against a bubble."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analyzer.analysis.explosiveness import (
    adf_window_matrix,
    critical_values,
    gsadf_test,
    minimum_window,
    sadf_bsadf,
)
from analyzer.errors import InputError

T = 100


def _bubble(
    seed: int, n: int = T, start: int = 60, length: int = 20, rho: float = 1.05
) -> np.ndarray:
    """Random walk, then an explosive AR(1) stretch with rho, then a random walk again."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    y = np.empty(n)
    y[0] = 100.0
    for t in range(1, n):
        factor = rho if start <= t < start + length else 1.0
        y[t] = factor * y[t - 1] + e[t]
    return y


@pytest.mark.parametrize("lags", [0, 1, 3])
def test_window_statistics_match_ordinary_least_squares(lags: int) -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.standard_normal(60)) + 50
    stats = adf_window_matrix(y, 12, lags)
    for start, end in [(0, 59), (5, 40), (30, 45), (47, 59)]:
        segment = y[start : end + 1]
        dy = np.diff(segment)
        columns = [np.ones(len(dy)), segment[:-1]]
        columns += [np.concatenate([np.full(i, np.nan), dy[:-i]]) for i in range(1, lags + 1)]
        design = np.column_stack(columns)[lags:]
        expected = sm.OLS(dy[lags:], design).fit().tvalues[1]
        assert stats[start, end] == pytest.approx(expected, rel=1e-6)
    assert np.isnan(stats[10, 15])  # shorter than the minimum window
    assert np.isnan(stats[20, 10])  # end before start


def test_minimum_window_follows_phillips_shi_yu() -> None:
    assert minimum_window(100) == 19  # floor(100 * (0.01 + 1.8 / 10))
    assert minimum_window(400) == 40  # floor(400 * 0.1)
    assert minimum_window(25, lags=4) == 14  # never below 2 * lags + 6


def test_critical_values_are_ordered_and_cached() -> None:
    sadf_cv, gsadf_cv, sequence = critical_values(T, minimum_window(T))
    assert gsadf_cv > sadf_cv  # a supremum over more windows
    assert len(sequence) == T and np.isnan(sequence[0]) and np.isfinite(sequence[-1])
    assert critical_values(T, minimum_window(T)) is critical_values(T, minimum_window(T))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gsadf_detects_an_explosive_episode(seed: int) -> None:
    y = _bubble(seed)
    periods = [d.strftime("%Y-%m-%d") for d in pd.date_range("2000-01-01", periods=T, freq="MS")]
    result = gsadf_test(y, periods)
    assert result.explosive is True
    assert result.statistic > result.critical_value
    assert result.episodes, "the bubble must be date-stamped"
    stamped = {
        p
        for e in result.episodes
        for p in periods[periods.index(e["start"]) : periods.index(e["end"]) + 1]
    }
    bubble = set(periods[65:80])
    assert len(stamped & bubble) >= 5
    assert not stamped & set(periods[:50])  # nothing stamped well before the bubble


def test_gsadf_rarely_rejects_for_a_random_walk() -> None:
    rejections = 0
    for seed in range(10, 20):
        walk = np.cumsum(np.random.default_rng(seed).standard_normal(T)) + 100
        result = gsadf_test(walk)
        rejections += bool(result.explosive)
    assert rejections <= 2  # nominal size 5%: 0.5 expected out of 10


def test_short_constant_and_gappy_series_are_defined() -> None:
    short = gsadf_test(np.arange(10.0))
    assert short.statistic is None and "needs at least" in short.reason
    flat = gsadf_test(np.ones(50))
    assert flat.statistic is None and flat.reason == "the series is constant"
    gappy = _bubble(1).copy()
    gappy[[5, 17, 33]] = np.nan
    result = gsadf_test(gappy)
    assert result.n == T - 3 and result.statistic is not None
    assert set(result.to_dict()) >= {
        "statistic",
        "critical_value",
        "explosive",
        "episodes",
        "bsadf",
    }
    with pytest.raises(InputError):
        gsadf_test(np.arange(30.0), periods=["x"])


def test_sadf_is_the_maximum_of_forward_windows() -> None:
    y = _bubble(4)
    window = minimum_window(T)
    sadf, forward, bsadf = sadf_bsadf(y, window)
    assert sadf == pytest.approx(np.nanmax(forward))
    assert np.all(bsadf[window - 1 :] >= forward[window - 1 :] - 1e-12)
