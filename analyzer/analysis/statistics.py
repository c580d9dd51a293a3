"""Lead-lag cross-correlation, Granger tests and the per-series statistics stored with an analysis."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analyzer.analysis.divergence import VALUATION_METRICS
from analyzer.analysis.periods import (
    iso_day,
)
from analyzer.errors import InputError

DEFAULT_MAX_LAG = 4


@dataclass
class LeadLag:
    """Cross-correlation of x_t with y_{t+lag}: a positive best lag means x leads y."""

    table: pd.DataFrame
    best_lag: int | None
    best_correlation: float | None
    n: int
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_lag": self.best_lag,
            "best_correlation": self.best_correlation,
            "n": self.n,
            "reason": self.reason,
            "correlations": [
                {"lag": int(r.lag), "correlation": _finite_or_none(r.correlation), "n": int(r.n)}
                for r in self.table.itertuples()
            ],
        }


def _finite_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def cross_correlation(
    x: Iterable[float], y: Iterable[float], max_lag: int = DEFAULT_MAX_LAG, min_pairs: int = 4
) -> LeadLag:
    """Pearson correlation of x_t and y_{t+k} for k in -max_lag..max_lag over complete pairs.

    The best lag maximises |r|. Correlation is not causation and, with trending series, often
    not even correlation: read it with the caveats in docs/METHOD.md.
    """
    xs = np.asarray(list(x), dtype=float)
    ys = np.asarray(list(y), dtype=float)
    if xs.shape != ys.shape:
        raise InputError("lead-lag series must have the same length")
    if max_lag < 0:
        raise InputError("max_lag must be >= 0")
    rows = []
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            a, b = xs[: len(xs) - lag], ys[lag:]
        else:
            a, b = xs[-lag:], ys[: len(ys) + lag]
        ok = np.isfinite(a) & np.isfinite(b)
        n = int(ok.sum())
        r = np.nan
        if n >= min_pairs and np.std(a[ok]) > 0 and np.std(b[ok]) > 0:
            r = float(np.corrcoef(a[ok], b[ok])[0, 1])
        rows.append({"lag": lag, "correlation": r, "n": n})
    table = pd.DataFrame(rows)
    n_pairs = int((np.isfinite(xs) & np.isfinite(ys)).sum())
    valid = table.dropna(subset=["correlation"])
    if valid.empty:
        reason = (
            "too few complete pairs" if n_pairs < min_pairs + max_lag else "a series is constant"
        )
        return LeadLag(table, None, None, n_pairs, reason)
    best = valid.loc[valid["correlation"].abs().idxmax()]
    return LeadLag(table, int(best["lag"]), float(best["correlation"]), n_pairs)


def _longest_complete_stretch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(a) & np.isfinite(b)
    best, start, best_range = 0, None, (0, 0)
    for i, flag in enumerate([*ok, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best:
                best, best_range = i - start, (start, i)
            start = None
    return a[best_range[0] : best_range[1]], b[best_range[0] : best_range[1]]


def granger_test(
    cause: Iterable[float], effect: Iterable[float], max_lag: int = 2
) -> dict[str, Any]:
    """Does ``cause`` Granger-cause ``effect``? statsmodels' F tests for lags 1..max_lag.

    Uses the longest run of periods where both series exist (a test on a series with holes
    would treat non-adjacent periods as adjacent). Returns ``p_value`` None with a ``reason``
    when the sample is too small or a series is constant.
    """
    a = np.asarray(list(cause), dtype=float)
    b = np.asarray(list(effect), dtype=float)
    a, b = _longest_complete_stretch(a, b)
    n = len(a)
    result: dict[str, Any] = {
        "max_lag": max_lag,
        "n": n,
        "p_value": None,
        "best_lag": None,
        "p_values": {},
        "reason": None,
    }
    # Each lag costs two parameters; leave at least ten residual degrees of freedom.
    needed = 3 * max_lag + 10
    if max_lag < 1:
        result["reason"] = "max_lag must be at least 1"
        return result
    if n < needed:
        result["reason"] = f"needs at least {needed} consecutive complete periods, has {n}"
        return result
    if np.std(a) == 0 or np.std(b) == 0:
        result["reason"] = "a series is constant"
        return result
    from statsmodels.tsa.stattools import grangercausalitytests

    try:
        tests = grangercausalitytests(np.column_stack([b, a]), maxlag=max_lag)
    except (ValueError, np.linalg.LinAlgError) as exc:
        result["reason"] = f"test failed: {exc}"
        return result
    p_values = {int(lag): float(out[0]["ssr_ftest"][1]) for lag, out in tests.items()}
    best_lag = min(p_values, key=lambda lag: p_values[lag])
    result.update(p_values=p_values, best_lag=best_lag, p_value=p_values[best_lag])
    return result


def series_statistics(
    divergence: pd.DataFrame,
    heat: pd.DataFrame,
    *,
    max_lag: int = DEFAULT_MAX_LAG,
    granger_lag: int = 2,
) -> list[dict[str, Any]]:
    """Explosiveness of heat and valuation levels, lead-lag and Granger tests per entity/metric."""
    from analyzer.analysis.explosiveness import gsadf_test

    found: list[dict[str, Any]] = []
    for entity, group in heat.groupby("entity", sort=True):
        group = group.sort_values("period")
        result = gsadf_test(
            group["heat"].to_numpy(dtype=float), [iso_day(p) for p in group["period"]]
        )
        found.append(
            {"entity": entity, "metric": None, "test": "gsadf", "result": result.to_dict()}
        )
    with_metric = divergence[divergence["metric"].notna()]
    for (entity, metric), group in with_metric.groupby(["entity", "metric"], sort=True):
        group = group.sort_values("period")
        heat_values = group["heat"].to_numpy(dtype=float)
        growth = group["fundamental_growth"].to_numpy(dtype=float)
        found.append(
            {
                "entity": entity,
                "metric": metric,
                "test": "lead_lag",
                "result": cross_correlation(heat_values, growth, max_lag).to_dict(),
            }
        )
        found.append(
            {
                "entity": entity,
                "metric": metric,
                "test": "granger_heat_to_growth",
                "result": granger_test(heat_values, growth, granger_lag),
            }
        )
        found.append(
            {
                "entity": entity,
                "metric": metric,
                "test": "granger_growth_to_heat",
                "result": granger_test(growth, heat_values, granger_lag),
            }
        )
        if str(metric).lower() in VALUATION_METRICS:
            levels = group["fundamental_level"].to_numpy(dtype=float)
            result = gsadf_test(levels, [iso_day(p) for p in group["period"]])
            found.append(
                {"entity": entity, "metric": metric, "test": "gsadf", "result": result.to_dict()}
            )
    return found
