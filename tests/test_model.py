"""HypeScorer: scoring, documents, languages, bad input, saving and loading (real packaged encoder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hype_fixtures
import numpy as np
import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL

from analyzer.errors import InputError, ModelError
from analyzer.scoring.encoder import (
    PACKAGED_BASE,
    base_reference,
    length_sorted_batches,
    resolve_device,
)
from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, LABELS, HypeScorer, aggregate_scores

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hype_fixtures.tiny_model_dir_for(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_scorer(tiny_model_dir: Path) -> HypeScorer:
    return hype_fixtures.loaded_scorer(tiny_model_dir)


def test_score_one_sentence_gives_a_dict_of_probabilities(tiny_scorer: HypeScorer) -> None:
    result = tiny_scorer.score("This revolutionary coin is going to the moon!")
    assert set(result) == {*LABELS, "unscored"}
    assert result["unscored"] is False
    assert all(0.0 <= result[label] <= 1.0 for label in LABELS)


def test_clear_cases_are_ordered(tiny_scorer: HypeScorer) -> None:
    hype, growth, evidence, plain = tiny_scorer.score([HYPE[0], GROWTH[0], EVIDENCE[0], NEUTRAL[0]])
    assert hype["hype"] > max(growth["hype"], evidence["hype"], plain["hype"])
    assert growth["growth"] > max(hype["growth"], evidence["growth"], plain["growth"])
    assert evidence["evidence"] > max(hype["evidence"], growth["evidence"], plain["evidence"])


def test_batching_does_not_change_results_or_order(tiny_scorer: HypeScorer) -> None:
    texts = [HYPE[1], "Short.", EVIDENCE[3] * 3, NEUTRAL[2], GROWTH[4]]
    together = tiny_scorer.probabilities(texts)
    one_by_one = np.vstack([tiny_scorer.probabilities([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_length_sorted_batches_cover_every_index_once() -> None:
    texts = ["a" * n for n in (3, 50, 7, 20, 1, 9, 33)]
    batches = length_sorted_batches(texts, 3)
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    assert [len(b) for b in batches] == [3, 3, 1]
    flattened = [len(texts[i]) for batch in batches for i in batch]
    assert flattened == sorted(flattened, reverse=True)
    with pytest.raises(InputError):
        length_sorted_batches(texts, 0)


def test_empty_text_is_unscored_and_bad_types_raise(tiny_scorer: HypeScorer) -> None:
    assert tiny_scorer.score("") == {
        "hype": None,
        "growth": None,
        "evidence": None,
        "unscored": True,
    }
    mixed = tiny_scorer.score(["   ", HYPE[0]])
    assert mixed[0]["unscored"] is True and mixed[1]["unscored"] is False
    assert tiny_scorer.score([]) == []
    for bad in (None, 42, b"bytes", ["ok", 3]):
        with pytest.raises(InputError):
            tiny_scorer.score(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        tiny_scorer.score_document(123)  # type: ignore[arg-type]


def test_score_document_aggregates_its_sentences(tiny_scorer: HypeScorer) -> None:
    sentences = [HYPE[2], EVIDENCE[0], GROWTH[1], NEUTRAL[3], HYPE[4]]
    result = tiny_scorer.score_document("\n\n".join(sentences))
    assert [s["text"] for s in result["sentences"]] == sentences
    assert result["n_sentences"] == 5 and result["truncated"] is False
    assert result["language"] == "en" and result["unscored"] is False and result["reason"] is None
    direct = tiny_scorer.score(sentences)
    for label in LABELS:
        values = [d[label] for d in direct]
        assert [s[label] for s in result["sentences"]] == pytest.approx(values, abs=1e-5)
        assert result[label] == pytest.approx(np.mean(values), abs=1e-5)
        assert result[f"{label}_top"] == pytest.approx(np.mean(sorted(values)[-3:]), abs=1e-5)
        assert result[f"{label}_share"] == pytest.approx(np.mean([v > 0.5 for v in values]))


def test_aggregate_scores_rules() -> None:
    scores = [
        {"hype": 0.9, "growth": 0.1, "evidence": None},
        {"hype": 0.2, "growth": 0.7, "evidence": None},
    ]
    result = aggregate_scores(scores)
    assert result["hype"] == pytest.approx(0.55)
    assert result["hype_top"] == pytest.approx(0.55)  # fewer than three sentences: all of them
    assert result["growth_share"] == pytest.approx(0.5)
    assert (
        result["evidence"] is None
        and result["evidence_top"] is None
        and result["evidence_share"] is None
    )


def test_unsupported_language_is_unscored_never_neutral(tiny_scorer: HypeScorer) -> None:
    result = tiny_scorer.score_document(
        "この革命的なトークンは月まで行く！来年は売上が倍増する見込みだ。"
    )
    assert result["language"] == "ja"
    assert result["unscored"] is True and "ja" in result["reason"]
    assert all(result[label] is None for label in LABELS)
    assert result["n_sentences"] == 2 and all(s["hype"] is None for s in result["sentences"])
    # Sentence scoring with a stated language follows the same rule.
    assert tiny_scorer.score("これは素晴らしい。", language="ja")["unscored"] is True


def test_multilingual_flag_scores_every_language(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "multi"
    shutil.copytree(tiny_model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config["multilingual"] = True
    (copy / "config.json").write_text(json.dumps(config))
    scorer = HypeScorer.from_pretrained(copy, device="cpu")
    assert scorer.score_document("この革命的なトークンは月まで行く！")["unscored"] is False


def test_empty_document_is_unscored(tiny_scorer: HypeScorer) -> None:
    result = tiny_scorer.score_document("   \n\n ")
    assert result["unscored"] is True and result["n_sentences"] == 0 and result["hype"] is None


def test_several_megabyte_document_is_capped_not_crashed(tiny_scorer: HypeScorer) -> None:
    paragraph = " ".join([HYPE[0], EVIDENCE[1], GROWTH[2], NEUTRAL[0]]) + "\n\n"
    text = paragraph * (3_000_000 // len(paragraph))
    assert len(text) > 2_900_000
    result = tiny_scorer.score_document(text, max_sentences=40)
    assert result["n_sentences"] == 40 and len(result["sentences"]) == 40
    assert result["n_sentences_total"] == text.count("\n\n") * 4
    assert result["truncated"] is True and result["unscored"] is False
    assert 0.0 <= result["hype"] <= 1.0


def test_save_and_load_give_identical_numbers_and_version(
    tiny_scorer: HypeScorer, tmp_path: Path
) -> None:
    texts = [HYPE[3], GROWTH[3], EVIDENCE[3], NEUTRAL[3], "Revenue rose 3% to $1.2 billion."]
    saved = tiny_scorer.save_pretrained(tmp_path / "copy")
    reloaded = HypeScorer.from_pretrained(saved, device="cpu")
    np.testing.assert_array_equal(tiny_scorer.probabilities(texts), reloaded.probabilities(texts))
    assert reloaded.model_version == tiny_scorer.model_version
    assert (
        json.loads((saved / "config.json").read_text())["model_version"] == reloaded.model_version
    )


def test_saved_directory_is_self_contained_and_portable(tiny_model_dir: Path) -> None:
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "head.safetensors", "README.md"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in names)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["labels"] == list(LABELS)
    assert config["base"] == PACKAGED_BASE
    assert config["method"] == "head" and config["pooling"] == "mean"
    assert config["languages"] == ["en"] and set(config["temperatures"]) == set(LABELS)
    assert os.sep + "site-packages" not in (tiny_model_dir / "config.json").read_text()


def test_changing_calibration_changes_the_version(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "recalibrated"
    shutil.copytree(tiny_model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config["temperatures"]["hype"] *= 2
    (copy / "config.json").write_text(json.dumps(config))
    original = HypeScorer.from_pretrained(tiny_model_dir, device="cpu")
    changed = HypeScorer.from_pretrained(copy, device="cpu")
    assert changed.model_version != original.model_version
    # The hype probability moves towards 0.5; the other labels do not move.
    a, b = original.score(HYPE[0]), changed.score(HYPE[0])
    assert abs(b["hype"] - 0.5) < abs(a["hype"] - 0.5)
    assert b["evidence"] == pytest.approx(a["evidence"])


def test_loading_errors_are_model_errors(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelError, match="config.json"):
        HypeScorer.from_pretrained(tmp_path / "nothing-here")
    broken = tmp_path / "no-head"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "head.safetensors").unlink()
    with pytest.raises(ModelError, match="head.safetensors"):
        HypeScorer.from_pretrained(broken)
    monkeypatch.delenv("ANALYZER_MODEL", raising=False)
    monkeypatch.setattr(
        "analyzer.scoring.scorer.DEFAULT_MODEL_DIR", tmp_path / "models" / "hype-default"
    )
    with pytest.raises(ModelError, match="analyzer train"):
        HypeScorer.from_pretrained(None)
    monkeypatch.setenv("ANALYZER_MODEL", str(tiny_model_dir))
    assert HypeScorer.from_pretrained(None, device="cpu").model_version


def test_base_without_safetensors_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="safetensors"):
        HypeScorer.new(str(tmp_path))


def test_base_reference_is_portable(packaged_encoder_path: Path, tmp_path: Path) -> None:
    assert base_reference(None) == PACKAGED_BASE
    assert base_reference(str(packaged_encoder_path)) == PACKAGED_BASE
    assert base_reference("sentence-transformers/all-MiniLM-L6-v2") == PACKAGED_BASE
    assert base_reference(str(tmp_path)) == str(tmp_path)


def test_devices() -> None:
    assert resolve_device("auto") in {"cpu", "cuda", "mps"}
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ModelError):
        resolve_device("tpu")


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, analyzer\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "assert analyzer.HypeScorer.__name__ == 'HypeScorer'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_shipped_default_model_orders_clear_cases() -> None:
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        pytest.skip(f"no shipped model at {DEFAULT_MODEL_DIR}")
    scorer = HypeScorer.from_pretrained(DEFAULT_MODEL_DIR, device="cpu")
    hype, fact, forecast = scorer.score(
        [
            "This insane, revolutionary token will change everything forever! 🚀",
            "Revenue was $35.1 billion in the third quarter, up 94% from a year ago.",
            "We expect data-center revenue to roughly double next year.",
        ]
    )
    assert hype["hype"] > 0.5 > fact["hype"]
    assert fact["evidence"] > 0.5 > hype["evidence"]
    assert forecast["growth"] > 0.5 > fact["growth"]


def test_last_layer_pooling_matches_sentence_transformers(
    tiny_scorer: HypeScorer, packaged_encoder_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    texts = [HYPE[0], "Short.", EVIDENCE[1]]
    reference = SentenceTransformer(str(packaged_encoder_path), device="cpu", local_files_only=True)
    expected = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    ours = tiny_scorer.encoder.embed(texts).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_layer_selection_is_validated() -> None:
    from analyzer.scoring.encoder import resolve_layers

    assert resolve_layers(None, 6) == [-1] and resolve_layers("last", 6) == [-1]
    assert resolve_layers("all", 6) == list(range(7))
    assert resolve_layers("4,5,6", 6) == [4, 5, 6]
    for bad in ("7", "x", [], [9]):
        with pytest.raises(ModelError):
            resolve_layers(bad, 6)
