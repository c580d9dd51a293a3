"""Labelling passes over the real-text pool: import, agreement, adjudication, final annotations.

The workflow (``analyzer corpus ...`` runs each step):

1. Labellers receive batches (``batch-NN.jsonl``: ``id``, ``text``, ``context``) and the
   guidelines, and return JSONL lines ``{"id", "hype", "growth", "evidence"}``.
2. :func:`import_pass` stores a pass as ``passes/<name>.jsonl`` in the corpus folder: ids and
   labels only, never text. Batches can arrive one at a time; a re-imported id takes its
   newest labels.
3. :func:`agreement` gives Cohen's kappa per label between two passes on the ids both labelled.
4. :func:`write_disagreements` lists, per batch, every sentence the passes disagree on, with
   its text and both passes' labels, and the agreed labels filled in; the adjudicator fills in
   the ``null`` ones and the file is imported as a (partial) pass of its own.
5. :func:`build_annotations` joins the pool with the labels, where both passes agree or the
   adjudication decided, into ``annotations.jsonl``, and writes ``stats.json`` (agreement,
   adjudication counts, label rates, and natural rates from the uniform ``random`` stratum).
   A sentence with an undecided disagreement is left out and reported, never guessed.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.analysis.agreement import cohen_kappa
from analyzer.errors import InputError
from analyzer.training.annotations import LABELS, SPLITS, read_annotations, write_annotations

__all__ = [
    "ImportReport",
    "agreement",
    "build_annotations",
    "cohen_kappa",
    "import_pass",
    "read_pass",
    "write_disagreements",
]

_PASS_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_BATCH_RE = re.compile(r"^batch-(\w+)\.jsonl$")
Labels = dict[str, int | None]


def _pass_file(corpus_dir: Path, name: str) -> Path:
    if not _PASS_NAME_RE.match(name):
        raise InputError(f"pass name {name!r}: use letters, digits, '-', '_' or '.' (up to 64)")
    return corpus_dir / "passes" / f"{name}.jsonl"


def _label_value(value: Any, *, partial: bool) -> int | None:
    if value is None and partial:
        return None
    if value in (0, 1, True, False) and not isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    raise ValueError(f"must be 0 or 1{' (or null)' if partial else ''}, got {value!r}")


def read_label_lines(path: Path, *, partial: bool = False) -> dict[str, Labels]:
    """``id -> labels`` from a labeller's JSONL; any other keys (text, context) are ignored.

    ``partial`` (an adjudication) allows a label to be missing or null. A malformed line
    raises :class:`InputError` naming every bad line, so nothing is half imported.
    """
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    labels: dict[str, Labels] = {}
    errors: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                    raise ValueError("expected an object with a string 'id'")
                values: Labels = {}
                for label in LABELS:
                    if label not in row and not partial:
                        raise ValueError(f"missing {label!r}")
                    try:
                        values[label] = _label_value(row.get(label), partial=partial)
                    except ValueError as exc:
                        raise ValueError(f"{label!r} {exc}") from None
            except ValueError as exc:
                errors.append(f"{path.name}:{number}: {exc}")
                continue
            labels[row["id"]] = values
    if errors:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        raise InputError(f"{len(errors)} bad line(s), nothing imported: {shown}")
    return labels


def read_pass(corpus_dir: str | Path, name: str) -> dict[str, Labels]:
    path = _pass_file(Path(corpus_dir), name)
    if not path.is_file():
        raise InputError(f"no pass {name!r} in {Path(corpus_dir)} (expected {path})")
    return read_label_lines(path, partial=True)


@dataclass
class ImportReport:
    name: str
    path: Path
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    total: int = 0

    def summary(self) -> str:
        text = (
            f"pass {self.name}: {self.added} added, {self.changed} changed, {self.unchanged} unchanged; "
            f"{self.total} sentences in {self.path}"
        )
        if self.unknown_ids:
            text += f"; skipped {len(self.unknown_ids)} id(s) not in the pool (e.g. {self.unknown_ids[0]})"
        return text


def _pool_ids(corpus_dir: Path) -> set[str]:
    pool_file = corpus_dir / "pool.jsonl"
    if not pool_file.is_file():
        raise InputError(f"{corpus_dir} has no pool.jsonl; build the pool first")
    return {row["id"] for row in read_annotations(pool_file)}


def import_pass(
    corpus_dir: str | Path, name: str, files: Sequence[str | Path], *, partial: bool = False
) -> ImportReport:
    """Merge labellers' files into ``passes/<name>.jsonl`` (ids and labels only).

    Every file is validated before anything is written; ids that are not in the pool are
    skipped and reported. The pass file is replaced atomically.
    """
    corpus_dir = Path(corpus_dir)
    path = _pass_file(corpus_dir, name)
    known = _pool_ids(corpus_dir)
    incoming: dict[str, Labels] = {}
    for file in files:
        incoming.update(read_label_lines(Path(file), partial=partial))
    existing = read_label_lines(path, partial=True) if path.is_file() else {}
    report = ImportReport(name, path)
    for identifier, labels in incoming.items():
        if identifier not in known:
            report.unknown_ids.append(identifier)
            continue
        if identifier not in existing:
            report.added += 1
        elif existing[identifier] != labels:
            report.changed += 1
        else:
            report.unchanged += 1
        existing[identifier] = labels
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".jsonl.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for identifier in sorted(existing):
            handle.write(json.dumps({"id": identifier, **existing[identifier]}) + "\n")
    os.replace(temporary, path)
    report.total = len(existing)
    return report


# --------------------------------------------------------------------------- agreement


def agreement(
    pass_a: dict[str, Labels], pass_b: dict[str, Labels], ids: Iterable[str] | None = None
) -> dict[str, Any]:
    """Per label: items both passes labelled, raw agreement, kappa, positives in each pass."""
    common = sorted(
        set(pass_a) & set(pass_b) if ids is None else set(ids) & set(pass_a) & set(pass_b)
    )
    result: dict[str, Any] = {"items": len(common), "labels": {}}
    for label in LABELS:
        pairs = [(pass_a[i][label], pass_b[i][label]) for i in common]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
        kappa = cohen_kappa(xs, ys)
        result["labels"][label] = {
            "items": len(pairs),
            "agreement": round(sum(x == y for x, y in pairs) / len(pairs), 4) if pairs else None,
            "kappa": round(kappa, 4) if kappa is not None else None,
            "positives_a": sum(xs),
            "positives_b": sum(ys),
        }
    return result


def _batch_index(batches_dir: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """``id -> (batch number, batch line)`` from ``batch-NN.jsonl`` files."""
    if not batches_dir.is_dir():
        raise InputError(f"batches folder {batches_dir} does not exist")
    index: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(batches_dir.glob("batch-*.jsonl")):
        match = _BATCH_RE.match(path.name)
        if not match:
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    index[row["id"]] = (match.group(1), row)
    if not index:
        raise InputError(f"no batch-*.jsonl files in {batches_dir}")
    return index


def write_disagreements(
    pass_a: dict[str, Labels],
    pass_b: dict[str, Labels],
    batches_dir: str | Path,
    out_dir: str | Path,
    *,
    names: tuple[str, str] = ("a", "b"),
) -> dict[str, int]:
    """Write ``adjudicate-NN.jsonl`` (per batch) with every sentence the passes disagree on.

    Each line: ``id``, ``text``, ``context``, both passes' labels, ``disagree_on``, and the three
    labels with agreed values filled in and disagreed ones ``null`` for the adjudicator.
    Returns ``{file name: lines}``.
    """
    index = _batch_index(Path(batches_dir))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for identifier in sorted(set(pass_a) & set(pass_b)):
        a, b = pass_a[identifier], pass_b[identifier]
        differing = [label for label in LABELS if a[label] != b[label]]
        if not differing:
            continue
        batch, row = index.get(identifier, ("other", {"text": None, "context": None}))
        by_batch[batch].append(
            {
                "id": identifier,
                "text": row.get("text"),
                "context": row.get("context"),
                f"pass_{names[0]}": a,
                f"pass_{names[1]}": b,
                "disagree_on": differing,
                **{label: (None if label in differing else a[label]) for label in LABELS},
            }
        )
    written: dict[str, int] = {}
    for batch, rows in sorted(by_batch.items()):
        path = out_dir / f"adjudicate-{batch}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        written[path.name] = len(rows)
    return written


# --------------------------------------------------------------------------- the final set


def build_annotations(
    corpus_dir: str | Path, pass_a_name: str, pass_b_name: str, *, adjudication: str | None = None
) -> dict[str, Any]:
    """Write ``annotations.jsonl`` and ``stats.json`` from the pool, two passes and an
    optional adjudication pass (see the module docstring). Returns the stats."""
    corpus_dir = Path(corpus_dir)
    pool = (
        read_annotations(corpus_dir / "pool.jsonl")
        if (corpus_dir / "pool.jsonl").is_file()
        else None
    )
    if pool is None:
        raise InputError(f"{corpus_dir} has no pool.jsonl")
    pass_a = read_pass(corpus_dir, pass_a_name)
    pass_b = read_pass(corpus_dir, pass_b_name)
    decided = read_pass(corpus_dir, adjudication) if adjudication else {}
    final: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    adjudicated: Counter[str] = Counter()
    for entry in pool:
        identifier = entry["id"]
        if identifier not in pass_a or identifier not in pass_b:
            left_out["not labelled by both passes"] += 1
            continue
        labels: dict[str, int] = {}
        settled: list[str] = []
        for label in LABELS:
            a, b = pass_a[identifier][label], pass_b[identifier][label]
            if a is not None and a == b:
                labels[label] = a
                continue
            choice = decided.get(identifier, {}).get(label)
            if choice is None:
                break
            labels[label] = choice
            settled.append(label)
        if len(labels) < len(LABELS):
            left_out["disagreement not adjudicated"] += 1
            continue
        for label in settled:
            adjudicated[label] += 1
        final.append({**entry, **labels, "adjudicated": settled or None})
    write_annotations(corpus_dir / "annotations.jsonl", final)
    stats = annotation_stats(final, pool, pass_a, pass_b)
    stats["passes"] = {"a": pass_a_name, "b": pass_b_name, "adjudication": adjudication}
    stats["adjudicated_labels"] = dict(adjudicated)
    stats["left_out"] = dict(left_out)
    (corpus_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def annotation_stats(
    final: Sequence[dict[str, Any]],
    pool: Sequence[dict[str, Any]],
    pass_a: dict[str, Labels],
    pass_b: dict[str, Labels],
) -> dict[str, Any]:
    def positives(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        n = len(rows)
        return {
            "sentences": n,
            **{
                label: {
                    "positives": sum(r[label] for r in rows),
                    "rate": round(sum(r[label] for r in rows) / n, 4) if n else None,
                }
                for label in LABELS
            },
        }

    by_type: dict[str, Any] = {}
    for source_type in sorted({r.get("source_type") or "unknown" for r in final}):
        rows = [r for r in final if (r.get("source_type") or "unknown") == source_type]
        ids = [r["id"] for r in rows]
        by_type[source_type] = {
            "all": positives(rows),
            "natural_random_sample": positives([r for r in rows if r.get("stratum") == "random"]),
            "kappa": {k: v["kappa"] for k, v in agreement(pass_a, pass_b, ids)["labels"].items()},
        }
    return {
        "sentences": len(final),
        "pool": len(pool),
        "labels": positives(final),
        "natural_random_sample": positives([r for r in final if r.get("stratum") == "random"]),
        "agreement": agreement(pass_a, pass_b, [r["id"] for r in pool]),
        "splits": {
            name: positives([r for r in final if r.get("split") == name]) for name in SPLITS
        },
        "documents": {
            name: len({r.get("document") for r in final if r.get("split") == name})
            for name in SPLITS
        },
        "by_source_type": by_type,
        "below_15_percent": [
            label for label in LABELS if final and sum(r[label] for r in final) / len(final) < 0.15
        ],
    }
