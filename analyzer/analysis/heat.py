"""Narrative heat: how loudly and how breathlessly the ingested sources talk about an entity.

For each entity and period the heat frame holds

* volume: stories about the entity (near-duplicate clusters count once), the pooled share of all
  stories, and an EPU-style volume index (per-source share, each source scaled to unit variance
  over time, averaged across sources) so one prolific feed cannot dominate;
* language: the mean and top-decile mean of document-level hype, growth and evidence scores;
* the heat index: a weighted sum of robust z-scores of those components, itself robustly
  standardised against the entity's own history.

Every z-score has a floor from its own sampling noise (the standard error of a period's mean
score given its story count, the binomial error of a volume share), is shrunk by the period's
reliability, and is standardised in real time (each period against the history up to it) unless
hindsight mode is asked for. Each period carries a bootstrap band over its stories (sources
resampled too), and ``reliable`` is False when it has fewer than MIN_RELIABLE_STORIES stories.
Formulas and their reasons are in docs/METHOD.md.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.analysis.periods import check_freq
from analyzer.analysis.standardise import (
    DEFAULT_MODE,
    Z_CLIP,
    Standardised,
    check_mode,
    standardise_panel,
)
from analyzer.errors import InputError
from analyzer.storage.analysis import HEAT_VALUE_COLUMNS

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


# The stored heat table owns the value columns; the frame adds its keys.
HEAT_COLUMNS = ["entity", "freq", "model_version", "period", *HEAT_VALUE_COLUMNS]
_MIX_COLUMNS = ["entity", "freq", "period", "source_id", "stories", "documents", "source_total"]
# One row per entity and story (a near-duplicate cluster counts once), as
# :meth:`analyzer.storage.Store.entity_story_scores` returns them; scores are NaN when unscored.
STORY_COLUMNS = ["entity_id", "period", "source_id", "documents", "hype", "growth", "evidence"]
SCORE_NAMES = ("hype", "growth", "evidence")
# A period with fewer stories than this says little about tone: it is marked unreliable, drawn
# as such, and never flagged.
MIN_RELIABLE_STORIES = 5
DEFAULT_RESAMPLES = 200
DEFAULT_LEVEL = 0.90  # two-sided: a flag's lower bound is then a one-sided 95% bound
DEFAULT_SEED = 0
# Within-period standard deviation of a document score before any is observed (scores lie in
# [0, 1]; 0.25 is about the spread of a uniform score, a deliberately wide prior).
DEFAULT_SCORE_SD = 0.25
# Scores are model outputs with their own error: a period's mean is never treated as more
# precise than a per-document spread of MIN_SCORE_SD implies, and a language component's scale
# never falls below SCORE_FLOOR score units (a 0.02 move in a mean probability is below what the
# scorer resolves), so a tone that barely moves cannot produce a large z.
MIN_SCORE_SD = 0.05
SCORE_FLOOR = 0.02
CORRELATION_PRIOR = (
    20.0  # pooled cells the identity counts for when components' correlation is estimated
)


# --------------------------------------------------------------------------- aggregates


def aggregate_stories(stories: pd.DataFrame) -> pd.DataFrame:
    """Per entity, period and source: story counts, score sums and top-decile sums.

    The same numbers as :meth:`analyzer.storage.Store.entity_source_aggregates`: top-decile sums
    cover, per entity and period, the ceil(n / 10) stories with the highest score (n scored).
    """
    columns = ["entity_id", "period", "source_id", "stories", "documents"]
    for name in SCORE_NAMES:
        columns += [f"top_{name}_sum", f"top_{name}_n", f"{name}_sum", f"{name}_n"]
    if stories.empty:
        return pd.DataFrame(columns=columns)
    frame = stories.copy()
    frame["period"] = pd.to_datetime(frame["period"])
    keys = ["entity_id", "period"]
    for name in SCORE_NAMES:
        values = frame[name].astype(float)
        n = values.notna().groupby([frame[k] for k in keys]).transform("sum")
        rank = values.groupby([frame[k] for k in keys]).rank(method="first", ascending=False)
        top = values.notna() & (rank <= np.ceil(n / 10))
        frame[f"top_{name}_v"] = values.where(top)
        frame[f"top_{name}_c"] = top.astype(int)
        frame[f"{name}_c"] = values.notna().astype(int)
    grouped = frame.groupby(["entity_id", "period", "source_id"], sort=True)
    out = grouped.agg(stories=("documents", "size"), documents=("documents", "sum"))
    for name in SCORE_NAMES:
        out[f"top_{name}_sum"] = grouped[f"top_{name}_v"].sum(min_count=1)
        out[f"top_{name}_n"] = grouped[f"top_{name}_c"].sum()
        out[f"{name}_sum"] = grouped[name].sum(min_count=1)
        out[f"{name}_n"] = grouped[f"{name}_c"].sum()
    out = out.reset_index()
    for column in columns[3:]:
        out[column] = out[column].astype(float)
    out["stories"] = out["stories"].astype(int)
    out["documents"] = out["documents"].astype(int)
    return out[columns]


# --------------------------------------------------------------------------- volume


def _source_scales(shares: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The divisor of each source's share series in the EPU volume index, per period.

    Each source is scaled to unit variance (population standard deviation of its share series);
    a series without variance (one period, or constant) is scaled by its mean instead, or by 1
    when it never mentions the entity. In realtime mode the standard deviation is that of the
    series up to each period, in hindsight mode that of the whole series.
    """
    if mode == "hindsight":
        count = shares.notna().sum()
        sd = shares.std(ddof=0).where(count > 1, 0.0)
        mean = shares.mean().fillna(0.0)
        sd = sd.where(np.isfinite(sd) & (sd > 1e-12), mean.where(mean > 1e-12, 1.0))
        return pd.DataFrame(
            np.broadcast_to(sd.to_numpy(), shares.shape), index=shares.index, columns=shares.columns
        )
    expanding = shares.expanding(min_periods=1)
    count = shares.notna().cumsum()
    sd = expanding.std(ddof=0).where(count > 1, 0.0).fillna(0.0)
    mean = expanding.mean().fillna(0.0)
    return sd.where(sd > 1e-12, mean.where(mean > 1e-12, 1.0))


