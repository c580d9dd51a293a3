"""Training the hype/growth/evidence classifier.

Three methods share one recipe (``train_scorer``):

``head``
    The encoder stays frozen; every sentence is embedded once and only the small head is
    trained (binary cross-entropy per label). Seconds on a CPU.
``lora``
    LoRA adapters on the encoder's attention query/value projections are trained together
    with the head; only the adapter and the head are saved (a few hundred KB).
``full``
    The whole encoder is fine-tuned with the head and saved (about 90 MB for MiniLM).

For ``lora`` and ``full`` the head is first fitted on frozen embeddings, so fine-tuning starts
from the ``head`` solution. After every epoch the validation loss is measured and the best epoch
is kept. Finally one temperature per label is fitted on the validation split
(:mod:`analyzer.scoring.calibration`). Runs are deterministic for a given seed: torch's generator is
seeded and the data order comes from a seeded generator.

**Everything is chosen on the validation split, never on test**: the epoch (lowest validation
loss), the temperatures (validation NLL), the languages claimed (validation AUROC), and, with
``thresholds="validation"``, each label's threshold (the calibrated-probability cut with the best
validation macro F1; by default it stays at 0.5). The validation metrics are stored in the
config (``training.validation_metrics``) so variants can be compared there; the test split is
evaluated once, after training, and what chose what is recorded in ``training.selection``
(shown on the model card).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import InputError, ModelError
from analyzer.scoring.scorer import LABELS, HypeScorer
from analyzer.training.data import (
    TrainingData,
    data_fingerprint,
    label_counts,
    label_matrix,
    resolve_training_data,
    training_languages,
)
from analyzer.training.embeddings import cached_embed, encoder_identity

ProgressCallback = Callable[[dict[str, Any]], None]

DEFAULT_EPOCHS = {"head": 300, "lora": 8, "full": 4}
DEFAULT_LR = {"head": 1e-3, "lora": 5e-4, "full": 3e-5}
DEFAULT_PATIENCE = {"head": 40, "lora": 3, "full": 2}


# --------------------------------------------------------------------------- data


# --------------------------------------------------------------------------- options


@dataclass
class TrainingOptions:
    """Hyper-parameters; ``None`` means the method's default."""

    method: str = "head"  # head, lora or full
    base: str | None = None  # local directory or cached hub id; None: the packaged MiniLM
    epochs: int | None = None
    lr: float | None = None  # encoder (lora/full) or head (head) learning rate
    head_lr: float | None = None  # head learning rate while fine-tuning the encoder
    batch_size: int = 32
    seed: int = 13
    head_hidden: int = 256  # 0: a linear head
    head_dropout: float = 0.1
    weight_decay: float = 0.01
    patience: int | None = None  # epochs without a better validation loss before stopping
    warmup_epochs: int = 150  # lora/full: epochs of head-only training on frozen embeddings first
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    device: str = "auto"
    languages: list[str] | None = (
        None  # None: from the data, kept only if good enough on validation
    )
    multilingual: bool | None = None  # None: guessed from the base name
    embed_batch_size: int = 64
    min_language_auroc: float = 0.9
    layers: str | list[int] | None = None  # pooled hidden states: None/"last", "all" or indices
    thresholds: str = "fixed"  # fixed (0.5 on the calibrated probability) or validation
    # Keep frozen-encoder embeddings in the user cache (see analyzer.training.embeddings).
    cache_embeddings: bool = True

    def resolved(self) -> TrainingOptions:
        if self.method not in DEFAULT_EPOCHS:
            raise InputError(f"unknown method {self.method!r}; use head, lora or full")
        if self.batch_size < 1:
            raise InputError("batch size must be at least 1")
        out = copy.copy(self)
        out.epochs = self.epochs if self.epochs is not None else DEFAULT_EPOCHS[self.method]
        out.lr = self.lr if self.lr is not None else DEFAULT_LR[self.method]
        out.head_lr = (
            self.head_lr
            if self.head_lr is not None
            else (out.lr if self.method == "head" else 1e-3)
        )
        out.patience = self.patience if self.patience is not None else DEFAULT_PATIENCE[self.method]
        if out.epochs < 1 or out.lr <= 0:
            raise InputError("epochs and learning rate must be positive")
        if self.thresholds not in ("fixed", "validation"):
            raise InputError(f"unknown threshold rule {self.thresholds!r}; use fixed or validation")
        return out


