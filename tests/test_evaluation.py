"""Evaluation metrics, zero-shot baseline, report, model card and the `evaluate` command."""

from __future__ import annotations

import json
from pathlib import Path

import hype_fixtures
import numpy as np
import pytest
from hype_fixtures import labelled_rows

from analyzer.cli import main
from analyzer.scoring.scorer import LABELS, HypeScorer
from analyzer.training.evaluation import (
    binary_metrics,
    evaluate_scorer,
    render_model_card,
    write_evaluation,
    zero_shot_metrics,
)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hype_fixtures.tiny_model_dir_for(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_scorer(tiny_model_dir: Path) -> HypeScorer:
    return hype_fixtures.loaded_scorer(tiny_model_dir)


def test_binary_metrics_on_a_hand_counted_case() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.1, 0.05])
    m = binary_metrics(y, p, threshold=0.5)
    assert m["confusion"] == {"tn": 4, "fp": 1, "fn": 1, "tp": 2}
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # Negative class: precision 4/5, recall 4/5 -> F1 0.8; macro = (2/3 + 0.8) / 2.
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # 15 positive/negative pairs, all ranked correctly except (0.3, 0.6).
    assert m["auroc"] == pytest.approx(14 / 15)
    assert m["support_positive"] == 3 and m["support_negative"] == 5
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_binary_metrics_with_one_class_has_no_auroc() -> None:
    m = binary_metrics(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.7, 0.0]))
    assert m["auroc"] is None and m["average_precision"] is None
    assert m["confusion"]["fp"] == 1


def test_zero_shot_metrics_use_margin_sign_and_ranking() -> None:
    y = np.array([1, 1, 0, 0])
    margin = np.array([0.2, -0.01, -0.3, 0.05])
    m = zero_shot_metrics(y, margin)
    assert m["auroc"] == pytest.approx(0.75)
    assert m["f1"] == pytest.approx(0.5)  # predicted positives: 0.2 (right) and 0.05 (wrong)
    assert m["best_threshold_f1"] >= m["f1"]


@pytest.mark.slow
def test_evaluate_scorer_reports_everything(tiny_scorer: HypeScorer) -> None:
    rows = labelled_rows() + [
        {"text": "これは革命的です。", "hype": 1, "growth": 0, "evidence": 0, "lang": "ja"},
    ]
    metrics = evaluate_scorer(tiny_scorer, rows, n_worst=7, data_name="tiny.jsonl")
    assert metrics["data"]["sentences"] == len(rows) - 1
    assert metrics["data"]["excluded_unsupported_language"] == 1
    for label in LABELS:
        m = metrics["labels"][label]
        assert {"precision", "recall", "f1", "macro_f1", "auroc", "average_precision", "ece", "confusion"} <= set(m)
        assert sum(m["confusion"].values()) == len(rows) - 1
        assert 0.0 <= m["ece"] <= 1.0 and len(m["reliability"]["count"]) == 15
        assert metrics["zero_shot"][label]["auroc"] is not None
    worst = metrics["worst_errors"]
    assert len(worst) == 7
    gaps = [abs(e["probability"] - e["expected"]) for e in worst]
    assert gaps == sorted(gaps, reverse=True)
    assert metrics["model"]["model_version"] == tiny_scorer.model_version
    # The model learned its training sentences far better than the untrained baseline ranks them.
    assert metrics["summary"]["auroc"] > metrics["summary"]["zero_shot_auroc"]


@pytest.mark.slow
def test_report_plot_and_card_are_written(tiny_scorer: HypeScorer, tmp_path: Path) -> None:
    metrics = evaluate_scorer(tiny_scorer, labelled_rows(), zero_shot=False)
    files = write_evaluation(metrics, tmp_path)
    assert {f.name for f in files} == {"metrics.json", "report.md", "reliability.png"}
    assert (tmp_path / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    report = (tmp_path / "report.md").read_text()
    assert f"{metrics['labels']['growth']['macro_f1']:.3f}" in report and "worst errors" in report
    card = render_model_card(metrics, tiny_scorer.config)
    assert f"{metrics['labels']['evidence']['ece']:.3f}" in card
    assert tiny_scorer.model_version in card and "Limits" in card
    assert json.loads((tmp_path / "metrics.json").read_text())["summary"]["macro_f1"] == pytest.approx(
        metrics["summary"]["macro_f1"]
    )


@pytest.mark.slow
def test_evaluate_command_updates_the_card(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in labelled_rows()))
    main(["evaluate", str(model), str(data), "--out", str(tmp_path / "eval"), "--card", "--no-zero-shot"])
    out = capsys.readouterr().out
    assert "metrics.json" in out and "macro F1" in out
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert json.loads((model / "metrics.json").read_text())["summary"] == metrics["summary"]
    card = (model / "README.md").read_text()
    assert f"{metrics['labels']['hype']['auroc']:.3f}" in card
    assert metrics["zero_shot"] is None


def test_evaluate_command_reports_a_missing_model_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "test.jsonl"
    data.write_text(json.dumps({"text": "x", "hype": 0, "growth": 0, "evidence": 0}) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(tmp_path / "no-model"), str(data), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "Traceback" not in err
