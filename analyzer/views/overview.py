"""The Overview page: entities ranked by how far their story runs ahead of the numbers, and the
latest flags, each in one line written from its numbers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from analyzer.views import results
from analyzer.views.common import describe_flag, open_readonly


def overview(
    db: str | os.PathLike[str] | None, freq: str = "quarter", model_version: str | None = None,
    trend_periods: int = 12, *, compute: bool = False,
) -> pd.DataFrame:
    """Entities ranked by current divergence, then heat, each with its heat trend (a list).

    Columns of :func:`analyzer.views.results.entity_overview` plus ``rank``; entities with no
    documents come last. ``compute``: see :mod:`analyzer.views.results`.
    """
    with open_readonly(db) as store:
        frame = results.entity_overview(
            store, freq, model_version or None, trend_periods=trend_periods, compute=compute
        )
    frame = frame.copy()
    frame["_has_docs"] = frame["documents"] > 0
    frame["_div"] = frame["divergence"].astype(float).fillna(-np.inf)
    frame["_heat"] = frame["heat"].astype(float).fillna(-np.inf)
    frame = frame.sort_values(["_has_docs", "flagged_now", "_div", "_heat"], ascending=False, kind="stable")
    frame = frame.drop(columns=["_has_docs", "_div", "_heat"]).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame["trend"] = [[float(v) for v in trend if v is not None and np.isfinite(v)] for trend in frame["trend"]]
    return frame


def latest_flags(
    db: str | os.PathLike[str] | None, freq: str = "quarter", model_version: str | None = None,
    limit: int = 10, entity: str | None = None, *, compute: bool = False,
) -> pd.DataFrame:
    """The most recent flags (latest end first), each with a one-line ``summary`` from its numbers."""
    with open_readonly(db) as store:
        found = results.flags(store, entity, None, freq, model_version or None, compute=compute)
        columns = [*found.columns, "name", "summary"]
        if found.empty:
            return pd.DataFrame(columns=columns)
        found = found.sort_values(["end", "peak_value"], ascending=[False, False]).head(limit).copy()
        names = store.entity_names()
        divergence = results.divergence_frame(store, entity, None, freq, model_version or None, compute=compute)
    summaries = []
    for flag in found.to_dict("records"):
        rows = divergence[(divergence["entity"] == flag["entity"])
                          & (divergence["metric"].fillna("") == (flag["metric"] or ""))]
        summaries.append(describe_flag(flag, rows, names.get(flag["entity"])))
    found["name"] = [names.get(e, e) for e in found["entity"]]
    found["summary"] = summaries
    return found[columns].reset_index(drop=True)


