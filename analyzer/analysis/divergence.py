"""Divergence between narrative heat and fundamentals, the flags it raises, and lead-lag statistics.

Fundamentals are put on the heat's frequency (flows summed within a period, levels take the
period's last value), turned into growth rates (year-over-year or period-over-period), and read
point-in-time: a value counts in a period only if it was filed by the period's end. The
divergence index is the heat's robust z-score minus the growth's robust z-score over the
periods where both exist; a flag is a run of at least ``min_periods`` consecutive periods above
``threshold``. See docs/METHOD.md for every formula and its caveats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from analyzer.analysis.periods import (
    PERIODS_PER_YEAR,
    check_freq,
    day_numbers,
    period_ends,
    period_numbers,
)
from analyzer.analysis.standardise import DEFAULT_MODE, check_mode, standardise_panel
from analyzer.errors import InputError
from analyzer.storage.analysis import DIVERGENCE_VALUE_COLUMNS

# How a metric aggregates within a period. Flows accumulate over time (sum them); levels are
# stocks or prices observed at a point (take the period's last value). Unknown metrics are
# treated as levels: taking the last value never double counts.
METRIC_KINDS: dict[str, str] = {
    "revenue": "flow",
    "revenues": "flow",
    "fees": "flow",
    "protocol_revenue": "flow",
    "capex": "flow",
    "rd": "flow",
    "operating_income": "flow",
    "net_income": "flow",
    "gross_profit": "flow",
    "operating_cash_flow": "flow",
    "free_cash_flow": "flow",
    "volume": "flow",
    "total_volume": "flow",
    "tvl": "level",
    "price": "level",
    "market_cap": "level",
    "active_users": "level",
    "employees": "level",
    "shares_outstanding": "level",
}
# Metrics whose level series is a valuation; these get the explosiveness (bubble) test.
VALUATION_METRICS = ("price", "market_cap", "tvl")
GROWTH_BASES = ("yoy", "pop")
STALE_PERIODS = 2
PERIOD_DAYS = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}

# The stored divergence table owns the value columns; the frame adds its keys.
DIVERGENCE_COLUMNS = [
    "entity",
    "metric",
    "freq",
    "model_version",
    "period",
    *DIVERGENCE_VALUE_COLUMNS,
]
# Floors of the growth rate's scale, in the rate's own units (0.05 = 5 percentage points), so a
# series that barely moves cannot produce a large z. Year-over-year growth of a steady business
# wobbles by a couple of points from quarter to quarter (timing of orders, currency, one-offs);
# nobody calls a 2-point move a surprise, so 5 points is one "sigma" at least. Period-over-period
# rates are noisier by nature and their own scale is usually far above the floor; 3 points keeps
# a flat, barely moving series (a stablecoin's supply, a utility's sales) from looking volatile.
GROWTH_FLOORS: dict[str, float] = {"yoy": 0.05, "pop": 0.03}


def metric_kind(metric: str, overrides: Mapping[str, str] | None = None) -> str:
    kind = (overrides or {}).get(metric) or METRIC_KINDS.get(metric.lower(), "level")
    if kind not in ("flow", "level"):
        raise InputError(f"metric kind for {metric!r} must be 'flow' or 'level', not {kind!r}")
    return kind


# --------------------------------------------------------------------------- fundamentals


def native_frequency(dates: pd.Series) -> str:
    """Reporting frequency guessed from the median gap between observation dates."""
    return _native_frequency_of_days(day_numbers(dates))


def _native_frequency_of_days(days: np.ndarray) -> str:
    unique = np.unique(days[days >= 0])
    if len(unique) < 2:
        return "unknown"
    gap = float(np.median(np.diff(unique)))
    if gap <= 1.5:
        return "day"
    if gap <= 10:
        return "week"
    if gap <= 45:
        return "month"
    if gap <= 140:
        return "quarter"
    return "year"


def growth_rate(values: pd.Series, lag: int) -> pd.Series:
    """(x_t - x_{t-lag}) / |x_{t-lag}|; undefined when the base is zero or missing.

    Dividing by the absolute base keeps the sign meaningful for metrics that can be negative
    (operating income): a loss shrinking from -10 to -5 is +50%.
    """
    return pd.Series(_growth(values.to_numpy(dtype=float), lag), index=values.index)


def _growth(values: np.ndarray, lag: int) -> np.ndarray:
    base = np.full(len(values), np.nan)
    if lag < len(values):
        base[lag:] = values[: len(values) - lag]
    magnitude = np.abs(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(magnitude > 0, (values - base) / magnitude, np.nan)


def _buckets(
    days: np.ndarray, values: np.ndarray, bucket_freq: str, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """One vintage (``days`` ascending and unique) aggregated into periods of ``bucket_freq`` on
    a gap-free grid: each bucket's value and the last day observed in it (-1 when empty).

    Flows are summed, but a bucket holding clearly fewer observations than the typical bucket
    (a partial first or last period) is left missing rather than summed into a misleadingly
    small number; levels take the bucket's last value.
    """
    if len(days) == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    numbers = period_numbers(days, bucket_freq)
    slot = numbers - numbers[0]
    size = int(slot[-1]) + 1
    last = np.flatnonzero(np.r_[slot[1:] != slot[:-1], True])
    level = np.full(size, np.nan)
    observed = np.full(size, -1, dtype=np.int64)
    observed[slot[last]] = days[last]
    if kind == "flow":
        sums = np.bincount(slot, weights=values, minlength=size)
        counts = np.bincount(slot, minlength=size)
        typical = float(np.median(counts[counts > 0]))
        complete = (counts > 0) & (counts >= 0.8 * typical)
        level[complete] = sums[complete]
    else:
        level[slot[last]] = values[last]
    return level, observed


def _growth_lag(basis: str, bucket_freq: str) -> int:
    """Periods between a value and its base: a year of buckets for yoy, one for pop."""
    return PERIODS_PER_YEAR[bucket_freq] if basis == "yoy" else 1


def _read_at(
    level: np.ndarray, growth: np.ndarray, observed: np.ndarray, ends: np.ndarray, bucket_freq: str
) -> tuple[np.ndarray, np.ndarray]:
    """Level and growth at each period end: the latest complete bucket observed on or before
    it (a partial flow period or a filing delay shows the previous one), never one older than
    STALE_PERIODS reporting periods."""
    known = np.flatnonzero(~np.isnan(level))
    if len(known) == 0:
        missing = np.full(len(ends), np.nan)
        return missing, missing.copy()
    seen = observed[known]
    position = np.searchsorted(seen, ends, side="right") - 1
    picked = known[np.maximum(position, 0)]
    tolerance = STALE_PERIODS * PERIOD_DAYS[bucket_freq]
    valid = (position >= 0) & (ends - observed[picked] <= tolerance)
    return np.where(valid, level[picked], np.nan), np.where(valid, growth[picked], np.nan)


def _choose_basis(level: np.ndarray, bucket_freq: str, native: str) -> str:
    """Company filings (quarterly or rarer) are seasonal: compare with the same period a year
    earlier. Faster series (crypto, daily prices) change within a year: period over period. A
    filing series too short for three year-over-year rates falls back to period over period
    when that gives more rates."""
    native_rate = PERIODS_PER_YEAR.get(native, PERIODS_PER_YEAR[bucket_freq])
    if native_rate > 4 or native == "unknown":
        return "pop"
    yearly = int(np.count_nonzero(~np.isnan(_growth(level, _growth_lag("yoy", bucket_freq)))))
    stepwise = int(np.count_nonzero(~np.isnan(_growth(level, 1))))
    return "pop" if yearly < 3 and stepwise > yearly else "yoy"


def fundamental_series(
    rows: pd.DataFrame,
    periods: pd.DatetimeIndex,
    freq: str,
    *,
    kind: str = "level",
    basis: str | None = None,
    point_in_time: bool = True,
) -> tuple[pd.DataFrame, str]:
    """Level and growth of one metric per period, as they were known at each period's end.

    ``rows`` holds every stored vintage (columns id, date, value, filed_at). Without filing
    dates a value counts as known on its own date. With them and ``point_in_time``, each period
    sees only filings made by its end, the latest filing of each date winning, so revisions and
    late filings never leak backwards.

    When the metric is reported at least as often as ``freq`` it is aggregated into those
    periods; when it is reported less often (quarterly revenue on a monthly heat) it keeps its
    own periods. Either way each period carries the latest complete value dated on or before
    the period's end.
    """
    if basis is not None and basis not in GROWTH_BASES:
        raise InputError(f"growth basis must be one of {GROWTH_BASES}, not {basis!r}")
    result = pd.DataFrame(index=periods, columns=["level", "growth"], dtype=float)
    rows = rows.dropna(subset=["value"])
    if rows.empty or len(periods) == 0:
        return result, basis or "pop"
    days = day_numbers(rows["date"])
    filed = day_numbers(rows["filed_at"])
    has_vintages = point_in_time and bool((filed >= 0).any())
    # The latest filing of each date comes last within its date; ties keep the stored order.
    order_frame = pd.DataFrame(
        {
            "day": days,
            "filed_key": rows["filed_at"].astype("string").fillna("").to_numpy(),
            "id": rows["id"].to_numpy() if "id" in rows.columns else np.arange(len(rows)),
        }
    )
    order = order_frame.sort_values(["day", "filed_key", "id"], kind="stable").index.to_numpy()
    order = order[days[order] >= 0]
    days, values = days[order], rows["value"].to_numpy(dtype=float)[order]
    # A row becomes known on the later of its own date and its filing date.
    known_at = np.maximum(days, np.where(filed[order] >= 0, filed[order], days))

    def vintage(visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen = np.flatnonzero(visible)
        same_day_later = np.r_[days[chosen][1:] == days[chosen][:-1], False]
        kept = chosen[~same_day_later]
        return days[kept], values[kept]

    latest_days, latest_values = vintage(np.ones(len(days), dtype=bool))
    # The reporting frequency and the growth basis are properties of the series, read once from
    # everything known today, so that one series never mixes year-over-year and
    # period-over-period rates.
    native = _native_frequency_of_days(latest_days)
    target_rate = PERIODS_PER_YEAR[freq]
    bucket_freq = freq if PERIODS_PER_YEAR.get(native, target_rate) >= target_rate else native
    latest_level, latest_observed = _buckets(latest_days, latest_values, bucket_freq, kind)
    chosen_basis = basis or _choose_basis(latest_level, bucket_freq, native)
    lag = _growth_lag(chosen_basis, bucket_freq)
    ends = period_ends(periods, freq).to_numpy().astype("datetime64[D]").astype(np.int64)
    level = np.full(len(periods), np.nan)
    growth = np.full(len(periods), np.nan)
    if not has_vintages:
        growth_grid = _growth(latest_level, lag)
        level, growth = _read_at(latest_level, growth_grid, latest_observed, ends, bucket_freq)
    else:
        # The visible set only grows with time, so each distinct count of known rows is one
        # vintage, computed once for the periods that see it.
        visible_counts = np.searchsorted(np.sort(known_at), ends, side="right")
        for count in np.unique(visible_counts):
            if count == 0:
                continue
            positions = np.flatnonzero(visible_counts == count)
            bucket_level, observed = _buckets(
                *vintage(known_at <= ends[positions[-1]]), bucket_freq, kind
            )
            level[positions], growth[positions] = _read_at(
                bucket_level, _growth(bucket_level, lag), observed, ends[positions], bucket_freq
            )
    result["level"] = level
    result["growth"] = growth
    return result, chosen_basis


# --------------------------------------------------------------------------- divergence


def _main_source(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep one source per metric (the one with most observations) so definitions never mix."""
    if rows["source"].nunique() <= 1:
        return rows
    counts = rows.groupby("source")["date"].nunique().reset_index()
    counts = counts.sort_values(["date", "source"], ascending=[False, True])
    return rows[rows["source"] == counts["source"].iloc[0]]


