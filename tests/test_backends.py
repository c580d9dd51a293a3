"""Inference backends: ONNX fp32/int8 agreement with torch, the export cache, batching helpers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import hype_fixtures
import numpy as np
import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL

from analyzer.errors import ModelError
from analyzer.scoring.backends import (
    AUTO_CPU_BACKEND,
    OnnxBackend,
    TorchBackend,
    encode_batches,
    ensure_onnx_model,
    onnx_cache_dir,
    prefetch,
    resolve_backend_name,
)
from analyzer.scoring.scorer import HypeScorer

pytestmark = pytest.mark.slow

# Real-looking sentences of varied length beyond the training set, so that batches need padding.
EXTRA = [
    "Shares of the chipmaker jumped 8% in after-hours trading on Wednesday.",
    "The protocol says it will onboard the next billion users within a year, without giving details.",
    "Inventory rose to 4.1 billion dollars at the end of the quarter.",
    "Regulators are reviewing the merger.",
    "Growth!",
    "We believe this partnership positions us to capture an unprecedented, multi-trillion-dollar opportunity "
    "across every vertical, from healthcare to logistics, in the coming decade.",
]
SENTENCES = HYPE + GROWTH + EVIDENCE + NEUTRAL + EXTRA


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the tiny model, so the exports made here do not touch other tests' files."""
    source = hype_fixtures.tiny_model_dir_for(tmp_path_factory)
    target = tmp_path_factory.mktemp("backend-model") / "tiny-hype"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("onnx"))
    return target


@pytest.fixture(scope="module")
def scorer(model_copy: Path) -> HypeScorer:
    return HypeScorer.from_pretrained(model_copy, device="cpu")


def _probabilities(scorer: HypeScorer, logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64) / np.asarray(scorer.temperatures)))


def test_torch_backend_matches_the_plain_scorer_in_input_order(scorer: HypeScorer) -> None:
    reference = scorer.logits(SENTENCES)
    fast = TorchBackend(scorer, batch_size=4).logits(SENTENCES)
    assert fast.shape == reference.shape
    np.testing.assert_allclose(fast, reference, atol=1e-4)


def test_onnx_fp32_agrees_with_torch(scorer: HypeScorer) -> None:
    reference = _probabilities(scorer, scorer.logits(SENTENCES))
    backend = OnnxBackend(scorer, batch_size=8)
    probabilities = _probabilities(scorer, backend.logits(SENTENCES))
    assert np.abs(probabilities - reference).max() < 1e-4
    assert ((probabilities > 0.5) == (reference > 0.5)).all()
    assert backend.path.parent == scorer.path / "onnx" and backend.path.is_file()


def test_onnx_int8_stays_close_to_torch(scorer: HypeScorer) -> None:
    reference = _probabilities(scorer, scorer.logits(SENTENCES))
    backend = OnnxBackend(scorer, quantized=True)
    probabilities = _probabilities(scorer, backend.logits(SENTENCES))
    assert backend.path.name.endswith("-int8.onnx")
    assert np.abs(probabilities - reference).max() < 0.1
    assert ((probabilities > 0.5) == (reference > 0.5)).mean() >= 0.97
    # Smaller than the fp32 file: the quantised projections hold int8 weights.
    assert backend.path.stat().st_size < ensure_onnx_model(scorer).stat().st_size


def test_use_backend_routes_scores_through_the_backend_and_can_be_undone(model_copy: Path) -> None:
    scorer = HypeScorer.from_pretrained(model_copy, device="cpu")
    plain = scorer.score(SENTENCES[:5])
    backend = scorer.use_backend("onnx")
    calls = []
    original = backend.logits
    backend.logits = lambda texts: calls.append(len(texts)) or original(texts)
    fast = scorer.score(SENTENCES[:5])
    assert calls == [5]
    for a, b in zip(plain, fast):
        assert a["hype"] == pytest.approx(b["hype"], abs=1e-5)
    scorer.use_backend(None)
    scorer.score(SENTENCES[:2])
    assert calls == [5]


