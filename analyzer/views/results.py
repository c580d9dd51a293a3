"""The public read API: narrative heat, divergence, flags and their evidence as tidy DataFrames.

Every read says where its numbers come from. By default they come from the tables that
:func:`analyzer.pipeline.compute_divergence` materialised, in a few indexed queries; when
nothing is stored for the frequency and model version (or the entity), :class:`NotMaterialised`
says so and names the command that fixes it. With ``compute=True`` the caller asks for an
explicit on-the-fly computation instead: the analysis runs in memory once per database state
(it is cached by file and write stamp) and nothing is written.

Every frame has a ``period`` column of Timestamps (the period's first day) and ``entity``;
``metric`` is None on heat-only rows of an entity without fundamentals.

>>> from analyzer import Store
>>> from analyzer.views import results
>>> store = Store("data/analyzer.db")
>>> results.divergence_frame(store, "nvidia", freq="quarter")          # stored
>>> results.flags(store, "nvidia", compute=True)                       # computed now
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analyzer.analysis.divergence import DIVERGENCE_COLUMNS
from analyzer.analysis.flags import (
    DEFAULT_MIN_PERIODS,
    DEFAULT_THRESHOLD,
    Flag,
    detect_flags,
    span_bounds,
)
from analyzer.analysis.heat import DEFAULT_LEVEL, HEAT_COLUMNS
from analyzer.analysis.periods import check_freq, iso_day, next_period_start, period_start
from analyzer.analysis.run import (
    DEFAULT_TOP_SENTENCES,
    AnalysisResult,
    analyse,
    resolve_model_version,
)
from analyzer.analysis.statistics import DEFAULT_MAX_LAG, cross_correlation, granger_test
from analyzer.errors import InputError
from analyzer.storage.analysis import FLAG_READ_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    from analyzer.storage import Store

FLAG_COLUMNS = FLAG_READ_COLUMNS
MIX_COLUMNS = ["entity", "period", "source", "stories", "documents", "source_total", "share"]
TOP_SENTENCE_COLUMNS = [
    "document_id",
    "sentence_index",
    "text",
    "hype",
    "growth",
    "evidence",
    "title",
    "url",
    "published_at",
    "source",
]
OVERVIEW_COLUMNS = [
    "entity",
    "name",
    "kind",
    "documents",
    "stories",
    "first_period",
    "last_period",
    "heat",
    "heat_change",
    "trend",
    "metrics",
    "divergence",
    "divergence_metric",
    "flags",
    "flagged_now",
    "divergence_low",
    "divergence_high",
    "reliable",
    "flag_confidence",
]
LEAD_LAG_CAVEAT = (
    "Cross-correlation and Granger tests describe co-movement in a short sample; trending or "
    "autocorrelated series correlate spuriously, and Granger 'causality' means predictive "
    "precedence only."
)
NO_ANALYSIS_HINT = "run `analyzer divergence` to compute narrative heat and flags"
COMPUTED_CACHE_SIZE = 8


class NotMaterialised(InputError):
    """The requested analysis is not stored; compute it (``analyzer divergence``) or ask for an
    on-the-fly computation with ``compute=True``."""


# --------------------------------------------------------------------------- where numbers come from


class _Stored:
    """Reads of one stored analysis (frequency and model version)."""

    computed = False

    def __init__(self, store: Store, freq: str, model_version: str, params: dict[str, Any]):
        self.store, self.freq, self.model_version, self.params = store, freq, model_version, params

    def heat(self, entity: str | None) -> pd.DataFrame:
        frame = self.store.stored_heat(self.freq, self.model_version, entity)
        frame["reliable"] = _reliable(frame["reliable"])
        return frame

    def source_mix(self, entity: str | None) -> pd.DataFrame:
        return self.store.stored_source_mix(self.freq, entity)

    def divergence(self, entity: str | None, metric: str | None) -> pd.DataFrame:
        frame = self.store.stored_divergence(self.freq, self.model_version, entity, metric)
        frame["flagged"] = frame["flagged"].astype(bool)
        frame["reliable"] = _reliable(frame["reliable"])
        return frame

    def flags(self, entity: str | None, metric: str | None) -> pd.DataFrame:
        return self.store.stored_flags(self.freq, self.model_version, entity, metric)

    def statistic(self, entity: str, metric: str | None, test: str) -> dict[str, Any] | None:
        return self.store.stored_statistic(self.freq, self.model_version, entity, metric, test)


class _Computed:
    """The same reads over an analysis computed in memory."""

    computed = True

    def __init__(self, result: AnalysisResult):
        self.result = result
        self.freq, self.model_version, self.params = (
            result.freq,
            result.model_version,
            result.params,
        )

    def heat(self, entity: str | None) -> pd.DataFrame:
        return _only(self.result.heat, entity, None)

    def source_mix(self, entity: str | None) -> pd.DataFrame:
        return _only(self.result.source_mix, entity, None)

    def divergence(self, entity: str | None, metric: str | None) -> pd.DataFrame:
        return _only(self.result.divergence, entity, metric)

    def flags(self, entity: str | None, metric: str | None) -> pd.DataFrame:
        frame = pd.DataFrame([f.to_dict() for f in self.result.flags], columns=FLAG_COLUMNS)
        return _only(frame, entity, metric)

    def statistic(self, entity: str, metric: str | None, test: str) -> dict[str, Any] | None:
        return None


def _reliable(values: pd.Series) -> pd.Series:
    """Stored reliability as booleans; rows computed before bands existed (NULL) count as reliable."""
    return pd.Series(
        [True if v is None or pd.isna(v) else bool(v) for v in values],
        index=values.index,
        dtype=bool,
    )


def mode_of(params: dict[str, Any]) -> str | None:
    """The standardisation mode an analysis was computed in (None: computed before modes existed)."""
    return params.get("mode")


def _only(frame: pd.DataFrame, entity: str | None, metric: str | None) -> pd.DataFrame:
    if entity is not None:
        frame = frame[frame["entity"] == entity]
    if metric is not None:
        frame = frame[frame["metric"] == metric]
    return frame.copy()


_computed_cache: OrderedDict[tuple[Any, ...], AnalysisResult] = OrderedDict()
_computed_lock = threading.Lock()


def _computed_result(store: Store, freq: str, model_version: str) -> AnalysisResult:
    """The in-memory analysis of the whole store, computed once per database state."""
    key = (str(store.path.resolve()), store.write_stamp(), freq, model_version)
    with _computed_lock:
        if key in _computed_cache:
            _computed_cache.move_to_end(key)
            return _computed_cache[key]
    result = analyse(store, freq, model_version=model_version or None, statistics=False)
    with _computed_lock:
        _computed_cache[key] = result
        while len(_computed_cache) > COMPUTED_CACHE_SIZE:
            _computed_cache.popitem(last=False)
    return result


def source(
    store: Store,
    freq: str = "quarter",
    model_version: str | None = None,
    entity: str | None = None,
    *,
    compute: bool = False,
) -> _Stored | _Computed:
    """Where reads for ``freq``/``model_version`` come from: the stored analysis, or (only
    with ``compute``) an in-memory one. Raises :class:`NotMaterialised` otherwise."""
    check_freq(freq)
    run = store.analysis_run(freq, model_version or None)
    if run is not None and _covers(run["params"], entity):
        return _Stored(store, freq, run["model_version"], run["params"])
    if not compute:
        version = model_version or (run["model_version"] if run else store.latest_model_version())
        what = f"{freq} analysis" + (f" of model version {version}" if version else "")
        scope = f" for {entity!r}" if entity and run is not None else ""
        raise NotMaterialised(f"no stored {what}{scope}; {NO_ANALYSIS_HINT}, or pass compute=True")
    version = resolve_model_version(store, model_version or (run["model_version"] if run else None))
    return _Computed(_computed_result(store, freq, version))


def is_materialised(store: Store, freq: str, model_version: str | None = None) -> bool:
    run = store.analysis_run(freq, model_version or None)
    return run is not None and run["params"].get("entities") is None


def _covers(params: dict[str, Any], entity: str | None) -> bool:
    covered = params.get("entities")
    return covered is None or (entity is not None and entity in covered)


def _same_rule(stored: dict[str, Any], threshold: float | None, min_periods: int | None) -> bool:
    """Whether a requested flag rule is the one the results were computed with."""
    return (threshold is None or threshold == stored.get("threshold")) and (
        min_periods is None or min_periods == stored.get("min_periods")
    )


def _rule(
    params: dict[str, Any], threshold: float | None, min_periods: int | None
) -> tuple[float, int]:
    return (
        threshold if threshold is not None else params.get("threshold", DEFAULT_THRESHOLD),
        min_periods if min_periods is not None else params.get("min_periods", DEFAULT_MIN_PERIODS),
    )


def _level(params: dict[str, Any]) -> float:
    return float(params.get("level", DEFAULT_LEVEL))


def _periods(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column])
    return frame


# --------------------------------------------------------------------------- heat


def heat_frame(
    store: Store,
    entity: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """Narrative heat per entity and period (columns :data:`analyzer.analysis.heat.HEAT_COLUMNS`)."""
    frame = source(store, freq, model_version, entity, compute=compute).heat(entity)
    frame = _periods(frame, "period")
    frame["reliable"] = frame["reliable"].astype(bool)
    return frame[HEAT_COLUMNS].reset_index(drop=True)


def source_mix(
    store: Store,
    entity: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """Stories per period and source (columns period, entity, source, stories, documents, share)."""
    frame = source(store, freq, model_version, entity, compute=compute).source_mix(entity)
    names = store.source_names()
    frame["source"] = [names.get(int(s), "(no source)") for s in frame["source_id"]]
    frame["share"] = frame["stories"] / frame["source_total"].where(frame["source_total"] > 0)
    frame = _periods(frame, "period")[MIX_COLUMNS]
    return frame.sort_values(["entity", "period", "source"], ignore_index=True)


# --------------------------------------------------------------------------- divergence


def divergence_frame(
    store: Store,
    entity: str | None = None,
    metric: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    threshold: float | None = None,
    min_periods: int | None = None,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """Heat aligned with each fundamental, the divergence index and the flagged periods.

    Columns :data:`analyzer.analysis.divergence.DIVERGENCE_COLUMNS`. ``threshold`` and
    ``min_periods`` default to the values the results were computed with; other values
    re-flag the same numbers.
    """
    origin = source(store, freq, model_version, entity, compute=compute)
    frame = _periods(origin.divergence(entity, metric), "period")
    if not _same_rule(origin.params, threshold, min_periods):
        flagged, _ = detect_flags(
            frame, *_rule(origin.params, threshold, min_periods), level=_level(origin.params)
        )
        frame["flagged"] = flagged.astype(bool)
    for column in (
        "heat",
        "fundamental_level",
        "fundamental_growth",
        "growth_z",
        "divergence",
        "heat_low",
        "heat_high",
        "divergence_low",
        "divergence_high",
    ):
        frame[column] = frame[column].astype(float)
    frame["reliable"] = frame["reliable"].astype(bool)
    frame["flagged"] = frame["flagged"].astype(bool)
    frame["metric"] = frame["metric"].astype(object).where(frame["metric"].notna(), None)
    return frame[DIVERGENCE_COLUMNS].reset_index(drop=True)


def flags(
    store: Store,
    entity: str | None = None,
    metric: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    threshold: float | None = None,
    min_periods: int | None = None,
    top_k: int = DEFAULT_TOP_SENTENCES,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """Flagged spans (start, end, peak) with the top hype sentences behind each."""
    origin = source(store, freq, model_version, entity, compute=compute)
    if _same_rule(origin.params, threshold, min_periods):
        frame = origin.flags(entity, metric)
        frame["top_sentences"] = [list(s)[:top_k] for s in frame["top_sentences"]]
    else:
        divergence = origin.divergence(entity, metric)
        _, found = detect_flags(
            divergence, *_rule(origin.params, threshold, min_periods), level=_level(origin.params)
        )
        for flag in found:
            start_day, end_day = span_bounds(flag.start, flag.end, origin.freq)
            flag.top_sentences = store.top_sentence_rows(
                flag.entity, start_day, end_day, origin.model_version, top_k
            )
        frame = pd.DataFrame([f.to_dict() for f in found], columns=FLAG_COLUMNS)
    frame = _periods(frame, "start", "end", "peak_period")
    return frame[FLAG_COLUMNS].reset_index(drop=True)


def flag_records(frame: pd.DataFrame) -> list[Flag]:
    """Flags from a :func:`flags` frame, for code that prefers objects."""
    return [
        Flag(
            entity=r.entity,
            metric=r.metric,
            freq=r.freq,
            start=iso_day(r.start),
            end=iso_day(r.end),
            peak_period=iso_day(r.peak_period),
            peak_value=float(r.peak_value),
            periods=int(r.periods),
            threshold=float(r.threshold),
            min_periods=int(r.min_periods),
            top_sentences=list(r.top_sentences),
            confidence=_optional(getattr(r, "confidence", None)),
            peak_low=_optional(getattr(r, "peak_low", None)),
            peak_high=_optional(getattr(r, "peak_high", None)),
            mode=getattr(r, "mode", None),
        )
        for r in frame.itertuples(index=False)
    ]


def _optional(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


# --------------------------------------------------------------------------- statistics


def lead_lag(
    store: Store,
    entity: str,
    metric: str,
    freq: str = "quarter",
    model_version: str | None = None,
    max_lag: int = DEFAULT_MAX_LAG,
    granger_lag: int = 2,
    *,
    compute: bool = False,
) -> dict[str, Any]:
    """Cross-correlation of heat with fundamental growth over lags -max_lag..max_lag, and Granger
    tests in both directions. A positive best lag means heat moves first."""
    frame = divergence_frame(
        store, entity, metric, freq, model_version, compute=compute
    ).sort_values("period")
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
    store: Store,
    entity: str,
    metric: str | None = None,
    freq: str = "quarter",
    model_version: str | None = None,
    *,
    compute: bool = False,
) -> dict[str, Any]:
    """SADF/GSADF results for the entity's heat (``metric`` None) or a valuation metric's level."""
    from analyzer.analysis.explosiveness import gsadf_test

    origin = source(store, freq, model_version, entity, compute=compute)
    stored = origin.statistic(entity, metric, "gsadf")
    if stored is not None:
        return stored
    if metric is None:
        series = heat_frame(store, entity, freq, origin.model_version, compute=compute)
        values, periods = series["heat"], series["period"]
    else:
        series = divergence_frame(
            store, entity, metric, freq, origin.model_version, compute=compute
        )
        values, periods = series["fundamental_level"], series["period"]
    return gsadf_test(values.to_numpy(dtype=float), [iso_day(p) for p in periods]).to_dict()


# --------------------------------------------------------------------------- overview


def entity_overview(
    store: Store,
    freq: str = "quarter",
    model_version: str | None = None,
    trend_periods: int = 12,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """One row per entity: latest heat and its change, a heat trend for sparklines, the latest
    divergence (largest across metrics), flag counts and whether a flag runs in the latest period."""
    origin = source(store, freq, model_version, None, compute=compute)
    if isinstance(origin, _Stored):
        parts = store.overview_aggregates(freq, origin.model_version, max(2, trend_periods))
    else:
        parts = _overview_parts(origin.result, trend_periods)
    return _overview_rows(store.entity_list(), parts, trend_periods)


def _overview_parts(result: AnalysisResult, trend_periods: int) -> dict[str, pd.DataFrame]:
    heat = result.heat
    recent = heat.groupby("entity").tail(max(2, trend_periods))[["entity", "period", "heat"]]
    totals = (
        heat.groupby("entity")
        .agg(
            documents=("documents", "sum"),
            stories=("stories", "sum"),
            first_period=("period", "min"),
            last_period=("period", "max"),
        )
        .reset_index()
    )
    divergence = result.divergence[result.divergence["metric"].notna()]
    latest_divergence = divergence.sort_values("period").groupby(["entity", "metric"]).tail(1)
    flag_frame = pd.DataFrame([f.to_dict() for f in result.flags], columns=FLAG_COLUMNS)
    flag_counts = (
        flag_frame.sort_values("end")
        .groupby("entity")
        .agg(
            flags=("start", "size"),
            last_flag_end=("end", "max"),
            last_confidence=("confidence", "last"),
        )
        .reset_index()
    )
    return {
        "recent": recent,
        "totals": totals,
        "latest_divergence": latest_divergence,
        "flag_counts": flag_counts,
    }


def _overview_rows(
    entities: pd.DataFrame, parts: dict[str, pd.DataFrame], trend_periods: int
) -> pd.DataFrame:
    totals, flag_counts, latest_div = (
        parts["totals"],
        parts["flag_counts"],
        parts["latest_divergence"],
    )
    for frame, column in (
        (totals, "first_period"),
        (totals, "last_period"),
        (flag_counts, "last_flag_end"),
    ):
        frame[column] = pd.to_datetime(frame[column])
    trend_by_entity = {
        e: g["heat"].astype(float).tolist() for e, g in parts["recent"].groupby("entity")
    }
    totals = totals.set_index("entity")
    flag_counts = flag_counts.set_index("entity")
    rows = []
    for entity in entities.itertuples(index=False):
        trend = trend_by_entity.get(entity.entity, [])
        row: dict[str, Any] = {"entity": entity.entity, "name": entity.name, "kind": entity.kind}
        if entity.entity in totals.index:
            t = totals.loc[entity.entity]
            row.update(
                documents=int(t["documents"]),
                stories=int(t["stories"]),
                first_period=t["first_period"],
                last_period=t["last_period"],
            )
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
            row["divergence_low"] = _float_or_nan(top.get("divergence_low"))
            row["divergence_high"] = _float_or_nan(top.get("divergence_high"))
            reliable = top.get("reliable")
            row["reliable"] = True if reliable is None or pd.isna(reliable) else bool(reliable)
        else:
            row["divergence"], row["divergence_metric"] = np.nan, None
            row["divergence_low"] = row["divergence_high"] = np.nan
            row["reliable"] = None
        row["flag_confidence"] = np.nan
        if entity.entity in flag_counts.index:
            f = flag_counts.loc[entity.entity]
            row["flags"] = int(f["flags"])
            row["flagged_now"] = bool(
                pd.notna(row["last_period"]) and f["last_flag_end"] == row["last_period"]
            )
            if row["flagged_now"]:
                row["flag_confidence"] = _float_or_nan(f.get("last_confidence"))
        else:
            row["flags"], row["flagged_now"] = 0, False
        rows.append(row)
    return pd.DataFrame(rows, columns=OVERVIEW_COLUMNS)


def _float_or_nan(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number


# --------------------------------------------------------------------------- traceability


def period_documents(
    store: Store,
    entity: str,
    period: Any,
    freq: str = "quarter",
    model_version: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """The entity's documents published in the period that starts at (or contains) ``period``.

    ``counted`` is True for the one document per near-duplicate cluster that heat counts. These
    rows are read directly (they do not depend on a stored analysis).
    """
    check_freq(freq)
    if limit < 1:
        raise InputError("limit must be at least 1")
    version = _read_version(store, freq, model_version)
    start = period_start(period, freq)
    return store.period_documents(
        entity, iso_day(start), iso_day(next_period_start(start, freq)), version, limit
    )


def top_sentences(
    store: Store,
    entity: str,
    start: Any,
    end: Any = None,
    freq: str = "quarter",
    model_version: str | None = None,
    limit: int = DEFAULT_TOP_SENTENCES,
) -> pd.DataFrame:
    """Highest-hype sentences about the entity from the periods ``start``..``end`` (inclusive)."""
    check_freq(freq)
    version = _read_version(store, freq, model_version)
    start_day, end_day = span_bounds(
        period_start(start, freq), period_start(end if end is not None else start, freq), freq
    )
    rows = store.top_sentence_rows(entity, start_day, end_day, version, limit)
    return pd.DataFrame(rows, columns=TOP_SENTENCE_COLUMNS)


def _read_version(store: Store, freq: str, model_version: str | None) -> str:
    """The version direct reads use: the explicit one, else the stored analysis', else the latest."""
    if model_version:
        return model_version
    run = store.analysis_run(freq)
    return run["model_version"] if run else (store.latest_model_version() or "")
