"""Choosing which sentences to label next, from candidates already ranked by the store.

:func:`select_for_labelling` walks the ranked candidates and keeps the best ones while
spreading them across sources and entities (no source or entity supplies more than a share of
the selection while others can fill it) and dropping near-duplicates (the same sentence
syndicated, or a template with another name in it), so every label teaches the model
something new.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import pandas as pd

from analyzer.errors import InputError

DEFAULT_MAX_SHARE = 0.25
DEFAULT_SIMILARITY = 0.6  # Jaccard similarity of word-bigram sets above which two sentences are one
_WORD = re.compile(r"\w+", re.UNICODE)


def sentence_shingles(text: str) -> frozenset[str]:
    """Word bigrams of the lower-cased sentence, numbers folded to one token (character
    trigrams for text written without spaces)."""
    words = ["0" if w.isdigit() else w for w in _WORD.findall(text.casefold())]
    if words and sum(map(len, words)) / len(words) > 12:
        joined = "".join(words)
        return frozenset(joined[i : i + 3] for i in range(max(1, len(joined) - 2)))
    if len(words) < 2:
        return frozenset(words)
    return frozenset(f"{x} {y}" for x, y in zip(words, words[1:]))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _groups(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v]
    return [part for part in str(value).split(",") if part]


def select_for_labelling(
    candidates: pd.DataFrame,
    n: int,
    *,
    max_share: float = DEFAULT_MAX_SHARE,
    similarity: float = DEFAULT_SIMILARITY,
) -> pd.DataFrame:
    """The first ``n`` candidates (they arrive best first) after spreading and de-duplication.

    ``candidates`` needs ``text``, ``source`` and ``entities`` (comma-separated or a list).
    First pass: a candidate is skipped when it is a near-duplicate of one already chosen, or
    when its source or one of its entities already supplies ``ceil(n * max_share)`` of the
    selection. Second pass, only when the first left room: the skipped candidates in their
    order, still without near-duplicates. Returns the chosen rows in choice order.
    """
    if n < 1:
        raise InputError("the number of sentences to select must be at least 1")
    if not 0 < max_share <= 1:
        raise InputError("max share must be in (0, 1]")
    if candidates.empty:
        return candidates.copy()
    cap = max(1, math.ceil(n * max_share))
    rows = candidates.reset_index(drop=True)
    shingles = [sentence_shingles(str(t)) for t in rows["text"]]
    chosen: list[int] = []
    sources: Counter[str] = Counter()
    entities: Counter[str] = Counter()

    def duplicate(i: int) -> bool:
        return any(jaccard(shingles[i], shingles[j]) >= similarity for j in chosen)

    def take(i: int) -> None:
        chosen.append(i)
        sources[str(rows.at[i, "source"])] += 1
        for entity in _groups(rows.at[i, "entities"]):
            entities[entity] += 1

    deferred: list[int] = []
    for i in range(len(rows)):
        if len(chosen) >= n:
            break
        if duplicate(i):
            continue
        source = str(rows.at[i, "source"])
        if sources[source] >= cap or any(
            entities[e] >= cap for e in _groups(rows.at[i, "entities"])
        ):
            deferred.append(i)
            continue
        take(i)
    for i in deferred:
        if len(chosen) >= n:
            break
        if not duplicate(i):
            take(i)
    return rows.loc[chosen].reset_index(drop=True)
