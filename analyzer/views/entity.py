"""The Entity page: one entity's heat against its fundamentals, its flags, lead-lag, and for any
period the documents and sentences behind the numbers."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from analyzer.analysis.heat import MIN_RELIABLE_STORIES
from analyzer.errors import InputError
from analyzer.views import results
from analyzer.views.common import open_readonly, period_label
from analyzer.views.overview import latest_flags

__all__ = ["MIN_RELIABLE_STORIES", "entity_view", "lead_lag_summary", "period_detail"]


# The fundamental shown first on the Entity page: the most direct measure of the business.
METRIC_PREFERENCE = ("revenue", "revenues", "fees", "tvl", "active_users", "price", "market_cap")


def entity_view(
    db: str | os.PathLike[str] | None,
    entity: str,
    freq: str = "quarter",
    model_version: str | None = None,
    *,
    compute: bool = False,
) -> dict[str, Any]:
    """Everything the Entity page draws for one entity.

    ``heat`` (heat frame), ``divergence`` (divergence frame, every metric), ``metrics`` (the
    most direct measure of the business first, e.g. revenue),
    ``flags`` (with ``summary`` lines and ``confidence_text``), ``source_mix``, ``periods``
    (newest first), ``name``, ``mode`` (realtime or hindsight standardisation) and
    ``reliability``: stories per period, the number of ``unreliable_periods`` (fewer than
    MIN_RELIABLE_STORIES stories: drawn as such, never flagged) and a ``warning`` when too few
    documents make the series unreliable. ``compute``: see :mod:`analyzer.views.results`.
    """
    version = model_version or None
    with open_readonly(db) as store:
        row = store.entity(entity)
        if row is None:
            raise InputError(f"unknown entity {entity!r}")
        heat = results.heat_frame(store, entity, freq, version, compute=compute)
        divergence = results.divergence_frame(store, entity, None, freq, version, compute=compute)
        mix = results.source_mix(store, entity, freq, version, compute=compute)
    flag_frame = latest_flags(db, freq, model_version, limit=1000, entity=entity, compute=compute)
    flag_frame = (
        flag_frame.assign(
            confidence_text=[
                f"{float(c):.0%}" if c is not None and pd.notna(c) else "–"
                for c in flag_frame.get("confidence", [])
            ]
        )
        if not flag_frame.empty
        else flag_frame.assign(confidence_text=pd.Series(dtype=object))
    )
    metrics = sorted(
        (str(m) for m in divergence["metric"].dropna().unique()),
        key=lambda m: (
            METRIC_PREFERENCE.index(m) if m in METRIC_PREFERENCE else len(METRIC_PREFERENCE),
            m,
        ),
    )
    periods = list(heat.sort_values("period", ascending=False)["period"]) if not heat.empty else []
    stories = heat["stories"].astype(int) if not heat.empty else pd.Series(dtype=int)
    active = stories[stories > 0]
    unreliable = int((~heat["reliable"].astype(bool)).sum()) if not heat.empty else 0
    mode = (
        str(heat["mode"].dropna().iloc[0])
        if not heat.empty and heat["mode"].notna().any()
        else None
    )
    warning = None
    if heat.empty:
        warning = "No dated documents mention this entity yet, so it has no heat series."
    elif len(active) < 4 or float(active.median()) < MIN_RELIABLE_STORIES:
        typical = int(active.median()) if len(active) else 0
        warning = (
            f"Only about {typical} stories per period over {len(active)} periods with coverage: the heat "
            f"series is noisy and its z-scores unreliable (aim for {MIN_RELIABLE_STORIES}+ stories per period "
            "over several periods; ingest more sources or choose a coarser frequency)."
        )
    return {
        "entity": entity,
        "name": row["name"],
        "kind": row["kind"],
        "heat": heat,
        "divergence": divergence,
        "metrics": metrics,
        "flags": flag_frame,
        "source_mix": mix,
        "periods": periods,
        "reliability": {
            "periods": len(heat),
            "periods_with_stories": int(len(active)),
            "median_stories": float(active.median()) if len(active) else 0.0,
            "warning": warning,
            "unreliable_periods": unreliable,
        },
        "mode": mode,
    }


def lead_lag_summary(
    db: str | os.PathLike[str] | None,
    entity: str,
    metric: str,
    freq: str = "quarter",
    model_version: str | None = None,
    *,
    compute: bool = False,
) -> dict[str, Any]:
    """Lead-lag of heat against the metric's growth, with a sentence that reads the numbers and
    the caveat that goes with them."""
    with open_readonly(db) as store:
        result = results.lead_lag(
            store, entity, metric, freq, model_version or None, compute=compute
        )
    lag, correlation = result["best_lag"], result["best_correlation"]
    unit = {"quarter": "quarter", "month": "month", "week": "week", "day": "day"}[freq]
    if lag is None or correlation is None:
        sentence = f"No lead-lag estimate: {result['reason'] or 'too little data'} ({result['n']} paired periods)."
    elif lag > 0:
        sentence = (
            f"Heat moved first: it correlates best ({correlation:+.2f}) with {metric} growth "
            f"{lag} {unit}{'s' if lag != 1 else ''} later, over {result['n']} paired periods"
            + (
                " (negative: hotter coverage was followed by slower growth)."
                if correlation < 0
                else "."
            )
        )
    elif lag < 0:
        sentence = (
            f"{metric.capitalize()} growth moved first: heat correlates best ({correlation:+.2f}) "
            f"with growth {-lag} {unit}{'s' if lag != -1 else ''} earlier, over {result['n']} paired periods"
            + (
                " (negative: faster growth was followed by cooler coverage)."
                if correlation < 0
                else "."
            )
        )
    else:
        sentence = (
            f"Heat and {metric} growth move together (best correlation {correlation:+.2f} "
            f"at lag 0, {result['n']} paired periods)."
        )
    granger = []
    for key, direction in (
        ("granger_heat_to_growth", f"heat → {metric} growth"),
        ("granger_growth_to_heat", f"{metric} growth → heat"),
    ):
        test = result[key]
        granger.append(
            {
                "direction": direction,
                "p_value": test.get("p_value"),
                "best_lag": test.get("best_lag"),
                "n": test.get("n"),
                "note": test.get("reason") or "",
            }
        )
    result["sentence"] = sentence
    result["granger"] = pd.DataFrame(granger)
    return result


def period_detail(
    db: str | os.PathLike[str] | None,
    entity: str,
    period: Any,
    freq: str = "quarter",
    model_version: str | None = None,
    limit: int = 100,
    top_k: int = 8,
) -> dict[str, Any]:
    """The documents about ``entity`` published in ``period`` and its highest-hype sentences."""
    with open_readonly(db) as store:
        documents = results.period_documents(
            store, entity, period, freq, model_version or None, limit=limit
        )
        sentences = results.top_sentences(
            store, entity, period, None, freq, model_version or None, limit=top_k
        )
    if not documents.empty:
        documents["published_at"] = documents["published_at"].astype("string").str.slice(0, 10)
    return {"documents": documents, "sentences": sentences, "label": period_label(period, freq)}
