"""Narrative heat: how loudly and how breathlessly the ingested sources talk about an entity.

For each entity and period the heat frame holds

* volume: stories about the entity (near-duplicate clusters count once), the pooled share of all
  stories, and an EPU-style volume index (per-source share, each source scaled to unit variance
  over time, averaged across sources) so one prolific feed cannot dominate;
* language: the mean and top-decile mean of document-level hype, growth and evidence scores;
* the heat index: a weighted sum of robust z-scores of those components, itself robustly
  standardised against the entity's own history.

Aggregation happens in SQL (GROUP BY over one row per entity and story); pandas only sees
per entity/period/source aggregates. Formulas and their reasons are in docs/METHOD.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analyzer.analysis.periods import check_freq, period_sql
from analyzer.analysis.standardise import robust_z
from analyzer.errors import InputError

# heat_raw = sum(weight * z(component)); evidence enters with a negative weight because
# evidence-backed language is the opposite of hype.
DEFAULT_HEAT_WEIGHTS: dict[str, float] = {
    "volume": 1.0,
    "hype": 1.0,
    "growth": 1.0,
    "evidence": -1.0,
    "hype_top": 1.0,
}
HEAT_COMPONENTS = {
    "volume": "volume_index",
    "hype": "hype_mean",
    "growth": "growth_mean",
    "evidence": "evidence_mean",
    "hype_top": "hype_top",
}


HEAT_COLUMNS = [
    "entity", "freq", "model_version", "period", "documents", "stories", "sources", "scored",
    "volume_share", "volume_index", "hype_mean", "growth_mean", "evidence_mean",
    "hype_top", "growth_top", "evidence_top",
    "z_volume", "z_hype", "z_growth", "z_evidence", "z_hype_top", "heat_raw", "heat",
]


# --------------------------------------------------------------------------- periods


















# --------------------------------------------------------------------------- robust z




# --------------------------------------------------------------------------- model version


def resolve_model_version(store: Any, model_version: str | None) -> str:
    """The explicit version, else the most recently used one, else '' (no scores yet)."""
    if model_version:
        return model_version
    return store.latest_model_version() or ""


# --------------------------------------------------------------------------- SQL aggregates


def _entity_filter(entities: Iterable[str] | None, column: str) -> tuple[str, list[Any]]:
    if entities is None:
        return "", []
    chosen = [str(e) for e in entities]
    if not chosen:
        return " AND 0", []
    return f" AND {column} IN ({','.join('?' * len(chosen))})", chosen


def source_totals(store: Any, freq: str) -> pd.DataFrame:
    """Stories (clusters counted once) per source and period over the whole corpus."""
    period = period_sql("published_at", freq)
    rows = store.conn.execute(
        f"SELECT COALESCE(source_id, 0) AS source_id, {period} AS period, COUNT(*) AS total"
        " FROM documents INDEXED BY idx_documents_heat"
        " WHERE published_at IS NOT NULL AND (cluster_id IS NULL OR cluster_id = id)"
        " GROUP BY 1, 2 HAVING period IS NOT NULL"
    ).fetchall()
    return pd.DataFrame(rows, columns=["source_id", "period", "total"])


def entity_source_aggregates(
    store: Any, freq: str, model_version: str, entities: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per entity, period and source with story counts and score sums.

    A story is a near-duplicate cluster (or a lone document); it is placed at its
    representative's date and source, and its scores are the mean over its tagged members.
    Documents are read through the covering index on (published_at, source_id, cluster_id);
    only representatives of clusters whose representative is not itself tagged are looked up.
    Top-decile sums cover, per entity and period, the ceil(n/10) stories with the highest score.
    """
    period = period_sql("at", freq)
    where, params = _entity_filter(entities, "de.entity_id")
    rank_columns = []
    top_columns = []
    for name in ("hype", "growth", "evidence"):
        rank_columns.append(
            f"ROW_NUMBER() OVER (PARTITION BY entity_id, period ORDER BY {name} DESC) AS rank_{name},"
            f" COUNT({name}) OVER (PARTITION BY entity_id, period) AS n_{name}"
        )
        top_columns.append(
            f"SUM(CASE WHEN rank_{name} <= (n_{name} + 9) / 10 THEN {name} END) AS top_{name}_sum,"
            f" SUM(CASE WHEN {name} IS NOT NULL AND rank_{name} <= (n_{name} + 9) / 10 THEN 1 ELSE 0 END)"
            f" AS top_{name}_n,"
            f" SUM({name}) AS {name}_sum, COUNT({name}) AS {name}_n"
        )
    sql = f"""
        WITH tagged AS (
            SELECT de.entity_id AS entity_id, COALESCE(d.cluster_id, d.id) AS unit, d.id AS document_id,
                   d.published_at, d.source_id
            FROM documents d INDEXED BY idx_documents_heat
            CROSS JOIN document_entities de ON de.document_id = d.id
            WHERE d.published_at IS NOT NULL{where}
        ),
        units AS (
            SELECT t.entity_id, t.unit, COUNT(*) AS documents,
                   AVG(s.hype) AS hype, AVG(s.growth) AS growth, AVG(s.evidence) AS evidence,
                   MAX(t.document_id = t.unit) AS rep_tagged,
                   MAX(CASE WHEN t.document_id = t.unit THEN t.published_at END) AS rep_published,
                   MAX(CASE WHEN t.document_id = t.unit THEN t.source_id END) AS rep_source
            FROM tagged t LEFT JOIN scores s
              ON s.document_id = t.document_id AND s.model_version = ? AND s.unscored = 0
            GROUP BY t.entity_id, t.unit
        ),
        represented AS (
            SELECT entity_id, unit, documents, hype, growth, evidence,
                   CASE WHEN rep_tagged THEN rep_published
                        ELSE (SELECT r.published_at FROM documents r WHERE r.id = unit) END AS at,
                   CASE WHEN rep_tagged THEN COALESCE(rep_source, 0)
                        ELSE (SELECT COALESCE(r.source_id, 0) FROM documents r WHERE r.id = unit) END
                     AS source_id
            FROM units
        ),
        placed AS MATERIALIZED (
            SELECT entity_id, unit, documents, hype, growth, evidence, source_id, {period} AS period
            FROM represented WHERE at IS NOT NULL
        ),
        ranked AS (
            SELECT *, {', '.join(rank_columns)} FROM placed WHERE period IS NOT NULL
        )
        SELECT entity_id, period, source_id, COUNT(*) AS stories, SUM(documents) AS documents,
               {', '.join(top_columns)}
        FROM ranked GROUP BY entity_id, period, source_id
    """
    cursor = store.conn.execute(sql, [*params, model_version])
    columns = [c[0] for c in cursor.description]
    frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    # Without any scores the sums come back as all-NULL object columns.
    for column in columns[3:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


# --------------------------------------------------------------------------- heat


def _volume_index(shares: pd.DataFrame) -> pd.Series:
    """EPU-style index: each source's share series scaled to unit variance, averaged per period.

    ``shares`` is periods x sources with NaN where a source published nothing. A source whose
    series has no variance (one period, or constant) is scaled by its mean instead, or left at
    zero when it never mentions the entity.
    """
    scaled = {}
    for source in shares.columns:
        series = shares[source]
        sd = float(series.std(ddof=0)) if series.notna().sum() > 1 else 0.0
        if not np.isfinite(sd) or sd <= 1e-12:
            mean = float(series.mean()) if series.notna().any() else 0.0
            sd = mean if mean > 1e-12 else 1.0
        scaled[source] = series / sd
    return pd.DataFrame(scaled, index=shares.index).mean(axis=1, skipna=True)


def compute_heat(
    store: Any,
    freq: str = "quarter",
    model_version: str | None = None,
    entities: Iterable[str] | None = None,
    weights: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Heat per entity and period, plus the per-source story counts behind it.

    Returns ``(heat, source_mix)``. ``heat`` has :data:`HEAT_COLUMNS` with ``period`` as
    Timestamps; an entity's rows run from its first story's period to the corpus' last period,
    over every period in which the corpus holds any dated story (periods without the entity get
    zero volume and neutral language scores). Nothing is written.
    """
    check_freq(freq)
    model_version = resolve_model_version(store, model_version)
    weights = {**DEFAULT_HEAT_WEIGHTS, **(weights or {})}
    unknown = set(weights) - set(HEAT_COMPONENTS)
    if unknown:
        raise InputError(f"unknown heat weight(s) {sorted(unknown)}; use {sorted(HEAT_COMPONENTS)}")

    totals = source_totals(store, freq)
    aggregates = entity_source_aggregates(store, freq, model_version, entities)
    mix_columns = ["entity", "freq", "period", "source_id", "stories", "documents", "source_total"]
    if aggregates.empty or totals.empty:
        return pd.DataFrame(columns=HEAT_COLUMNS), pd.DataFrame(columns=mix_columns)

    totals["period"] = pd.to_datetime(totals["period"])
    aggregates["period"] = pd.to_datetime(aggregates["period"])
    corpus_periods = np.sort(totals["period"].unique())
    corpus_total = totals.groupby("period")["total"].sum()
    total_grid = totals.pivot(index="period", columns="source_id", values="total")

    frames = []
    for entity, group in aggregates.groupby("entity_id", sort=True):
        first = group["period"].min()
        periods = pd.DatetimeIndex(corpus_periods[corpus_periods >= first], name="period")
        per_period = group.groupby("period").sum(numeric_only=True).reindex(periods)
        frame = pd.DataFrame(index=periods)
        frame["documents"] = per_period["documents"].fillna(0).astype(int)
        frame["stories"] = per_period["stories"].fillna(0).astype(int)
        frame["sources"] = (
            group[group["stories"] > 0].groupby("period")["source_id"].nunique().reindex(periods).fillna(0)
        ).astype(int)
        frame["scored"] = per_period["hype_n"].fillna(0).astype(int)
        frame["volume_share"] = frame["stories"] / corpus_total.reindex(periods)

        mentioned = sorted(group["source_id"].unique())
        counts = group.pivot_table(
            index="period", columns="source_id", values="stories", aggfunc="sum"
        ).reindex(index=periods, columns=mentioned)
        denominators = total_grid.reindex(index=periods, columns=mentioned)
        shares = counts.fillna(0).where(denominators > 0) / denominators
        frame["volume_index"] = _volume_index(shares)

        for name in ("hype", "growth", "evidence"):
            n = per_period[f"{name}_n"]
            frame[f"{name}_mean"] = per_period[f"{name}_sum"] / n.where(n > 0)
            top_n = per_period[f"top_{name}_n"]
            frame[f"{name}_top"] = per_period[f"top_{name}_sum"] / top_n.where(top_n > 0)

        raw = np.zeros(len(frame))
        for component, column in HEAT_COMPONENTS.items():
            z = robust_z(frame[column].to_numpy(dtype=float))
            frame[f"z_{component}"] = z
            # A period with no scored story says nothing about tone: it counts as neutral (0).
            raw += weights[component] * np.nan_to_num(z, nan=0.0)
        frame["heat_raw"] = raw
        frame["heat"] = robust_z(raw)
        frame["entity"] = entity
        frames.append(frame.reset_index())

    heat = pd.concat(frames, ignore_index=True)
    heat["freq"] = freq
    heat["model_version"] = model_version
    heat = heat[HEAT_COLUMNS].sort_values(["entity", "period"], ignore_index=True)

    mix = aggregates[["entity_id", "period", "source_id", "stories", "documents"]].rename(
        columns={"entity_id": "entity"}
    )
    mix = mix.merge(totals.rename(columns={"total": "source_total"}), on=["source_id", "period"], how="left")
    mix["source_total"] = mix["source_total"].fillna(0).astype(int)
    mix["freq"] = freq
    return heat, mix[mix_columns].sort_values(["entity", "period", "source_id"], ignore_index=True)