def test_onnx_cache_is_reused_and_rebuilt_for_a_new_model_version(
    model_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = HypeScorer.from_pretrained(model_copy, device="cpu")
    first = ensure_onnx_model(scorer)
    sidecar = json.loads(first.with_suffix(".json").read_text())
    assert sidecar["model_version"] == scorer.model_version and scorer.model_version in first.name

    import analyzer.scoring.backends.onnx_backend as onnx_backend

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached export should have been reused")

    with monkeypatch.context() as patch:
        patch.setattr(onnx_backend, "export_onnx", no_export)
        assert ensure_onnx_model(HypeScorer.from_pretrained(model_copy, device="cpu")) == first

    # Recalibrating changes the model version: a fresh export replaces the stale one.
    recalibrated = tmp_path / "recalibrated"
    shutil.copytree(model_copy, recalibrated)
    config = json.loads((recalibrated / "config.json").read_text())
    config["temperatures"]["hype"] = 2.5
    (recalibrated / "config.json").write_text(json.dumps(config))
    other = HypeScorer.from_pretrained(recalibrated, device="cpu")
    assert other.model_version != scorer.model_version
    stale = recalibrated / "onnx" / first.name
    assert stale.is_file()  # copied along with the model
    rebuilt = ensure_onnx_model(other)
    assert rebuilt != stale and rebuilt.is_file() and not stale.exists()


def test_unsaved_models_cache_under_the_data_folder(
    scorer: HypeScorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYZER_ONNX_CACHE", str(tmp_path / "cache"))
    unsaved = HypeScorer(scorer.encoder, scorer.head, scorer.config)
    assert onnx_cache_dir(unsaved) == tmp_path / "cache" / unsaved.model_id
    assert onnx_cache_dir(scorer, tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_backend_names() -> None:
    assert resolve_backend_name("auto", "cpu") == AUTO_CPU_BACKEND
    assert resolve_backend_name(None, "cuda:0") == "torch"
    assert resolve_backend_name("ONNX-INT8", "cpu") == "onnx-int8"
    with pytest.raises(ModelError, match="unknown backend"):
        resolve_backend_name("tensorrt", "cpu")


def test_encode_batches_pad_each_batch_to_its_own_longest_text(scorer: HypeScorer) -> None:
    tokenizer = scorer.encoder.tokenizer
    batches = list(encode_batches(tokenizer, SENTENCES, batch_size=7, max_length=64))
    seen = np.concatenate([b.indices for b in batches])
    assert sorted(seen.tolist()) == list(range(len(SENTENCES)))
    lengths = {
        i: len(ids)
        for i, ids in enumerate(tokenizer(SENTENCES, truncation=True, max_length=64)["input_ids"])
    }
    widths = [b.input_ids.shape[1] for b in batches]
    assert widths == sorted(widths, reverse=True)  # longest first
    for batch in batches:
        assert batch.input_ids.shape[1] == max(lengths[i] for i in batch.indices)
        assert batch.attention_mask.sum(axis=1).tolist() == [lengths[i] for i in batch.indices]
    # Chunked tokenization (the GPU path) covers the same texts.
    chunked = list(
        encode_batches(tokenizer, SENTENCES, batch_size=4, max_length=64, chunk_batches=2)
    )
    assert sorted(np.concatenate([b.indices for b in chunked]).tolist()) == list(
        range(len(SENTENCES))
    )


def test_prefetch_keeps_order_and_passes_errors_on() -> None:
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("tokenizer broke")

    stream = prefetch(failing())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="tokenizer broke"):
        next(stream)


def test_gpu_only_precisions_are_refused_on_cpu(scorer: HypeScorer) -> None:
    with pytest.raises(ModelError, match="only used on CUDA"):
        TorchBackend(scorer, precision="bf16")
