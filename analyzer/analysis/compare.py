"""What changes downstream when one model version replaces another.

Pure functions over DataFrames: label flips between the two versions' sentence scores, the
change in document rankings and in entity heat rankings, and the flags that appear or
disappear. :func:`compare_versions` bundles them into a :class:`VersionComparison`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

LABELS = ("hype", "growth", "evidence")
SENTENCE_KEY = ["document_id", "sentence_index"]
FLAG_KEY = ["entity_id", "metric", "start_period"]
FLIP_COLUMNS = ["document_id", "sentence_index", "label", "score_a", "score_b", "change"]
FLIP_SUMMARY_COLUMNS = [
    "label",
    "compared",
    "positive_a",
    "positive_b",
    "turned_on",
    "turned_off",
    "flip_rate",
]
RANKING_COLUMNS = ["key", "value_a", "value_b", "rank_a", "rank_b", "rank_change"]
FLAG_CHANGE_COLUMNS = [
    "entity_id",
    "metric",
    "start_period",
    "change",
    "end_a",
    "end_b",
    "peak_value_a",
    "peak_value_b",
]


def label_flips(
    a: pd.DataFrame, b: pd.DataFrame, *, threshold: float = 0.5, labels: tuple[str, ...] = LABELS
) -> pd.DataFrame:
    """Sentences whose thresholded label differs between two versions' sentence scores.

    ``a`` and ``b`` hold ``document_id``, ``sentence_index`` and one probability column per
    label; only sentences scored by both are compared. One row per sentence and flipped label:
    ``change`` is ``on`` (negative under A, positive under B) or ``off``; the largest moves first.
    """
    merged = a.merge(b, on=SENTENCE_KEY, suffixes=("_a", "_b"))
    parts = []
    for label in labels:
        above_a = merged[f"{label}_a"] >= threshold
        above_b = merged[f"{label}_b"] >= threshold
        flipped = merged[above_a != above_b]
        if flipped.empty:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "document_id": flipped["document_id"].astype(int),
                    "sentence_index": flipped["sentence_index"].astype(int),
                    "label": label,
                    "score_a": flipped[f"{label}_a"].astype(float),
                    "score_b": flipped[f"{label}_b"].astype(float),
                    "change": np.where(flipped[f"{label}_b"] >= threshold, "on", "off"),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=FLIP_COLUMNS)
    flips = pd.concat(parts, ignore_index=True)
    order = (
        (flips["score_b"] - flips["score_a"])
        .abs()
        .sort_values(ascending=False, kind="stable")
        .index
    )
    return flips.loc[order, FLIP_COLUMNS].reset_index(drop=True)


def flip_summary(
    a: pd.DataFrame, b: pd.DataFrame, *, threshold: float = 0.5, labels: tuple[str, ...] = LABELS
) -> pd.DataFrame:
    """Per label: sentences compared, positives under each version, flips each way and their rate."""
    merged = a.merge(b, on=SENTENCE_KEY, suffixes=("_a", "_b"))
    rows = []
    for label in labels:
        above_a = merged[f"{label}_a"] >= threshold
        above_b = merged[f"{label}_b"] >= threshold
        compared = len(merged)
        turned_on = int((~above_a & above_b).sum())
        turned_off = int((above_a & ~above_b).sum())
        rows.append(
            {
                "label": label,
                "compared": compared,
                "positive_a": int(above_a.sum()),
                "positive_b": int(above_b.sum()),
                "turned_on": turned_on,
                "turned_off": turned_off,
                "flip_rate": (turned_on + turned_off) / compared if compared else None,
            }
        )
    return pd.DataFrame(rows, columns=FLIP_SUMMARY_COLUMNS)


def ranking_change(a: pd.Series, b: pd.Series) -> pd.DataFrame:
    """Rank (1 = highest value) of each key under A and B, for keys present in both.

    ``a`` and ``b`` are values indexed by key. ``rank_change`` is ``rank_a - rank_b``: positive
    when the key moved up under B. Sorted by the size of the move, then by B's rank.
    """
    joined = pd.DataFrame({"value_a": a, "value_b": b}).dropna()
    if joined.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    joined["rank_a"] = joined["value_a"].rank(ascending=False, method="min").astype(int)
    joined["rank_b"] = joined["value_b"].rank(ascending=False, method="min").astype(int)
    joined["rank_change"] = joined["rank_a"] - joined["rank_b"]
    joined = joined.rename_axis("key").reset_index()
    joined["_size"] = joined["rank_change"].abs()
    joined = joined.sort_values(["_size", "rank_b"], ascending=[False, True], kind="stable")
    return joined[RANKING_COLUMNS].reset_index(drop=True)


def rank_correlation(ranking: pd.DataFrame) -> float | None:
    """Spearman correlation of the two rankings (None with fewer than two keys or no variation)."""
    if len(ranking) < 2:
        return None
    ranks_a = ranking["value_a"].rank().astype(float)
    ranks_b = ranking["value_b"].rank().astype(float)
    if ranks_a.std() == 0 or ranks_b.std() == 0:
        return None
    value = float(np.corrcoef(ranks_a, ranks_b)[0, 1])
    return value if math.isfinite(value) else None


def top_overlap(ranking: pd.DataFrame, k: int) -> float | None:
    """Share of A's top ``k`` keys that are also in B's top ``k``."""
    if ranking.empty:
        return None
    k = min(k, len(ranking))
    top_a = set(ranking.nsmallest(k, "rank_a")["key"])
    top_b = set(ranking.nsmallest(k, "rank_b")["key"])
    return len(top_a & top_b) / k


def latest_common_heat(
    heat_a: pd.DataFrame, heat_b: pd.DataFrame
) -> tuple[pd.Series, pd.Series, str | None]:
    """Each entity's heat under A and B in the latest period both versions cover."""
    empty = pd.Series(dtype=float)
    if heat_a.empty or heat_b.empty:
        return empty, empty, None
    common = sorted(set(heat_a["period"]) & set(heat_b["period"]))
    if not common:
        return empty, empty, None
    period = common[-1]

    def at(frame: pd.DataFrame) -> pd.Series:
        rows = frame[frame["period"] == period]
        return rows.set_index("entity_id")["heat"].astype(float)

    return at(heat_a), at(heat_b), str(period)


