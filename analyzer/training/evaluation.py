"""Held-out evaluation of a hype scorer on several test sets, its report and its model card.

Test sets are reported **each on its own**, never pooled (:func:`standard_sets`):

``written``
    The test split of the project's own corpus (``corpora/hype/test.jsonl``), written for the
    project. Its text may be shown anywhere.
``real-en``
    The test split of the real-text English set (``corpora/hype-real/annotations.jsonl``),
    materialised in memory from the originals named by ``--sources``.
    Skipped, with the reason, when the labels or the originals are absent.
``real-ja``
    The same for real Japanese text (``corpora/hype-real-ja``, originals named by ``--ja-sources``),
    when its labels exist.
any JSONL the user names
    Labelled rows as :func:`analyzer.training.data.read_labelled` reads them.

For each set and label:

- **Model**: precision, recall and F1 of the positive class and macro F1 over both classes at
  the model's threshold (config ``thresholds``, applied to the temperature-calibrated
  probability), AUROC, average precision, Brier score, the confusion matrix, and the
  **expected calibration error** (ECE): the predicted positive-class probabilities are put
  into :data:`ECE_BINS` = 10 equal-width bins (bin *i* holds ``i/10 < p <= (i+1)/10``, the
  first bin also ``p = 0``), and ECE is the count-weighted mean over non-empty bins of
  ``|observed positive rate - mean predicted probability|``.
- **Cue baselines**, each scored as a ranker (AUROC) for *every* label, beside the model:
  ``digit`` (1 if the sentence holds any decimal digit, else 0), ``exclaim_emoji`` (1 if it
  holds ``!``, ``！`` or an emoji), ``hype_lexicon`` (the number of matches of
  :data:`HYPE_LEXICON`), and ``zero_shot`` (cosine similarity to a positive minus a negative
  description of the label with the same base encoder, :data:`ZERO_SHOT_DESCRIPTIONS`). The
  *best cue* of a label is the highest AUROC among the three cues; the model's margin over it
  is what the real-text target checks. A tied cue (0/1) ranks ties as half right, as AUROC does.
- **Breakdown by source type** (``source_type``, else ``source``): AUROC and macro F1 per label
  with the sentence and positive counts.
- **Worst errors** per label: the ``k`` false positives with the highest probability and the
  ``k`` false negatives with the lowest, each with its id and the sha256 of its text. The text
  itself is kept only for sets whose text is public (the written corpus). Everything written
  into a model directory or committed goes through :func:`public_metrics`, which drops the
  text of the other sets: real text appears only in the local output folder.

Sentences in a language the model does not support are left out of a set's metrics and counted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.scoring.calibration import expected_calibration_error, reliability_bins
from analyzer.scoring.encoder import load_base_encoder
from analyzer.scoring.scorer import LABELS, HypeScorer

PROJECT = Path(__file__).resolve().parents[2]
ECE_BINS = 10
MIN_POSITIVES = 5  # an AUROC target counts only on a set with at least this many positives

# Targets (issue: the classifier on real text). ``None`` where a set is not measured.
TARGETS: dict[str, Any] = {
    "written": {"auroc": 0.97},
    "real-en": {
        "auroc": 0.90,
        "margin_over_best_cue": 0.10,
        "margin_labels": ["hype", "growth"],
        "ece": 0.05,
    },
    "real-ja": {"auroc": 0.90},
}

# --------------------------------------------------------------------------- cue baselines

# The hype lexicon baseline: a small list of promotional words and phrases, written for this
# module. Matching is case-insensitive on word boundaries; an entry ending in ``*`` matches
# any ending ("skyrocket*": skyrockets, skyrocketing); a hyphen or space inside an entry
# matches either. Japanese entries match as substrings (no word boundaries in Japanese).
HYPE_LEXICON: tuple[str, ...] = (
    "revolutionar*",
    "revolutioni*",
    "game-chang*",
    "skyrocket*",
    "moon*",
    "massive*",
    "unprecedented",
    "groundbreaking",
    "disrupt*",
    "explosive*",
    "incredibl*",
    "unstoppable",
    "breakthrough*",
    "cutting-edge",
    "world-class",
    "best-in-class",
    "unparalleled",
    "limitless",
    "soar*",
    "boom*",
    "supercycle",
    "paradigm shift*",
    "transformative",
    "mind-blowing",
    "huge",
    "amazing",
    "ultimate",
    "exponential*",
    "once-in-a-generation",
    "biggest",
    "greatest",
    "insane*",
    "1000x",
    "100x",
    "10x",
    "parabolic",
    "next-generation",
    "革命的",
    "画期的",
    "爆発的",
    "驚異的",
    "圧倒的",
    "史上最",
    "急騰",
    "爆上げ",
    "最強",
    "桁違い",
)


def _lexicon_pattern(entries: Sequence[str]) -> re.Pattern[str]:
    latin, cjk = [], []
    for entry in entries:
        wildcard = entry.endswith("*")
        stem = entry.rstrip("*")
        if stem.isascii():
            body = r"[-\s]".join(re.escape(part) for part in re.split(r"[-\s]", stem))
            latin.append(r"\b" + body + (r"\w*" if wildcard else r"\b"))
        else:
            cjk.append(re.escape(stem))
    return re.compile("|".join(latin + cjk), re.IGNORECASE)


_LEXICON_RE = _lexicon_pattern(HYPE_LEXICON)
_DIGIT_RE = re.compile(r"\d")
_EXCLAIM_EMOJI_RE = re.compile("[!！\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")

CUE_BASELINES: dict[str, str] = {
    "digit": "1 if the sentence holds a decimal digit, else 0",
    "exclaim_emoji": "1 if it holds '!', '！' or an emoji, else 0",
    "hype_lexicon": "the number of hype-lexicon matches (HYPE_LEXICON)",
}


def cue_scores(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Each cue baseline's score per text (higher = more likely positive, for any label)."""
    return {
        "digit": np.array([1.0 if _DIGIT_RE.search(t) else 0.0 for t in texts]),
        "exclaim_emoji": np.array([1.0 if _EXCLAIM_EMOJI_RE.search(t) else 0.0 for t in texts]),
        "hype_lexicon": np.array([float(len(_LEXICON_RE.findall(t))) for t in texts]),
    }


def lexicon_matches(text: str) -> list[str]:
    """The hype-lexicon matches in ``text`` (what the ``hype_lexicon`` baseline counts)."""
    return _LEXICON_RE.findall(text)


# Zero-shot label descriptions: (positive, negative).
ZERO_SHOT_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "hype": (
        "Promotional hype with superlatives and exuberance: revolutionary, game-changing, "
        "the biggest ever, unstoppable, to the moon!",
        "A neutral, measured, factual statement without promotion.",
    ),
    "growth": (
        "A forecast of future growth: demand will keep growing, the market will expand, "
        "revenue is expected to double next year.",
        "A statement about the past or the present with no forecast of growth.",
    ),
    "evidence": (
        "A concrete, verifiable fact with figures: revenue was $35.1 billion in the third "
        "quarter, according to the company's filing.",
        "A vague opinion or claim with no checkable facts or figures.",
    ),
}