# --------------------------------------------------------------------------- training


def _batches(n: int, batch_size: int, generator: Any) -> Iterator[Any]:
    import torch

    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _length_bucketed_batches(texts: Sequence[str], batch_size: int, generator: Any) -> list[Any]:
    """Random batches of similar-length texts: shuffle, sort within windows of 20 batches, shuffle batches.

    Much less padding than plain random batches (fine-tuning on a CPU is dominated by it), and
    still a different, seeded order every epoch.
    """
    import torch

    order = torch.randperm(len(texts), generator=generator).tolist()
    window = batch_size * 20
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: len(texts[i]))
        batches.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [torch.tensor(batches[k]) for k in shuffled]


def _bce(logits: Any, targets: Any) -> float:
    import torch

    with torch.no_grad():
        return float(torch.nn.functional.binary_cross_entropy_with_logits(logits, targets))


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit_head(
    head: Any,
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    patience: int,
    generator: Any,
    progress: ProgressCallback | None = None,
    stage: str = "head",
) -> dict[str, Any]:
    """Train ``head`` on fixed embeddings, keeping the epoch with the lowest validation loss.

    Runs on one thread: batches of a few dozen rows through a small MLP are too small to share,
    and extra threads only spin (on two busy cores, 40 times slower per epoch).
    """
    with _one_torch_thread():
        import torch

        optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        best = (math.inf, 0, copy.deepcopy(head.state_dict()))
        history = []
        for epoch in range(1, epochs + 1):
            head.train()
            total, seen = 0.0, 0
            for index in _batches(len(x_train), batch_size, generator):
                optimizer.zero_grad()
                loss = loss_fn(head(x_train[index]), y_train[index])
                loss.backward()
                optimizer.step()
                total += loss.detach().item() * len(index)
                seen += len(index)
            head.eval()
            with torch.no_grad():
                val_loss = _bce(head(x_val), y_val)
            history.append(
                {"epoch": epoch, "train_loss": total / max(seen, 1), "validation_loss": val_loss}
            )
            if val_loss < best[0] - 1e-6:
                best = (val_loss, epoch, copy.deepcopy(head.state_dict()))
            if progress and (epoch % 25 == 0 or epoch == epochs):
                progress({"stage": stage, "epoch": epoch, "epochs": epochs, **history[-1]})
            if epoch - best[1] >= patience:
                break
        head.load_state_dict(best[2])
        head.eval()
        return {"best_epoch": best[1], "validation_loss": best[0], "epochs_run": len(history)}


