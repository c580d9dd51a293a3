"""`analyzer bench` and the benchmark harness on a few sentences."""

from __future__ import annotations

import json
from pathlib import Path

import hype_fixtures
import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL

from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.scoring.benchmark import (
    PATHS,
    REFERENCE,
    encoder_flops_per_token,
    gemm_peak_gflops,
    read_sentences,
    run_benchmark,
)

pytestmark = pytest.mark.slow
SENTENCES = HYPE + GROWTH + EVIDENCE + NEUTRAL


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hype_fixtures.tiny_model_dir_for(tmp_path_factory)


def test_bench_command_writes_every_path(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out, table = tmp_path / "results.json", tmp_path / "results.md"
    main(
        [
            "bench",
            "--model",
            str(model_dir),
            "--sentences",
            str(sentences),
            "--n",
            "40",
            "--repeats",
            "2",
            "--in-process",
            "--out",
            str(out),
            "--markdown",
            str(table),
        ]
    )
    results = json.loads(out.read_text())
    assert set(results["paths"]) == {*PATHS, REFERENCE}
    assert results["sentences"]["count"] == 40 and results["sentences"]["tokens"] > 40
    for name, entry in results["paths"].items():
        assert len(entry["seconds"]) == 2 and entry["sentences_per_s"] > 0, name
        assert 0.0 <= entry["label_agreement"] <= 1.0 and entry["max_abs_diff"] >= 0.0
    # Paths that compute the same fp32 function agree with the reference.
    for name in ("naive", "sentence-transformers", "torch", "onnx"):
        assert results["paths"][name]["max_abs_diff"] < 1e-3, name
        assert results["paths"][name]["label_agreement"] == 1.0, name
    assert results["paths"][REFERENCE]["max_abs_diff"] == 0.0
    assert results["paths"]["naive"]["speedup_vs_naive"] == 1.0
    # The hardware ceiling: the encoder's weight work and the machine's fp32 GEMM rate give each
    # path's share of the peak, and the naive share bounds every fp32 path's speed-up.
    assert results["sentences"]["encoder_flops_per_token"] > 0
    assert results["machine"]["fp32_gemm_gflops_per_core"] > 0
    for name, entry in results["paths"].items():
        assert 0 < entry["share_of_gemm_peak"] and entry["useful_gflops"] > 0, name
    naive_share = results["paths"]["naive"]["share_of_gemm_peak"]
    text = table.read_text()
    assert f"exceed {1 / naive_share:.1f}x naive" in text
    assert all(f"| {name} |" in text for name in results["paths"])
    assert "| onnx-int8 |" in capsys.readouterr().out


def test_isolated_workers_report_their_own_peak_memory(model_dir: Path) -> None:
    results = run_benchmark(SENTENCES[:12], model=model_dir, paths=["onnx"], repeats=1)
    assert set(results["paths"]) == {"onnx", REFERENCE} and results["isolated"] is True
    for entry in results["paths"].values():
        assert entry["peak_rss_mb"] > 50 and entry["load_seconds"] > 0
    assert results["paths"]["onnx"]["label_agreement"] == 1.0


def test_bad_benchmark_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no sentences"):
        read_sentences(empty)
    with pytest.raises(InputError, match="unknown benchmark path"):
        run_benchmark(["a sentence"], paths=["tensorrt"])


def test_encoder_work_counts_every_weight_matrix_once(model_dir: Path) -> None:
    import torch

    from analyzer.scoring.scorer import HypeScorer

    scorer = HypeScorer.from_pretrained(model_dir, device="cpu")
    linears = [m for m in scorer.encoder.model.modules() if isinstance(m, torch.nn.Linear)]
    expected = 2 * sum(m.in_features * m.out_features for m in linears)
    assert linears and encoder_flops_per_token(scorer) == expected


def test_gemm_probe_restores_the_thread_count() -> None:
    import torch

    before = torch.get_num_threads()
    assert gemm_peak_gflops(seconds=0.05, shape=(32, 32, 32)) > 0
    assert torch.get_num_threads() == before