# --------------------------------------------------------------------------- metrics


def auroc(y: Any, scores: Any) -> float | None:
    """AUROC of ``scores`` as a ranker of ``y`` (ties count half); ``None`` with one class only."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    if not 0 < y.sum() < len(y):
        return None
    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Classification, ranking and calibration metrics for one binary label."""
    from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support

    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=np.float64)
    predicted = (p >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, average="binary", pos_label=1, zero_division=0
    )
    both_classes = 0 < y.sum() < len(y)
    tp = int(((predicted == 1) & (y == 1)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    tn = int(((predicted == 0) & (y == 0)).sum())
    return {
        "threshold": float(threshold),
        "support_positive": int(y.sum()),
        "support_negative": int(len(y) - y.sum()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "macro_f1": float(f1_score(y, predicted, average="macro", labels=[0, 1], zero_division=0)),
        "accuracy": float((predicted == y).mean()) if len(y) else math.nan,
        "auroc": auroc(y, p),
        "average_precision": float(average_precision_score(y, p)) if both_classes else None,
        "brier": float(np.mean((p - y) ** 2)) if len(y) else math.nan,
        "ece": expected_calibration_error(p, y, ECE_BINS),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def zero_shot_scores(encoder: Any, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """(n, labels) zero-shot margins: cos(sentence, positive description) - cos(sentence, negative)."""
    from analyzer.scoring.encoder import SentenceEncoder

    if not isinstance(encoder, SentenceEncoder):
        raise TypeError("encoder must be a SentenceEncoder")
    sentences = encoder.embed(list(texts), batch_size).numpy()
    descriptions = [text for label in LABELS for text in ZERO_SHOT_DESCRIPTIONS[label]]
    anchors = encoder.embed(descriptions, batch_size).numpy()
    similarity = sentences @ anchors.T  # embeddings are L2-normalised: dot product = cosine
    return similarity[:, 0::2] - similarity[:, 1::2]


def zero_shot_metrics(y: np.ndarray, margin: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import f1_score, precision_recall_curve

    y = np.asarray(y, dtype=int)
    predicted = (margin > 0).astype(int)
    both = 0 < y.sum() < len(y)
    best_f1 = None
    if both:
        precision, recall, _ = precision_recall_curve(y, margin)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1s = np.where(
                precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0
            )
        best_f1 = float(np.nanmax(f1s))
    return {
        "auroc": auroc(y, margin),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "macro_f1": float(f1_score(y, predicted, average="macro", labels=[0, 1], zero_division=0)),
        "best_threshold_f1": best_f1,
    }


def best_cue(
    model_auroc: dict[str, float | None], baselines: dict[str, dict[str, float | None]]
) -> dict[str, Any]:
    """Per label: the cue baseline (not zero-shot) with the highest AUROC and the model's margin over it."""
    out: dict[str, Any] = {}
    for label in LABELS:
        candidates = [
            (v[label], name)
            for name, v in baselines.items()
            if name in CUE_BASELINES and v[label] is not None
        ]
        if not candidates:
            out[label] = {"baseline": None, "auroc": None, "margin": None}
            continue
        value, name = max(candidates)
        model = model_auroc.get(label)
        out[label] = {
            "baseline": name,
            "auroc": value,
            "margin": None if model is None else model - value,
        }
    return out


def by_group(
    groups: Sequence[str], y: np.ndarray, p: np.ndarray, thresholds: Sequence[float]
) -> dict[str, Any]:
    """Per group: sentence and positive counts, AUROC and macro F1 per label."""
    from sklearn.metrics import f1_score

    out: dict[str, Any] = {}
    groups_array = np.asarray(groups)
    for group in sorted(set(groups)):
        mask = groups_array == group
        out[group] = {
            "sentences": int(mask.sum()),
            "positives": {label: int(y[mask, j].sum()) for j, label in enumerate(LABELS)},
            "auroc": {label: auroc(y[mask, j], p[mask, j]) for j, label in enumerate(LABELS)},
            "macro_f1": {
                label: float(
                    f1_score(
                        y[mask, j],
                        (p[mask, j] >= thresholds[j]).astype(int),
                        average="macro",
                        labels=[0, 1],
                        zero_division=0,
                    )
                )
                for j, label in enumerate(LABELS)
            },
        }
    return out


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def worst_errors(
    rows: Sequence[dict[str, Any]],
    y: np.ndarray,
    p: np.ndarray,
    thresholds: Sequence[float],
    k: int = 10,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per label, the ``k`` most confident errors at the threshold.

    ``false_positives``: label 0, predicted positive, highest probability first.
    ``false_negatives``: label 1, predicted negative, lowest probability first. Ties by id.
    """
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for j, label in enumerate(LABELS):
        predicted = p[:, j] >= thresholds[j]
        fp = [i for i in range(len(rows)) if y[i, j] == 0 and predicted[i]]
        fn = [i for i in range(len(rows)) if y[i, j] == 1 and not predicted[i]]
        fp.sort(key=lambda i: (-p[i, j], str(rows[i].get("id") or "")))
        fn.sort(key=lambda i: (p[i, j], str(rows[i].get("id") or "")))
        out[label] = {
            "false_positives": [_error_entry(rows[i], p[i, j]) for i in fp[:k]],
            "false_negatives": [_error_entry(rows[i], p[i, j]) for i in fn[:k]],
        }
    return out


def _error_entry(row: dict[str, Any], probability: float) -> dict[str, Any]:
    text = row["text"]
    return {
        "id": row.get("id"),
        "sha256": row.get("sha256") or text_sha256(text),
        "source_type": row.get("source_type") or row.get("source"),
        "probability": round(float(probability), 4),
        "text": text,
    }


def evaluate_scorer(
    scorer: HypeScorer,
    rows: Sequence[dict[str, Any]],
    *,
    zero_shot: bool = True,
    n_worst: int = 10,
    data_name: str | None = None,
    text_public: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """All metrics of ``scorer`` on one labelled set (``text`` + 0/1 labels; optional ``id``,
    ``lang``, ``source``/``source_type``, ``sha256``)."""
    supported = [r for r in rows if scorer.supports_language(r.get("lang"))]
    excluded = len(rows) - len(supported)
    if not supported:
        from analyzer.errors import InputError

        raise InputError("no evaluation sentence is in a language the model supports")
    texts = [r["text"].strip() for r in supported]
    y = np.array([[int(r[label]) for label in LABELS] for r in supported], dtype=int)
    logits = scorer.logits(texts).astype(np.float64)
    temperatures = np.asarray(scorer.temperatures)
    probs = 1.0 / (1.0 + np.exp(-logits / temperatures))
    raw_probs = 1.0 / (1.0 + np.exp(-logits))
    thresholds = scorer.thresholds

    labels: dict[str, Any] = {}
    for j, label in enumerate(LABELS):
        metrics = binary_metrics(y[:, j], probs[:, j], thresholds[j])
        metrics["ece_uncalibrated"] = expected_calibration_error(raw_probs[:, j], y[:, j], ECE_BINS)
        metrics["temperature"] = float(temperatures[j])
        metrics["reliability"] = reliability_bins(probs[:, j], y[:, j], ECE_BINS)
        labels[label] = metrics

    scores = cue_scores(texts)
    zero = None
    if zero_shot:
        margins = _zero_shot_margins(scorer, texts)
        zero = {label: zero_shot_metrics(y[:, j], margins[:, j]) for j, label in enumerate(LABELS)}
        zero["descriptions"] = {label: list(pair) for label, pair in ZERO_SHOT_DESCRIPTIONS.items()}
        scores["zero_shot"] = margins  # a 2-D score: one column per label, handled below
    baselines = {
        name: {
            label: auroc(y[:, j], values[:, j] if values.ndim == 2 else values)
            for j, label in enumerate(LABELS)
        }
        for name, values in scores.items()
    }
    model_auroc = {label: labels[label]["auroc"] for label in LABELS}

    summary = {
        "macro_f1": float(np.mean([labels[label]["macro_f1"] for label in LABELS])),
        "auroc": _mean_or_none(list(model_auroc.values())),
        "ece": float(np.mean([labels[label]["ece"] for label in LABELS])),
    }
    if zero:
        summary["zero_shot_macro_f1"] = float(
            np.mean([zero[label]["macro_f1"] for label in LABELS])
        )
        summary["zero_shot_auroc"] = _mean_or_none([zero[label]["auroc"] for label in LABELS])

    return {
        "name": data_name,
        "description": description,
        "text_public": text_public,
        "model": model_summary(scorer),
        "data": {
            "name": data_name,
            "sentences": len(supported),
            "excluded_unsupported_language": excluded,
            "positives": {label: int(y[:, j].sum()) for j, label in enumerate(LABELS)},
        },
        "summary": summary,
        "labels": labels,
        "baselines": baselines,
        "best_cue": best_cue(model_auroc, baselines),
        "zero_shot": zero,
        "by_language": by_group(
            [str(r.get("lang") or "und") for r in supported], y, probs, thresholds
        ),
        "by_source_type": by_group(
            [str(r.get("source_type") or r.get("source") or "unknown") for r in supported],
            y,
            probs,
            thresholds,
        ),
        "worst_errors": worst_errors(supported, y, probs, thresholds, n_worst),
    }


def model_summary(scorer: HypeScorer) -> dict[str, Any]:
    return {
        "model_id": scorer.model_id,
        "model_version": scorer.model_version,
        "method": scorer.method,
        "base": scorer.config.get("base"),
        "languages": scorer.languages,
        "multilingual": scorer.multilingual,
        "thresholds": dict(zip(LABELS, scorer.thresholds)),
    }


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _zero_shot_margins(scorer: HypeScorer, texts: Sequence[str]) -> np.ndarray:
    from analyzer.scoring.encoder import SentenceEncoder

    if scorer.method == "head":
        encoder = scorer.encoder.with_layers([-1])  # frozen: it is the base encoder
    else:
        model, tokenizer, max_length = load_base_encoder(scorer.config["base"])
        encoder = SentenceEncoder(model, tokenizer, max_length, scorer.device)
    return zero_shot_scores(encoder, texts, scorer.batch_size)


# --------------------------------------------------------------------------- test sets


@dataclass
class EvalSet:
    """One test set: its rows, or why it was skipped."""

    name: str
    description: str
    rows: list[dict[str, Any]] | None = None
    text_public: bool = False
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


def written_set(split: str = "test", corpus: Path | None = None) -> EvalSet:
    from analyzer.training.data import SPLIT_FILES, read_labelled

    path = (corpus or PROJECT / "corpora" / "hype") / SPLIT_FILES[split]
    description = f"corpora/hype {split} split (sentences written for the project)"
    if not path.is_file():
        return EvalSet(
            "written", description, skipped=f"{path.name} not found in the corpus folder"
        )
    return EvalSet("written", description, read_labelled(path), text_public=True)


def real_set(
    name: str,
    corpus: Path,
    sources: Path | None,
    *,
    split: str = "test",
    language: str = "en",
) -> EvalSet:
    """The ``split`` rows of a real-text annotation corpus, materialised in memory from ``sources``.

    Skipped (with the reason) when the corpus has no labelled ``annotations.jsonl`` or the
    originals are absent. Refused spans (missing or changed files) are counted in ``notes``;
    a sentence marked ``duplicate_of`` another is evaluated once.
    """
    from analyzer.training.annotations import materialize, read_annotations

    description = f"{_display_path(corpus)} {split} split (real text written by others, materialised from the originals)"
    annotations = corpus / "annotations.jsonl"
    if not annotations.is_file():
        return EvalSet(
            name,
            description,
            skipped=f"no labelled annotations yet ({_display_path(annotations)} is absent)",
        )
    if sources is None:
        return EvalSet(
            name,
            description,
            skipped="no originals folder given (pass --sources DIR to materialise the text)",
        )
    if not sources.is_dir():
        return EvalSet(
            name,
            description,
            skipped=f"the originals folder {_display_path(sources)} is absent (pass --sources DIR to materialise the text)",
        )
    records = [r for r in read_annotations(annotations) if r.get("split") == split]
    duplicates = sum(1 for r in records if r.get("duplicate_of"))
    records = [r for r in records if not r.get("duplicate_of")]
    rows, problems = materialize(records, sources)
    result = EvalSet(name, description, text_public=False)
    if problems:
        result.notes.append(
            f"{len(problems)} of {len(records)} spans refused (missing or changed originals); left out"
        )
    if duplicates:
        result.notes.append(f"{duplicates} repeated sentences (duplicate_of) evaluated once")
    strata = [str(r.get("stratum") or "") for r in rows]
    if "random" in strata:
        random_share = sum(s == "random" for s in strata)
        result.notes.append(
            f"{random_share} of {len(rows)} sentences come from the uniform random stratum; the rest "
            "oversample likely positives and non-prose fragments (see the corpus datasheet), so "
            "rates and calibration differ from a natural sample"
        )
    if not rows:
        result.skipped = f"none of the {len(records)} {split} annotations could be materialised from {_display_path(sources)}"
        return result
    for row in rows:
        row.setdefault("lang", language)
        row["source"] = row.get("source_type")
    result.rows = rows
    return result


def file_set(path: Path, split: str = "test", name: str | None = None) -> EvalSet:
    """A labelled JSONL the user names (or a split folder's ``{split}.jsonl``)."""
    from analyzer.errors import InputError
    from analyzer.training.data import SPLIT_FILES, read_labelled

    path = Path(path)
    if path.is_dir():
        inner = path / SPLIT_FILES[split]
        if not inner.is_file():
            raise InputError(
                f"{inner} does not exist; pass a JSONL file or a folder with {SPLIT_FILES[split]}"
            )
        label = name or path.name
        path = inner
    else:
        label = name or path.stem
    return EvalSet(
        label, f"{path.name} (named on the command line)", read_labelled(path), text_public=False
    )


STANDARD_SETS = ("written", "real-en", "real-ja")


def standard_sets(
    names: Iterable[str] = STANDARD_SETS,
    *,
    split: str = "test",
    sources: Path | None = None,
    real_corpus: Path | None = None,
    ja_corpus: Path | None = None,
    ja_sources: Path | None = None,
) -> list[EvalSet]:
    """The project's test sets (see the module docstring), in a fixed order."""
    from analyzer.errors import InputError

    wanted = list(names)
    unknown = [n for n in wanted if n not in STANDARD_SETS]
    if unknown:
        raise InputError(
            f"unknown test set {', '.join(unknown)}; known: {', '.join(STANDARD_SETS)}"
        )
    out = []
    for name in STANDARD_SETS:
        if name not in wanted:
            continue
        if name == "written":
            out.append(written_set(split))
        elif name == "real-en":
            out.append(
                real_set(
                    name,
                    real_corpus or PROJECT / "corpora" / "hype-real",
                    sources,
                    split=split,
                    language="en",
                )
            )
        else:
            out.append(
                real_set(
                    name,
                    ja_corpus or PROJECT / "corpora" / "hype-real-ja",
                    ja_sources,
                    split=split,
                    language="ja",
                )
            )
    return out


def _display_path(path: Path) -> str:
    """A path relative to the project (or its parent) for reports: no machine-specific prefix."""
    resolved = Path(path).resolve()
    for base, prefix in ((PROJECT, ""), (PROJECT.parent, "../")):
        try:
            return prefix + str(resolved.relative_to(base))
        except ValueError:
            continue
    return Path(path).name


def evaluate_sets(
    scorer: HypeScorer,
    sets: Sequence[EvalSet],
    *,
    zero_shot: bool = True,
    n_worst: int = 10,
    split: str = "test",
    progress: Any = None,
) -> dict[str, Any]:
    """Evaluate ``scorer`` on every set separately; the result also checks the targets.

    The top-level ``data``, ``summary`` and ``labels`` repeat the first evaluated set (the
    written one when present), for readers of a single-set ``metrics.json``.
    """
    from analyzer.errors import InputError

    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for eval_set in sets:
        if eval_set.rows is None:
            skipped[eval_set.name] = eval_set.skipped or "not available"
            continue
        if progress:
            progress(f"evaluating {eval_set.name}: {len(eval_set.rows)} sentences")
        try:
            metrics = evaluate_scorer(
                scorer,
                eval_set.rows,
                zero_shot=zero_shot,
                n_worst=n_worst,
                data_name=eval_set.name,
                text_public=eval_set.text_public,
                description=eval_set.description,
            )
        except InputError as exc:  # e.g. a set wholly in a language the model does not claim
            skipped[eval_set.name] = str(exc)
            continue
        metrics["notes"] = list(eval_set.notes)
        results[eval_set.name] = metrics
    if not results:
        raise InputError(
            "no test set could be evaluated: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
        )
    primary = results.get("written") or next(iter(results.values()))
    return {
        "model": model_summary(scorer),
        "split": split,
        "protocol": protocol(),
        "selection": selection_record(scorer.config),
        "targets": TARGETS,
        "target_results": check_targets(results),
        "sets": results,
        "skipped": skipped,
        "data": primary["data"],
        "summary": primary["summary"],
        "labels": primary["labels"],
    }


def protocol() -> dict[str, Any]:
    return {
        "ece_bins": ECE_BINS,
        "ece": "equal-width bins of the calibrated positive-class probability; count-weighted mean |observed rate - mean probability|",
        "threshold": "the model's config thresholds, on the temperature-calibrated probability",
        "cue_baselines": CUE_BASELINES,
        "hype_lexicon": list(HYPE_LEXICON),
        "zero_shot": "cos(sentence, positive description) - cos(sentence, negative description), same base encoder",
        "best_cue": "highest AUROC among the cue baselines (digit, exclaim_emoji, hype_lexicon); zero-shot is reported beside it",
    }


def selection_record(config: dict[str, Any]) -> dict[str, str]:
    """Which split chose what, from the model's config (recorded by training, else derived)."""
    training = config.get("training") or {}
    recorded = training.get("selection")
    if isinstance(recorded, dict) and recorded:
        return dict(recorded)
    out: dict[str, str] = {}
    stage = next(iter((training.get("stages") or {}).values()), None)
    if stage:
        out["epoch"] = (
            f"validation split: the epoch with the lowest validation loss (epoch {stage.get('best_epoch')} "
            f"of {stage.get('epochs_run')} run)"
        )
    if training:
        out["temperatures"] = (
            "validation split: one temperature per label minimising the validation NLL"
        )
    if training.get("language_check"):
        out["languages"] = (
            f"validation split: a language is claimed when its validation AUROC reaches "
            f"{training['language_check'].get('min_auroc')}"
        )
    thresholds = config.get("thresholds") or {}
    if thresholds and all(float(v) == 0.5 for v in thresholds.values()):
        out["thresholds"] = "none: fixed at 0.5 on the calibrated probability"
    else:
        out["thresholds"] = "not recorded"
    out["variant"] = (
        "not recorded in the model's config: the options were chosen outside `analyzer train`, possibly "
        "by comparing variants on a test split, so read that split's figures as optimistic"
    )
    out["test"] = "every test set is evaluated after training, once; nothing is chosen on it"
    return out


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target and label: value, required bound, met (``None`` when not measured)."""
    rows: list[dict[str, Any]] = []

    def add(
        target: str,
        set_name: str,
        label: str | None,
        value: float | None,
        bound: float,
        at_least: bool,
        positives: int | None = None,
    ) -> None:
        met = None if value is None else (value >= bound if at_least else value <= bound)
        row = {
            "target": target,
            "set": set_name,
            "label": label,
            "value": value,
            "required": (">= " if at_least else "<= ") + f"{bound}",
            "met": met,
        }
        if positives is not None and positives < MIN_POSITIVES:
            # A ranking of one or two positives says nothing: reported, not counted.
            row["met"] = None
            row["note"] = (
                f"{positives} positive{'s' if positives != 1 else ''}, fewer than {MIN_POSITIVES}"
            )
        rows.append(row)

    def positives(set_metrics: dict[str, Any] | None, label: str) -> int | None:
        if not set_metrics:
            return None
        return set_metrics["labels"][label].get("support_positive")

    for label in LABELS:
        written = results.get("written")
        add(
            "AUROC",
            "written",
            label,
            written["labels"][label]["auroc"] if written else None,
            TARGETS["written"]["auroc"],
            True,
        )
    real = results.get("real-en")
    spec = TARGETS["real-en"]
    for label in LABELS:
        add(
            "AUROC",
            "real-en",
            label,
            real["labels"][label]["auroc"] if real else None,
            spec["auroc"],
            True,
            positives(real, label),
        )
    for label in spec["margin_labels"]:
        add(
            "AUROC above best cue",
            "real-en",
            label,
            real["best_cue"][label]["margin"] if real else None,
            spec["margin_over_best_cue"],
            True,
            positives(real, label),
        )
    for label in LABELS:
        add(
            "ECE",
            "real-en",
            label,
            real["labels"][label]["ece"] if real else None,
            spec["ece"],
            False,
        )
    # Japanese: the real set where it can rank a label (it may lack positives of some), and the
    # written corpus's Japanese test sentences whenever the model scores them.
    japanese = results.get("real-ja")
    written_ja = ((results.get("written") or {}).get("by_language") or {}).get("ja")
    for label in LABELS:
        value = japanese["labels"][label]["auroc"] if japanese else None
        add(
            "AUROC",
            "real-ja",
            label,
            value,
            TARGETS["real-ja"]["auroc"],
            True,
            positives(japanese, label),
        )
    if written_ja:
        for label in LABELS:
            add(
                "AUROC",
                "written (ja)",
                label,
                written_ja["auroc"][label],
                TARGETS["real-ja"]["auroc"],
                True,
                (written_ja.get("positives") or {}).get(label),
            )
    return rows


# --------------------------------------------------------------------------- public copies


def public_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to commit: worst errors of sets whose text is not public keep ids and hashes only."""
    out = copy.deepcopy(metrics)
    per_set = out.get("sets") if "sets" in out else {"": out}
    for set_metrics in per_set.values():
        if set_metrics.get("text_public"):
            continue
        for kinds in (set_metrics.get("worst_errors") or {}).values():
            for entries in kinds.values():
                for entry in entries:
                    entry.pop("text", None)
    return out


# --------------------------------------------------------------------------- output


def _as_multi(metrics: dict[str, Any]) -> dict[str, Any]:
    """A multi-set view of single-set metrics (what :func:`evaluate_scorer` returns)."""
    if "sets" in metrics:
        return metrics
    name = metrics.get("name") or "test"
    return {
        "model": metrics["model"],
        "split": "test",
        "protocol": protocol(),
        "selection": None,
        "targets": TARGETS,
        "target_results": check_targets({}),
        "sets": {name: metrics},
        "skipped": {},
        "data": metrics["data"],
        "summary": metrics["summary"],
        "labels": metrics["labels"],
    }


def reliability_figure(metrics: dict[str, Any]) -> Any:
    """A matplotlib figure (no global pyplot state) with one reliability diagram per label."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * len(LABELS), 4), dpi=100)
    axes = figure.subplots(1, len(LABELS))
    for axis, label in zip(np.atleast_1d(axes), LABELS):
        bins = metrics["labels"][label]["reliability"]
        points = [
            (m, r, c)
            for m, r, c in zip(bins["mean_probability"], bins["observed_rate"], bins["count"])
            if c
        ]
        axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
        if points:
            xs, ys, counts = zip(*points)
            sizes = [20 + 200 * c / max(counts) for c in counts]
            axis.plot(xs, ys, color="tab:blue", linewidth=1)
            axis.scatter(xs, ys, s=sizes, color="tab:blue", alpha=0.7, label="model")
        ece = metrics["labels"][label]["ece"]
        axis.set_title(f"{metrics.get('name') or ''} {label} (ECE {ece:.3f})".strip())
        axis.set_xlabel("predicted probability")
        axis.set_ylabel("observed frequency")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _escape_md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def metrics_markdown(metrics: dict[str, Any]) -> str:
    lines = [
        "| label | precision | recall | F1 | macro F1 | AUROC | avg. precision | ECE | positives / total |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label in LABELS:
        m = metrics["labels"][label]
        total = m["support_positive"] + m["support_negative"]
        lines.append(
            f"| {label} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['f1'])} | {_fmt(m['macro_f1'])} | "
            f"{_fmt(m['auroc'])} | {_fmt(m['average_precision'])} | {_fmt(m['ece'])} | {m['support_positive']} / {total} |"
        )
    return "\n".join(lines)


BASELINE_NAMES = {
    "digit": "digit present",
    "exclaim_emoji": "'!' or emoji",
    "hype_lexicon": "hype lexicon",
    "zero_shot": "zero-shot",
}


def baselines_table(metrics: dict[str, Any]) -> str:
    """Model AUROC beside every baseline's AUROC, per label, and the margin over the best cue."""
    names = [n for n in BASELINE_NAMES if n in metrics.get("baselines", {})]
    lines = [
        "| label | model | "
        + " | ".join(BASELINE_NAMES[n] for n in names)
        + " | best cue | model - best cue |",
        "|---|---|" + "---|" * len(names) + "---|---|",
    ]
    for label in LABELS:
        best = metrics["best_cue"][label]
        values = " | ".join(_fmt(metrics["baselines"][n][label]) for n in names)
        best_name = BASELINE_NAMES.get(best["baseline"], "n/a") if best["baseline"] else "n/a"
        lines.append(
            f"| {label} | **{_fmt(metrics['labels'][label]['auroc'])}** | {values} | {best_name} | {_signed(best['margin'])} |"
        )
    return "\n".join(lines)


def zero_shot_table(metrics: dict[str, Any]) -> str:
    baseline = metrics.get("zero_shot")
    if not baseline:
        return "_Zero-shot baseline not computed._"
    lines = [
        "| label | zero-shot AUROC | zero-shot F1 | zero-shot macro F1 | best-threshold F1 (upper bound) | model AUROC | model macro F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in LABELS:
        z, m = baseline[label], metrics["labels"][label]
        lines.append(
            f"| {label} | {_fmt(z['auroc'])} | {_fmt(z['f1'])} | {_fmt(z['macro_f1'])} | {_fmt(z['best_threshold_f1'])} | "
            f"{_fmt(m['auroc'])} | {_fmt(m['macro_f1'])} |"
        )
    return "\n".join(lines)


def calibration_table(metrics: dict[str, Any]) -> str:
    lines = [
        "| label | temperature | ECE before scaling | ECE after | Brier |",
        "|---|---|---|---|---|",
    ]
    for label in LABELS:
        m = metrics["labels"][label]
        lines.append(
            f"| {label} | {_fmt(m['temperature'])} | {_fmt(m['ece_uncalibrated'])} | {_fmt(m['ece'])} | {_fmt(m['brier'])} |"
        )
    return "\n".join(lines)


def group_table(groups: dict[str, Any], title: str = "source type") -> str:
    """AUROC (and positives) per label per group, with sentence counts."""
    lines = [
        f"| {title} | sentences | "
        + " | ".join(f"{label} AUROC (pos.)" for label in LABELS)
        + " | mean macro F1 |",
        "|---|---|" + "---|" * len(LABELS) + "---|",
    ]
    for group, info in groups.items():
        values = " | ".join(
            f"{_fmt(info['auroc'][label])} ({info['positives'][label]})" for label in LABELS
        )
        mean_f1 = float(np.mean([info["macro_f1"][label] for label in LABELS]))
        lines.append(f"| {_escape_md(group)} | {info['sentences']} | {values} | {_fmt(mean_f1)} |")
    return "\n".join(lines)


def errors_markdown(metrics: dict[str, Any], k: int | None = None) -> str:
    """The worst errors per label; sentences only where the set's text is public (else id and hash)."""
    public = bool(metrics.get("text_public"))
    lines = [
        "| label | error | p | id | sha256 | source type |" + (" sentence |" if public else ""),
        "|---|---|---|---|---|---|" + ("---|" if public else ""),
    ]
    for label in LABELS:
        kinds = (metrics.get("worst_errors") or {}).get(label) or {}
        for kind, short in (("false_positives", "FP"), ("false_negatives", "FN")):
            for entry in (kinds.get(kind) or [])[:k]:
                cells = [
                    label,
                    short,
                    f"{entry['probability']:.3f}",
                    f"`{entry.get('id') or '-'}`",
                    f"`{entry['sha256'][:12]}`",
                    _escape_md(str(entry.get("source_type") or "-")),
                ]
                if public:
                    cells.append(_escape_md(entry.get("text") or ""))
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def local_errors_markdown(metrics: dict[str, Any], k: int | None = None) -> str:
    """As :func:`errors_markdown` with the sentences of every set (for the local output only)."""
    return errors_markdown({**metrics, "text_public": True}, k)


def sets_table(multi: dict[str, Any]) -> str:
    lines = [
        "| test set | sentences | "
        + " | ".join(f"{label} AUROC" for label in LABELS)
        + " | mean macro F1 | mean ECE | best cue AUROC (hype / growth / evidence) |",
        "|---|---|" + "---|" * len(LABELS) + "---|---|---|",
    ]
    for name, m in multi["sets"].items():
        aurocs = " | ".join(_fmt(m["labels"][label]["auroc"]) for label in LABELS)
        cues = " / ".join(_fmt(m["best_cue"][label]["auroc"]) for label in LABELS)
        lines.append(
            f"| {name} | {m['data']['sentences']} | {aurocs} | {_fmt(m['summary']['macro_f1'])} | "
            f"{_fmt(m['summary']['ece'])} | {cues} |"
        )
    for name, reason in (multi.get("skipped") or {}).items():
        lines.append(f"| {name} | skipped: {_escape_md(reason)} |" + " |" * (len(LABELS) + 3))
    return "\n".join(lines)


def targets_table(multi: dict[str, Any]) -> str:
    lines = ["| target | set | label | value | required | met |", "|---|---|---|---|---|---|"]
    for row in multi.get("target_results") or []:
        met = (
            "not measured" + (f" ({row['note']})" if row.get("note") else "")
            if row["met"] is None
            else ("yes" if row["met"] else "**no**")
        )
        lines.append(
            f"| {row['target']} | {row['set']} | {row['label'] or '-'} | {_fmt(row['value'])} | {row['required']} | {met} |"
        )
    return "\n".join(lines)


def selection_markdown(selection: dict[str, str] | None) -> str:
    if not selection:
        return "_Not recorded._"
    return "\n".join(f"- **{key}**: {value}" for key, value in selection.items())


def _set_section(m: dict[str, Any], level: str, *, local: bool, k: int | None) -> list[str]:
    data = m["data"]
    parts = [
        f"{level} {m['name']}: {m.get('description') or ''}",
        "",
        f"{data['sentences']} sentences"
        + (
            f" ({data['excluded_unsupported_language']} left out: a language the model does not claim)"
            if data["excluded_unsupported_language"]
            else ""
        )
        + ". "
        + " ".join(m.get("notes") or []),
        "",
        metrics_markdown(m),
        "",
        "Beside the model, every baseline ranks every label (AUROC):",
        "",
        baselines_table(m),
        "",
        "By source type (AUROC per label, positives in brackets):",
        "",
        group_table(m["by_source_type"]),
        "",
    ]
    if len(m["by_language"]) > 1:
        parts += ["By language:", "", group_table(m["by_language"], "language"), ""]
    shown = (
        "the sentences"
        if (local or m.get("text_public"))
        else "annotation ids and sentence hashes only (the text stays with its authors)"
    )
    parts += [
        f"Worst errors (most confident false positives and false negatives per label; {shown}):",
        "",
        local_errors_markdown(m, k) if local else errors_markdown(m, k),
        "",
    ]
    return parts


def render_report(metrics: dict[str, Any], *, local: bool = False) -> str:
    """The evaluation report. ``local=True`` shows every set's sentences (never commit that one)."""
    multi = _as_multi(metrics)
    model = multi["model"]
    parts = [
        f"# Evaluation of {model['model_id']} ({model['model_version']})",
        "",
        f"Method `{model['method']}`, base `{model['base']}`, languages {', '.join(model['languages'])}. "
        f"Split evaluated: `{multi.get('split', 'test')}`. ECE over {ECE_BINS} equal-width bins.",
        "",
        "## Test sets, each on its own",
        "",
        sets_table(multi),
        "",
        "## Targets",
        "",
        targets_table(multi),
        "",
        "## Selection: which split chose what",
        "",
        selection_markdown(multi.get("selection")),
        "",
    ]
    for m in multi["sets"].values():
        parts += _set_section(m, "##", local=local, k=None)
        parts += [
            "Calibration:",
            "",
            calibration_table(m),
            "",
            "Confusion matrices:",
            "",
            "| label | TN | FP | FN | TP |",
            "|---|---|---|---|---|",
        ]
        for label in LABELS:
            c = m["labels"][label]["confusion"]
            parts.append(f"| {label} | {c['tn']} | {c['fp']} | {c['fn']} | {c['tp']} |")
        parts += ["", f"![reliability]({_plot_name(m['name'], multi)})", ""]
    return "\n".join(parts) + "\n"


def _plot_name(name: str | None, multi: dict[str, Any]) -> str:
    first = next(iter(multi["sets"]))
    return "reliability.png" if name == first else f"reliability-{_slug(name or 'set')}.png"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "set"


def write_evaluation(
    metrics: dict[str, Any], out_dir: str | Path, *, local: bool = False
) -> list[Path]:
    """Write ``metrics.json``, ``report.md`` and the reliability plots into ``out_dir``.

    With ``local=False`` (a model directory, anything committed) the files hold no text of
    non-public sets (:func:`public_metrics`); ``local=True`` keeps it, for a private folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    multi = _as_multi(metrics)
    written = metrics if local else public_metrics(metrics)
    metrics_file = out / "metrics.json"
    metrics_file.write_text(
        json.dumps(written, indent=2, ensure_ascii=False, default=_json_default) + "\n",
        encoding="utf-8",
    )
    report_file = out / "report.md"
    report_file.write_text(render_report(written, local=local), encoding="utf-8")
    files = [metrics_file, report_file]
    for name, m in multi["sets"].items():
        plot_file = out / _plot_name(name, multi)
        reliability_figure(m).savefig(plot_file, format="png")
        files.append(plot_file)
    return files


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def render_model_card(metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """The model card (README.md) from evaluation metrics and the model's config.

    It never shows text of a set whose text is not public: worst errors there are ids and hashes.
    """
    multi = _as_multi(public_metrics(metrics))
    model = multi["model"]
    training = config.get("training") or {}
    counts = training.get("train_counts") or {}
    validation_counts = training.get("validation_counts") or {}
    sources = training.get("data") or {}
    language_check = training.get("language_check") or {}
    results = multi.get("target_results") or []
    measured = [r for r in results if r["met"] is not None]
    lines = [
        f"# {model['model_id']}: hype / growth / evidence sentence classifier",
        "",
        "Scores each sentence with three independent probabilities: **hype** (promotional, "
        "exuberant or superlative language), **growth** (a forward-looking growth narrative) and "
        "**evidence** (a concrete, checkable fact). Definitions: `corpora/hype/GUIDELINES.md`.",
        "",
        "| | |",
        "|---|---|",
        f"| model_version | `{model['model_version']}` |",
        f"| method | `{model['method']}` |",
        f"| base encoder | `{model['base']}` (mean pooling of {_layers_text(config)}, L2-normalised, max {config.get('max_length')} tokens) |",
        f"| head | {_head_text(config.get('head') or {})} |",
        f"| languages | {', '.join(model['languages']) or 'n/a'}{' (multilingual base)' if model['multilingual'] else ''} |",
        f"| thresholds | {', '.join(f'{k} {_fmt(float(v), 2)}' for k, v in (config.get('thresholds') or {}).items()) or 'n/a'} (on the calibrated probability) |",
        f"| training time | {_fmt(training.get('train_seconds'), 1)} s on {training.get('device', 'n/a')} |",
        "",
        "## Test sets, each on its own",
        "",
        "No set is pooled with another. `written` is the project's own corpus; `real-en` (and "
        "`real-ja`) are text written by others, labelled as annotations and rebuilt from the "
        "originals at evaluation time. AUROC per label, macro F1 and ECE means over labels, and "
        "the best cue baseline's AUROC:",
        "",
        sets_table(multi),
        "",
        "## Targets",
        "",
        targets_table(multi),
        "",
        f"{sum(bool(r['met']) for r in measured)} of {len(measured)} measured targets met"
        + (
            f"; {len(results) - len(measured)} not measured (the set is absent)."
            if len(results) > len(measured)
            else "."
        ),
        "",
        "## Selection: which split chose what",
        "",
        selection_markdown(multi.get("selection") or selection_record(config)),
        "",
        "## Training data",
        "",
        f"Training split `{sources.get('train', 'n/a')}`: {counts.get('sentences', 'n/a')} sentences "
        f"(hype {counts.get('hype', 'n/a')}, growth {counts.get('growth', 'n/a')}, evidence {counts.get('evidence', 'n/a')}); "
        f"validation `{sources.get('validation', 'n/a')}`: {validation_counts.get('sentences', 'n/a')} sentences. "
        "Languages in training: "
        + (
            ", ".join(f"{k} {v}" for k, v in (training.get("train_languages") or {}).items())
            or "n/a"
        )
        + f". Data fingerprint `{training.get('data_fingerprint', 'n/a')}`.",
        "",
    ]
    if language_check.get("dropped"):
        lines += [
            "Languages seen in training but not claimed (validation AUROC below "
            f"{language_check.get('min_auroc')}): "
            + ", ".join(
                f"{lang} ({_fmt(language_check['auroc'].get(lang))})"
                for lang in language_check["dropped"]
            )
            + ". Documents in them are returned as unscored.",
            "",
        ]
    for m in multi["sets"].values():
        lines += _set_section(m, "##", local=False, k=3)
    if multi.get("documents"):
        lines += documents_markdown(multi["documents"])
    lines += [
        "## How the figures are computed",
        "",
        f"- Thresholded metrics use the model's thresholds on the temperature-calibrated probability. "
        f"ECE: {ECE_BINS} equal-width bins of the positive-class probability, the count-weighted mean "
        "of |observed rate - mean predicted probability|.",
        "- Cue baselines, each scored as a ranker for every label: digit present (0/1); '!' or "
        "emoji (0/1); hype lexicon (number of matches of a small list of promotional words, "
        "`HYPE_LEXICON` in `analyzer/training/evaluation.py`); zero-shot (cosine similarity to a "
        "positive minus a negative description of the label with the same base encoder). The best "
        "cue is the strongest of the first three.",
        "- Worst errors: per label the most confident false positives (highest probability, label 0) "
        "and false negatives (lowest probability, label 1); the full lists are in `report.md` and "
        "`metrics.json`. For real text only annotation ids and sentence hashes are shown; "
        "`analyzer evaluate --out DIR` writes the sentences into DIR only.",
        "",
        "## Use",
        "",
        "```python",
        "from analyzer import HypeScorer",
        "scorer = HypeScorer.from_pretrained()  # or a path to this directory",
        'scorer.score("This will change everything!")',
        "scorer.score_document(text)  # means, top-3 means and shares over sentences",
        "```",
        "",
        "## Limits",
        "",
        "- Read the `written` figures as an upper bound: that split comes from the same writer and "
        "corpus as the training data. The real-text sets say more about text users bring.",
        "- Sarcasm, negation, quoted or criticised hype and rhetorical questions are the hardest cases "
        "(see the worst errors).",
        "- Text in a language outside the claimed languages is not scored (`unscored: true`).",
        "- Probabilities are calibrated on the validation split's distribution; other domains may shift them "
        "(compare the ECE of each set).",
        "- A measure of language, not of truth: high evidence means checkable-looking claims, not verified ones.",
        "",
        "_All numbers on this card were written from `metrics.json` by `analyzer evaluate MODEL --out DIR "
        "--update-card` or `python benchmarks/bench_quality.py --update-card` (which adds the whole-document "
        "figures)._",
    ]
    return "\n".join(lines) + "\n"


def documents_markdown(documents: dict[str, Any]) -> list[str]:
    """Whole documents (from ``benchmarks/bench_quality.py``): prose hype share and document hype."""
    lines = [
        "## Whole documents",
        "",
        "Each whitepaper read as ingestion reads it and scored with `score_document`: the share of "
        "prose sentences above 0.5 hype (prose as the document step marks it) and the document "
        "hype mean (over scored sentences).",
        "",
        "| document | group | sentences | prose | prose hype > 0.5 | document hype mean |",
        "|---|---|---|---|---|---|",
    ]
    for group in ("technical", "promotional", "demo_promotional"):
        for name, figures in (documents.get(group) or {}).items():
            share = figures.get("prose_hype_share")
            lines.append(
                f"| {name} | {group.replace('_', ' ')} | {figures['sentences']} | {figures['prose_sentences']} | "
                f"{'n/a' if share is None else f'{share:.1%}'} | {_fmt(figures.get('document_hype_mean'))} |"
            )
    ranking = documents.get("ranking") or {}
    verdict = ranking.get("promotional_above_technical")
    lines += [
        "",
        "Promotional above technical on document hype: "
        + ("not measured" if verdict is None else ("yes" if verdict else "**no**"))
        + ". Prose rule: "
        + ", ".join(
            sorted(
                {
                    f.get("prose_rule", "?")
                    for g in ("technical", "promotional")
                    for f in (documents.get(g) or {}).values()
                }
            )
        )
        + ".",
        "",
    ]
    return lines


def _layers_text(config: dict[str, Any]) -> str:
    layers = config.get("pooling_layers") or [-1]
    if layers == [-1]:
        return "the last layer"
    return "hidden states " + ", ".join(str(x) for x in layers) + " (concatenated)"


def _head_text(head: dict[str, Any]) -> str:
    hidden = head.get("hidden", 0)
    if hidden:
        return f"MLP {head.get('input_dim')} -> {hidden} (GELU, dropout {head.get('dropout')}) -> 3 sigmoid outputs"
    return f"linear {head.get('input_dim')} -> 3 sigmoid outputs"


def write_model_card(
    model_dir: str | Path, metrics: dict[str, Any], config: dict[str, Any]
) -> Path:
    path = Path(model_dir) / "README.md"
    path.write_text(render_model_card(metrics, config), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- README figures

README_BEGIN = (
    "<!-- model-figures:begin (written by analyzer evaluate --readme from metrics.json) -->"
)
README_END = "<!-- model-figures:end -->"


def readme_figures(
    metrics: dict[str, Any], metrics_path: str = "models/hype-default/metrics.json"
) -> str:
    """The README's model-figures block: per set and label, the model beside the baselines."""
    multi = _as_multi(metrics)
    lines = [
        f"From [`{metrics_path}`]({metrics_path}) (model `{multi['model']['model_version']}`, split "
        f"`{multi.get('split', 'test')}`), each test set on its own:",
        "",
        "| test set | sentences | label | AUROC | macro F1 | ECE | best cue (AUROC) | zero-shot AUROC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in multi["sets"].items():
        for label in LABELS:
            values = m["labels"][label]
            best = m["best_cue"][label]
            cue = (
                f"{BASELINE_NAMES.get(best['baseline'], 'n/a')} ({_fmt(best['auroc'])})"
                if best["baseline"]
                else "n/a"
            )
            zero = (m["baselines"].get("zero_shot") or {}).get(label)
            lines.append(
                f"| {name} | {m['data']['sentences']} | {label} | {_fmt(values['auroc'])} | {_fmt(values['macro_f1'])} | "
                f"{_fmt(values['ece'])} | {cue} | {_fmt(zero)} |"
            )
    for name, reason in (multi.get("skipped") or {}).items():
        lines.append(f"| {name} | skipped: {_escape_md(reason)} | | | | | | |")
    measured = [r for r in multi.get("target_results") or [] if r["met"] is not None]
    unmet = [
        f"{r['set']} {r['label']} {r['target']} {_fmt(r['value'])} (required {r['required']})"
        for r in measured
        if not r["met"]
    ]
    lines += [
        "",
        f"Targets met: {sum(bool(r['met']) for r in measured)} of {len(measured)} measured"
        + (": not met " + "; ".join(unmet) if unmet else "")
        + ".",
    ]
    return "\n".join(lines)


def update_readme(
    readme: str | Path,
    metrics: dict[str, Any],
    metrics_path: str = "models/hype-default/metrics.json",
) -> Path:
    """Replace the block between the model-figures markers of ``readme`` with :func:`readme_figures`."""
    from analyzer.errors import InputError

    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise InputError(f"{readme} has no model-figures markers ({README_BEGIN} ... {README_END})")
    block = README_BEGIN + "\n" + readme_figures(metrics, metrics_path) + "\n" + README_END
    readme.write_text(text[:start] + block + text[end + len(README_END) :], encoding="utf-8")
    return readme


# --------------------------------------------------------------------------- entry point


def evaluate_model(
    model: str | Path,
    out_dir: str | Path,
    *,
    data: Sequence[str | Path] = (),
    sets: Iterable[str] = STANDARD_SETS,
    split: str = "test",
    sources: Path | None = None,
    real_corpus: Path | None = None,
    ja_corpus: Path | None = None,
    ja_sources: Path | None = None,
    update_card: bool = False,
    readme: Path | None = None,
    zero_shot: bool = True,
    n_worst: int = 10,
    device: str = "auto",
    batch_size: int = 64,
    progress: Any = None,
) -> dict[str, Any]:
    """Load a saved model, evaluate it on the standard sets and the named files, write outputs.

    ``out_dir`` gets the local outputs (with the sentences of every set). ``update_card``
    rewrites the model directory's ``README.md``, ``metrics.json``, ``report.md`` and plots,
    without text of non-public sets; ``readme`` rewrites that file's model-figures block.
    """
    from analyzer.errors import InputError

    if split not in ("test", "validation"):
        raise InputError("split must be test or validation")
    if update_card and split != "test":
        raise InputError(
            "the model card reports the test split; choose on validation without --update-card"
        )
    chosen = standard_sets(
        sets,
        split=split,
        sources=sources,
        real_corpus=real_corpus,
        ja_corpus=ja_corpus,
        ja_sources=ja_sources,
    )
    taken = {s.name for s in chosen}
    for path in data:
        named = file_set(Path(path), split)
        while named.name in taken:
            named.name += "'"
        taken.add(named.name)
        chosen.append(named)
    if not chosen:
        raise InputError("nothing to evaluate: name a JSONL file or a standard set")
    scorer = HypeScorer.from_pretrained(model, device=device, batch_size=batch_size)
    metrics = evaluate_sets(
        scorer, chosen, zero_shot=zero_shot, n_worst=n_worst, split=split, progress=progress
    )
    # Real text goes only into a private output folder, never into the model directory.
    write_evaluation(metrics, out_dir, local=Path(out_dir).resolve() != Path(model).resolve())
    if update_card:
        # The card and the model's own metrics.json always describe the same evaluation.
        write_evaluation(metrics, Path(model), local=False)
        write_model_card(Path(model), metrics, scorer.config)
    if readme is not None:
        update_readme(readme, public_metrics(metrics), _readme_metrics_path(Path(model), readme))
    return metrics


def _readme_metrics_path(model: Path, readme: Path) -> str:
    try:
        return str((model.resolve() / "metrics.json").relative_to(readme.resolve().parent))
    except ValueError:
        return "metrics.json"
