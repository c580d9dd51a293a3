"""Divergence between narrative heat and fundamentals, the flags it raises, and lead-lag statistics.

Fundamentals are put on the heat's frequency (flows summed within a period, levels take the
period's last value), turned into growth rates (year-over-year or period-over-period), and read
point-in-time: a value counts in a period only if it was filed by the period's end. The
divergence index is the heat's robust z-score minus the growth's robust z-score over the
periods where both exist; a flag is a run of at least ``min_periods`` consecutive periods above
``threshold``. See docs/METHOD.md for every formula and its caveats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .heat import (
    PERIODS_PER_YEAR,
    check_freq,
    iso_day,
    next_period_start,
    period_end,
    period_starts,
    robust_z,
)

DEFAULT_THRESHOLD = 1.0
DEFAULT_MIN_PERIODS = 2
DEFAULT_TOP_SENTENCES = 5
DEFAULT_MAX_LAG = 4

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

DIVERGENCE_COLUMNS = [
    "entity", "metric", "freq", "model_version", "period", "heat",
    "fundamental_level", "fundamental_growth", "growth_z", "growth_basis", "unit",
    "divergence", "flagged",
]


def metric_kind(metric: str, overrides: Mapping[str, str] | None = None) -> str:
    kind = (overrides or {}).get(metric) or METRIC_KINDS.get(metric.lower(), "level")
    if kind not in ("flow", "level"):
        raise InputError(f"metric kind for {metric!r} must be 'flow' or 'level', not {kind!r}")
    return kind


# --------------------------------------------------------------------------- fundamentals


def native_frequency(dates: pd.Series) -> str:
    """Reporting frequency guessed from the median gap between observation dates."""
    days = pd.to_datetime(dates.astype("string").str.slice(0, 10), errors="coerce").dropna()
    unique = np.sort(days.unique())
    if len(unique) < 2:
        return "unknown"
    gap = float(np.median(np.diff(unique).astype("timedelta64[D]").astype(float)))
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
    base = values.shift(lag)
    return (values - base) / base.abs().where(base.abs() > 0)


def _bucket(frame: pd.DataFrame, freq: str, kind: str) -> pd.DataFrame:
    """Aggregate observations into periods of ``freq`` on a gap-free grid.

    Flow buckets holding clearly fewer observations than the typical bucket (a partial first or
    last period) are left missing rather than summed into a misleadingly small number.
    """
    frame = frame.assign(bucket=period_starts(frame["date"], freq)).dropna(subset=["bucket"])
    frame = frame.sort_values("date")
    grouped = frame.groupby("bucket")
    if kind == "flow":
        values = grouped["value"].sum(min_count=1)
        counts = grouped["value"].count()
        typical = float(counts.median()) if len(counts) else 0.0
        values = values.where(counts >= 0.8 * typical)
    else:
        values = grouped["value"].last()
    observed = pd.to_datetime(grouped["date"].max().astype("string").str.slice(0, 10))
    out = pd.DataFrame({"value": values, "observed": observed})
    if out.empty:
        return out
    grid = pd.date_range(out.index.min(), out.index.max(), freq=_grid_alias(freq))
    return out.reindex(grid)


def _grid_alias(freq: str) -> str:
    return {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}[freq]


def _transform(
    observations: pd.DataFrame,
    periods: pd.DatetimeIndex,
    freq: str,
    kind: str,
    basis: str | None,
) -> tuple[pd.DataFrame, str]:
    """Level and growth of one vintage of a metric, on ``periods`` of ``freq``.

    When the metric is reported at least as often as ``freq`` it is aggregated into those
    periods; when it is reported less often (quarterly revenue on a monthly heat) it keeps its
    own periods. Either way each target period carries the latest complete value dated on or
    before the period's end.
    """
    native = native_frequency(observations["date"])
    target_rate = PERIODS_PER_YEAR[freq]
    native_rate = PERIODS_PER_YEAR.get(native, target_rate)
    bucket_freq = freq if native_rate >= target_rate else native
    bucketed = _bucket(observations, bucket_freq, kind)
    # Company filings (quarterly or rarer) are seasonal: compare with the same period a year
    # earlier. Faster series (crypto, daily prices) change within a year: period over period.
    chosen = basis or ("yoy" if native_rate <= 4 and native != "unknown" else "pop")
    yearly_lag = PERIODS_PER_YEAR[bucket_freq]
    growth = growth_rate(bucketed["value"], yearly_lag if chosen == "yoy" else 1) if len(bucketed) else None
    if chosen == "yoy" and basis is None and (growth is None or growth.notna().sum() < 3):
        pop = growth_rate(bucketed["value"], 1) if len(bucketed) else None
        if pop is not None and pop.notna().sum() > (0 if growth is None else growth.notna().sum()):
            growth, chosen = pop, "pop"
    result = pd.DataFrame(index=periods, columns=["level", "growth"], dtype=float)
    if growth is None:
        return result, chosen
    bucketed = bucketed.assign(growth=growth)
    # Each period shows the latest complete report known at its end: the report of the period
    # itself when it is in, else the previous one (a partial flow period, a filing delay), but
    # never one older than STALE_PERIODS reporting periods.
    known = bucketed.dropna(subset=["observed", "value"]).sort_values("observed")
    ends = pd.DataFrame({"period": periods, "end": [period_end(p, freq) for p in periods]})
    merged = pd.merge_asof(
        ends.sort_values("end"),
        known[["observed", "value", "growth"]].rename(columns={"observed": "end"}),
        on="end",
        direction="backward",
        tolerance=pd.Timedelta(days=STALE_PERIODS * PERIOD_DAYS[bucket_freq]),
    ).set_index("period").reindex(periods)
    result["level"] = merged["value"].to_numpy(dtype=float)
    result["growth"] = merged["growth"].to_numpy(dtype=float)
    return result, chosen


def _latest_vintage(rows: pd.DataFrame, as_of: str | None) -> pd.DataFrame:
    visible = rows
    if as_of is not None:
        filed = rows["filed_at"].astype("string").str.slice(0, 10)
        visible = rows[(rows["day"] <= as_of) & (filed.isna() | (filed <= as_of))]
    visible = visible.sort_values(["day", "filed_key", "id"])
    return visible.drop_duplicates(subset=["day"], keep="last")[["date", "value"]]


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
    """
    if basis is not None and basis not in GROWTH_BASES:
        raise InputError(f"growth basis must be one of {GROWTH_BASES}, not {basis!r}")
    empty = pd.DataFrame(index=periods, columns=["level", "growth"], dtype=float)
    rows = rows.dropna(subset=["value"]).copy()
    if rows.empty or len(periods) == 0:
        return empty, basis or "pop"
    rows["day"] = rows["date"].astype("string").str.slice(0, 10)
    rows["filed_key"] = rows["filed_at"].astype("string").fillna("")
    has_vintages = point_in_time and rows["filed_at"].notna().any()
    if not has_vintages:
        return _transform(_latest_vintage(rows, None), periods, freq, kind, basis)
    # The growth basis is chosen once, on everything known today, so that one series never mixes
    # year-over-year and period-over-period rates.
    _, chosen = _transform(_latest_vintage(rows, None), periods, freq, kind, basis)
    # A row becomes known on the later of its own date and its filing date; the visible set only
    # grows with time, so each distinct count of known rows is one vintage, transformed once.
    filed = rows["filed_at"].astype("string").str.slice(0, 10).fillna(rows["day"])
    known_at = np.sort(
        np.asarray([max(d, f) for d, f in zip(rows["day"], filed)], dtype=str)
    )
    as_of = [iso_day(period_end(p, freq)) for p in periods]
    visible_counts = np.searchsorted(known_at, np.asarray(as_of, dtype=str), side="right")
    result = empty.copy()
    for count in np.unique(visible_counts):
        if count == 0:
            continue
        positions = np.flatnonzero(visible_counts == count)
        vintage = _latest_vintage(rows, as_of[positions[-1]])
        known, _ = _transform(vintage, periods, freq, kind, chosen)
        result.iloc[positions] = known.iloc[positions].to_numpy()
    return result, chosen


