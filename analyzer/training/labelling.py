"""The labelling loop's files: export the sentences worth labelling, import the labels back.

An exported line (JSONL) names its sentence (``id`` = ``"DOCUMENT_ID:SENTENCE_INDEX"``, plus
``text_hash``), shows it with its document context and the model's scores, and leaves
``hype``, ``growth`` and ``evidence`` as ``null`` for the annotator to fill with 0 or 1 (or to
leave unset). An imported line needs the sentence (``id``, or ``document_id`` and
``sentence_index``, or ``text_hash``), at least one label and an annotator (on the line or
given for the whole file). Bad lines are rejected one by one with the reason; the rest are
stored, and importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.storage.labels import LABEL_NAMES, SELECTION_STRATEGIES, UNCERTAINTY_MEASURES
from analyzer.training.selection import DEFAULT_MAX_SHARE, DEFAULT_SIMILARITY, select_for_labelling

GUIDELINES_ENV_VAR = "ANALYZER_GUIDELINES"
DEFAULT_GUIDELINES = Path(__file__).resolve().parents[2] / "corpora" / "hype" / "GUIDELINES.md"
MAX_ANNOTATOR_LENGTH = 100
# Candidates read from the store per sentence exported: room for spreading and de-duplication.
POOL_FACTOR = 20
MIN_POOL = 500


# --------------------------------------------------------------------------- guidelines


def guidelines_path() -> Path:
    """The labelling guidelines: ``$ANALYZER_GUIDELINES``, else corpora/hype/GUIDELINES.md."""
    return Path(os.environ.get(GUIDELINES_ENV_VAR) or DEFAULT_GUIDELINES)


def guidelines_text() -> str | None:
    path = guidelines_path()
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def guideline_version(text: str | None = None) -> str:
    """A short hash of the guidelines' text, recorded with every label ('unknown' without them)."""
    text = guidelines_text() if text is None else text
    if text is None:
        return "unknown"
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------- export


def sentence_id(document_id: int, sentence_index: int) -> str:
    return f"{int(document_id)}:{int(sentence_index)}"


def choose_sentences(
    store: Any,
    *,
    n: int = 50,
    strategy: str = "uncertain",
    measure: str = "margin",
    model_versions: list[str] | None = None,
    entity: str | None = None,
    seed: int = 0,
    max_share: float = DEFAULT_MAX_SHARE,
    similarity: float = DEFAULT_SIMILARITY,
    exclude_labelled_by: str | None = None,
) -> tuple[Any, list[str]]:
    """The ``n`` sentences to label next as a DataFrame (best first), and the versions used.

    ``model_versions`` defaults to the latest scored version (``uncertain``, ``random``) or
    every scored version (``disagreement``).
    """
    import pandas as pd

    if strategy not in SELECTION_STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; use {', '.join(SELECTION_STRATEGIES)}")
    if measure not in UNCERTAINTY_MEASURES:
        raise InputError(f"unknown measure {measure!r}; use {', '.join(UNCERTAINTY_MEASURES)}")
    if n < 1:
        raise InputError("--n must be at least 1")
    if entity is not None and not any(e["id"] == entity for e in store.entities()):
        raise InputError(f"unknown entity {entity!r}; see `analyzer entities`")
    available = store.scored_versions()
    if not available:
        raise InputError("no scored sentences in the database; run `analyzer score --db DB` first")
    if model_versions:
        resolved = []
        for prefix in model_versions:
            version = store.resolve_version(prefix)
            if version is None:
                raise InputError(
                    f"unknown or ambiguous model version {prefix!r}; stored: {', '.join(available)}"
                )
            resolved.append(version)
        versions = resolved
    else:
        versions = available if strategy == "disagreement" else available[:1]
    if strategy == "disagreement" and len(versions) < 2:
        raise InputError(
            "the disagreement strategy needs sentences scored by at least two model versions; "
            "rescore with `analyzer score --db DB --model DIR`"
        )
    pool = max(MIN_POOL, n * POOL_FACTOR)
    rows = store.label_candidates(
        strategy,
        versions,
        limit=pool,
        measure=measure,
        entity=entity,
        seed=seed,
        exclude_labelled_by=exclude_labelled_by,
    )
    candidates = pd.DataFrame(rows)
    if candidates.empty:
        return candidates, versions
    share = 1.0 if entity else max_share  # one entity already: spread across sources only
    chosen = select_for_labelling(candidates, n, max_share=share, similarity=similarity)
    return chosen, versions


