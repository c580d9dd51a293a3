"""Public read API: narrative heat, divergence, flags and their evidence as tidy DataFrames.

Reads come from the tables that :func:`analyzer.pipeline.compute_divergence` materialises, so
they cost a few indexed queries. When nothing has been materialised for the requested
frequency and model version (or for the requested entity), the same numbers are computed in
memory from SQL aggregates instead, and nothing is written.

Every frame has a ``period`` column of Timestamps (the period's first day) and ``entity``;
``metric`` is None on heat-only rows of an entity without fundamentals.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from analyzer.analysis.divergence import DIVERGENCE_COLUMNS
from analyzer.analysis.flags import Flag, detect_flags, span_bounds
from analyzer.analysis.heat import HEAT_COLUMNS
from analyzer.analysis.periods import check_freq, iso_day, next_period_start
from analyzer.analysis.periods import period_start as _period_start
from analyzer.analysis.run import DEFAULT_TOP_SENTENCES, analyse, top_sentence_rows
from analyzer.analysis.statistics import DEFAULT_MAX_LAG, cross_correlation, granger_test
from analyzer.errors import InputError

FLAG_COLUMNS = [
    "entity", "metric", "freq", "start", "end", "peak_period", "peak_value", "periods",
    "threshold", "min_periods", "top_sentences",
]
LEAD_LAG_CAVEAT = (
    "Cross-correlation and Granger tests describe co-movement in a short sample; trending or "
    "autocorrelated series correlate spuriously, and Granger 'causality' means predictive "
    "precedence only."
)


# --------------------------------------------------------------------------- helpers


def _run(store: Any, freq: str, model_version: str | None) -> tuple[str, dict[str, Any] | None]:
    """The model version to read and the parameters it was materialised with (None if not)."""
    if model_version:
        row = store.conn.execute(
            "SELECT params FROM analysis_runs WHERE freq = ? AND model_version = ?", (freq, model_version)
        ).fetchone()
        return model_version, (json.loads(row[0]) if row else None)
    row = store.conn.execute(
        "SELECT model_version, params FROM analysis_runs WHERE freq = ? ORDER BY computed_at DESC LIMIT 1",
        (freq,),
    ).fetchone()
    if row:
        return row[0], json.loads(row[1])
    return store.latest_model_version() or "", None


def _covers(params: dict[str, Any] | None, entity: str | None) -> bool:
    if params is None:
        return False
    covered = params.get("entities")
    if covered is None:
        return True
    return entity is not None and entity in covered


def _filtered(
    sql: str, args: list[Any], entity: str | None, metric: str | None
) -> tuple[str, list[Any]]:
    """Narrow a query over a materialised table to one entity and/or metric."""
    if entity:
        sql += " AND entity_id = ?"
        args = [*args, entity]
    if metric:
        sql += " AND metric = ?"
        args = [*args, metric]
    return sql, args


def _same_rule(stored: dict[str, Any], threshold: float | None, min_periods: int | None) -> bool:
    """Whether a requested flag rule is the one the stored results were computed with."""
    return (threshold is None or threshold == stored.get("threshold")) and (
        min_periods is None or min_periods == stored.get("min_periods")
    )


def _frame(store: Any, sql: str, params: list[Any] | tuple[Any, ...]) -> pd.DataFrame:
    cursor = store.conn.execute(sql, params)
    return pd.DataFrame(cursor.fetchall(), columns=[c[0] for c in cursor.description])


def _periods(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _in_memory(
    store: Any, freq: str, model_version: str, entity: str | None, threshold: float | None,
    min_periods: int | None,
) -> Any:
    kwargs: dict[str, Any] = {"model_version": model_version or None, "statistics": False}
    if threshold is not None:
        kwargs["threshold"] = threshold
    if min_periods is not None:
        kwargs["min_periods"] = min_periods
    return analyse(store, freq, entities=[entity] if entity else None, **kwargs)


# --------------------------------------------------------------------------- heat


def heat_frame(
    store: Any, entity: str | None = None, freq: str = "quarter", model_version: str | None = None
) -> pd.DataFrame:
    """Narrative heat per entity and period (columns :data:`analyzer.heat.HEAT_COLUMNS`)."""
    check_freq(freq)
    version, params = _run(store, freq, model_version)
    if not _covers(params, entity):
        from analyzer.analysis.heat import compute_heat

        heat, _ = compute_heat(store, freq, version, [entity] if entity else None,
                               (params or {}).get("weights"))
        return heat
    sql = (
        "SELECT entity_id AS entity, freq, model_version, period, "
        + ", ".join(c for c in HEAT_COLUMNS if c not in ("entity", "freq", "model_version", "period"))
        + " FROM heat WHERE freq = ? AND model_version = ?"
    )
    args: list[Any] = [freq, version]
    if entity:
        sql += " AND entity_id = ?"
        args.append(entity)
    frame = _frame(store, sql + " ORDER BY entity_id, period", args)
    return _periods(frame, "period")[HEAT_COLUMNS]


def source_mix(
    store: Any, entity: str | None = None, freq: str = "quarter", model_version: str | None = None
) -> pd.DataFrame:
    """Stories per period and source (columns period, entity, source, stories, documents, share)."""
    check_freq(freq)
    version, params = _run(store, freq, model_version)
    if _covers(params, entity):
        sql = (
            "SELECT h.entity_id AS entity, h.period, h.source_id, h.stories, h.documents, h.source_total"
            " FROM heat_sources h WHERE h.freq = ?"
        )
        args: list[Any] = [freq]
        if entity:
            sql += " AND h.entity_id = ?"
            args.append(entity)
        frame = _frame(store, sql, args)
    else:
        from analyzer.analysis.heat import compute_heat

        _, frame = compute_heat(store, freq, version, [entity] if entity else None)
    names = dict(store.conn.execute("SELECT id, name FROM sources").fetchall())
    frame = frame.copy()
    frame["source"] = [names.get(int(s), "(no source)") for s in frame["source_id"]]
    frame["share"] = frame["stories"] / frame["source_total"].where(frame["source_total"] > 0)
    columns = ["entity", "period", "source", "stories", "documents", "source_total", "share"]
    frame = _periods(frame, "period")[columns]
    return frame.sort_values(["entity", "period", "source"], ignore_index=True)


# --------------------------------------------------------------------------- divergence


def divergence_frame(
    store: Any,
    entity: str | None = None,
    metric: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    threshold: float | None = None,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """Heat aligned with each fundamental, the divergence index and the flagged periods.

    Columns :data:`analyzer.divergence.DIVERGENCE_COLUMNS`. ``threshold``/``min_periods``
    default to the values the results were computed with; other values re-flag in memory.
    """
    check_freq(freq)
    version, params = _run(store, freq, model_version)
    if not _covers(params, entity):
        result = _in_memory(store, freq, version, entity, threshold, min_periods)
        frame = result.divergence
    else:
        sql = (
            "SELECT entity_id AS entity, NULLIF(metric, '') AS metric, freq, model_version, period, heat,"
            " fundamental_level, fundamental_growth, growth_z, growth_basis, unit, divergence,"
            " flagged FROM divergence WHERE freq = ? AND model_version = ?"
        )
        sql, args = _filtered(sql, [freq, version], entity, metric)
        frame = _periods(_frame(store, sql + " ORDER BY entity_id, metric, period", args), "period")
        frame["flagged"] = frame["flagged"].astype(bool)
        stored = params or {}
        if not _same_rule(stored, threshold, min_periods):
            flagged, _ = detect_flags(
                frame,
                threshold if threshold is not None else stored.get("threshold", 1.0),
                min_periods if min_periods is not None else stored.get("min_periods", 2),
            )
            frame["flagged"] = flagged.astype(bool)
    if metric:
        frame = frame[frame["metric"] == metric]
    for column in ("heat", "fundamental_level", "fundamental_growth", "growth_z", "divergence"):
        frame[column] = frame[column].astype(float)
    frame["metric"] = frame["metric"].astype(object).where(frame["metric"].notna(), None)
    return frame[DIVERGENCE_COLUMNS].reset_index(drop=True)


def flags(
    store: Any,
    entity: str | None = None,
    metric: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    threshold: float | None = None,
    min_periods: int | None = None,
    top_k: int = DEFAULT_TOP_SENTENCES,
) -> pd.DataFrame:
    """Flagged spans (start, end, peak) with the top hype sentences behind each."""
    check_freq(freq)
    version, params = _run(store, freq, model_version)
    stored = params or {}
    if _covers(params, entity) and _same_rule(stored, threshold, min_periods):
        sql = (
            "SELECT entity_id AS entity, NULLIF(metric, '') AS metric, freq, start_period AS start,"
            " end_period AS end, peak_period, peak_value, periods, threshold, min_periods, top_sentences"
            " FROM flags WHERE freq = ? AND model_version = ?"
        )
        sql, args = _filtered(sql, [freq, version], entity, metric)
        frame = _frame(store, sql + " ORDER BY entity_id, metric, start_period", args)
        frame["top_sentences"] = [json.loads(s)[:top_k] for s in frame["top_sentences"]]
    else:
        div = divergence_frame(store, entity, metric, freq, version, threshold, min_periods)
        _, found = detect_flags(
            div,
            threshold if threshold is not None else stored.get("threshold", 1.0),
            min_periods if min_periods is not None else stored.get("min_periods", 2),
        )
        for flag in found:
            start_day, end_day = span_bounds(flag.start, flag.end, freq)
            flag.top_sentences = top_sentence_rows(store, flag.entity, start_day, end_day, version, top_k)
        frame = pd.DataFrame([f.to_dict() for f in found], columns=FLAG_COLUMNS)
    frame = _periods(frame, "start", "end", "peak_period")
    return frame[FLAG_COLUMNS].reset_index(drop=True)


def flag_records(frame: pd.DataFrame) -> list[Flag]:
    """Flags from a :func:`flags` frame, for code that prefers objects."""
    return [
        Flag(
            entity=r.entity, metric=r.metric, freq=r.freq, start=iso_day(r.start), end=iso_day(r.end),
            peak_period=iso_day(r.peak_period), peak_value=float(r.peak_value), periods=int(r.periods),
            threshold=float(r.threshold), min_periods=int(r.min_periods), top_sentences=list(r.top_sentences),
        )
        for r in frame.itertuples(index=False)
    ]


# --------------------------------------------------------------------------- statistics


def lead_lag(
    store: Any,
    entity: str,
    metric: str,
    freq: str = "quarter",
    model_version: str | None = None,
    max_lag: int = DEFAULT_MAX_LAG,
    granger_lag: int = 2,
) -> dict[str, Any]:
    """Cross-correlation of heat with fundamental growth over lags -max_lag..max_lag, and Granger
    tests in both directions. A positive best lag means heat moves first."""
    frame = divergence_frame(store, entity, metric, freq, model_version)
    frame = frame.sort_values("period")
    heat = frame["heat"].to_numpy(dtype=float)
    growth = frame["fundamental_growth"].to_numpy(dtype=float)
    correlation = cross_correlation(heat, growth, max_lag)
    return {
        "entity": entity,
        "metric": metric,
        "freq": freq,
        "correlations": correlation.table,
        "best_lag": correlation.best_lag,
        "best_correlation": correlation.best_correlation,
        "n": correlation.n,
        "reason": correlation.reason,
        "granger_heat_to_growth": granger_test(heat, growth, granger_lag),
        "granger_growth_to_heat": granger_test(growth, heat, granger_lag),
        "caveat": LEAD_LAG_CAVEAT,
    }


def explosiveness(
    store: Any,
    entity: str,
    metric: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
) -> dict[str, Any]:
    """SADF/GSADF results for the entity's heat (``metric`` None) or a valuation metric's level."""
    from analyzer.analysis.explosiveness import gsadf_test

    check_freq(freq)
    version, params = _run(store, freq, model_version)
    if _covers(params, entity):
        row = store.conn.execute(
            "SELECT result FROM statistics WHERE freq = ? AND model_version = ? AND entity_id = ?"
            " AND metric = ? AND test = 'gsadf'",
            (freq, version, entity, metric or ""),
        ).fetchone()
        if row:
            return json.loads(row[0])
    if metric is None:
        series = heat_frame(store, entity, freq, version)
        values, periods = series["heat"], series["period"]
    else:
        series = divergence_frame(store, entity, metric, freq, version)
        values, periods = series["fundamental_level"], series["period"]
    return gsadf_test(values.to_numpy(dtype=float), [iso_day(p) for p in periods]).to_dict()


# --------------------------------------------------------------------------- overview


def entity_overview(
    store: Any, freq: str = "quarter", model_version: str | None = None, trend_periods: int = 12
) -> pd.DataFrame:
    """One row per entity: latest heat and its change, a heat trend for sparklines, the latest
    divergence (largest across metrics), flag counts and whether a flag runs in the latest period."""
    check_freq(freq)
    version, params = _run(store, freq, model_version)
    entities = _frame(store, "SELECT id AS entity, name, kind FROM entities ORDER BY id", [])
    columns = [
        "entity", "name", "kind", "documents", "stories", "first_period", "last_period", "heat",
        "heat_change", "trend", "metrics", "divergence", "divergence_metric", "flags", "flagged_now",
    ]
    if params is not None and params.get("entities") is None:
        recent = _frame(
            store,
            "SELECT entity_id AS entity, period, heat FROM (SELECT entity_id, period, heat,"
            " ROW_NUMBER() OVER (PARTITION BY entity_id ORDER BY period DESC) AS rn FROM heat"
            " WHERE freq = ? AND model_version = ?) WHERE rn <= ? ORDER BY entity_id, period",
            [freq, version, max(2, trend_periods)],
        )
        totals = _frame(
            store,
            "SELECT entity_id AS entity, SUM(documents) AS documents, SUM(stories) AS stories,"
            " MIN(period) AS first_period, MAX(period) AS last_period FROM heat"
            " WHERE freq = ? AND model_version = ? GROUP BY entity_id",
            [freq, version],
        )
        latest_div = _frame(
            store,
            "SELECT entity_id AS entity, metric, divergence, flagged, period FROM (SELECT *,"
            " ROW_NUMBER() OVER (PARTITION BY entity_id, metric ORDER BY period DESC) AS rn"
            " FROM divergence WHERE freq = ? AND model_version = ? AND metric != '') WHERE rn = 1",
            [freq, version],
        )
        flag_counts = _frame(
            store,
            "SELECT entity_id AS entity, COUNT(*) AS flags, MAX(end_period) AS last_flag_end FROM flags"
            " WHERE freq = ? AND model_version = ? GROUP BY entity_id",
            [freq, version],
        )
    else:
        result = _in_memory(store, freq, version, None, None, None)
        heat = result.heat
        recent = heat.groupby("entity").tail(max(2, trend_periods))[["entity", "period", "heat"]]
        totals = heat.groupby("entity").agg(
            documents=("documents", "sum"), stories=("stories", "sum"),
            first_period=("period", "min"), last_period=("period", "max"),
        ).reset_index()
        div = result.divergence[result.divergence["metric"].notna()]
        latest_div = div.sort_values("period").groupby(["entity", "metric"]).tail(1)
        flag_frame = pd.DataFrame([f.to_dict() for f in result.flags], columns=FLAG_COLUMNS)
        flag_counts = flag_frame.groupby("entity").agg(
            flags=("start", "size"), last_flag_end=("end", "max")
        ).reset_index()
    for frame, column in ((totals, "first_period"), (totals, "last_period"), (flag_counts, "last_flag_end")):
        frame[column] = pd.to_datetime(frame[column])
    rows = []
    trend_by_entity = {e: g["heat"].astype(float).tolist() for e, g in recent.groupby("entity")}
    totals = totals.set_index("entity")
    flag_counts = flag_counts.set_index("entity")
    for entity in entities.itertuples(index=False):
        trend = trend_by_entity.get(entity.entity, [])
        row: dict[str, Any] = {"entity": entity.entity, "name": entity.name, "kind": entity.kind}
        if entity.entity in totals.index:
            t = totals.loc[entity.entity]
            row.update(documents=int(t["documents"]), stories=int(t["stories"]),
                       first_period=t["first_period"], last_period=t["last_period"])
        else:
            row.update(documents=0, stories=0, first_period=pd.NaT, last_period=pd.NaT)
        row["heat"] = trend[-1] if trend else np.nan
        row["heat_change"] = trend[-1] - trend[-2] if len(trend) >= 2 else np.nan
        row["trend"] = trend[-trend_periods:]
        mine = latest_div[latest_div["entity"] == entity.entity]
        row["metrics"] = sorted(str(m) for m in mine["metric"])
        finite = mine[np.isfinite(mine["divergence"].astype(float))]
        if len(finite):
            top = finite.loc[finite["divergence"].astype(float).idxmax()]
            row["divergence"], row["divergence_metric"] = float(top["divergence"]), top["metric"]
        else:
            row["divergence"], row["divergence_metric"] = np.nan, None
        if entity.entity in flag_counts.index:
            f = flag_counts.loc[entity.entity]
            row["flags"] = int(f["flags"])
            row["flagged_now"] = bool(pd.notna(row["last_period"]) and f["last_flag_end"] == row["last_period"])
        else:
            row["flags"], row["flagged_now"] = 0, False
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- traceability


def period_documents(
    store: Any,
    entity: str,
    period_start: Any,
    freq: str = "quarter",
    model_version: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """The entity's documents published in the period that starts at (or contains) the date.

    ``counted`` is True for the one document per near-duplicate cluster that heat counts.
    """
    check_freq(freq)
    if limit < 1:
        raise InputError("limit must be at least 1")
    version, _ = _run(store, freq, model_version)
    start = _period_start(period_start, freq)
    start_day, end_day = iso_day(start), iso_day(next_period_start(start, freq))
    frame = _frame(
        store,
        "SELECT d.id AS document_id, d.title, d.url, d.published_at, src.name AS source, d.kind,"
        " d.language, d.cluster_id, (d.cluster_id IS NULL OR d.cluster_id = d.id) AS counted,"
        " s.hype, s.growth, s.evidence, s.hype_top, s.n_sentences"
        " FROM documents d CROSS JOIN document_entities de"
        " LEFT JOIN sources src ON src.id = d.source_id"
        " LEFT JOIN scores s ON s.document_id = d.id AND s.model_version = ?"
        " WHERE d.published_at >= ? AND d.published_at < ? AND de.document_id = d.id AND de.entity_id = ?"
        " ORDER BY s.hype IS NULL, s.hype DESC, d.published_at LIMIT ?",
        [version, start_day, end_day, entity, limit],
    )
    frame["counted"] = frame["counted"].astype(bool)
    return frame


def top_sentences(
    store: Any,
    entity: str,
    start: Any,
    end: Any = None,
    freq: str = "quarter",
    model_version: str | None = None,
    limit: int = DEFAULT_TOP_SENTENCES,
) -> pd.DataFrame:
    """Highest-hype sentences about the entity from the periods ``start``..``end`` (inclusive)."""
    check_freq(freq)
    version, _ = _run(store, freq, model_version)
    start_day, end_day = span_bounds(
        _period_start(start, freq), _period_start(end if end is not None else start, freq), freq
    )
    rows = top_sentence_rows(store, entity, start_day, end_day, version, limit)
    columns = ["document_id", "sentence_index", "text", "hype", "growth", "evidence", "title", "url",
               "published_at", "source"]
    return pd.DataFrame(rows, columns=columns)
