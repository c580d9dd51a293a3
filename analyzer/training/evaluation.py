"""Held-out evaluation of a hype scorer, its report and its model card.

For each label: precision, recall and F1 of the positive class at the model's threshold, macro
F1 over both classes, AUROC, average precision, Brier score, expected calibration error (15
bins, before and after temperature scaling), the confusion matrix and reliability-diagram data.
Also: the worst errors (largest ``|p - y|``), per-language and per-source macro F1, and a
zero-shot baseline that needs no training: the cosine similarity of each sentence to a
positive and a negative description of the label, embedded with the same base encoder; its
score is ``cos(positive) - cos(negative)`` (AUROC from that ranking, F1 at a margin of 0, and,
as an upper bound, the F1 at the best threshold chosen on the test data itself).

Sentences in a language the model does not support are left out of the metrics and counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.scoring.calibration import DEFAULT_BINS, expected_calibration_error, reliability_bins
from analyzer.scoring.encoder import load_base_encoder
from analyzer.scoring.scorer import LABELS, HypeScorer

TARGETS = {"macro_f1": 0.85, "auroc": 0.95, "ece": 0.05}

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


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Classification, ranking and calibration metrics for one binary label."""
    from sklearn.metrics import (
        average_precision_score,
        f1_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

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
        "auroc": float(roc_auc_score(y, p)) if both_classes else None,
        "average_precision": float(average_precision_score(y, p)) if both_classes else None,
        "brier": float(np.mean((p - y) ** 2)) if len(y) else math.nan,
        "ece": expected_calibration_error(p, y, DEFAULT_BINS),
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
    from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score

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
        "auroc": float(roc_auc_score(y, margin)) if both else None,
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "macro_f1": float(f1_score(y, predicted, average="macro", labels=[0, 1], zero_division=0)),
        "best_threshold_f1": best_f1,
    }


def _macro_f1_by(
    groups: Sequence[str], y: np.ndarray, p: np.ndarray, thresholds: Sequence[float]
) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    out: dict[str, Any] = {}
    groups_array = np.asarray(groups)
    for group in sorted(set(groups)):
        mask = groups_array == group
        per_label = {
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
        }
        out[group] = {
            "sentences": int(mask.sum()),
            "macro_f1": per_label,
            "auroc": _auroc_by_label(y[mask], p[mask]),
        }
    return out


