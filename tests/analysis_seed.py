"""Seeding helpers for the heat/divergence tests: real documents, tags, scores and fundamentals."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import date

from analyzer.storage import DocumentRecord, Store

MODEL_VERSION = "test-v1"
_VOCABULARY = [
    "market",
    "platform",
    "revenue",
    "chip",
    "token",
    "network",
    "growth",
    "launch",
    "users",
    "quarter",
    "analyst",
    "deal",
    "cloud",
    "supply",
    "demand",
    "price",
    "fund",
    "bank",
    "model",
    "data",
    "energy",
    "retail",
    "policy",
    "rate",
    "capital",
    "margin",
    "order",
    "factory",
    "port",
    "software",
    "contract",
    "partner",
    "region",
    "service",
    "device",
    "storage",
    "license",
    "fee",
]


def story_text(rng: random.Random, words: int = 60, topic: str = "") -> str:
    """A unique random text: unrelated stories share almost no word 5-grams."""
    body = " ".join(rng.choice(_VOCABULARY) for _ in range(words))
    return f"{topic} {body} {rng.random():.12f}".strip()


def ensure_entity(store: Store, entity: str) -> None:
    store.upsert_entity({"id": entity, "name": entity.title(), "kind": "company"})


def add_document(
    store: Store,
    text: str,
    published_at: str,
    *,
    source: str = "wire",
    entities: Iterable[str] = (),
    hype: float | None = None,
    growth: float | None = None,
    evidence: float | None = None,
    sentences: Sequence[str] | None = None,
    sentence_hype: Sequence[float] | None = None,
    model_version: str = MODEL_VERSION,
    url: str | None = None,
) -> int:
    """Store one document, tag it, and (when ``hype`` is given) store its scores."""
    result = store.upsert_document(
        DocumentRecord(
            text=text, published_at=published_at, source=source, url=url, canonical_url=url
        )
    )
    document_id = result.document_id
    sentences = list(sentences) if sentences is not None else [text]
    for entity in entities:
        ensure_entity(store, entity)
        store.tag_document(
            document_id,
            entity,
            method="alias",
            matched=entity,
            sentence_indices=range(len(sentences)),
        )
    if hype is not None:
        per_sentence = list(sentence_hype) if sentence_hype is not None else [hype] * len(sentences)
        store.save_document_scores(
            document_id,
            model_id="test-model",
            model_version=model_version,
            document_scores={
                "hype": hype,
                "growth": growth if growth is not None else 0.2,
                "evidence": evidence if evidence is not None else 0.3,
                "n_sentences": len(sentences),
            },
            sentences=sentences,
            sentence_scores=[
                {
                    "hype": h,
                    "growth": growth if growth is not None else 0.2,
                    "evidence": evidence if evidence is not None else 0.3,
                }
                for h in per_sentence
            ],
        )
    return document_id


def quarter_starts(first_year: int, count: int) -> list[date]:
    out = []
    year, month = first_year, 1
    for _ in range(count):
        out.append(date(year, month, 1))
        month += 3
        if month > 12:
            year, month = year + 1, 1
    return out


def seed_quarterly_story(
    store: Store,
    entity: str,
    quarters: Sequence[date],
    mentions: Sequence[int],
    hype: Sequence[float],
    *,
    background: int = 10,
    source: str = "wire",
    seed: int = 0,
) -> None:
    """Per quarter: ``mentions[i]`` documents about ``entity`` with hype ``hype[i]``, plus
    ``background`` unrelated documents from the same source (the volume-share denominator)."""
    rng = random.Random(seed)
    for quarter, count, level in zip(quarters, mentions, hype):
        day = quarter.replace(day=10).isoformat()
        for i in range(count):
            add_document(
                store,
                story_text(rng, topic=entity),
                f"{day}T0{i % 10}:00:00+00:00",
                source=source,
                entities=[entity],
                hype=level,
                growth=0.2,
                evidence=0.3,
            )
        for i in range(background):
            add_document(
                store,
                story_text(rng),
                f"{day}T1{i % 10}:00:00+00:00",
                source=source,
                hype=0.1,
                growth=0.1,
                evidence=0.5,
            )


def add_quarterly_fundamentals(
    store: Store,
    entity: str,
    metric: str,
    quarters: Sequence[date],
    values: Sequence[float | None],
    *,
    filed_lag_days: int | None = None,
) -> None:
    """Values dated at each quarter's end (optionally filed ``filed_lag_days`` later)."""
    rows = []
    for quarter, value in zip(quarters, values):
        month = quarter.month + 2
        end = date(quarter.year, month, 30 if month in (6, 9) else 31)
        row = {
            "entity_id": entity,
            "metric": metric,
            "date": end.isoformat(),
            "value": value,
            "unit": "USD",
            "source": "test",
        }
        if filed_lag_days is not None:
            row["filed_at"] = date.fromordinal(end.toordinal() + filed_lag_days).isoformat()
        rows.append(row)
    store.add_fundamentals(rows)