def growth_floor(metric: str, basis: str, floors: Mapping[str, float] | None = None) -> float:
    """The scale floor of a metric's growth rate: an explicit per-metric value, else by basis."""
    if floors and metric in floors:
        value = float(floors[metric])
        if not np.isfinite(value) or value < 0:
            raise InputError(f"growth floor for {metric!r} must be a non-negative number")
        return value
    return GROWTH_FLOORS.get(basis, GROWTH_FLOORS["pop"])


def _heat_column(frame: pd.DataFrame, column: str, default: float | bool) -> np.ndarray:
    if column in frame.columns:
        return frame[column].to_numpy(dtype=float if not isinstance(default, bool) else object)
    return np.full(len(frame), default, dtype=float if not isinstance(default, bool) else object)


def divergence_rows(
    heat: pd.DataFrame,
    fundamentals: pd.DataFrame,
    freq: str,
    *,
    point_in_time: bool = True,
    metric_kinds: Mapping[str, str] | None = None,
    growth_basis: Mapping[str, str] | None = None,
    metrics: Iterable[str] | None = None,
    mode: str = DEFAULT_MODE,
    growth_floors: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Align heat with each fundamental metric and compute the divergence index (unflagged).

    growth_z standardises each metric's growth rate against its own history (up to each period
    in realtime ``mode``, the whole history in hindsight mode) with the scale floored at
    :func:`growth_floor` and, for short histories, shrunk towards the scale of the same metric
    at the other entities. divergence = heat - growth_z, and its band is heat's band minus
    growth_z (fundamentals are taken as reported, without sampling error). An entity without
    fundamentals keeps its heat rows with ``metric`` None. Only periods in which the entity has
    heat appear; fundamentals outside them are not reported.
    """
    check_freq(freq)
    check_mode(mode)
    wanted = set(metrics) if metrics is not None else None
    pieces: list[dict[str, object]] = []
    by_entity = dict(tuple(fundamentals.groupby("entity_id"))) if not fundamentals.empty else {}
    for entity, entity_heat in heat.groupby("entity", sort=True):
        entity_heat = entity_heat.sort_values("period")
        periods = pd.DatetimeIndex(entity_heat["period"])
        model_version = entity_heat["model_version"].iloc[0]
        common = {
            "entity": entity,
            "freq": freq,
            "model_version": model_version,
            "period": periods,
            "heat": entity_heat["heat"].to_numpy(dtype=float),
            "heat_low": _heat_column(entity_heat, "heat_low", np.nan),
            "heat_high": _heat_column(entity_heat, "heat_high", np.nan),
            "reliable": _heat_column(entity_heat, "reliable", True),
        }
        entity_rows = by_entity.get(entity)
        metric_names = sorted(entity_rows["metric"].unique()) if entity_rows is not None else []
        if not metric_names:
            pieces.append(
                {
                    **common,
                    "metric": None,
                    "fundamental_level": np.nan,
                    "fundamental_growth": np.nan,
                    "growth": np.full(len(periods), np.nan),
                    "growth_basis": None,
                    "unit": None,
                    "floor": 0.0,
                }
            )
            continue
        for metric in metric_names:
            if wanted is not None and metric not in wanted:
                continue
            rows = _main_source(entity_rows[entity_rows["metric"] == metric])
            kind = metric_kind(metric, metric_kinds)
            series, basis = fundamental_series(
                rows,
                periods,
                freq,
                kind=kind,
                basis=(growth_basis or {}).get(metric),
                point_in_time=point_in_time,
            )
            units = rows["unit"].dropna()
            pieces.append(
                {
                    **common,
                    "metric": metric,
                    "fundamental_level": series["level"].to_numpy(dtype=float),
                    "growth": series["growth"].to_numpy(dtype=float),
                    "growth_basis": basis,
                    "unit": units.iloc[-1] if len(units) else None,
                    "floor": growth_floor(metric, basis, growth_floors),
                }
            )
    if not pieces:
        return pd.DataFrame(columns=DIVERGENCE_COLUMNS)
    growth_z = _growth_z(pieces, mode)
    frames = []
    for piece, z in zip(pieces, growth_z):
        heat_values = np.asarray(piece["heat"], dtype=float)
        frame = pd.DataFrame(
            {
                "entity": piece["entity"],
                "metric": piece["metric"],
                "freq": freq,
                "model_version": piece["model_version"],
                "period": piece["period"],
                "heat": heat_values,
                "fundamental_level": piece["fundamental_level"],
                "fundamental_growth": piece["growth"],
                "growth_z": z,
                "growth_basis": piece["growth_basis"],
                "unit": piece["unit"],
                "divergence": heat_values - z,
                "flagged": False,
                "heat_low": piece["heat_low"],
                "heat_high": piece["heat_high"],
                "divergence_low": np.asarray(piece["heat_low"], dtype=float) - z,
                "divergence_high": np.asarray(piece["heat_high"], dtype=float) - z,
                "reliable": [
                    bool(r)
                    if r is not None and not (isinstance(r, float) and np.isnan(r))
                    else True
                    for r in piece["reliable"]
                ],
                "mode": mode,
            }
        )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["flagged"] = False
    out["reliable"] = out["reliable"].astype(bool)
    return out[DIVERGENCE_COLUMNS]


def _growth_z(pieces: list[dict[str, object]], mode: str) -> list[np.ndarray]:
    """growth_z of every (entity, metric) series at once, on the union of their periods, so that
    short series borrow the scale of the same metric at other entities (empirical Bayes)."""
    all_periods = pd.DatetimeIndex(sorted({p for piece in pieces for p in piece["period"]}))  # type: ignore[attr-defined]
    grid = np.full((len(all_periods), len(pieces)), np.nan)
    floors = np.zeros(len(pieces))
    positions = []
    for j, piece in enumerate(pieces):
        rows = all_periods.get_indexer(pd.DatetimeIndex(piece["period"]))  # type: ignore[arg-type]
        positions.append(rows)
        grid[rows, j] = np.asarray(piece["growth"], dtype=float)
        floors[j] = float(piece["floor"])  # type: ignore[arg-type]
    labels = [f"{piece['metric']}|{piece['growth_basis']}" for piece in pieces]
    groups = pd.factorize(pd.Series(labels))[0]
    fitted = standardise_panel(
        grid, mode=mode, floor=np.broadcast_to(floors, grid.shape), pool_center=False, groups=groups
    )
    return [fitted.z[rows, j] for j, rows in enumerate(positions)]