def _volume_index(shares: pd.DataFrame, mode: str = "hindsight") -> pd.Series:
    """EPU-style index: each source's share series scaled to unit variance, averaged per period.

    ``shares`` is periods x sources with NaN where a source published nothing.
    """
    return (shares / _source_scales(shares, mode)).mean(axis=1, skipna=True)


# --------------------------------------------------------------------------- random numbers


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64 arrays (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(*keys: np.ndarray | int) -> np.ndarray:
    """Uniform numbers in [0, 1) that are a pure function of their keys.

    Each bootstrap draw is keyed by (seed, entity, period, resample, slot, draw, stream), so a
    period's band never depends on which other periods or entities are in the run: adding later
    periods leaves earlier bands exactly as they were.
    """
    h = np.uint64(0)
    for key in keys:
        with np.errstate(over="ignore"):
            h = _mix(np.asarray(key).astype(np.uint64) ^ (h * np.uint64(0x100000001B3)))
    return (np.asarray(h, dtype=np.uint64) >> np.uint64(11)).astype(float) / float(1 << 53)


def _normal(*keys: np.ndarray | int) -> np.ndarray:
    """Standard normal numbers keyed like :func:`_uniform` (Box-Muller)."""
    u1 = _uniform(*keys, 101)
    u2 = _uniform(*keys, 102)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _entity_key(entity: str) -> int:
    return zlib.crc32(str(entity).encode("utf-8"))


# --------------------------------------------------------------------------- heat


@dataclass
class VolumePanel:
    """Each (entity, source) pair's share series on the corpus' periods (columns), its binomial
    standard error and the source's total stories; ``entity`` maps columns to entities."""

    share: np.ndarray
    se: np.ndarray
    total: np.ndarray
    entity: np.ndarray
    fitted: Standardised | None = None

    def combine(self, z: np.ndarray, entities: int) -> np.ndarray:
        """Per entity, sum / sqrt(k) of its sources' z-scores (leading axes kept), k finite ones."""
        finite = np.isfinite(z)
        shape = (*z.shape[:-1], entities)
        total = np.zeros(shape)
        count = np.zeros(shape)
        for j in range(entities):
            columns = self.entity == j
            total[..., j] = np.where(finite[..., columns], z[..., columns], 0.0).sum(axis=-1)
            count[..., j] = finite[..., columns].sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, np.clip(total / np.sqrt(count), -Z_CLIP, Z_CLIP), np.nan)


