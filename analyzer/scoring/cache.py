"""Sentence-score caches for the one scoring loop (:meth:`HypeScorer.score_documents`).

Every cache is keyed by :func:`analyzer.storage.content_hash` of the sentence (sha256 of its
whitespace-normalised text) and holds the scores of one model version, so the memory LRU used
for files and Ray and the database's ``score_cache`` table agree on what "the same sentence" is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from analyzer.scoring.protocols import SentenceCache

DEFAULT_MAX_ENTRIES = 200_000


class MemorySentenceCache:
    """A bounded least-recently-used map from sentence key to scores.

    Boilerplate and syndicated copies repeat sentences across records; with this cache each
    distinct sentence is computed once per run, and memory stays bounded.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max(1, int(max_entries))
        self._scores: OrderedDict[str, tuple[float, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._scores)

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[float, ...]]:
        found = {}
        for key in keys:
            value = self._scores.get(key)
            if value is not None:
                self._scores.move_to_end(key)
                found[key] = value
        return found

    def put_many(self, items: Mapping[str, tuple[float, ...]]) -> None:
        for key, value in items.items():
            self._scores[key] = tuple(value)
            self._scores.move_to_end(key)
        while len(self._scores) > self.max_entries:
            self._scores.popitem(last=False)


class CacheCounter:
    """Counts what a run's sentences cost: served from a cache (or repeated within a batch)
    versus computed by the model."""

    def __init__(self) -> None:
        self.cached = 0
        self.computed = 0


class LayeredCache:
    """Look in each cache in turn; new scores go to the first (e.g. memory in front of the
    database's score cache, which an ``--input`` run only reads)."""

    def __init__(self, *layers: SentenceCache) -> None:
        self.layers = layers

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[float, ...]]:
        found: dict[str, tuple[float, ...]] = {}
        for layer in self.layers:
            missing = [k for k in keys if k not in found]
            if not missing:
                break
            found.update(layer.get_many(missing))
        return found

    def put_many(self, items: Mapping[str, tuple[float, ...]]) -> None:
        self.layers[0].put_many(items)