def export_for_labelling(
    store: Any,
    out: str | os.PathLike[str],
    *,
    n: int = 50,
    strategy: str = "uncertain",
    measure: str = "margin",
    model_versions: list[str] | None = None,
    entity: str | None = None,
    seed: int = 0,
    max_share: float = DEFAULT_MAX_SHARE,
    context: int = 2,
) -> dict[str, Any]:
    """Write the sentences to label next to ``out`` (JSONL); returns a summary."""
    chosen, versions = choose_sentences(
        store,
        n=n,
        strategy=strategy,
        measure=measure,
        model_versions=model_versions,
        entity=entity,
        seed=seed,
        max_share=max_share,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    version_of_guidelines = guideline_version()
    written = 0
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in chosen.to_dict("records") if not chosen.empty else []:
            around = store.sentence_context(
                row["document_id"], row["sentence_index"], window=context
            )
            line = {
                "id": sentence_id(row["document_id"], row["sentence_index"]),
                "document_id": int(row["document_id"]),
                "sentence_index": int(row["sentence_index"]),
                "text_hash": row["text_hash"],
                "text": row["text"],
                "context_before": [
                    s["text"] for s in around if s["sentence_index"] < row["sentence_index"]
                ],
                "context_after": [
                    s["text"] for s in around if s["sentence_index"] > row["sentence_index"]
                ],
                "title": row.get("title"),
                "url": row.get("url"),
                "source": row.get("source"),
                "published_at": row.get("published_at"),
                "entities": [e for e in str(row.get("entities") or "").split(",") if e],
                "strategy": strategy,
                "measure": measure if strategy == "uncertain" else None,
                "selection_score": round(float(row["score"]), 6),
                "model_versions": versions,
                "model_scores": {label: _round(row.get(label)) for label in LABEL_NAMES},
                "annotator": None,
                "guideline_version": version_of_guidelines,
                **{label: None for label in LABEL_NAMES},
            }
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
    os.replace(tmp, out)
    return {
        "out": str(out),
        "sentences": written,
        "strategy": strategy,
        "measure": measure,
        "model_versions": versions,
        "entity": entity,
        "guideline_version": version_of_guidelines,
        "sources": int(chosen["source"].nunique()) if written else 0,
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


# --------------------------------------------------------------------------- import


@dataclass
class LabelImport:
    """What an import stored and what it rejected (``rejected``: (line number, reason))."""

    path: str
    lines: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "lines": self.lines,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
        }


class _Rejected(Exception):
    pass


def _iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc}") from exc


def _label_value(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    raise _Rejected(f"label {name!r} must be 0, 1 or null, got {value!r}")


def _locate(store: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The stored sentence a line refers to; rejects unknown ids and texts changed since export."""
    raw_id = row.get("id")
    document_id, sentence_index = row.get("document_id"), row.get("sentence_index")
    given_hash = row.get("text_hash")
    if raw_id is not None and (document_id is None or sentence_index is None):
        parts = str(raw_id).split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise _Rejected(f"unknown sentence id {raw_id!r} (expected DOCUMENT_ID:SENTENCE_INDEX)")
        document_id, sentence_index = int(parts[0]), int(parts[1])
    if document_id is not None and sentence_index is not None:
        if isinstance(document_id, bool) or isinstance(sentence_index, bool):
            raise _Rejected("document_id and sentence_index must be integers")
        try:
            position = (int(document_id), int(sentence_index))
        except (TypeError, ValueError):
            raise _Rejected("document_id and sentence_index must be integers") from None
        found = store.sentence_at(*position)
        if found is None:
            label = raw_id if raw_id is not None else sentence_id(*position)
            raise _Rejected(f"unknown sentence id {str(label)!r}: no such sentence in the database")
        if given_hash and given_hash != found["text_hash"]:
            raise _Rejected(
                f"sentence {sentence_id(*position)} has changed since it was exported (text_hash differs)"
            )
        return found
    if given_hash:
        found = store.sentence_with_hash(str(given_hash))
        if found is None:
            raise _Rejected(
                f"unknown text_hash {str(given_hash)[:16]!r}: no such sentence in the database"
            )
        return found
    raise _Rejected("no sentence given: add 'id' (DOCUMENT_ID:SENTENCE_INDEX) or 'text_hash'")


def _parse_line(
    store: Any, text: str, *, annotator: str | None, version: str, now: str
) -> dict[str, Any]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Rejected(f"invalid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise _Rejected("expected a JSON object")
    values = {name: _label_value(name, row.get(name)) for name in LABEL_NAMES}
    if all(v is None for v in values.values()):
        raise _Rejected("no label set: hype, growth and evidence are all empty")
    who = row.get("annotator") or annotator
    if not isinstance(who, str) or not who.strip():
        raise _Rejected("no annotator: add 'annotator' to the line or pass --annotator")
    who = who.strip()
    if len(who) > MAX_ANNOTATOR_LENGTH:
        raise _Rejected(f"annotator name longer than {MAX_ANNOTATOR_LENGTH} characters")
    when = row.get("labelled_at") or now
    try:
        datetime.fromisoformat(str(when))
    except ValueError:
        raise _Rejected(f"labelled_at {when!r} is not an ISO date and time") from None
    guideline = row.get("guideline_version") or version
    sentence = _locate(store, row)
    return {
        "text_hash": sentence["text_hash"],
        "annotator": who,
        "text": sentence["text"],
        "document_id": sentence["document_id"],
        "sentence_index": sentence["sentence_index"],
        **values,
        "guideline_version": str(guideline),
        "labelled_at": str(when),
        "origin": "import",
    }


def import_labels(
    store: Any,
    path: str | os.PathLike[str],
    *,
    annotator: str | None = None,
    guideline: str | None = None,
) -> LabelImport:
    """Store the labels in a JSONL file; bad lines are rejected with their reason, the rest kept.

    ``annotator`` and ``guideline`` (a guideline version) apply to lines that do not name
    their own; the guideline version defaults to the current guidelines' hash.
    """
    from analyzer.storage import utcnow

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    report = LabelImport(path=str(path))
    version = guideline or guideline_version()
    now = utcnow()
    accepted: list[dict[str, Any]] = []
    for number, line in _iter_lines(path):
        if not line.strip():
            continue
        report.lines += 1
        try:
            accepted.append(_parse_line(store, line, annotator=annotator, version=version, now=now))
        except _Rejected as exc:
            report.rejected.append((number, str(exc)))
    if accepted:
        counts = store.save_labels(accepted)
        report.inserted, report.updated, report.unchanged = (
            counts["inserted"],
            counts["updated"],
            counts["unchanged"],
        )
    return report
