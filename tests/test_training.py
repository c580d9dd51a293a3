"""Training data, corpus splits, head and LoRA training, determinism, base loading."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hype_fixtures import GROWTH, HYPE, labelled_rows, split_rows

from analyzer.errors import InputError
from analyzer.scoring.encoder import SentenceEncoder, load_base_encoder
from analyzer.scoring.scorer import HypeScorer
from analyzer.training.data import read_labelled, resolve_training_data, training_languages
from analyzer.training.train import (
    TrainingOptions,
    train_scorer,
    train_to_directory,
    validation_threshold,
)

PROJECT = Path(__file__).resolve().parent.parent


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def build_splits() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_splits", PROJECT / "corpora" / "hype" / "build_splits.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- data


def test_read_labelled_names_the_bad_line(tmp_path: Path) -> None:
    good = {"text": "Fine.", "hype": 0, "growth": 1, "evidence": 0}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(InputError, match=r"data.jsonl:2"):
        read_labelled(path)
    _write_jsonl(path, [good, {**good, "hype": 2}])
    with pytest.raises(InputError, match=r":2: label 'hype'"):
        read_labelled(path)
    _write_jsonl(path, [good, {"hype": 0, "growth": 0, "evidence": 0}])
    with pytest.raises(InputError, match="text"):
        read_labelled(path)
    with pytest.raises(InputError):
        read_labelled(tmp_path / "missing.jsonl")


def test_single_file_is_split_by_a_stable_hash(tmp_path: Path) -> None:
    rows = labelled_rows()
    data = resolve_training_data(_write_jsonl(tmp_path / "all.jsonl", rows))
    assert (
        len(data.train) + len(data.validation) == len(rows)
        and data.validation
        and data.test is None
    )
    # Adding sentences never moves the old ones.
    more = rows + [
        {"text": f"Extra sentence number {i}.", "hype": 0, "growth": 0, "evidence": 0}
        for i in range(30)
    ]
    again = resolve_training_data(_write_jsonl(tmp_path / "more.jsonl", more))
    old_validation = {r["text"] for r in data.validation}
    assert old_validation == {r["text"] for r in again.validation} & {r["text"] for r in rows}


def test_split_directory_requires_train_and_validation(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="train.jsonl"):
        resolve_training_data(tmp_path)
    train, validation = split_rows()
    _write_jsonl(tmp_path / "train.jsonl", train)
    with pytest.raises(InputError, match="validation"):
        resolve_training_data(tmp_path)
    _write_jsonl(tmp_path / "validation.jsonl", validation)
    _write_jsonl(tmp_path / "test.jsonl", validation[:5])
    data = resolve_training_data(tmp_path)
    assert (len(data.train), len(data.validation), len(data.test or [])) == (
        len(train),
        len(validation),
        5,
    )


def test_training_languages_need_enough_sentences() -> None:
    rows = [{"lang": "en"}] * 95 + [{"lang": "ja"}] * 3 + [{}] * 2
    assert training_languages(rows) == ["en"]
    assert training_languages([{"lang": "en"}] * 50 + [{"lang": "ja"}] * 50) == ["en", "ja"]


def test_options_are_validated() -> None:
    with pytest.raises(InputError):
        TrainingOptions(method="magic").resolved()
    resolved = TrainingOptions(method="lora").resolved()
    assert resolved.epochs and resolved.lr and resolved.head_lr and resolved.patience


# --------------------------------------------------------------------------- corpus splits


def _part_rows(prefix: str, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "text": f"{prefix} sentence {i} about chips.",
                "hype": i % 2,
                "growth": (i // 2) % 2,
                "evidence": (i // 4) % 2,
                "source": "news",
                "topic": "ai",
                "lang": "en",
            }
        )
    return rows


def test_build_splits_is_stable_stratified_and_deduplicated(
    build_splits: ModuleType, tmp_path: Path
) -> None:
    parts, out = tmp_path / "parts", tmp_path / "out"
    parts.mkdir()
    first = _part_rows("First", 400)
    _write_jsonl(parts / "a.jsonl", first)
    stats = build_splits.build_splits(parts, out)
    sizes = {name: stats["splits"][name]["sentences"] for name in ("train", "validation", "test")}
    assert sum(sizes.values()) == 400
    assert 0.6 < sizes["train"] / 400 < 0.8 and 0.08 < sizes["test"] / 400 < 0.22
    before = {
        name: {json.loads(line)["id"] for line in (out / f"{name}.jsonl").open()} for name in sizes
    }
    for name, info in stats["splits"].items():
        assert all(
            0 < info["labels"][label] < info["sentences"]
            for label in ("hype", "growth", "evidence")
        ), name

    # A second part adds new sentences, a duplicate (different case and spacing) and a half-written line.
    dup = dict(first[0], text="  FIRST   sentence 0 about chips.  ")
    with (parts / "b.jsonl").open("w") as handle:
        for row in [*_part_rows("Second", 100), dup]:
            handle.write(json.dumps(row) + "\n")
        handle.write('{"text": "half written')
    stats = build_splits.build_splits(parts, out)
    assert (
        stats["total"] == 500
        and stats["duplicates_dropped"] == 1
        and len(stats["invalid_lines"]) == 1
    )
    after = {
        name: {json.loads(line)["id"] for line in (out / f"{name}.jsonl").open()} for name in sizes
    }
    for name in sizes:
        assert before[name] <= after[name]  # no old sentence moved
    rows = [json.loads(line) for line in (out / "train.jsonl").open()]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert set(rows[0]) == {"id", "text", "hype", "growth", "evidence", "source", "topic", "lang"}
    saved = json.loads((out / "stats.json").read_text())
    assert saved["labels"]["hype"] == sum(r["hype"] for r in [*first, *_part_rows("Second", 100)])


def test_build_splits_fails_loudly_when_a_split_lacks_a_label(
    build_splits: ModuleType, tmp_path: Path
) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    _write_jsonl(parts / "a.jsonl", [dict(r, evidence=0) for r in _part_rows("Only", 100)])
    assert build_splits.main(["--parts", str(parts), "--out", str(tmp_path / "out")]) == 1


# --------------------------------------------------------------------------- training (real encoder)


@pytest.mark.slow
def test_head_training_is_deterministic_per_seed(tiny_options: TrainingOptions) -> None:
    train, validation = split_rows()
    first = train_scorer(train, validation, tiny_options)
    second = train_scorer(train, validation, tiny_options)
    assert first.model_version == second.model_version
    other = train_scorer(
        train, validation, TrainingOptions(**{**tiny_options.__dict__, "seed": 99})
    )
    assert other.model_version != first.model_version
    record = first.config["training"]
    assert record["train_counts"]["sentences"] == len(train) and record["train_seconds"] > 0
    assert all(0.05 <= t <= 20 for t in first.temperatures)


@pytest.fixture
def tiny_options() -> TrainingOptions:
    return TrainingOptions(method="head", epochs=10, seed=5, device="cpu")


@pytest.mark.slow
def test_train_to_directory_writes_model_metrics_and_card(tmp_path: Path) -> None:
    train, validation = split_rows()
    data = tmp_path / "splits"
    data.mkdir()
    _write_jsonl(data / "train.jsonl", train)
    _write_jsonl(data / "validation.jsonl", validation)
    _write_jsonl(data / "test.jsonl", validation)
    summary = train_to_directory(
        data,
        tmp_path / "model",
        TrainingOptions(method="head", epochs=20, device="cpu"),
        zero_shot=False,
    )
    model = tmp_path / "model"
    metrics = json.loads((model / "metrics.json").read_text())
    assert summary["model_version"] == metrics["model"]["model_version"]
    card = (model / "README.md").read_text()
    assert f"{metrics['labels']['hype']['auroc']:.3f}" in card
    assert (model / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((model / "config.json").read_text())
    assert config["training"]["data"]["train"] == "train.jsonl"
    # Everything was chosen on validation; the test split was evaluated once, after training.
    selection = config["training"]["selection"]
    assert selection["epoch"].startswith("validation split") and selection[
        "temperatures"
    ].startswith("validation")
    assert "once" in selection["test"] and "Selection: which split chose what" in card
    assert selection["epoch"] in card
    validation_metrics = config["training"]["validation_metrics"]
    assert set(validation_metrics) == {"hype", "growth", "evidence"}
    assert summary["validation_metrics"] == validation_metrics
    assert list(metrics["sets"]) == ["test"] and metrics["sets"]["test"]["text_public"]


def test_validation_threshold_maximises_validation_macro_f1() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    # Any cut in (0.35, 0.6] separates the classes; 0.5 is the nearest to 0.5.
    assert validation_threshold(y, np.array([0.1, 0.2, 0.35, 0.6, 0.8, 0.9])) == 0.5
    # Only cuts in (0.15, 0.2] separate them: 0.2 is chosen.
    assert validation_threshold(y, np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4])) == 0.2
    assert validation_threshold(np.zeros(4, dtype=int), np.array([0.1, 0.9, 0.3, 0.2])) == 0.5
    with pytest.raises(InputError):
        TrainingOptions(thresholds="test").resolved()


@pytest.mark.slow
def test_lora_training_saves_only_adapter_and_head(tmp_path: Path) -> None:
    train, validation = split_rows()
    options = TrainingOptions(
        method="lora", epochs=1, warmup_epochs=5, batch_size=16, seed=1, device="cpu"
    )
    scorer = train_scorer(train[:24], validation[:12], options)
    assert scorer.config["lora"]["target_modules"] == ["query", "value"]
    saved = scorer.save_pretrained(tmp_path / "lora")
    assert (saved / "adapter" / "adapter_model.safetensors").is_file()
    assert not (saved / "encoder").exists()
    assert sum(f.stat().st_size for f in saved.rglob("*.safetensors")) < 5_000_000
    reloaded = HypeScorer.from_pretrained(saved, device="cpu")
    texts = [HYPE[0], GROWTH[0]]
    np.testing.assert_allclose(
        scorer.probabilities(texts), reloaded.probabilities(texts), atol=1e-5
    )
    assert reloaded.model_version == scorer.model_version
    # The adapter changed the encoder: the zero-initialised LoRA update was trained.
    state = reloaded.encoder.model._analyzer_adapter_state
    assert any(float(v.abs().sum()) > 0 for k, v in state.items() if "lora_B" in k)


@pytest.mark.slow
def test_base_given_as_a_local_path_loads_through_transformers(
    packaged_encoder_path: Path, tmp_path: Path
) -> None:
    # A different directory holding the same files: a local base that is not the packaged one.
    local = tmp_path / "my-encoder"
    local.mkdir()
    for item in packaged_encoder_path.iterdir():
        (local / item.name).symlink_to(item)
    train, validation = split_rows()
    options = TrainingOptions(method="head", epochs=5, base=str(local), device="cpu")
    scorer = train_scorer(train[:20], validation[:10], options)
    assert scorer.config["base"] == str(local) and scorer.config["base_fingerprint"]
    reloaded = HypeScorer.from_pretrained(scorer.save_pretrained(tmp_path / "m"), device="cpu")
    assert reloaded.config["base"] == str(local)
    np.testing.assert_array_equal(
        scorer.probabilities([HYPE[1]]), reloaded.probabilities([HYPE[1]])
    )
    # The same weights under another path give the same embeddings as the packaged encoder.
    packaged = SentenceEncoder(*load_base_encoder(str(packaged_encoder_path)))
    np.testing.assert_allclose(
        scorer.encoder.embed(HYPE[:2]).numpy(), packaged.embed(HYPE[:2]).numpy(), atol=1e-6
    )


def test_length_bucketed_batches_cover_every_index_once() -> None:
    import torch

    from analyzer.training.train import _length_bucketed_batches

    texts = [("word " * (i % 17 + 1)).strip() for i in range(203)]
    batches = _length_bucketed_batches(texts, 8, torch.Generator().manual_seed(0))
    flat = sorted(int(i) for batch in batches for i in batch)
    assert flat == list(range(203)) and max(len(b) for b in batches) == 8
    again = _length_bucketed_batches(texts, 8, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


@pytest.mark.slow
def test_pooling_over_several_layers(tmp_path: Path) -> None:
    train, validation = split_rows()
    options = TrainingOptions(method="head", epochs=5, layers="all", device="cpu")
    scorer = train_scorer(train[:20], validation[:10], options)
    assert scorer.config["pooling_layers"] == list(range(7))
    assert scorer.config["head"]["input_dim"] == 7 * 384
    reloaded = HypeScorer.from_pretrained(scorer.save_pretrained(tmp_path / "layers"), device="cpu")
    np.testing.assert_array_equal(scorer.probabilities(HYPE[:3]), reloaded.probabilities(HYPE[:3]))
    # The exported ONNX graph pools the same layers, so it computes the same function.
    assert type(reloaded.use_backend("onnx", cache_dir=tmp_path / "onnx")).__name__ == "OnnxBackend"
    np.testing.assert_allclose(
        scorer.probabilities(HYPE[:3]), reloaded.probabilities(HYPE[:3]), atol=1e-4
    )
    features = reloaded.encoder.embed([HYPE[0]])
    # Each layer's block is a unit vector.
    norms = features.reshape(7, 384).norm(dim=-1)
    np.testing.assert_allclose(norms.numpy(), np.ones(7), atol=1e-5)
