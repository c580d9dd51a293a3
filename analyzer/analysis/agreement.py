"""Agreement between annotators: Cohen's kappa per label for every pair who labelled the same
sentences. Pure functions over a labels DataFrame (one row per sentence and annotator).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import pandas as pd

LABELS = ("hype", "growth", "evidence")
AGREEMENT_COLUMNS = [
    "annotator_a",
    "annotator_b",
    "label",
    "sentences",
    "agreement",
    "kappa",
    "positive_a",
    "positive_b",
]


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two equally long sequences of category labels.

    ``(p_o - p_e) / (1 - p_e)`` with observed agreement ``p_o`` and the agreement ``p_e``
    expected from each annotator's own label frequencies. None when it is undefined: no
    items, or both annotators used one and the same category throughout (``p_e == 1``).
    """
    if len(a) != len(b):
        raise ValueError("kappa needs two sequences of the same length")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    categories = set(a) | set(b)
    expected = sum((list(a).count(c) / n) * (list(b).count(c) / n) for c in categories)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement_table(
    labels: pd.DataFrame, labels_to_compare: Sequence[str] = LABELS
) -> pd.DataFrame:
    """Kappa per annotator pair and label, over the sentences both labelled (unset labels skipped).

    ``labels`` needs ``text_hash``, ``annotator`` and the label columns. Pairs with no
    sentence in common are left out; the result is empty when fewer than two annotators
    labelled any sentence in common.
    """
    if labels.empty or labels["annotator"].nunique() < 2:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    rows = []
    annotators = sorted(labels["annotator"].unique())
    by_annotator = {
        name: labels[labels["annotator"] == name].set_index("text_hash") for name in annotators
    }
    for first, second in combinations(annotators, 2):
        common = by_annotator[first].index.intersection(by_annotator[second].index)
        if common.empty:
            continue
        for label in labels_to_compare:
            a = by_annotator[first].loc[common, label]
            b = by_annotator[second].loc[common, label]
            both = a.notna() & b.notna()
            a_values = [int(v) for v in a[both]]
            b_values = [int(v) for v in b[both]]
            if not a_values:
                continue
            rows.append(
                {
                    "annotator_a": first,
                    "annotator_b": second,
                    "label": label,
                    "sentences": len(a_values),
                    "agreement": sum(x == y for x, y in zip(a_values, b_values)) / len(a_values),
                    "kappa": cohen_kappa(a_values, b_values),
                    "positive_a": sum(a_values),
                    "positive_b": sum(b_values),
                }
            )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
