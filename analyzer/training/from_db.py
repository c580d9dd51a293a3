"""Training data from the labels stored in the database, together with labelled corpora.

Stored labels are first merged per sentence: with several annotators each label takes the
majority, and a tie leaves it unset. Only sentences with all three labels set train the model
(the others still count for agreement). Every sentence of one document goes to the same split,
chosen by a stable hash of the document, and a sentence whose text is in an evaluation split
(validation or test, of the corpora or of the stored labels) is kept out of training, so no
labelled sentence is evaluated on a model that saw it.
"""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.storage.labels import LABEL_NAMES
from analyzer.training.data import TrainingData, hash_fraction, resolve_training_data

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The written corpus, and the real-text set once `analyzer corpus materialize` has rebuilt it.
DEFAULT_CORPORA = (Path("corpora") / "hype", Path("data") / "corpora" / "hype-real")
VALIDATION_FRACTION = 0.15
TEST_FRACTION = 0.15


def _located(path: Path) -> Path | None:
    """A default corpus in the working directory, else beside the package (a checkout)."""
    for candidate in (path, PROJECT_ROOT / path):
        if candidate.exists():
            return candidate
    return None


def default_corpora(say: Callable[[str], None] = print) -> list[Path]:
    """The default corpora that exist; each missing one is skipped with a message."""
    found = []
    for path in DEFAULT_CORPORA:
        located = _located(path)
        if located is None:
            say(f"Skipping the corpus {path}: not found.")
            continue
        found.append(located)
    return found


