"""The Check page: score a pasted or fetched text, rank it against the stored corpus, and list
the entities and figures it mentions."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from analyzer.analysis.figures import extract_figures
from analyzer.errors import InputError
from analyzer.views.common import LABELS, entity_table, open_readonly

__all__ = [
    "MIN_PERCENTILE_SAMPLE",
    "check_result_csv",
    "check_result_json",
    "check_text",
    "corpus_percentiles",
    "extract_article",
    "extract_figures",
    "fetch_article",
    "find_entities",
    "percentile_sentence",
]


def fetch_article(url: str, *, allow_private: bool = False) -> dict[str, Any]:
    """Download and extract one article (see :func:`analyzer.ingest.pages.fetch_article`)."""
    # Imported on use: the fetching and extraction stack is not needed to draw other pages.
    from analyzer.ingest.pages import fetch_article as fetch

    return fetch(url, allow_private=allow_private)


def extract_article(content: bytes, content_type: str | None, url: str) -> dict[str, Any]:
    """Title and text of fetched bytes (see :func:`analyzer.ingest.pages.extract_article`)."""
    from analyzer.ingest.pages import extract_article as extract

    return extract(content, content_type, url)


# Below this many documents in the comparison scope a percentile says little; widen the scope.
MIN_PERCENTILE_SAMPLE = 30


def _quarter_bounds(day: str) -> tuple[str, str, str]:
    """(first day, first day of the next quarter, label) of the quarter containing ``day``."""
    year, month = int(day[:4]), int(day[5:7])
    first_month = (month - 1) // 3 * 3 + 1
    start = f"{year:04d}-{first_month:02d}-01"
    end = f"{year + 1:04d}-01-01" if first_month == 10 else f"{year:04d}-{first_month + 3:02d}-01"
    return start, end, f"{year} Q{(first_month - 1) // 3 + 1}"


def corpus_percentiles(
    db: str | os.PathLike[str] | None,
    scores: Mapping[str, float | None],
    *,
    model_version: str,
    entity: str | None = None,
    latest_quarter: bool = True,
) -> dict[str, Any]:
    """Where ``scores`` fall among the stored document scores of the same model version.

    A percentile is the share of comparable documents scoring lower (ties count half), so 92
    means "higher than 92% of them". The comparison set is the entity's documents (or the whole
    corpus) in the latest quarter with documents, widened to all dates when that quarter holds
    fewer than ``MIN_PERCENTILE_SAMPLE`` documents. Returns ``percentiles`` (label -> float or
    None), ``n``, ``scope`` (words for the comparison set) and ``reason`` when none could be
    computed, and ``note`` when the latest quarter was too thin and all dates were used.
    """
    result: dict[str, Any] = {
        "percentiles": dict.fromkeys(LABELS),
        "n": 0,
        "scope": None,
        "reason": None,
        "note": None,
    }
    values = {label: scores.get(label) for label in LABELS}
    if all(v is None for v in values.values()):
        result["reason"] = "the text has no scores"
        return result
    with open_readonly(db) as store:
        entity_name = (store.entity_names().get(entity) or entity) if entity else None
        subject = f"{entity_name} coverage" if entity_name else "stored documents"
        scopes: list[tuple[str | None, str | None, str]] = []
        if latest_quarter:
            last = store.latest_scored_date(model_version, entity)
            if last:
                start, end, label = _quarter_bounds(str(last)[:10])
                scopes.append((start, end, f"{subject} in {label}"))
        scopes.append((None, None, f"all {subject}"))
        for start, end, scope in scopes:
            ranks = store.score_ranks(
                values,
                model_version=model_version,
                entity=entity,
                published_from=start,
                published_before=end,
            )
            n = ranks["n"]
            narrowed = start is not None
            if narrowed and n < MIN_PERCENTILE_SAMPLE:
                result["note"] = (
                    f"{scope[0].upper()}{scope[1:]} has only {n} scored documents, too few to rank against; "
                    "compared with all dates instead."
                )
            if n >= MIN_PERCENTILE_SAMPLE or (not narrowed and n > 0):
                for label in LABELS:
                    below, equal, counted = ranks[label]
                    if values[label] is None or not counted:
                        continue
                    result["percentiles"][label] = 100.0 * (below + 0.5 * equal) / counted
                result.update(n=n, scope=scope)
                return result
    result["reason"] = (
        f"no stored documents scored by model version {model_version}"
        + (f" mention {entity}" if entity else "")
        + "; run `analyzer score` to compare against the corpus"
    )
    return result


def percentile_sentence(label: str, percentile: float | None, scope: str | None) -> str:
    """ "More hyped than 92% of NVIDIA coverage in 2025 Q3" from the numbers."""
    if percentile is None or scope is None:
        return f"No {label} comparison available."
    adjective = {"hype": "hyped", "growth": "growth-focused", "evidence": "evidence-backed"}.get(
        label, label
    )
    if percentile >= 50:
        return f"More {adjective} than {percentile:.0f}% of {scope}."
    return f"Less {adjective} than {100 - percentile:.0f}% of {scope}."


def find_entities(db: str | os.PathLike[str] | None, text: str) -> pd.DataFrame:
    """Entities of the database mentioned in ``text``: id, name, mentions, first matched words."""
    from analyzer.entities.definitions import as_entities
    from analyzer.entities.matching import match_entities

    columns = ["entity", "name", "mentions", "matched"]
    table = entity_table(db)
    if table.empty or not text:
        return pd.DataFrame(columns=columns)
    definitions = table[["id", "name", "kind", "aliases", "exclusions", "tickers"]].to_dict(
        "records"
    )
    for definition in definitions:
        # A bare entity (created by an import) has no aliases: its name is the obvious one.
        if not definition["aliases"]:
            definition["aliases"] = [definition["name"]]
    matches = match_entities(text, as_entities(definitions))
    names = dict(zip(table["id"], table["name"]))
    found: dict[str, dict[str, Any]] = {}
    for match in matches:
        row = found.setdefault(
            match.entity_id,
            {
                "entity": match.entity_id,
                "name": names.get(match.entity_id),
                "mentions": 0,
                "matched": [],
            },
        )
        row["mentions"] += 1
        if match.text not in row["matched"]:
            row["matched"].append(match.text)
    for row in found.values():
        row["matched"] = ", ".join(row["matched"][:5])
    frame = pd.DataFrame(list(found.values()), columns=columns)
    return frame.sort_values(["mentions", "entity"], ascending=[False, True]).reset_index(drop=True)


def check_text(scorer: Any, text: str, *, max_sentences: int | None = 2000) -> dict[str, Any]:
    """Score one pasted or fetched text: document scores plus a ``sentences`` DataFrame.

    ``scorer`` is a loaded :class:`analyzer.scoring.scorer.HypeScorer`. The result holds the document
    values (hype, growth, evidence and their ``_top``/``_share``), ``language``, ``unscored``
    and ``reason`` (e.g. a language the model does not cover), ``model_version`` and
    ``figures`` (see :func:`extract_figures`).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("paste some text to check")
    result = scorer.score_document(text, max_sentences=max_sentences)
    sentences = pd.DataFrame(result.pop("sentences"), columns=["text", *LABELS])
    # Numbered from 1 for readers; the figures table uses the same numbers.
    sentences.insert(0, "sentence", range(1, len(sentences) + 1))
    result["sentences"] = sentences
    figures = extract_figures(sentences["text"].tolist())
    figures["sentence"] = figures["sentence"] + 1
    result["figures"] = figures
    result["model_version"] = scorer.model_version
    result["model_id"] = scorer.model_id
    result["model_languages"] = list(scorer.languages)
    return result


def check_result_json(
    result: Mapping[str, Any],
    *,
    source: str | None = None,
    entities: pd.DataFrame | None = None,
    percentiles: Mapping[str, Any] | None = None,
) -> str:
    """The check result as a JSON document (sentences and figures as lists of objects)."""
    document = {
        key: _plain(value) for key, value in result.items() if not isinstance(value, pd.DataFrame)
    }
    document["source"] = source
    document["sentences"] = _records(result.get("sentences"))
    document["figures"] = _records(result.get("figures"))
    document["entities"] = _records(entities)
    if percentiles is not None:
        document["percentiles"] = _plain(dict(percentiles))
    return json.dumps(document, indent=2, ensure_ascii=False)


def check_result_csv(result: Mapping[str, Any]) -> str:
    """One row per sentence with its scores, plus the document scores repeated on every row."""
    sentences = result["sentences"].copy()
    for label in LABELS:
        sentences[f"document_{label}"] = result.get(label)
    sentences["language"] = result.get("language")
    sentences["model_version"] = result.get("model_version")
    return sentences.to_csv(index=False)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _plain(value.item())
    return value


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [_plain(r) for r in cleaned.to_dict("records")]