def _auroc_by_label(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """AUROC per label, ``None`` where a group has only one class of that label."""
    from sklearn.metrics import roc_auc_score

    return {
        label: float(roc_auc_score(y[:, j], p[:, j])) if 0 < y[:, j].sum() < len(y) else None
        for j, label in enumerate(LABELS)
    }


def evaluate_scorer(
    scorer: HypeScorer,
    rows: Sequence[dict[str, Any]],
    *,
    zero_shot: bool = True,
    n_worst: int = 20,
    data_name: str | None = None,
) -> dict[str, Any]:
    """All metrics for ``scorer`` on labelled ``rows`` (``text`` + 0/1 labels, optional ``lang``/``source``)."""
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
        metrics["ece_uncalibrated"] = expected_calibration_error(
            raw_probs[:, j], y[:, j], DEFAULT_BINS
        )
        metrics["temperature"] = float(temperatures[j])
        metrics["reliability"] = reliability_bins(probs[:, j], y[:, j], DEFAULT_BINS)
        labels[label] = metrics

    errors = [
        (abs(probs[i, j] - y[i, j]), i, j)
        for i in range(len(supported))
        for j in range(len(LABELS))
    ]
    errors.sort(key=lambda e: (-e[0], e[1], e[2]))
    worst = [
        {
            "id": supported[i].get("id"),
            "text": supported[i]["text"],
            "label": LABELS[j],
            "expected": int(y[i, j]),
            "probability": round(float(probs[i, j]), 4),
        }
        for _, i, j in errors[:n_worst]
    ]

    baseline = None
    if zero_shot:
        baseline = _zero_shot(scorer, texts, y)

    summary = {
        "macro_f1": float(np.mean([labels[label]["macro_f1"] for label in LABELS])),
        "auroc": _mean_or_none([labels[label]["auroc"] for label in LABELS]),
        "ece": float(np.mean([labels[label]["ece"] for label in LABELS])),
        "meets_targets": {
            label: {
                "macro_f1": labels[label]["macro_f1"] >= TARGETS["macro_f1"],
                "auroc": (labels[label]["auroc"] or 0.0) >= TARGETS["auroc"],
                "ece": labels[label]["ece"] <= TARGETS["ece"],
            }
            for label in LABELS
        },
    }
    if baseline:
        summary["zero_shot_macro_f1"] = float(
            np.mean([baseline[label]["macro_f1"] for label in LABELS])
        )
        summary["zero_shot_auroc"] = _mean_or_none([baseline[label]["auroc"] for label in LABELS])

    return {
        "model": {
            "model_id": scorer.model_id,
            "model_version": scorer.model_version,
            "method": scorer.method,
            "base": scorer.config.get("base"),
            "languages": scorer.languages,
            "multilingual": scorer.multilingual,
        },
        "data": {
            "name": data_name,
            "sentences": len(supported),
            "excluded_unsupported_language": excluded,
            "positives": {label: int(y[:, j].sum()) for j, label in enumerate(LABELS)},
        },
        "targets": TARGETS,
        "summary": summary,
        "labels": labels,
        "zero_shot": baseline,
        "by_language": _macro_f1_by(
            [str(r.get("lang") or "und") for r in supported], y, probs, thresholds
        ),
        "by_source": _macro_f1_by(
            [str(r.get("source") or "unknown") for r in supported], y, probs, thresholds
        ),
        "worst_errors": worst,
    }


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _zero_shot(scorer: HypeScorer, texts: Sequence[str], y: np.ndarray) -> dict[str, Any]:
    from analyzer.scoring.encoder import SentenceEncoder

    if scorer.method == "head":
        encoder = scorer.encoder.with_layers([-1])  # frozen: it is the base encoder
    else:
        model, tokenizer, max_length = load_base_encoder(scorer.config["base"])
        encoder = SentenceEncoder(model, tokenizer, max_length, scorer.device)
    margins = zero_shot_scores(encoder, texts, scorer.batch_size)
    result: dict[str, Any] = {
        label: zero_shot_metrics(y[:, j], margins[:, j]) for j, label in enumerate(LABELS)
    }
    result["descriptions"] = {label: list(pair) for label, pair in ZERO_SHOT_DESCRIPTIONS.items()}
    return result


# --------------------------------------------------------------------------- output


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
        axis.set_title(f"{label} (ECE {ece:.3f})")
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


def render_report(metrics: dict[str, Any]) -> str:
    model, data = metrics["model"], metrics["data"]
    parts = [
        f"# Evaluation of {model['model_id']} ({model['model_version']})",
        "",
        f"Data: {data['name'] or 'labelled sentences'}, {data['sentences']} sentences"
        + (
            f" ({data['excluded_unsupported_language']} left out: unsupported language)"
            if data["excluded_unsupported_language"]
            else ""
        )
        + f". Method `{model['method']}`, base `{model['base']}`, languages {', '.join(model['languages'])}.",
        "",
        "## Metrics (positive class at the model threshold; macro F1 over both classes)",
        "",
        metrics_markdown(metrics),
        "",
        f"Targets: macro F1 >= {TARGETS['macro_f1']}, AUROC >= {TARGETS['auroc']}, ECE <= {TARGETS['ece']}.",
        "",
        "## Zero-shot baseline",
        "",
        zero_shot_table(metrics),
        "",
        "## Calibration",
        "",
        calibration_table(metrics),
        "",
        "![reliability diagram](reliability.png)",
        "",
        "## Confusion matrices",
        "",
        "| label | TN | FP | FN | TP |",
        "|---|---|---|---|---|",
    ]
    for label in LABELS:
        c = metrics["labels"][label]["confusion"]
        parts.append(f"| {label} | {c['tn']} | {c['fp']} | {c['fn']} | {c['tp']} |")
    parts += [
        "",
        "## By language (macro F1 / AUROC)",
        "",
        _language_table(metrics["by_language"]),
        "",
    ]
    parts += ["## Macro F1 by source", "", _group_table(metrics["by_source"]), ""]
    parts += [
        f"## The {len(metrics['worst_errors'])} worst errors",
        "",
        "| label | expected | p | sentence |",
        "|---|---|---|---|",
    ]
    for error in metrics["worst_errors"]:
        parts.append(
            f"| {error['label']} | {error['expected']} | {error['probability']:.3f} | {_escape_md(error['text'])} |"
        )
    return "\n".join(parts) + "\n"


def _group_table(groups: dict[str, Any]) -> str:
    lines = [
        "| group | sentences | " + " | ".join(LABELS) + " |",
        "|---|---|" + "---|" * len(LABELS),
    ]
    for group, info in groups.items():
        values = " | ".join(_fmt(info["macro_f1"][label]) for label in LABELS)
        lines.append(f"| {_escape_md(group)} | {info['sentences']} | {values} |")
    return "\n".join(lines)


def write_evaluation(metrics: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``metrics.json``, ``report.md`` and ``reliability.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics_file = out / "metrics.json"
    metrics_file.write_text(
        json.dumps(metrics, indent=2, ensure_ascii=False, default=_json_default) + "\n",
        encoding="utf-8",
    )
    report_file = out / "report.md"
    report_file.write_text(render_report(metrics), encoding="utf-8")
    plot_file = out / "reliability.png"
    reliability_figure(metrics).savefig(plot_file, format="png")
    return [metrics_file, report_file, plot_file]


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def render_model_card(metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """The model card (README.md) from evaluation metrics and the model's config."""
    model, data = metrics["model"], metrics["data"]
    training = config.get("training") or {}
    counts = training.get("train_counts") or {}
    validation_counts = training.get("validation_counts") or {}
    sources = training.get("data") or {}
    language_check = training.get("language_check") or {}
    summary = metrics["summary"]
    met = all(all(v.values()) for v in summary["meets_targets"].values())
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
        f"| training time | {_fmt(training.get('train_seconds'), 1)} s on {training.get('device', 'n/a')} |",
        "",
        "## Training data",
        "",
        f"Training split `{sources.get('train', 'n/a')}`: {counts.get('sentences', 'n/a')} sentences "
        f"(hype {counts.get('hype', 'n/a')}, growth {counts.get('growth', 'n/a')}, evidence {counts.get('evidence', 'n/a')}); "
        f"validation `{sources.get('validation', 'n/a')}`: {validation_counts.get('sentences', 'n/a')} sentences, used to pick "
        "the best epoch and to fit the temperatures. Languages in training: "
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
    lines += [
        f"## Held-out test metrics ({data['name'] or 'test split'}, {data['sentences']} sentences)",
        "",
        metrics_markdown(metrics),
        "",
        f"Targets: macro F1 >= {TARGETS['macro_f1']}, AUROC >= {TARGETS['auroc']}, ECE <= {TARGETS['ece']} per label: "
        + ("**all met**." if met else "**not all met**: " + _unmet(summary["meets_targets"]) + "."),
        "",
        "By language (macro F1 / AUROC per label):",
        "",
        _language_table(metrics["by_language"]),
        "",
        "## Zero-shot baseline",
        "",
        "Cosine similarity to a positive and a negative description of each label with the same base "
        "encoder, no training (see `analyzer/evaluation.py`).",
        "",
        zero_shot_table(metrics),
        "",
        "## Calibration",
        "",
        "One temperature per label, fitted on the validation split by minimising the negative "
        "log-likelihood. ECE: 15 equal-width bins of the positive-class probability.",
        "",
        calibration_table(metrics),
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
        "- Trained on a few thousand labelled sentences (`corpora/hype`); real-world text may differ in style. "
        "Long documents are scored sentence by sentence and aggregated, which ignores context across sentences.",
        "- Sarcasm, negation, quoted or criticised hype and rhetorical questions are the hardest cases "
        "(see the worst errors in `report.md`).",
        "- Text in a language outside the trained languages is not scored (`unscored: true`).",
        "- Probabilities are calibrated on the validation split's distribution; other domains may shift them.",
        "- A measure of language, not of truth: high evidence means checkable-looking claims, not verified ones.",
        "",
        "_All numbers on this card were written by `analyzer evaluate --update-card` from `metrics.json`._",
    ]
    return "\n".join(lines) + "\n"


def _language_table(groups: dict[str, Any]) -> str:
    lines = [
        "| language | sentences | " + " | ".join(LABELS) + " |",
        "|---|---|" + "---|" * len(LABELS),
    ]
    for group, info in groups.items():
        auroc = info.get("auroc") or {}
        values = " | ".join(
            f"{_fmt(info['macro_f1'][label])} / {_fmt(auroc.get(label))}" for label in LABELS
        )
        lines.append(f"| {_escape_md(group)} | {info['sentences']} | {values} |")
    return "\n".join(lines)


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


def _unmet(meets: dict[str, dict[str, bool]]) -> str:
    missing = [
        f"{label} {metric}"
        for label, checks in meets.items()
        for metric, ok in checks.items()
        if not ok
    ]
    return ", ".join(missing)


def write_model_card(
    model_dir: str | Path, metrics: dict[str, Any], config: dict[str, Any]
) -> Path:
    path = Path(model_dir) / "README.md"
    path.write_text(render_model_card(metrics, config), encoding="utf-8")
    return path


def evaluate_path(
    model: str | Path,
    data: str | Path,
    out_dir: str | Path,
    *,
    update_card: bool = False,
    zero_shot: bool = True,
    device: str = "auto",
    batch_size: int = 64,
) -> dict[str, Any]:
    """Load a saved model, evaluate it on ``data`` (a JSONL file, or a split folder's test.jsonl), write outputs."""
    from analyzer.errors import InputError
    from analyzer.training.data import SPLIT_FILES, read_labelled

    data = Path(data)
    if data.is_dir():
        data = data / SPLIT_FILES["test"]
        if not data.is_file():
            raise InputError(
                f"{data} does not exist; pass a JSONL file or a folder with {SPLIT_FILES['test']}"
            )
    rows = read_labelled(data)
    scorer = HypeScorer.from_pretrained(model, device=device, batch_size=batch_size)
    metrics = evaluate_scorer(scorer, rows, zero_shot=zero_shot, data_name=data.name)
    write_evaluation(metrics, out_dir)
    if update_card:
        # The card and the model's own metrics.json always describe the same evaluation.
        if Path(out_dir).resolve() != Path(model).resolve():
            write_evaluation(metrics, Path(model))
        write_model_card(Path(model), metrics, scorer.config)
    return metrics
