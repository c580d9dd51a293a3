"""Labelled data for training and evaluation: JSONL files of ``{"text", "hype", "growth",
"evidence"}`` rows, a folder of split files, or one file split deterministically by text hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.scoring.scorer import LABELS

SPLIT_FILES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}


def read_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Labelled sentences from a JSONL file: ``text`` plus 0/1 ``hype``, ``growth``, ``evidence``.

    Training data must be clean: a malformed line raises :class:`InputError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("text"), str)
                or not row["text"].strip()
            ):
                raise InputError(f"{path}:{number}: expected an object with a non-empty 'text'")
            for label in LABELS:
                if row.get(label) not in (0, 1, True, False):
                    raise InputError(
                        f"{path}:{number}: label {label!r} must be 0 or 1, got {row.get(label)!r}"
                    )
                row[label] = int(row[label])
            rows.append(row)
    if not rows:
        raise InputError(f"{path} holds no labelled sentences")
    return rows


def hash_fraction(text: str) -> float:
    """A stable number in [0, 1) from the normalised text (the same rule the corpus splits use)."""
    normalised = " ".join(text.casefold().split())
    return int(hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12], 16) / float(16**12)


@dataclass
class TrainingData:
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    test: list[dict[str, Any]] | None = None
    sources: dict[str, str] = field(default_factory=dict)


def resolve_training_data(
    data: str | Path,
    *,
    validation: str | Path | None = None,
    test: str | Path | None = None,
    validation_fraction: float = 0.15,
) -> TrainingData:
    """Train/validation/test rows from a split directory or a single JSONL file.

    A directory must hold ``train.jsonl`` and ``validation.jsonl`` (``test.jsonl`` is optional).
    From a single file without ``validation``, a stable hash of each text sends about
    ``validation_fraction`` of the rows to validation.
    """
    data = Path(data)
    sources: dict[str, str] = {}
    test_rows = None
    if data.is_dir():
        train_file = data / SPLIT_FILES["train"]
        validation_file = Path(validation) if validation else data / SPLIT_FILES["validation"]
        if not train_file.is_file():
            raise InputError(
                f"{data} has no {SPLIT_FILES['train']}; run corpora/hype/build_splits.py first"
            )
        if not validation_file.is_file():
            raise InputError(f"{data} has no {SPLIT_FILES['validation']}; pass --validation FILE")
        train_rows = read_labelled(train_file)
        validation_rows = read_labelled(validation_file)
        sources = {"train": train_file.name, "validation": validation_file.name}
        test_file = Path(test) if test else data / SPLIT_FILES["test"]
        if test_file.is_file():
            test_rows = read_labelled(test_file)
            sources["test"] = test_file.name
    else:
        rows = read_labelled(data)
        sources["train"] = data.name
        if validation:
            train_rows, validation_rows = rows, read_labelled(validation)
            sources["validation"] = Path(validation).name
        else:
            validation_rows = [r for r in rows if hash_fraction(r["text"]) < validation_fraction]
            train_rows = [r for r in rows if hash_fraction(r["text"]) >= validation_fraction]
            sources["validation"] = f"{data.name} (hash-selected {validation_fraction:.0%})"
            if not validation_rows or not train_rows:
                raise InputError(
                    f"{data} is too small to hold out a validation split; pass --validation"
                )
        if test:
            test_rows = read_labelled(test)
            sources["test"] = Path(test).name
    return TrainingData(train_rows, validation_rows, test_rows, sources)


def label_matrix(rows: Sequence[dict[str, Any]]) -> Any:
    import numpy as np

    return np.array([[int(r[label]) for label in LABELS] for r in rows], dtype=np.float32)


def label_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = {label: sum(int(r[label]) for r in rows) for label in LABELS}
    counts["sentences"] = len(rows)
    return counts


def data_fingerprint(rows: Sequence[dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r["text"]):
        digest.update(json.dumps([row["text"], *(row[label] for label in LABELS)]).encode("utf-8"))
    return digest.hexdigest()[:16]


def training_languages(rows: Sequence[dict[str, Any]], minimum_share: float = 0.02) -> list[str]:
    """Languages with enough training sentences to claim support (rows without ``lang`` count as English)."""
    counts = Counter(str(r.get("lang") or "en") for r in rows)
    needed = max(5, math.ceil(minimum_share * len(rows)))
    languages = sorted(lang for lang, n in counts.items() if n >= needed)
    return languages or ["en"]