def _fine_tune(
    scorer: HypeScorer,
    train_texts: list[str],
    y_train: Any,
    val_texts: list[str],
    y_val: Any,
    options: TrainingOptions,
    generator: Any,
    progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Train encoder (LoRA or full) and head together; keep the best epoch by validation loss."""
    import torch

    encoder, head = scorer.encoder, scorer.head
    model = encoder.model
    device = encoder.device
    if options.method == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    encoder_params = [p for p in model.parameters() if p.requires_grad]
    if not encoder_params:
        raise ModelError("the encoder has no trainable parameters")
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": options.lr},
            {"params": list(head.parameters()), "lr": options.head_lr},
        ],
        weight_decay=options.weight_decay,
    )
    steps_per_epoch = math.ceil(len(train_texts) / options.batch_size)
    total_steps = steps_per_epoch * options.epochs
    warmup = max(1, int(0.1 * total_steps))

    def lr_factor(step: int) -> float:
        # Linear warm-up over the first 10% of steps, then linear decay to zero.
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    y_train_device = y_train.to(device)

    def trainable_state() -> dict[str, Any]:
        state = {f"head.{k}": v.detach().clone() for k, v in head.state_dict().items()}
        for name, param in model.named_parameters():
            if param.requires_grad:
                state[f"encoder.{name}"] = param.detach().clone()
        return state

    def restore(state: dict[str, Any]) -> None:
        head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        params = dict(model.named_parameters())
        with torch.no_grad():
            for key, value in state.items():
                if key.startswith("encoder."):
                    params[key[8:]].copy_(value)

    def validation_loss() -> float:
        logits = torch.from_numpy(scorer.logits(val_texts))
        return _bce(logits, y_val)

    best_loss, best_epoch, best_state = validation_loss(), 0, trainable_state()
    history = [{"epoch": 0, "validation_loss": best_loss}]
    for epoch in range(1, options.epochs + 1):
        model.train()
        head.train()
        total, seen = 0.0, 0
        for index in _length_bucketed_batches(train_texts, options.batch_size, generator):
            batch = encoder.tokenize([train_texts[i] for i in index.tolist()])
            logits = head(encoder.pooled(batch))
            loss = loss_fn(logits, y_train_device[index.to(device)])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder_params + list(head.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.detach().item() * len(index)
            seen += len(index)
        model.eval()
        head.eval()
        val_loss = validation_loss()
        history.append(
            {"epoch": epoch, "train_loss": total / max(seen, 1), "validation_loss": val_loss}
        )
        if progress:
            progress(
                {"stage": options.method, "epoch": epoch, "epochs": options.epochs, **history[-1]}
            )
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, best_state = val_loss, epoch, trainable_state()
        elif epoch - best_epoch >= options.patience:
            break
    restore(best_state)
    model.eval()
    head.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return {"best_epoch": best_epoch, "validation_loss": best_loss, "epochs_run": len(history) - 1}


def _check_languages(
    probs: Any, rows: Sequence[dict[str, Any]], languages: list[str], options: TrainingOptions
) -> dict[str, Any]:
    """Keep only languages the model handles well on validation (mean AUROC over labels).

    A base encoder that does not understand a language still produces numbers for it; claiming
    that language would give plausible-looking but meaningless scores, so it is dropped (its
    documents will be ``unscored``). The most frequent language is always kept.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = label_matrix(rows)
    langs = np.array([str(r.get("lang") or "en") for r in rows])
    majority = Counter(langs.tolist()).most_common(1)[0][0]
    report: dict[str, Any] = {
        "min_auroc": options.min_language_auroc,
        "auroc": {},
        "kept": [],
        "dropped": [],
    }
    for language in languages:
        mask = langs == language
        aurocs = [
            roc_auc_score(y[mask, j], probs[mask, j])
            for j in range(len(LABELS))
            if mask.sum() >= 10 and 0 < y[mask, j].sum() < mask.sum()
        ]
        score = float(np.mean(aurocs)) if aurocs else None
        report["auroc"][language] = None if score is None else round(score, 4)
        if language == majority or (score is not None and score >= options.min_language_auroc):
            report["kept"].append(language)
        else:
            report["dropped"].append(language)
    return report


def validation_threshold(y: Any, probs: Any) -> float:
    """The calibrated-probability threshold with the best macro F1 on validation (ties: nearest 0.5).

    Candidates are 0.05, 0.10, ... 0.95, so a threshold never sits on one sentence's score.
    """
    import numpy as np
    from sklearn.metrics import f1_score

    y = np.asarray(y, dtype=int)
    p = np.asarray(probs, dtype=np.float64)
    if not 0 < y.sum() < len(y):
        return 0.5
    best = (-1.0, 0.0, 0.5)
    for step in range(1, 20):
        t = round(step * 0.05, 2)
        score = float(
            f1_score(y, (p >= t).astype(int), average="macro", labels=[0, 1], zero_division=0)
        )
        key = (score, -abs(t - 0.5), t)
        if key > best:
            best = key
    return best[2]


def _validation_metrics(y: Any, probs: Any, thresholds: Sequence[float]) -> dict[str, Any]:
    """AUROC, macro F1 at the threshold and ECE per label on validation (for comparing variants)."""
    from analyzer.training.evaluation import binary_metrics

    out: dict[str, Any] = {}
    for j, label in enumerate(LABELS):
        m = binary_metrics(y[:, j], probs[:, j], thresholds[j])
        out[label] = {
            key: None if m[key] is None else round(float(m[key]), 4)
            for key in ("auroc", "macro_f1", "ece")
        }
    return out


def selection_note(
    options: TrainingOptions, stages: dict[str, Any], languages_checked: bool
) -> dict[str, str]:
    """Which split chose what in one training run (shown on the model card)."""
    last = stages.get(options.method) or stages["head"]
    note = {
        "epoch": (
            f"validation split: the epoch with the lowest validation loss (epoch {last['best_epoch']} of "
            f"{last['epochs_run']} run)"
        ),
        "temperatures": "validation split: one temperature per label minimising the validation NLL",
        "thresholds": (
            "validation split: per label, the calibrated-probability cut (0.05 steps) with the best validation macro F1"
            if options.thresholds == "validation"
            else "none: fixed at 0.5 on the calibrated probability"
        ),
        "variant": (
            "the options given to `analyzer train`; compare variants on `training.validation_metrics` "
            "(validation split) or `analyzer evaluate --split validation`, never on test"
        ),
        "test": "every test set is evaluated after training, once; nothing is chosen on it",
    }
    if languages_checked:
        note["languages"] = (
            f"validation split: a language is claimed when its validation AUROC reaches {options.min_language_auroc}"
        )
    return note


def train_scorer(
    train_rows: Sequence[dict[str, Any]],
    validation_rows: Sequence[dict[str, Any]],
    options: TrainingOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> HypeScorer:
    """Train, select the best epoch and calibrate a :class:`HypeScorer` (not saved)."""
    import torch

    from analyzer.scoring.calibration import TemperatureScaler

    options = (options or TrainingOptions()).resolved()
    if not train_rows or not validation_rows:
        raise InputError("training needs both training and validation sentences")
    started = time.perf_counter()
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    languages = options.languages or training_languages(train_rows)
    scorer = _untrained_scorer(options, languages)
    train_texts = [r["text"].strip() for r in train_rows]
    val_texts = [r["text"].strip() for r in validation_rows]
    y_train = torch.from_numpy(label_matrix(train_rows))
    y_val = torch.from_numpy(label_matrix(validation_rows))

    # Stage 1: the head on frozen embeddings (the whole of the "head" method).
    head_result, x_val, embed_seconds = _train_head_stage(
        scorer, options, train_texts, y_train, val_texts, y_val, generator, progress
    )
    result = {"head": head_result}

    # Stage 2: fine-tune the encoder with the head.
    if options.method != "head":
        result[options.method] = _fine_tune(
            scorer, train_texts, y_train, val_texts, y_val, options, generator, progress
        )

    # Calibration on the validation split.
    val_logits = _validation_logits(scorer, options, x_val, val_texts)
    scaler = TemperatureScaler().fit(val_logits, y_val.numpy())
    scorer.set_temperatures(scaler.temperatures_.tolist())
    val_probs = scaler.predict_proba(val_logits)
    language_check = None
    if options.languages is None and len(languages) > 1:
        language_check = _check_languages(val_probs, validation_rows, languages, options)
        scorer.config["languages"] = language_check["kept"]
    y_val_np = y_val.numpy().astype(int)
    if options.thresholds == "validation":
        scorer.config["thresholds"] = {
            label: validation_threshold(y_val_np[:, j], val_probs[:, j])
            for j, label in enumerate(LABELS)
        }
    validation_metrics = _validation_metrics(y_val_np, val_probs, scorer.thresholds)
    scorer.invalidate_version()
    elapsed = time.perf_counter() - started
    settings = {
        k: v for k, v in asdict(options).items() if k not in ("device", "base", "languages")
    }
    scorer.config["training"] = {
        **settings,
        "train_seconds": round(elapsed, 2),
        "device": scorer.device,
        "stages": result,
        "validation_nll_before_calibration": dict(
            zip(LABELS, scaler.nll_before_.round(5).tolist())
        ),
        "validation_nll_after_calibration": dict(zip(LABELS, scaler.nll_after_.round(5).tolist())),
        "train_counts": label_counts(train_rows),
        "validation_counts": label_counts(validation_rows),
        "train_languages": dict(Counter(str(r.get("lang") or "en") for r in train_rows)),
        "data_fingerprint": data_fingerprint(train_rows),
        "embed_seconds": round(embed_seconds, 2),
        "language_check": language_check,
        "validation_metrics": validation_metrics,
        "selection": selection_note(options, result, language_check is not None),
    }
    if progress:
        progress({"stage": "done", "train_seconds": elapsed, "temperatures": scorer.temperatures})
    return scorer


def _untrained_scorer(options: TrainingOptions, languages: list[str]) -> HypeScorer:
    """A new scorer over the base encoder, built as the options say, before any training."""
    return HypeScorer.new(
        options.base,
        method=options.method,
        head_hidden=options.head_hidden,
        head_dropout=options.head_dropout,
        device=options.device,
        batch_size=options.embed_batch_size,
        languages=languages,
        multilingual=options.multilingual,
        lora_rank=options.lora_rank,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        seed=options.seed,
        layers=options.layers,
    )


def _train_head_stage(
    scorer: HypeScorer,
    options: TrainingOptions,
    train_texts: list[str],
    y_train: Any,
    val_texts: list[str],
    y_val: Any,
    generator: Any,
    progress: ProgressCallback | None,
) -> tuple[dict[str, Any], Any, float]:
    """Fit the head on frozen embeddings: the stage's result, the validation embeddings and the
    seconds spent embedding.

    For the head method this is the whole training; before fine-tuning it is a warm-up.
    """
    embed_started = time.perf_counter()
    identity = None
    if options.cache_embeddings:
        identity = encoder_identity(
            scorer.encoder, scorer.config.get("base_fingerprint"), scorer.config["base"]
        )

    def embed(texts: list[str]) -> Any:
        return scorer.encoder.embed(texts, options.embed_batch_size)

    x_train = cached_embed(embed, train_texts, identity)
    x_val = cached_embed(embed, val_texts, identity)
    embed_seconds = time.perf_counter() - embed_started
    scorer.head.cpu()
    head_epochs = options.epochs if options.method == "head" else options.warmup_epochs
    head_result = fit_head(
        scorer.head,
        x_train,
        y_train,
        x_val,
        y_val,
        epochs=head_epochs,
        lr=options.lr if options.method == "head" else options.head_lr,
        weight_decay=options.weight_decay,
        batch_size=options.batch_size,
        patience=options.patience if options.method == "head" else DEFAULT_PATIENCE["head"],
        generator=generator,
        progress=progress,
        stage="head",
    )
    scorer.head.to(scorer.encoder.device)
    return head_result, x_val, embed_seconds


def _validation_logits(
    scorer: HypeScorer, options: TrainingOptions, x_val: Any, val_texts: list[str]
) -> Any:
    """The trained scorer's logits on the validation split, for calibration."""
    import torch

    if options.method == "head":
        # The encoder is frozen: the validation embeddings are already at hand.
        with torch.inference_mode():
            val_logits = scorer.head.cpu()(x_val).float().numpy()
        scorer.head.to(scorer.encoder.device)
        return val_logits
    return scorer.logits(val_texts)


def train_to_directory(
    data: str | Path,
    out: str | Path,
    options: TrainingOptions | None = None,
    *,
    validation: str | Path | None = None,
    test: str | Path | None = None,
    evaluate: bool = True,
    zero_shot: bool = True,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Train from ``data``, save to ``out``, then evaluate on the test split when there is one.

    The evaluation writes ``metrics.json``, ``report.md``, the reliability plot and the model
    card into ``out`` (the same code as ``analyzer evaluate --update-card``).
    """
    dataset = resolve_training_data(data, validation=validation, test=test)
    return train_dataset_to_directory(
        dataset, out, options, evaluate=evaluate, zero_shot=zero_shot, progress=progress
    )


def train_dataset_to_directory(
    dataset: TrainingData,
    out: str | Path,
    options: TrainingOptions | None = None,
    *,
    evaluate: bool = True,
    zero_shot: bool = True,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """:func:`train_to_directory` for rows already gathered (for example from the database)."""
    scorer = train_scorer(dataset.train, dataset.validation, options, progress=progress)
    scorer.config["training"]["data"] = dataset.sources
    out = Path(out)
    scorer.save_pretrained(out)
    summary: dict[str, Any] = {
        "model_dir": str(out),
        "model_version": scorer.model_version,
        "method": scorer.method,
        "train_seconds": scorer.config["training"]["train_seconds"],
        "temperatures": dict(zip(scorer.labels, scorer.temperatures)),
    }
    summary["validation_metrics"] = scorer.config["training"]["validation_metrics"]
    if evaluate and dataset.test:
        from analyzer.training.evaluation import (
            EvalSet,
            evaluate_sets,
            write_evaluation,
            write_model_card,
        )

        if progress:
            progress({"stage": "evaluate", "sentences": len(dataset.test)})
        # The test split, evaluated once. Rows materialised from others' text (they carry a
        # source_type or a sha256) keep their text out of the model directory.
        real = any("source_type" in r or "sha256" in r for r in dataset.test)
        test_set = EvalSet(
            "test",
            f"{dataset.sources.get('test', 'test split')} (the training data's test split)",
            list(dataset.test),
            text_public=not real,
        )
        metrics = evaluate_sets(scorer, [test_set], zero_shot=zero_shot)
        write_evaluation(metrics, out)
        write_model_card(out, metrics, scorer.config)
        summary["metrics"] = metrics["summary"]
    elif evaluate:
        summary["metrics"] = None
    return summary