def consensus_labels(labels: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per sentence text: each label by majority over its annotators (a tie: unset)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for label in labels:
        grouped[label["text_hash"]].append(label)
    rows = []
    for text_hash, group in grouped.items():
        row: dict[str, Any] = {
            "text": group[0]["text"],
            "text_hash": text_hash,
            "document_key": group[0].get("document_key") or text_hash,
            "annotators": sorted({g["annotator"] for g in group}),
            "source": "database",
            "lang": group[0].get("language") or None,
        }
        for name in LABEL_NAMES:
            votes = [int(g[name]) for g in group if g.get(name) is not None]
            positives = sum(votes)
            if not votes or positives * 2 == len(votes):
                row[name] = None
            else:
                row[name] = int(positives * 2 > len(votes))
        rows.append(row)
    return rows


def document_split(document_key: str, validation_fraction: float, test_fraction: float) -> str:
    """The split of every sentence of a document: a stable function of the document alone."""
    fraction = hash_fraction(f"document:{document_key}")
    if fraction < test_fraction:
        return "test"
    if fraction < test_fraction + validation_fraction:
        return "validation"
    return "train"


def _display(path: Path) -> str:
    """A corpus path as recorded in a model's configuration: never an absolute path of this machine."""
    for base in (Path.cwd(), PROJECT_ROOT):
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return path.name


def _text_key(text: str) -> str:
    return " ".join(text.casefold().split())


def corpus_repeat(path: str | os.PathLike[str]) -> tuple[Path, int]:
    """``DIR@N`` -> (DIR, N): a corpus whose training rows count N times; plain ``DIR`` -> 1."""
    text = os.fspath(path)
    stem, at, count = text.rpartition("@")
    if at and count.isdigit():
        if int(count) < 1:
            raise InputError(f"corpus {text}: the repeat after '@' must be at least 1")
        return Path(stem), int(count)
    return Path(text), 1


def held_out(row: dict[str, Any], patterns: Sequence[str]) -> bool:
    """Whether the row's document matches one of the glob ``patterns`` (``whitepapers/bitcoin/*``)."""
    document = str(row.get("document") or "").split("#", 1)[0]
    return bool(document) and any(fnmatch.fnmatchcase(document, p) for p in patterns)


def training_data_from_store(
    store: Any | None,
    corpora: Sequence[str | os.PathLike[str]] | None = None,
    *,
    validation_fraction: float = VALIDATION_FRACTION,
    test_fraction: float = TEST_FRACTION,
    hold_out_documents: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> tuple[TrainingData, dict[str, Any]]:
    """Stored labels plus ``corpora`` (default: :func:`default_corpora`) as one training set.

    With ``store=None`` the corpora alone, merged split by split. Rows of a document matching
    one of ``hold_out_documents`` (glob patterns over the ``document`` field) never train, so a
    benchmark that reads those documents whole measures text the model has not seen; they stay
    in validation and test.

    Returns the data and a report: label and sentence counts, what was skipped and why.
    """
    paths = [Path(p) for p in corpora] if corpora else default_corpora(say)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    sources: dict[str, str] = {}
    report: dict[str, Any] = {
        "corpora": [],
        "labels": 0,
        "sentences_labelled": 0,
        "partial": 0,
        "from_database": {"train": 0, "validation": 0, "test": 0},
        "removed_from_train": 0,
        "held_out_documents": list(hold_out_documents),
        "held_out_rows": 0,
    }
    # A repeated corpus counts more in the loss: its training rows are seen `repeat` times an
    # epoch (a small set of the text users bring, beside a larger written one).
    repeats: dict[str, int] = {}
    for path in paths:
        path, repeat = corpus_repeat(path)
        if not path.exists():
            raise InputError(f"corpus {path} does not exist")
        data = resolve_training_data(path)
        splits["train"] += data.train
        repeats.update((_text_key(r["text"]), repeat) for r in data.train)
        splits["validation"] += data.validation
        splits["test"] += data.test or []
        report["corpora"].append(
            {
                "path": str(path),
                "repeat": repeat,
                "train": len(data.train),
                "validation": len(data.validation),
                "test": len(data.test or []),
            }
        )
    if hold_out_documents:
        kept_train = [r for r in splits["train"] if not held_out(r, hold_out_documents)]
        report["held_out_rows"] = len(splits["train"]) - len(kept_train)
        splits["train"] = kept_train
    stored = store.labels() if store is not None else []
    report["labels"] = len(stored)
    merged = consensus_labels(stored)
    report["sentences_labelled"] = len(merged)
    for row in merged:
        if any(row[name] is None for name in LABEL_NAMES):
            report["partial"] += 1
            continue
        split = document_split(row["document_key"], validation_fraction, test_fraction)
        kept = {k: row[k] for k in ("text", *LABEL_NAMES, "source")}
        if row["lang"]:
            kept["lang"] = row["lang"]
        splits[split].append(kept)
        repeats.pop(_text_key(kept["text"]), None)  # a stored label replaces the corpus rows
        report["from_database"][split] += 1
    if not merged and store is not None:
        say("The database holds no labels; training on the corpora alone.")
    # Evaluation texts never train: a sentence in validation or test leaves the other splits.
    in_test = {_text_key(r["text"]) for r in splits["test"]}
    splits["validation"] = [r for r in splits["validation"] if _text_key(r["text"]) not in in_test]
    evaluation = in_test | {_text_key(r["text"]) for r in splits["validation"]}
    before = len(splits["train"])
    unique_train: dict[str, dict[str, Any]] = {}
    for row in splits["train"]:
        key = _text_key(row["text"])
        if key in evaluation:
            continue
        # A stored human label comes after the corpora and replaces a corpus row of the same text.
        unique_train[key] = row
    report["removed_from_train"] = before - len(unique_train)
    splits["train"] = [row for key, row in unique_train.items() for _ in range(repeats.get(key, 1))]
    if not splits["train"] or not splits["validation"]:
        raise InputError(
            "not enough labelled sentences to train and validate: add a corpus with --corpus "
            "or label more sentences"
        )
    names = ", ".join(_display(p) for p in paths) or "no corpus"
    if store is None:
        sources = {"train": names, "validation": names}
        if splits["test"]:
            sources["test"] = names
    else:
        sources = {
            "train": f"{names} + {report['from_database']['train']} database labels",
            "validation": f"{names} + {report['from_database']['validation']} database labels",
            "database": Path(str(getattr(store, "path", "") or "database")).name,
        }
        if splits["test"]:
            sources["test"] = f"{names} + {report['from_database']['test']} database labels"
    report["train"], report["validation"], report["test"] = (
        len(splits["train"]),
        len(splits["validation"]),
        len(splits["test"]),
    )
    return TrainingData(
        splits["train"], splits["validation"], splits["test"] or None, sources
    ), report
