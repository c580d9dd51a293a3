"""Databases with planted sentence scores for the labelling and version-comparison tests.

Scores are written directly (no model), so which sentences are uncertain, which flip between
versions and which come from which source is known exactly. Sentences are random word
sequences from a fixed vocabulary, distinct enough that none is a near-duplicate of another.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from analyzer.scoring.scorer import aggregate_scores
from analyzer.storage import DocumentRecord, Store

WORDS = (
    "amber basin cobalt delta ember fjord granite harbor island jasmine kernel lagoon meadow nickel "
    "orchard prairie quartz river summit tundra upland valley willow xenon yonder zephyr anchor beacon "
    "canyon dune estuary forest glacier hollow inlet jungle knoll ledge marsh oasis plateau quarry reef "
    "savanna terrace urchin vista wharf yarrow zenith"
).split()

Scores = tuple[float, float, float]


def random_sentence(rng: random.Random, words: int = 9) -> str:
    return " ".join(rng.sample(WORDS, words)).capitalize() + "."


def plant_document(
    store: Store,
    sentences: Sequence[tuple[str, Scores]],
    *,
    version: str,
    source: str = "Source A",
    entities: Sequence[str] = (),
    title: str | None = None,
    published_at: str = "2024-03-01T09:00:00+00:00",
    url: str | None = None,
) -> int:
    """Store one document whose sentences carry the given (hype, growth, evidence) scores."""
    text = " ".join(s for s, _ in sentences)
    document_id = store.upsert_document(
        DocumentRecord(
            text=text,
            title=title or sentences[0][0][:40],
            source=source,
            entities=list(entities),
            published_at=published_at,
            language="en",
            canonical_url=url,
        )
    ).document_id
    add_version(store, document_id, sentences, version=version)
    return document_id


def add_version(
    store: Store, document_id: int, sentences: Sequence[tuple[str, Scores]], *, version: str
) -> None:
    """Scores of another model version for a stored document's sentences."""
    sentence_scores = [dict(zip(("hype", "growth", "evidence"), scores)) for _, scores in sentences]
    document = aggregate_scores(sentence_scores) | {"n_sentences": len(sentences), "language": "en"}
    store.save_document_scores(
        document_id,
        model_id=f"planted-{version}",
        model_version=version,
        document_scores=document,
        sentences=[s for s, _ in sentences],
        sentence_scores=sentence_scores,
    )


def confident(rng: random.Random) -> Scores:
    """Scores far from 0.5 on every label."""
    return tuple(rng.choice((rng.uniform(0.0, 0.08), rng.uniform(0.92, 1.0))) for _ in range(3))  # type: ignore[return-value]


def planted_uncertain_store(store: Store, *, seed: int = 5) -> dict[str, Any]:
    """Eight documents over two sources and two entities: 40 confident sentences and five whose
    scores sit near 0.5 (the known answer of an uncertainty export), in different documents."""
    rng = random.Random(seed)
    uncertain_scores = [
        (0.5, 0.5, 0.5),
        (0.52, 0.47, 0.55),
        (0.45, 0.58, 0.5),
        (0.6, 0.41, 0.49),
        (0.39, 0.55, 0.62),
    ]
    uncertain: list[str] = []
    for d in range(8):
        sentences = [(random_sentence(rng), confident(rng)) for _ in range(5)]
        if d < len(uncertain_scores):
            text = random_sentence(rng)
            uncertain.append(text)
            sentences.insert(2, (text, uncertain_scores[d]))
        plant_document(
            store,
            sentences,
            version="v1",
            source="Source A" if d % 2 else "Source B",
            entities=["alpha"] if d < 4 else ["beta"],
            title=f"Document {d}",
        )
    return {"uncertain": uncertain, "version": "v1"}


def shifted_model_dir(tiny_model_dir: Any, out_dir: Any, *, hype_shift: float = 1.5) -> Any:
    """A second model version: the tiny model with its hype output's bias raised by ``hype_shift``
    (a planted change: exactly the sentences whose hype logit lies in (-shift, 0) turn positive)."""
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_model_dir, out_dir)
    head = load_file(str(out_dir / "head.safetensors"))
    last_bias = sorted(k for k in head if k.endswith(".bias"))[-1]
    head[last_bias] = head[last_bias].clone()
    head[last_bias][0] += hype_shift
    save_file(head, str(out_dir / "head.safetensors"))
    config = json.loads((out_dir / "config.json").read_text())
    config.pop("model_version", None)
    config["model_id"] = "tiny-hype-shifted"
    (out_dir / "config.json").write_text(json.dumps(config))
    from analyzer.scoring.scorer import HypeScorer

    # Record the version the new weights hash to, as save_pretrained would.
    config["model_version"] = HypeScorer.from_pretrained(out_dir, device="cpu").model_version
    (out_dir / "config.json").write_text(json.dumps(config))
    return out_dir


_RESCORED: dict[str, dict[str, Any]] = {}


def rescored_seed(tmp_path_factory: Any, seed: dict[str, Any]) -> dict[str, Any]:
    """A copy of the app's seeded database scored again by the shifted model, analysed for both
    versions (built once per session; treat it as read-only)."""
    if "rescored" not in _RESCORED:
        import sqlite3

        from analyzer.cli import main
        from analyzer.pipeline import compute_divergence
        from analyzer.scoring.scorer import HypeScorer

        root = tmp_path_factory.mktemp("rescored")
        model_b = shifted_model_dir(seed["model_dir"], root / "model-b")
        path = root / "two-versions.db"
        with sqlite3.connect(seed["path"]) as source, sqlite3.connect(path) as target:
            source.backup(target)
        version_a = seed["model_version"]
        with Store(path) as store:
            before = store.sentence_scores_frame(version_a)
            documents_before = store.document_scores_frame(version_a)
        # Rescoring goes through the command line, as a researcher would run it.
        main(["score", "--db", str(path), "--model", str(model_b), "--device", "cpu", "--json"])
        version_b = HypeScorer.from_pretrained(model_b, device="cpu").model_version
        with Store(path) as store:
            compute_divergence(store, freq="quarter", model_version=version_b)
        _RESCORED["rescored"] = {
            "path": path,
            "a": version_a,
            "b": version_b,
            "model_a": seed["model_dir"],
            "model_b": model_b,
            "a_sentences_before": before,
            "a_documents_before": documents_before,
        }
    return _RESCORED["rescored"]