# --------------------------------------------------------------------------- flags


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


# --------------------------------------------------------------------------- divergence


def load_fundamentals(store: Any, entities: Iterable[str] | None = None) -> pd.DataFrame:
    """Every stored vintage of the entities' fundamentals (small: one row per report)."""
    sql = "SELECT id, entity_id, metric, date, value, unit, source, filed_at FROM fundamentals"
    params: list[Any] = []
    if entities is not None:
        chosen = list(entities)
        if not chosen:
            return pd.DataFrame(columns=["id", "entity_id", "metric", "date", "value", "unit", "source", "filed_at"])
        sql += f" WHERE entity_id IN ({','.join('?' * len(chosen))})"
        params = chosen
    cursor = store.conn.execute(sql, params)
    return pd.DataFrame(cursor.fetchall(), columns=[c[0] for c in cursor.description])


def _main_source(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep one source per metric (the one with most observations) so definitions never mix."""
    if rows["source"].nunique() <= 1:
        return rows
    counts = rows.groupby("source")["date"].nunique().reset_index()
    counts = counts.sort_values(["date", "source"], ascending=[False, True])
    return rows[rows["source"] == counts["source"].iloc[0]]


def divergence_rows(
    heat: pd.DataFrame,
    fundamentals: pd.DataFrame,
    freq: str,
    *,
    point_in_time: bool = True,
    metric_kinds: Mapping[str, str] | None = None,
    growth_basis: Mapping[str, str] | None = None,
    metrics: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Align heat with each fundamental metric and compute the divergence index (unflagged).

    An entity without fundamentals keeps its heat rows with ``metric`` None. Only periods in
    which the entity has heat appear; fundamentals outside them are not reported.
    """
    check_freq(freq)
    wanted = set(metrics) if metrics is not None else None
    frames = []
    by_entity = dict(tuple(fundamentals.groupby("entity_id"))) if not fundamentals.empty else {}
    for entity, entity_heat in heat.groupby("entity", sort=True):
        entity_heat = entity_heat.sort_values("period")
        periods = pd.DatetimeIndex(entity_heat["period"])
        model_version = entity_heat["model_version"].iloc[0]
        entity_rows = by_entity.get(entity)
        metric_names = sorted(entity_rows["metric"].unique()) if entity_rows is not None else []
        if not metric_names:
            frames.append(
                pd.DataFrame(
                    {
                        "entity": entity, "metric": None, "freq": freq, "model_version": model_version,
                        "period": periods, "heat": entity_heat["heat"].to_numpy(dtype=float),
                        "fundamental_level": np.nan, "fundamental_growth": np.nan,
                        "growth_z": np.nan, "growth_basis": None, "unit": None, "divergence": np.nan,
                    }
                )
            )
            continue
        for metric in metric_names:
            if wanted is not None and metric not in wanted:
                continue
            rows = _main_source(entity_rows[entity_rows["metric"] == metric])
            kind = metric_kind(metric, metric_kinds)
            series, basis = fundamental_series(
                rows, periods, freq, kind=kind, basis=(growth_basis or {}).get(metric),
                point_in_time=point_in_time,
            )
            heat_values = entity_heat["heat"].to_numpy(dtype=float)
            growth = series["growth"].to_numpy(dtype=float)
            # Heat is already standardised against the entity's whole history; growth is
            # standardised against its own history over the same periods.
            growth_z = robust_z(growth)
            units = rows["unit"].dropna()
            frames.append(
                pd.DataFrame(
                    {
                        "entity": entity, "metric": metric, "freq": freq, "model_version": model_version,
                        "period": periods, "heat": heat_values,
                        "fundamental_level": series["level"].to_numpy(dtype=float),
                        "fundamental_growth": growth, "growth_z": growth_z, "growth_basis": basis,
                        "unit": units.iloc[-1] if len(units) else None,
                        "divergence": heat_values - growth_z,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=DIVERGENCE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["flagged"] = False
    return out[DIVERGENCE_COLUMNS]


# --------------------------------------------------------------------------- lead-lag & Granger


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


def granger_test(cause: Iterable[float], effect: Iterable[float], max_lag: int = 2) -> dict[str, Any]:
    """Does ``cause`` Granger-cause ``effect``? statsmodels' F tests for lags 1..max_lag.

    Uses the longest run of periods where both series exist (a test on a series with holes
    would treat non-adjacent periods as adjacent). Returns ``p_value`` None with a ``reason``
    when the sample is too small or a series is constant.
    """
    a = np.asarray(list(cause), dtype=float)
    b = np.asarray(list(effect), dtype=float)
    a, b = _longest_complete_stretch(a, b)
    n = len(a)
    result: dict[str, Any] = {"max_lag": max_lag, "n": n, "p_value": None, "best_lag": None,
                              "p_values": {}, "reason": None}
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


def flags_to_json(found: Iterable[Flag]) -> str:
    return json.dumps([f.to_dict() for f in found], default=str)


def span_bounds(start: Any, end: Any, freq: str) -> tuple[str, str]:
    """[first day, day after last) of the periods from ``start`` to ``end`` inclusive."""
    return iso_day(start), iso_day(next_period_start(end, freq))


# --------------------------------------------------------------------------- traceability


def top_sentence_rows(
    store: Any,
    entity: str,
    start_day: str,
    end_day: str,
    model_version: str,
    limit: int = DEFAULT_TOP_SENTENCES,
) -> list[dict[str, Any]]:
    """The highest-hype sentences about ``entity`` in documents published in [start_day, end_day).

    Sentences tagged with the entity come first; when none are tagged (a document-level tag
    only), every scored sentence of the entity's documents is eligible. Syndicated copies of one
    sentence appear once.
    """
    # Candidate documents come from the covering index (date, source) and the tag's primary
    # key, so the large document rows are read only for the few sentences finally returned.
    docs = (
        "WITH docs AS MATERIALIZED ("
        " SELECT d.id, d.published_at, d.source_id FROM documents d INDEXED BY idx_documents_heat"
        " CROSS JOIN document_entities de"
        " WHERE d.published_at >= ? AND d.published_at < ?"
        " AND de.document_id = d.id AND de.entity_id = ?),"
    )
    ranked = (
        " ranked AS (SELECT docs.id AS document_id, docs.published_at, docs.source_id,"
        " ss.sentence_index, ss.hype, ss.growth, ss.evidence FROM docs {tag_join}"
        " JOIN sentence_scores ss ON ss.document_id = docs.id AND ss.model_version = ?{extra}"
        " WHERE ss.hype IS NOT NULL ORDER BY ss.hype DESC, docs.published_at, ss.sentence_index LIMIT ?)"
    )
    final = (
        " SELECT r.document_id, r.sentence_index, se.text, r.hype, r.growth, r.evidence, d.title,"
        " d.url, r.published_at, src.name AS source FROM ranked r"
        " JOIN sentences se ON se.document_id = r.document_id AND se.sentence_index = r.sentence_index"
        " JOIN documents d ON d.id = r.document_id LEFT JOIN sources src ON src.id = r.source_id"
        " ORDER BY r.hype DESC, r.published_at, r.sentence_index"
    )
    tagged = docs + ranked.format(
        tag_join="CROSS JOIN sentence_entities x ON x.document_id = docs.id AND x.entity_id = ?",
        extra=" AND ss.sentence_index = x.sentence_index",
    ) + final
    fetch = max(limit * 4, limit + 10)  # room for duplicates removed below
    rows = store.query(tagged, (start_day, end_day, entity, entity, model_version, fetch))
    if not rows:
        untagged = docs + ranked.format(tag_join="", extra="") + final
        rows = store.query(untagged, (start_day, end_day, entity, model_version, fetch))
    seen: set[str] = set()
    unique = []
    for row in rows:
        key = " ".join(str(row["text"]).lower().split())
        if key in seen:
            continue
        seen.add(key)
        unique.append(row)
        if len(unique) >= limit:
            break
    return unique


# --------------------------------------------------------------------------- compute & save


@dataclass
class AnalysisResult:
    freq: str
    model_version: str
    heat: pd.DataFrame
    source_mix: pd.DataFrame
    divergence: pd.DataFrame
    flags: list[Flag]
    statistics: list[dict[str, Any]]
    params: dict[str, Any]


def series_statistics(
    divergence: pd.DataFrame,
    heat: pd.DataFrame,
    *,
    max_lag: int = DEFAULT_MAX_LAG,
    granger_lag: int = 2,
) -> list[dict[str, Any]]:
    """Explosiveness of heat and valuation levels, lead-lag and Granger tests per entity/metric."""
    from .explosive import gsadf_test

    found: list[dict[str, Any]] = []
    for entity, group in heat.groupby("entity", sort=True):
        group = group.sort_values("period")
        result = gsadf_test(group["heat"].to_numpy(dtype=float), [iso_day(p) for p in group["period"]])
        found.append({"entity": entity, "metric": None, "test": "gsadf", "result": result.to_dict()})
    with_metric = divergence[divergence["metric"].notna()]
    for (entity, metric), group in with_metric.groupby(["entity", "metric"], sort=True):
        group = group.sort_values("period")
        heat_values = group["heat"].to_numpy(dtype=float)
        growth = group["fundamental_growth"].to_numpy(dtype=float)
        found.append({"entity": entity, "metric": metric, "test": "lead_lag",
                      "result": cross_correlation(heat_values, growth, max_lag).to_dict()})
        found.append({"entity": entity, "metric": metric, "test": "granger_heat_to_growth",
                      "result": granger_test(heat_values, growth, granger_lag)})
        found.append({"entity": entity, "metric": metric, "test": "granger_growth_to_heat",
                      "result": granger_test(growth, heat_values, granger_lag)})
        if str(metric).lower() in VALUATION_METRICS:
            levels = group["fundamental_level"].to_numpy(dtype=float)
            result = gsadf_test(levels, [iso_day(p) for p in group["period"]])
            found.append({"entity": entity, "metric": metric, "test": "gsadf", "result": result.to_dict()})
    return found


def analyse(
    store: Any,
    freq: str = "quarter",
    *,
    entities: Iterable[str] | None = None,
    model_version: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_periods: int = DEFAULT_MIN_PERIODS,
    weights: Mapping[str, float] | None = None,
    point_in_time: bool = True,
    metric_kinds: Mapping[str, str] | None = None,
    growth_basis: Mapping[str, str] | None = None,
    statistics: bool = True,
    top_k: int = DEFAULT_TOP_SENTENCES,
) -> AnalysisResult:
    """Heat, divergence, flags (with their top sentences) and statistics; nothing is written."""
    from .heat import compute_heat, resolve_model_version

    check_freq(freq)
    model_version = resolve_model_version(store, model_version)
    entity_list = list(entities) if entities is not None else None
    heat, mix = compute_heat(store, freq, model_version, entity_list, weights)
    fundamentals = load_fundamentals(store, entity_list)
    divergence = divergence_rows(
        heat, fundamentals, freq, point_in_time=point_in_time,
        metric_kinds=metric_kinds, growth_basis=growth_basis,
    )
    flagged, found = detect_flags(divergence, threshold, min_periods)
    divergence["flagged"] = flagged.astype(bool)
    for flag in found:
        start_day, end_day = span_bounds(flag.start, flag.end, freq)
        flag.top_sentences = top_sentence_rows(store, flag.entity, start_day, end_day, model_version, top_k)
    stats = series_statistics(divergence, heat) if statistics else []
    params = {
        "threshold": threshold, "min_periods": min_periods, "point_in_time": point_in_time,
        "weights": {**_default_weights(), **(weights or {})}, "entities": entity_list,
        "metric_kinds": dict(metric_kinds or {}), "growth_basis": dict(growth_basis or {}),
    }
    return AnalysisResult(freq, model_version, heat, mix, divergence, found, stats, params)


def _default_weights() -> dict[str, float]:
    from .heat import DEFAULT_HEAT_WEIGHTS

    return dict(DEFAULT_HEAT_WEIGHTS)


def _nullable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def save_analysis(store: Any, result: AnalysisResult) -> dict[str, int]:
    """Replace the materialised rows this result covers, in one transaction."""
    from .storage import utcnow

    freq, version = result.freq, result.model_version
    entities = result.params.get("entities")
    scope, scope_params = "", []
    if entities is not None:
        scope = f" AND entity_id IN ({','.join('?' * len(entities))})" if entities else " AND 0"
        scope_params = list(entities)
    now = utcnow()
    heat_columns = [
        "documents", "stories", "sources", "scored", "volume_share", "volume_index", "hype_mean",
        "growth_mean", "evidence_mean", "hype_top", "growth_top", "evidence_top", "z_volume",
        "z_hype", "z_growth", "z_evidence", "z_hype_top", "heat_raw", "heat",
    ]
    heat_rows = [
        (row.entity, freq, version, iso_day(row.period), *(_nullable(getattr(row, c)) for c in heat_columns))
        for row in result.heat.itertuples(index=False)
    ]
    mix_rows = [
        (row.entity, freq, iso_day(row.period), int(row.source_id), int(row.stories), int(row.documents),
         int(row.source_total))
        for row in result.source_mix.itertuples(index=False)
    ]
    divergence_rows_ = [
        (
            row.entity, row.metric or "", freq, version, iso_day(row.period), _nullable(row.heat),
            _nullable(row.fundamental_level), _nullable(row.fundamental_growth),
            _nullable(row.growth_z), row.growth_basis, row.unit, _nullable(row.divergence), int(bool(row.flagged)),
        )
        for row in result.divergence.itertuples(index=False)
    ]
    flag_rows = [
        (
            f.entity, f.metric or "", freq, version, f.threshold, f.min_periods, f.start, f.end,
            f.peak_period, f.peak_value, f.periods, json.dumps(f.top_sentences, default=str), now,
        )
        for f in result.flags
    ]
    stat_rows = [
        (s["entity"], s["metric"] or "", freq, version, s["test"], json.dumps(s["result"], default=str), now)
        for s in result.statistics
    ]
    with store.transaction() as conn:
        for table, versioned in (("heat", True), ("divergence", True), ("flags", True),
                                 ("statistics", True), ("heat_sources", False)):
            where = "freq = ?" + (" AND model_version = ?" if versioned else "")
            params = [freq, version] if versioned else [freq]
            conn.execute(f"DELETE FROM {table} WHERE {where}{scope}", [*params, *scope_params])
        conn.executemany(
            f"INSERT INTO heat (entity_id, freq, model_version, period, {', '.join(heat_columns)})"
            f" VALUES ({', '.join('?' * (4 + len(heat_columns)))})",
            heat_rows,
        )
        conn.executemany(
            "INSERT INTO heat_sources (entity_id, freq, period, source_id, stories, documents, source_total)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            mix_rows,
        )
        conn.executemany(
            "INSERT INTO divergence (entity_id, metric, freq, model_version, period, heat,"
            " fundamental_level, fundamental_growth, growth_z, growth_basis, unit, divergence, flagged)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            divergence_rows_,
        )
        conn.executemany(
            "INSERT INTO flags (entity_id, metric, freq, model_version, threshold, min_periods,"
            " start_period, end_period, peak_period, peak_value, periods, top_sentences, computed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            flag_rows,
        )
        conn.executemany(
            "INSERT INTO statistics (entity_id, metric, freq, model_version, test, result, computed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            stat_rows,
        )
        params = dict(result.params)
        previous = conn.execute(
            "SELECT params FROM analysis_runs WHERE freq = ? AND model_version = ?", (freq, version)
        ).fetchone()
        if entities is not None and previous is not None:
            # A partial recompute extends what an earlier run covered.
            earlier = json.loads(previous[0]).get("entities")
            params["entities"] = None if earlier is None else sorted({*earlier, *entities})
        conn.execute(
            "INSERT OR REPLACE INTO analysis_runs (freq, model_version, params, computed_at)"
            " VALUES (?, ?, ?, ?)",
            (freq, version, json.dumps(params, default=str), now),
        )
    return {
        "heat": len(heat_rows), "divergence": len(divergence_rows_), "flags": len(flag_rows),
        "statistics": len(stat_rows),
    }
