"""The analysis stage: read stories and fundamentals from the store, compute heat, divergence,
flags and statistics with the pure functions of this package, and hand the results back.

Nothing here writes SQL; reads and writes are :class:`analyzer.storage.Store` methods. Writing
the results is :func:`analyzer.pipeline.compute_divergence`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from analyzer.analysis.dedup import (
    DEFAULT_NUM_PERM,
    DEFAULT_SIMILARITY,
    DEFAULT_WINDOW_DAYS,
    ClusterSummary,
    check_cluster_settings,
    cluster_rows,
)
from analyzer.analysis.divergence import divergence_rows
from analyzer.analysis.flags import (
    DEFAULT_MIN_PERIODS,
    DEFAULT_THRESHOLD,
    Flag,
    detect_flags,
    span_bounds,
)
from analyzer.analysis.heat import (
    DEFAULT_HEAT_WEIGHTS,
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_RELIABLE_STORIES,
    compute_heat,
)
from analyzer.analysis.periods import check_freq, shift_days
from analyzer.analysis.standardise import DEFAULT_MODE, check_mode
from analyzer.analysis.statistics import series_statistics
from analyzer.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from analyzer.storage import Store

DEFAULT_TOP_SENTENCES = 5


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


def resolve_model_version(store: Store, model_version: str | None) -> str:
    """The explicit version, else the most recently used one, else '' (no scores yet)."""
    if model_version:
        return model_version
    return store.latest_model_version() or ""


def cluster_documents(
    store: Store,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    similarity: float = DEFAULT_SIMILARITY,
    num_perm: int = DEFAULT_NUM_PERM,
    recluster: bool = False,
) -> ClusterSummary:
    """Assign ``documents.cluster_id`` for dated documents not clustered yet (all with ``recluster``).

    Work is incremental: only documents from ``window_days`` before the earliest unclustered
    one onward are hashed; earlier clusters keep their ids and may gain members.
    """
    check_cluster_settings(window_days, similarity)
    if recluster:
        store.reset_clusters()
    first = store.clustering_start()
    if first is None:
        return ClusterSummary(examined=0, clusters=0, duplicates=0)
    rows = store.iter_clustering_rows(shift_days(first[:10], -window_days))
    changes = cluster_rows(
        rows, store.published_at, window_days=window_days, similarity=similarity, num_perm=num_perm
    )
    store.write_clusters(changes.merged, changes.assigned)
    return changes.summary


def heat_from_store(
    store: Store,
    freq: str = "quarter",
    model_version: str | None = None,
    entities: Iterable[str] | None = None,
    weights: Mapping[str, float] | None = None,
    *,
    mode: str = DEFAULT_MODE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    min_stories: int = MIN_RELIABLE_STORIES,
    level: float = DEFAULT_LEVEL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`analyzer.analysis.heat.compute_heat` over the store's stories; nothing is written."""
    check_freq(freq)
    check_mode(mode)
    version = resolve_model_version(store, model_version)
    totals = store.source_totals(freq)
    stories = store.entity_story_scores(freq, version, entities)
    return compute_heat(
        None,
        totals,
        freq,
        version,
        weights,
        stories=stories,
        mode=mode,
        resamples=resamples,
        seed=seed,
        min_stories=min_stories,
        level=level,
    )


def analyse(
    store: Store,
    freq: str = "quarter",
    *,
    entities: Iterable[str] | None = None,
    model_version: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_periods: int = DEFAULT_MIN_PERIODS,
    weights: Mapping[str, float] | None = None,
    point_in_time: bool | None = None,
    metric_kinds: Mapping[str, str] | None = None,
    growth_basis: Mapping[str, str] | None = None,
    statistics: bool = True,
    top_k: int = DEFAULT_TOP_SENTENCES,
    mode: str = DEFAULT_MODE,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_SEED,
    min_stories: int = MIN_RELIABLE_STORIES,
    growth_floors: Mapping[str, float] | None = None,
) -> AnalysisResult:
    """Heat, divergence, flags (with their top sentences) and statistics; nothing is written.

    ``mode`` "realtime" (the default) standardises each period against the history up to it and
    reads fundamentals as filed by each period's end; "hindsight" standardises against the whole
    history and, unless ``point_in_time`` is set, reads the latest revised fundamentals.
    """
    check_freq(freq)
    check_mode(mode)
    if point_in_time is None:
        point_in_time = mode == "realtime"
    if mode == "realtime" and not point_in_time:
        raise InputError(
            "real-time mode reads fundamentals as filed; use mode 'hindsight' for revised values"
        )
    if min_stories < 1:
        raise InputError("min_stories must be at least 1")
    model_version = resolve_model_version(store, model_version)
    entity_list = list(entities) if entities is not None else None
    heat, mix = heat_from_store(
        store,
        freq,
        model_version,
        entity_list,
        weights,
        mode=mode,
        resamples=resamples,
        seed=seed,
        min_stories=min_stories,
        level=level,
    )
    fundamentals = store.fundamentals_frame(entity_list)
    divergence = divergence_rows(
        heat,
        fundamentals,
        freq,
        point_in_time=point_in_time,
        metric_kinds=metric_kinds,
        growth_basis=growth_basis,
        mode=mode,
        growth_floors=growth_floors,
    )
    flagged, found = detect_flags(divergence, threshold, min_periods, level=level)
    divergence["flagged"] = flagged.astype(bool)
    for flag in found:
        start_day, end_day = span_bounds(flag.start, flag.end, freq)
        flag.top_sentences = store.top_sentence_rows(
            flag.entity, start_day, end_day, model_version, top_k
        )
    stats = series_statistics(divergence, heat) if statistics else []
    params = {
        "threshold": threshold,
        "min_periods": min_periods,
        "point_in_time": point_in_time,
        "weights": {**DEFAULT_HEAT_WEIGHTS, **(weights or {})},
        "entities": entity_list,
        "metric_kinds": dict(metric_kinds or {}),
        "growth_basis": dict(growth_basis or {}),
        "mode": mode,
        "resamples": resamples,
        "level": level,
        "seed": seed,
        "min_stories": min_stories,
        "growth_floors": dict(growth_floors or {}),
    }
    return AnalysisResult(freq, model_version, heat, mix, divergence, found, stats, params)


def save_result(store: Store, result: AnalysisResult) -> dict[str, int]:
    """Replace the materialised rows this result covers, in one transaction."""
    return store.save_analysis(
        freq=result.freq,
        model_version=result.model_version,
        heat=result.heat,
        source_mix=result.source_mix,
        divergence=result.divergence,
        flags=[f.to_dict() for f in result.flags],
        statistics=result.statistics,
        params=result.params,
    )
