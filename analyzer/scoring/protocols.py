"""What the scoring pieces need from one another, as protocols, so that the scorer, its
backends and its caches depend on these small contracts rather than on each other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from analyzer.scoring.encoder import SentenceEncoder


class ScorerModel(Protocol):
    """The parts of a scorer a backend computes with: its encoder, head, labels and identity."""

    encoder: SentenceEncoder
    head: Any
    labels: tuple[str, ...]
    path: Path | None

    @property
    def device(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def model_version(self) -> str: ...


class Backend(Protocol):
    """Turns sentences into the head's uncalibrated logits, shape (n, labels)."""

    def logits(self, texts: Sequence[str]) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


class SentenceCache(Protocol):
    """Sentence scores keyed by :func:`analyzer.storage.content_hash` of the sentence, for one
    model version: an in-memory LRU, the database's score cache, or anything alike."""

    def get_many(self, keys: Sequence[str]) -> Mapping[str, tuple[float, ...]]: ...

    def put_many(self, items: Mapping[str, tuple[float, ...]]) -> None: ...
