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

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analyzer.analysis.periods import check_freq
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


# --------------------------------------------------------------------------- SQL aggregates








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
    aggregates: pd.DataFrame,
    totals: pd.DataFrame,
    freq: str = "quarter",
    model_version: str = "",
    weights: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Heat per entity and period, plus the per-source story counts behind it.

    ``aggregates`` holds one row per entity, period and source with story counts and score
    sums, ``totals`` the corpus' stories per source and period (both as
    :meth:`analyzer.storage.Store.entity_source_aggregates` and ``source_totals`` return them).
    Returns ``(heat, source_mix)``. ``heat`` has :data:`HEAT_COLUMNS` with ``period`` as
    Timestamps; an entity's rows run from its first story's period to the corpus' last period,
    over every period in which the corpus holds any dated story (periods without the entity get
    zero volume and neutral language scores).
    """
    check_freq(freq)
    weights = {**DEFAULT_HEAT_WEIGHTS, **(weights or {})}
    unknown = set(weights) - set(HEAT_COMPONENTS)
    if unknown:
        raise InputError(f"unknown heat weight(s) {sorted(unknown)}; use {sorted(HEAT_COMPONENTS)}")
    mix_columns = ["entity", "freq", "period", "source_id", "stories", "documents", "source_total"]
    if aggregates.empty or totals.empty:
        return pd.DataFrame(columns=HEAT_COLUMNS), pd.DataFrame(columns=mix_columns)
    totals = totals.copy()
    aggregates = aggregates.copy()
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
