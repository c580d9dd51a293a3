"""The analysis stage: read stories and fundamentals, compute heat, divergence, flags and
statistics, and store the results."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analyzer.analysis.divergence import divergence_rows, load_fundamentals
from analyzer.analysis.flags import (
    DEFAULT_MIN_PERIODS,
    DEFAULT_THRESHOLD,
    Flag,
    detect_flags,
    span_bounds,
)
from analyzer.analysis.periods import (
    check_freq,
    iso_day,
)
from analyzer.analysis.statistics import series_statistics

DEFAULT_TOP_SENTENCES = 5


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
    from analyzer.analysis.heat import compute_heat, resolve_model_version

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
    from analyzer.analysis.heat import DEFAULT_HEAT_WEIGHTS

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
    from analyzer.storage import utcnow

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