def _within_sd(
    stories: pd.DataFrame | None, periods: pd.DatetimeIndex, entities: list[str], mode: str
) -> dict[str, np.ndarray]:
    """Within-period standard deviation of each score, per entity and period.

    Pooled over the entity's periods (up to each period in realtime mode): the sum of squared
    deviations from each period's mean over the degrees of freedom. With fewer than two degrees
    of freedom the corpus' pooled value (all entities, same window) stands in, and before any is
    known DEFAULT_SCORE_SD.
    """
    shape = (len(periods), len(entities))
    out = {name: np.full(shape, DEFAULT_SCORE_SD) for name in SCORE_NAMES}
    if stories is None or stories.empty:
        return out
    frame = stories.assign(period=pd.to_datetime(stories["period"]))
    for name in SCORE_NAMES:
        values = frame[name].astype(float)
        ok = values.notna()
        part = frame[ok].assign(v=values[ok], v2=values[ok] ** 2)
        grouped = part.groupby(["period", "entity_id"]).agg(
            n=("v", "size"), s=("v", "sum"), s2=("v2", "sum")
        )
        grouped["ssw"] = (grouped["s2"] - grouped["s"] ** 2 / grouped["n"]).clip(lower=0.0)
        grouped["df"] = grouped["n"] - 1
        ssw = (
            grouped["ssw"]
            .unstack("entity_id")
            .reindex(index=periods, columns=entities)
            .fillna(0.0)
            .to_numpy()
        )
        df = (
            grouped["df"]
            .unstack("entity_id")
            .reindex(index=periods, columns=entities)
            .fillna(0.0)
            .to_numpy()
        )
        if mode == "hindsight":
            own_ssw, own_df = (
                np.broadcast_to(ssw.sum(axis=0), shape),
                np.broadcast_to(df.sum(axis=0), shape),
            )
            all_ssw, all_df = np.full(shape, ssw.sum()), np.full(shape, df.sum())
        else:
            own_ssw, own_df = np.cumsum(ssw, axis=0), np.cumsum(df, axis=0)
            all_ssw = np.broadcast_to(np.cumsum(ssw.sum(axis=1))[:, None], shape)
            all_df = np.broadcast_to(np.cumsum(df.sum(axis=1))[:, None], shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            own = np.sqrt(own_ssw / own_df)
            pooled = np.sqrt(all_ssw / all_df)
        out[name] = np.maximum(
            np.where(own_df >= 2, own, np.where(all_df >= 2, pooled, DEFAULT_SCORE_SD)),
            MIN_SCORE_SD,
        )
    return out


def compute_heat(
    aggregates: pd.DataFrame | None,
    totals: pd.DataFrame,
    freq: str = "quarter",
    model_version: str = "",
    weights: Mapping[str, float] | None = None,
    *,
    stories: pd.DataFrame | None = None,
    mode: str = DEFAULT_MODE,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_SEED,
    min_stories: int = MIN_RELIABLE_STORIES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Heat per entity and period with its band, plus the per-source story counts behind it.

    ``aggregates`` holds one row per entity, period and source with story counts and score
    sums (:meth:`analyzer.storage.Store.entity_source_aggregates`; None to derive them from
    ``stories``), ``totals`` the corpus' stories per source and period (``source_totals``),
    ``stories`` one row per entity and story (:data:`STORY_COLUMNS`), which the bootstrap band
    resamples (without it the band is missing). Returns ``(heat, source_mix)``. ``heat`` has
    :data:`HEAT_COLUMNS` with ``period`` as Timestamps; an entity's rows run from its first
    story's period to the corpus' last period, over every period in which the corpus holds any
    dated story (periods without the entity get zero volume and neutral language scores).
    ``mode`` is "realtime" (each period standardised against the history up to it: a period's
    values never change when later periods arrive) or "hindsight" (against the whole history).
    """
    weights = _checked_weights(freq, mode, level, resamples, weights)
    if aggregates is None:
        aggregates = aggregate_stories(
            stories if stories is not None else pd.DataFrame(columns=STORY_COLUMNS)
        )
    if aggregates.empty or totals.empty:
        return pd.DataFrame(columns=HEAT_COLUMNS), pd.DataFrame(columns=_MIX_COLUMNS)
    totals = totals.copy()
    aggregates = aggregates.copy()
    totals["period"] = pd.to_datetime(totals["period"])
    aggregates["period"] = pd.to_datetime(aggregates["period"])
    corpus_periods = pd.DatetimeIndex(np.sort(totals["period"].unique()), name="period")
    entities = sorted(str(e) for e in aggregates["entity_id"].unique())
    aggregates["entity_id"] = aggregates["entity_id"].astype(str)
    shape = (len(corpus_periods), len(entities))

    frames, values, counts, volume = _entity_panels(aggregates, totals, corpus_periods, mode)
    within = _within_sd(stories, corpus_periods, entities, mode)
    se = _language_se(within, counts)
    in_range = np.zeros(shape, dtype=bool)
    for j, (_, rows) in enumerate(frames):
        in_range[rows, j] = True
    fitted, z = _standardise_language(values, se, mode)
    # Volume, EPU style: each source's share of its own output is standardised on its own (its
    # level differs between entities and sources by design: only the relative scale pools),
    # with the share's binomial error as floor; the sources' z-scores are then combined with
    # equal weight, sum / sqrt(k) over the k sources publishing in the period.
    volume.fitted = standardise_panel(
        volume.share, mode=mode, se=volume.se, pool_center=False, relative_scale=True
    )
    z["volume"] = volume.combine(volume.fitted.z, shape[1])
    raw = np.where(in_range, _weighted_sum(z, weights, shape), np.nan)

    # The band measures sampling error: resamples are standardised without the reliability
    # factor (which would shrink a noisy period's band along with its estimate) and the spread of
    # their composite around the unshrunk composite is laid around the (shrunk) estimate.
    unshrunk = _unshrunk_z(values, fitted, volume)
    raw_unshrunk = _weighted_sum(unshrunk, weights, shape)
    draws = None
    if stories is not None and resamples > 0 and not stories.empty:
        draws = _bootstrap_raw(
            stories,
            corpus_periods,
            entities,
            volume,
            fitted,
            unshrunk,
            weights,
            within,
            resamples,
            seed,
        )
    scale = _composite_scale(z, weights, in_range, mode)
    with np.errstate(invalid="ignore", divide="ignore"):
        heat_z = np.clip(raw / scale, -Z_CLIP, Z_CLIP)
    low, high = _band(heat_z, draws, raw_unshrunk, scale, in_range, level)

    heat = _heat_frame(frames, z, raw, heat_z, low, high, min_stories)
    heat["freq"] = freq
    heat["model_version"] = model_version
    heat["mode"] = mode
    heat = heat[HEAT_COLUMNS].sort_values(["entity", "period"], ignore_index=True)
    return heat, _source_mix(aggregates, totals, freq)


def _checked_weights(
    freq: str, mode: str, level: float, resamples: int, weights: Mapping[str, float] | None
) -> dict[str, float]:
    """The component weights with defaults filled in, once every argument is known to be valid."""
    check_freq(freq)
    check_mode(mode)
    if not 0 < level < 1:
        raise InputError("the band's level must lie strictly between 0 and 1")
    if resamples < 0:
        raise InputError("resamples must be >= 0")
    weights = {**DEFAULT_HEAT_WEIGHTS, **(weights or {})}
    unknown = set(weights) - set(HEAT_COMPONENTS)
    if unknown:
        raise InputError(f"unknown heat weight(s) {sorted(unknown)}; use {sorted(HEAT_COMPONENTS)}")
    return weights


def _entity_panels(
    aggregates: pd.DataFrame, totals: pd.DataFrame, corpus_periods: pd.DatetimeIndex, mode: str
) -> tuple[
    list[tuple[pd.DataFrame, np.ndarray]],
    dict[str, np.ndarray],
    dict[str, np.ndarray],
    VolumePanel,
]:
    """Every entity's frame (with the corpus rows it covers), the components' values and score
    counts as periods x entities panels, and the (entity, source) volume panel."""
    corpus_total = totals.groupby("period")["total"].sum()
    total_grid = totals.pivot(index="period", columns="source_id", values="total")
    shape = (len(corpus_periods), aggregates["entity_id"].nunique())
    values = {c: np.full(shape, np.nan) for c in HEAT_COMPONENTS}
    counts = {name: np.zeros(shape) for name in (*SCORE_NAMES, *(f"top_{n}" for n in SCORE_NAMES))}
    pair_share: list[np.ndarray] = []
    pair_se: list[np.ndarray] = []
    pair_total: list[np.ndarray] = []
    pair_entity: list[int] = []
    frames = []
    for j, (entity, group) in enumerate(aggregates.groupby("entity_id", sort=True)):
        periods = corpus_periods[corpus_periods >= group["period"].min()]
        rows = corpus_periods.get_indexer(periods)
        frame, per_period = _entity_frame(group, periods, corpus_total)
        shares, share_se, denominators = _source_shares(group, periods, total_grid)
        frame["volume_index"] = _volume_index(shares, mode)
        for source in shares.columns:
            pair_share.append(_on_corpus_rows(shares[source], rows, len(corpus_periods)))
            pair_se.append(_on_corpus_rows(share_se[source], rows, len(corpus_periods)))
            pair_total.append(_on_corpus_rows(denominators[source], rows, len(corpus_periods)))
            pair_entity.append(j)
        for name in SCORE_NAMES:
            counts[name][rows, j] = per_period[f"{name}_n"].fillna(0).to_numpy()
            counts[f"top_{name}"][rows, j] = per_period[f"top_{name}_n"].fillna(0).to_numpy()
        for component, column in HEAT_COMPONENTS.items():
            values[component][rows, j] = frame[column].to_numpy(dtype=float)
        frame["entity"] = entity
        frames.append((frame, rows))
    volume = VolumePanel(
        share=np.column_stack(pair_share) if pair_share else np.zeros((shape[0], 0)),
        se=np.column_stack(pair_se) if pair_se else np.zeros((shape[0], 0)),
        total=np.column_stack(pair_total) if pair_total else np.zeros((shape[0], 0)),
        entity=np.asarray(pair_entity, dtype=int),
    )
    return frames, values, counts, volume


def _entity_frame(
    group: pd.DataFrame, periods: pd.DatetimeIndex, corpus_total: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One entity's counts, pooled volume share and mean scores per period, and the per-period
    sums they come from."""
    per_period = group.groupby("period").sum(numeric_only=True).reindex(periods)
    frame = pd.DataFrame(index=periods)
    frame["documents"] = per_period["documents"].fillna(0).astype(int)
    frame["stories"] = per_period["stories"].fillna(0).astype(int)
    frame["sources"] = (
        group[group["stories"] > 0]
        .groupby("period")["source_id"]
        .nunique()
        .reindex(periods)
        .fillna(0)
    ).astype(int)
    frame["scored"] = per_period["hype_n"].fillna(0).astype(int)
    frame["volume_share"] = frame["stories"] / corpus_total.reindex(periods)
    for name in SCORE_NAMES:
        n = per_period[f"{name}_n"]
        frame[f"{name}_mean"] = per_period[f"{name}_sum"] / n.where(n > 0)
        top_n = per_period[f"top_{name}_n"]
        frame[f"{name}_top"] = per_period[f"top_{name}_sum"] / top_n.where(top_n > 0)
    return frame, per_period


def _source_shares(
    group: pd.DataFrame, periods: pd.DatetimeIndex, total_grid: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per period and source mentioning the entity: its share of the source's stories, that
    share's binomial standard error, and the source's total stories."""
    mentioned = sorted(group["source_id"].unique())
    source_counts = group.pivot_table(
        index="period", columns="source_id", values="stories", aggfunc="sum"
    ).reindex(index=periods, columns=mentioned)
    denominators = total_grid.reindex(index=periods, columns=mentioned)
    shares = source_counts.fillna(0).where(denominators > 0) / denominators
    # A Jeffreys-style half story keeps the error above 0.
    smoothed = (source_counts.fillna(0) + 0.5) / (denominators + 1.0)
    share_se = np.sqrt(smoothed * (1 - smoothed) / denominators.where(denominators > 0))
    return shares, share_se, denominators


def _on_corpus_rows(values: pd.Series, rows: np.ndarray, length: int) -> np.ndarray:
    """An entity's series laid onto the corpus' periods, NaN before the entity appears."""
    column = np.full(length, np.nan)
    column[rows] = values.to_numpy(dtype=float)
    return column


def _language_se(
    within: Mapping[str, np.ndarray], counts: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Standard error of each language component's period mean, from its scored story count."""
    se = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for component, name, count in (
            ("hype", "hype", "hype"),
            ("growth", "growth", "growth"),
            ("evidence", "evidence", "evidence"),
            ("hype_top", "hype", "top_hype"),
        ):
            n = counts[count]
            se[component] = np.where(n > 0, within[name] / np.sqrt(n), np.nan)
    return se


def _standardise_language(
    values: Mapping[str, np.ndarray], se: Mapping[str, np.ndarray], mode: str
) -> tuple[dict[str, Standardised], dict[str, np.ndarray]]:
    """The language components' fitted standardisation and z-scores."""
    fitted: dict[str, Standardised] = {}
    z: dict[str, np.ndarray] = {}
    for component in HEAT_COMPONENTS:
        if component == "volume":
            continue
        # Language scores share one scale across entities: centre and scale pool.
        fitted[component] = standardise_panel(
            values[component], mode=mode, se=se[component], floor=SCORE_FLOOR
        )
        z[component] = fitted[component].z
    return fitted, z


def _unshrunk_z(
    values: Mapping[str, np.ndarray], fitted: Mapping[str, Standardised], volume: VolumePanel
) -> dict[str, np.ndarray]:
    """The components' z-scores without the reliability factor, NaN where a language component
    has no value."""
    entities = values["volume"].shape[1]
    unshrunk = {c: fitted[c].apply(values[c], shrink=False) for c in fitted}
    unshrunk["volume"] = volume.combine(volume.fitted.apply(volume.share, shrink=False), entities)
    return {
        c: np.where(np.isfinite(values[c]) | (c == "volume"), v, np.nan)
        for c, v in unshrunk.items()
    }


def _weighted_sum(
    z: Mapping[str, np.ndarray], weights: Mapping[str, float], shape: tuple[int, int]
) -> np.ndarray:
    """heat_raw: the weighted sum of the components' z-scores."""
    raw = np.zeros(shape)
    for component in HEAT_COMPONENTS:
        # A period with no scored story says nothing about tone: it counts as neutral (0).
        raw += weights[component] * np.nan_to_num(z[component], nan=0.0)
    return raw


def _band(
    heat_z: np.ndarray,
    draws: np.ndarray | None,
    raw_unshrunk: np.ndarray,
    scale: np.ndarray,
    in_range: np.ndarray,
    level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The band's low and high ends: the resamples' spread around the unshrunk composite, on the
    composite's scale, laid around the estimate (which it always contains); NaN without draws."""
    low = high = np.full(heat_z.shape, np.nan)
    if draws is not None:
        alpha = (1.0 - level) / 2.0
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = (draws - raw_unshrunk[..., None]) / scale[..., None]
        low = np.clip(heat_z + np.minimum(np.quantile(spread, alpha, axis=2), 0.0), -Z_CLIP, Z_CLIP)
        high = np.clip(
            heat_z + np.maximum(np.quantile(spread, 1.0 - alpha, axis=2), 0.0), -Z_CLIP, Z_CLIP
        )
        low = np.where(in_range, low, np.nan)
        high = np.where(in_range, high, np.nan)
    return low, high


def _heat_frame(
    frames: list[tuple[pd.DataFrame, np.ndarray]],
    z: Mapping[str, np.ndarray],
    raw: np.ndarray,
    heat_z: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    min_stories: int,
) -> pd.DataFrame:
    """The entities' frames with their z-scores, heat and band, one row per entity and period."""
    out = []
    for j, (frame, rows) in enumerate(frames):
        for component in HEAT_COMPONENTS:
            frame[f"z_{component}"] = z[component][rows, j]
        frame["heat_raw"] = raw[rows, j]
        frame["heat"] = heat_z[rows, j]
        frame["heat_low"] = low[rows, j]
        frame["heat_high"] = high[rows, j]
        frame["reliable"] = frame["stories"].to_numpy() >= min_stories
        out.append(frame.reset_index())
    return pd.concat(out, ignore_index=True)


def _source_mix(aggregates: pd.DataFrame, totals: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Stories per entity, period and source, next to the source's total stories."""
    mix = aggregates[["entity_id", "period", "source_id", "stories", "documents"]].rename(
        columns={"entity_id": "entity"}
    )
    mix = mix.merge(
        totals.rename(columns={"total": "source_total"}), on=["source_id", "period"], how="left"
    )
    mix["source_total"] = mix["source_total"].fillna(0).astype(int)
    mix["freq"] = freq
    return mix[_MIX_COLUMNS].sort_values(["entity", "period", "source_id"], ignore_index=True)


def _composite_scale(
    fitted: Mapping[str, np.ndarray], weights: Mapping[str, float], in_range: np.ndarray, mode: str
) -> np.ndarray:
    """sqrt(w' R w) per period: the standard deviation of heat_raw when every component is a unit
    z-score with correlations R (the weighted Stouffer combination of correlated z-scores).

    R is the correlation of the components' z-scores pooled over every entity and period of the
    window (up to each period in realtime mode, all in hindsight mode), shrunk towards the
    identity by n / (n + CORRELATION_PRIOR) for n pooled cells. A component whose z-scores never
    move adds no variance. Without any pooled cell the scale is sqrt(sum w^2) (independence).
    """
    names = list(HEAT_COMPONENTS)
    z = np.stack(
        [np.where(in_range, np.nan_to_num(fitted[c], nan=0.0), 0.0) for c in names], axis=-1
    )
    w = np.asarray([weights[c] for c in names], dtype=float)
    cells = in_range.sum(axis=1).astype(float)
    first = z.sum(axis=1)
    second = np.einsum("tec,ted->tcd", z, z)
    if mode == "hindsight":
        n = np.full(len(cells), cells.sum())
        first = np.broadcast_to(first.sum(axis=0), first.shape)
        second = np.broadcast_to(second.sum(axis=0), second.shape)
    else:
        n = np.cumsum(cells)
        first = np.cumsum(first, axis=0)
        second = np.cumsum(second, axis=0)
    scale = np.full(len(cells), float(np.sqrt(np.sum(w**2))))
    for t in range(len(cells)):
        if n[t] < 2:
            continue
        mean = first[t] / n[t]
        cov = second[t] / n[t] - np.outer(mean, mean)
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        moving = sd > 1e-9
        corr = np.zeros_like(cov)
        corr[np.ix_(moving, moving)] = cov[np.ix_(moving, moving)] / np.outer(
            sd[moving], sd[moving]
        )
        shrink = n[t] / (n[t] + CORRELATION_PRIOR)
        matrix = shrink * corr + (1.0 - shrink) * np.diag(moving.astype(float))
        variance = float(w @ matrix @ w)
        scale[t] = np.sqrt(variance) if variance > 1e-12 else float(np.sqrt(np.sum(w**2)))
    return np.broadcast_to(scale[:, None], in_range.shape)


# --------------------------------------------------------------------------- bootstrap

# Resampled draws held in memory at once (story draws across resamples); cells are processed in
# chunks of about this size so a large corpus never needs more than a few hundred megabytes.
BOOTSTRAP_CHUNK_DRAWS = 2_000_000


def _bootstrap_raw(
    stories: pd.DataFrame,
    periods: pd.DatetimeIndex,
    entities: list[str],
    volume: VolumePanel,
    fitted: Mapping[str, Standardised],
    point: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    within: Mapping[str, np.ndarray],
    resamples: int,
    seed: int,
) -> np.ndarray:
    """heat_raw recomputed on ``resamples`` bootstrap resamples of every entity and period.

    Returns a periods x entities x resamples array (NaN where the entity has no row). Language:
    a two-stage bootstrap, sources with replacement among the period's sources and then stories
    with replacement within each drawn source, smoothed with Gaussian noise of bandwidth
    sd_within / sqrt(n) per story so that a period of one story is not treated as certain.
    Volume: each source's share is drawn around its value with its binomial standard error,
    sources again drawn with replacement. Components are standardised with the point
    estimate's reference (centre, floor, reliability) of the same period.
    """
    shape = (len(periods), len(entities), resamples)
    frame, period_pos, entity_pos = _bootstrap_stories(stories, periods, entities)
    scores = {name: frame[name].to_numpy(dtype=float) for name in SCORE_NAMES}
    days = (periods.to_numpy().astype("datetime64[D]").astype(np.int64) + 1_000_000).astype(
        np.uint64
    )
    entity_keys = np.asarray([_entity_key(e) for e in entities], dtype=np.uint64)
    b_index = np.arange(resamples, dtype=np.uint64)

    # Cells (entity, period) and, inside each, blocks of stories from one source.
    cell_of_story = entity_pos.astype(np.int64) * len(periods) + period_pos
    source_ids = frame["source_id"].to_numpy()
    block_start = np.flatnonzero(
        np.r_[True, (cell_of_story[1:] != cell_of_story[:-1]) | (source_ids[1:] != source_ids[:-1])]
    )
    block_size = np.diff(np.r_[block_start, len(frame)])
    block_cell = cell_of_story[block_start]
    cell_start = np.flatnonzero(np.r_[True, block_cell[1:] != block_cell[:-1]])
    cells = block_cell[cell_start]
    cell_blocks = np.diff(np.r_[cell_start, len(block_cell)])
    cell_stories = (
        np.add.reduceat(block_size, cell_start) if len(cell_start) else np.zeros(0, dtype=int)
    )

    language = {c: np.full(shape, np.nan) for c in ("hype", "growth", "evidence", "hype_top")}
    for batch in _cell_batches(cell_stories, resamples):
        positions = np.asarray(batch, dtype=np.int64)
        c_entity = cells[positions] // len(periods)
        c_period = cells[positions] % len(periods)
        story, group = _draw_stories(
            (seed, entity_keys[c_entity], days[c_period]),
            cell_start[positions],
            cell_blocks[positions],
            block_start,
            block_size,
            resamples,
        )
        g_cell = np.repeat(np.arange(len(positions)), resamples)
        g_b = np.tile(b_index, len(positions))
        g_keys = (seed, entity_keys[c_entity[g_cell]], days[c_period[g_cell]], g_b)
        sd = {name: within[name][c_period[g_cell], c_entity[g_cell]] for name in SCORE_NAMES}
        means = _resampled_language(scores, story, group, len(g_cell), sd, g_keys)
        for component, mean in means.items():
            language[component][c_period[g_cell], c_entity[g_cell], g_b.astype(np.int64)] = mean

    volume_z = _bootstrap_volume(periods, entities, volume, entity_keys, days, resamples, seed)
    raw = np.zeros(shape)
    for component in HEAT_COMPONENTS:
        reference = np.broadcast_to(np.nan_to_num(point[component], nan=0.0)[..., None], shape)
        if component == "volume":
            z = volume_z
        else:
            draws = language[component]
            z = np.moveaxis(fitted[component].apply(np.moveaxis(draws, 2, 0), shrink=False), 0, 2)
            z = np.where(np.isnan(draws), np.nan, z)
        raw += weights[component] * np.where(np.isnan(z), reference, z)
    return raw


def _bootstrap_stories(
    stories: pd.DataFrame, periods: pd.DatetimeIndex, entities: list[str]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The stories inside the panel, ordered by entity, period and source so each cell's and
    each source block's stories are contiguous, with their period and entity positions."""
    frame = stories.assign(
        period=pd.to_datetime(stories["period"]), entity_id=stories["entity_id"].astype(str)
    )
    frame = frame.sort_values(["entity_id", "period", "source_id"], kind="stable").reset_index(
        drop=True
    )
    period_pos = periods.get_indexer(frame["period"])
    entity_index = {e: j for j, e in enumerate(entities)}
    entity_pos = frame["entity_id"].map(entity_index).to_numpy()
    keep = (period_pos >= 0) & ~pd.isna(entity_pos)
    return frame[keep].reset_index(drop=True), period_pos[keep], entity_pos[keep].astype(int)


def _cell_batches(cell_stories: np.ndarray, resamples: int) -> list[list[int]]:
    """Consecutive cell positions grouped so each group draws about BOOTSTRAP_CHUNK_DRAWS stories."""
    chunk, used = [], 0
    batches = []
    for position in range(len(cell_stories)):
        chunk.append(position)
        used += int(cell_stories[position]) * resamples
        if used >= BOOTSTRAP_CHUNK_DRAWS:
            batches.append(chunk)
            chunk, used = [], 0
    if chunk:
        batches.append(chunk)
    return batches


def _draw_stories(
    cell_keys: tuple[int, np.ndarray, np.ndarray],
    first_block: np.ndarray,
    n_blocks: np.ndarray,
    block_start: np.ndarray,
    block_size: np.ndarray,
    resamples: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The two-stage draw for a batch of cells: the drawn stories' positions and, for each, its
    group (cell position in the batch x resamples + resample).

    ``cell_keys`` is (seed, entity key, period day) per cell, the cells' source blocks run from
    ``first_block`` for ``n_blocks`` blocks.
    """
    seed, entity_key, day = cell_keys
    # stage 1: for each (cell, resample), n_blocks draws of a source block
    slot_cell = np.repeat(np.arange(len(first_block)), n_blocks * resamples)
    b_index = np.arange(resamples, dtype=np.uint64)
    slot_b = (
        np.concatenate([np.repeat(b_index, k) for k in n_blocks])
        if len(first_block)
        else np.zeros(0)
    )
    slot_j = (
        np.concatenate([np.tile(np.arange(k, dtype=np.uint64), resamples) for k in n_blocks])
        if len(first_block)
        else np.zeros(0)
    )
    keys = (seed, entity_key[slot_cell], day[slot_cell], slot_b, slot_j)
    pick = np.floor(_uniform(*keys, 1) * n_blocks[slot_cell]).astype(np.int64)
    chosen_block = first_block[slot_cell] + pick
    sizes = block_size[chosen_block]
    # stage 2: within each drawn block, as many stories as it holds, with replacement
    draw_slot = np.repeat(np.arange(len(slot_cell)), sizes)
    offsets = np.arange(len(draw_slot)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    u = _uniform(
        *(k[draw_slot] if isinstance(k, np.ndarray) else k for k in keys),
        offsets.astype(np.uint64),
        2,
    )
    story = block_start[chosen_block][draw_slot] + np.floor(u * sizes[draw_slot]).astype(np.int64)
    group = slot_cell[draw_slot] * resamples + slot_b[draw_slot].astype(np.int64)
    return story, group


def _resampled_language(
    scores: Mapping[str, np.ndarray],
    story: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    sd: Mapping[str, np.ndarray],
    g_keys: tuple[int, np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """Per group of drawn stories, each score's smoothed mean and hype's smoothed top-decile
    mean (NaN for a group without a scored story)."""
    out = {}
    for name in SCORE_NAMES:
        v = scores[name][story]
        ok = np.isfinite(v)
        m = np.bincount(group[ok], minlength=n_groups).astype(float)
        total = np.bincount(group[ok], weights=v[ok], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / m + sd[name] / m * _normal(*g_keys, 10 + SCORE_NAMES.index(name))
        out[name] = np.where(m > 0, mean, np.nan)
        if name == "hype":
            k = np.ceil(m / 10.0)
            order = np.lexsort((-np.where(ok, v, -np.inf), group))
            sorted_group = group[order]
            first = np.searchsorted(sorted_group, sorted_group, side="left")
            rank = np.arange(len(order)) - first
            top = (rank < k[sorted_group]) & ok[order]
            top_sum = np.bincount(sorted_group[top], weights=v[order][top], minlength=n_groups)
            with np.errstate(invalid="ignore", divide="ignore"):
                top_mean = top_sum / k + sd[name] / np.sqrt(m * k) * _normal(*g_keys, 20)
            out["hype_top"] = np.where(k > 0, top_mean, np.nan)
    return out


def _bootstrap_volume(
    periods: pd.DatetimeIndex,
    entities: list[str],
    volume: VolumePanel,
    entity_keys: np.ndarray,
    days: np.ndarray,
    resamples: int,
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """Volume z on resamples: each period's sources drawn with replacement, each share drawn
    around its value with its binomial error, standardised with the point estimate's reference."""
    out = np.full((len(periods), len(entities), resamples), np.nan)
    fitted = volume.fitted
    if fitted is None or volume.share.shape[1] == 0:
        return out
    b = np.arange(resamples, dtype=np.uint64)
    for j in range(len(entities)):
        columns = np.flatnonzero(volume.entity == j)
        if len(columns) == 0:
            continue
        share = volume.share[:, columns]
        active = np.isfinite(share)
        for row in np.flatnonzero(active.any(axis=1)):
            live = columns[active[row]]
            k = len(live)
            keys = (
                seed,
                entity_keys[j],
                days[row],
                np.repeat(b, k),
                np.tile(np.arange(k, dtype=np.uint64), resamples),
            )
            pick = live[np.floor(_uniform(*keys, 3) * k).astype(np.int64)]
            drawn = np.maximum(
                volume.share[row, pick] + volume.se[row, pick] * _normal(*keys, 4), 0.0
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                z = (drawn - fitted.center[row, pick]) / fitted.denom[row, pick]
            z = np.clip(np.where(fitted.denom[row, pick] > 0, z, 0.0), -Z_CLIP, Z_CLIP)
            out[row, j] = np.clip(z.reshape(resamples, k).sum(axis=1) / np.sqrt(k), -Z_CLIP, Z_CLIP)
    return out
