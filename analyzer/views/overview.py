"""The Overview page: entities ranked by how far their story runs ahead of the numbers, and the
latest flags, each in one line written from its numbers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from analyzer.views import results
from analyzer.views.claims import reliability_columns
from analyzer.views.common import describe_flag, open_readonly


def overview(
    db: str | os.PathLike[str] | None,
    freq: str = "quarter",
    model_version: str | None = None,
    trend_periods: int = 12,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """Entities ranked by current divergence, then heat, each with its heat trend (a list).

    Columns of :func:`analyzer.views.results.entity_overview` plus ``rank`` and the claims
    ledger's record (:func:`analyzer.views.claims.reliability_columns`: ``claim_reliability``,
    met / (met + missed), NaN when none was checked, and ``claim_record`` in words, blank when
    none is due); entities with no documents come last. ``compute``: see
    :mod:`analyzer.views.results`.
    """
    with open_readonly(db) as store:
        frame = results.entity_overview(
            store, freq, model_version or None, trend_periods=trend_periods, compute=compute
        )
        claims = reliability_columns(store)
    frame = _with_claims(frame.copy(), claims)
    frame["_has_docs"] = frame["documents"] > 0
    frame["_div"] = frame["divergence"].astype(float).fillna(-np.inf)
    frame["_heat"] = frame["heat"].astype(float).fillna(-np.inf)
    frame = frame.sort_values(
        ["_has_docs", "flagged_now", "_div", "_heat"], ascending=False, kind="stable"
    )
    frame = frame.drop(columns=["_has_docs", "_div", "_heat"]).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame["trend"] = [
        [float(v) for v in trend if v is not None and np.isfinite(v)] for trend in frame["trend"]
    ]
    return frame


def _with_claims(frame: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the claim columns joined on entity; zeros and blanks where none was made."""
    frame = frame.drop(columns=[c for c in claims.columns if c != "entity" and c in frame.columns])
    frame = frame.merge(claims, on="entity", how="left")
    for column in ("claims_due", "claims_met", "claims_missed"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["claim_reliability"] = frame["claim_reliability"].astype(float)
    frame["claim_record"] = frame["claim_record"].fillna("").astype(str)
    return frame


def latest_flags(
    db: str | os.PathLike[str] | None,
    freq: str = "quarter",
    model_version: str | None = None,
    limit: int = 10,
    entity: str | None = None,
    *,
    compute: bool = False,
) -> pd.DataFrame:
    """The most recent flags (latest end first), each with a one-line ``summary`` from its numbers."""
    with open_readonly(db) as store:
        found = results.flags(store, entity, None, freq, model_version or None, compute=compute)
        columns = [*found.columns, "name", "summary"]
        if found.empty:
            return pd.DataFrame(columns=columns)
        found = (
            found.sort_values(["end", "peak_value"], ascending=[False, False]).head(limit).copy()
        )
        names = store.entity_names()
        divergence = results.divergence_frame(
            store, entity, None, freq, model_version or None, compute=compute
        )
    summaries = []
    for flag in found.to_dict("records"):
        rows = divergence[
            (divergence["entity"] == flag["entity"])
            & (divergence["metric"].fillna("") == (flag["metric"] or ""))
        ]
        summaries.append(describe_flag(flag, rows, names.get(flag["entity"])))
    found["name"] = [names.get(e, e) for e in found["entity"]]
    found["summary"] = summaries
    return found[columns].reset_index(drop=True)