def flag_changes(flags_a: pd.DataFrame, flags_b: pd.DataFrame) -> pd.DataFrame:
    """Flags keyed by entity, metric and start: ``appeared`` under B, ``disappeared``, or ``kept``."""
    columns = [*FLAG_KEY, "end_period", "peak_value"]
    a = flags_a[columns] if not flags_a.empty else pd.DataFrame(columns=columns)
    b = flags_b[columns] if not flags_b.empty else pd.DataFrame(columns=columns)
    merged = a.merge(b, on=FLAG_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    if merged.empty:
        return pd.DataFrame(columns=FLAG_CHANGE_COLUMNS)
    merged["change"] = (
        merged["_merge"]
        .astype(str)
        .map({"left_only": "disappeared", "right_only": "appeared", "both": "kept"})
    )
    merged = merged.rename(columns={"end_period_a": "end_a", "end_period_b": "end_b"})
    order = {"appeared": 0, "disappeared": 1, "kept": 2}
    merged["_order"] = merged["change"].map(order)
    merged = merged.sort_values(["_order", *FLAG_KEY], kind="stable")
    return merged[FLAG_CHANGE_COLUMNS].reset_index(drop=True)


@dataclass
class VersionComparison:
    """Everything :func:`compare_versions` found; :meth:`to_dict` gives the JSON form."""

    a: str
    b: str
    threshold: float
    flip_summary: pd.DataFrame
    flips: pd.DataFrame
    documents: pd.DataFrame
    document_rank_correlation: float | None
    document_top_overlap: float | None
    heat: pd.DataFrame
    heat_period: str | None
    heat_rank_correlation: float | None
    flags: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def flags_appeared(self) -> pd.DataFrame:
        return self.flags[self.flags["change"] == "appeared"]

    @property
    def flags_disappeared(self) -> pd.DataFrame:
        return self.flags[self.flags["change"] == "disappeared"]

    def to_dict(self, *, max_rows: int | None = None) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            rows = frame if max_rows is None else frame.head(max_rows)
            return [{k: _plain(v) for k, v in row.items()} for row in rows.to_dict("records")]

        return {
            "a": self.a,
            "b": self.b,
            "threshold": self.threshold,
            "label_flips": {
                "summary": records(self.flip_summary),
                "sentences": records(self.flips),
                "total": int(len(self.flips)),
            },
            "documents": {
                "rank_correlation": self.document_rank_correlation,
                "top_overlap": self.document_top_overlap,
                "compared": int(len(self.documents)),
                "largest_moves": records(self.documents),
            },
            "heat": {
                "period": self.heat_period,
                "rank_correlation": self.heat_rank_correlation,
                "entities": records(self.heat),
            },
            "flags": {
                "appeared": int(len(self.flags_appeared)),
                "disappeared": int(len(self.flags_disappeared)),
                "kept": int((self.flags["change"] == "kept").sum()) if not self.flags.empty else 0,
                "changes": records(self.flags),
            },
            "notes": list(self.notes),
        }


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if value is pd.NaT:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def compare_versions(
    *,
    a: str,
    b: str,
    sentences_a: pd.DataFrame,
    sentences_b: pd.DataFrame,
    documents_a: pd.DataFrame,
    documents_b: pd.DataFrame,
    heat_a: pd.DataFrame,
    heat_b: pd.DataFrame,
    flags_a: pd.DataFrame,
    flags_b: pd.DataFrame,
    threshold: float = 0.5,
    rank_by: str = "hype",
    top_k: int = 20,
) -> VersionComparison:
    """Compare version ``b`` against ``a`` (frames as :mod:`analyzer.storage.versions` reads them).

    Documents are ranked by ``rank_by`` (a document score column such as ``hype`` or
    ``hype_top``); entities by heat in the latest period both versions cover.
    """
    notes = []
    summary = flip_summary(sentences_a, sentences_b, threshold=threshold)
    if summary["compared"].iloc[0] == 0:
        notes.append(
            "no sentence was scored by both versions: rescore with `analyzer score --db DB --model DIR`"
        )
    flips = label_flips(sentences_a, sentences_b, threshold=threshold)
    docs = ranking_change(
        documents_a.set_index("document_id")[rank_by].astype(float),
        documents_b.set_index("document_id")[rank_by].astype(float),
    )
    titles = (
        pd.concat([documents_a, documents_b])
        .drop_duplicates("document_id")
        .set_index("document_id")["title"]
    )
    docs.insert(1, "title", docs["key"].map(titles))
    heat_values_a, heat_values_b, period = latest_common_heat(heat_a, heat_b)
    heat = ranking_change(heat_values_a, heat_values_b)
    if period is None:
        notes.append(
            "heat is not materialised for both versions: run `analyzer divergence --model-version V` for each"
        )
    flags = flag_changes(flags_a, flags_b)
    return VersionComparison(
        a=a,
        b=b,
        threshold=threshold,
        flip_summary=summary,
        flips=flips,
        documents=docs,
        document_rank_correlation=rank_correlation(docs),
        document_top_overlap=top_overlap(docs, top_k),
        heat=heat,
        heat_period=period,
        heat_rank_correlation=rank_correlation(heat),
        flags=flags,
        notes=notes,
    )
