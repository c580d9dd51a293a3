"""Evaluation: metrics, cue baselines, ECE, breakdowns, worst errors, report, card and `evaluate`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.scoring.scorer import LABELS, HypeScorer
from analyzer.training.evaluation import (
    PROJECT,
    README_BEGIN,
    README_END,
    EvalSet,
    binary_metrics,
    by_group,
    cue_scores,
    evaluate_model,
    evaluate_scorer,
    evaluate_sets,
    lexicon_matches,
    public_metrics,
    render_model_card,
    standard_sets,
    text_sha256,
    update_readme,
    worst_errors,
    write_evaluation,
    zero_shot_metrics,
)

MODEL_DIR = PROJECT / "models" / "hype-default"


@pytest.fixture(scope="module")
def packaged_scorer() -> HypeScorer:
    """The shipped model (a real model, loaded once for the module)."""
    return HypeScorer.from_pretrained(MODEL_DIR, device="cpu")


def _row(text: str, hype: int, growth: int, evidence: int, **extra: object) -> dict[str, object]:
    return {
        "text": text,
        "hype": hype,
        "growth": growth,
        "evidence": evidence,
        "lang": "en",
        **extra,
    }


# Written for this test. Digits appear exactly in the evidence sentences and "!" exactly in
# the hype ones; hype and evidence are crossed, so each cue says nothing about the other label.
# No sentence holds a hype-lexicon word.
CUE_ROWS = [
    _row(
        "Sales reached 41 million units last year, the report said!",
        1,
        0,
        1,
        source="news",
        id="w1",
    ),
    _row("Our platform changes everything for traders!", 1, 1, 0, source="social", id="w2"),
    _row("This is the best token anyone has ever launched!", 1, 0, 0, source="social", id="w3"),
    _row(
        "Revenue rose to 2.4 billion dollars in 2023, and this is only the start!",
        1,
        1,
        1,
        source="news",
        id="w4",
    ),
    _row("The filing lists 312 employees at the end of March.", 0, 0, 1, source="filing", id="w5"),
    _row(
        "Operating costs were 18 percent higher in the second quarter.",
        0,
        1,
        1,
        source="filing",
        id="w6",
    ),
    _row("The board met to discuss the schedule for the review.", 0, 0, 0, source="news", id="w7"),
    _row("Management expects demand to keep growing next year.", 0, 1, 0, source="news", id="w8"),
]


def test_cue_scores_on_known_sentences() -> None:
    texts = [
        "Revenue was 35 million.",
        "Wow!",
        "Launch day 🚀",
        "A revolutionary, game changing token that will skyrocket to the MOON.",
        "The meeting was moved to Tuesday.",
        "収益は３倍に。革命的な製品！",
    ]
    scores = cue_scores(texts)
    assert scores["digit"].tolist() == [1, 0, 0, 0, 0, 1]  # the full-width ３ is a digit too
    assert scores["exclaim_emoji"].tolist() == [0, 1, 1, 0, 0, 1]
    assert scores["hype_lexicon"].tolist() == [0, 0, 0, 4, 0, 1]
    assert [m.lower() for m in lexicon_matches(texts[3])] == [
        "revolutionary",
        "game changing",
        "skyrocket",
        "moon",
    ]
    # Word boundaries: "moonlight" matches "moon*" but "harmony" does not match anything.
    assert lexicon_matches("a moonlight sale in harmony") == ["moonlight"]


@pytest.mark.slow
def test_cue_baselines_rank_every_label(packaged_scorer: HypeScorer) -> None:
    metrics = evaluate_scorer(packaged_scorer, CUE_ROWS, zero_shot=False, data_name="cues")
    baselines = metrics["baselines"]
    assert set(baselines) == {"digit", "exclaim_emoji", "hype_lexicon"}
    assert baselines["digit"]["evidence"] == pytest.approx(1.0)  # digits mark evidence exactly
    assert baselines["exclaim_emoji"]["hype"] == pytest.approx(1.0)
    # Crossed labels: a cue of one label is a coin toss for the other; no lexicon word is a tie.
    assert baselines["digit"]["hype"] == pytest.approx(0.5)
    assert baselines["exclaim_emoji"]["evidence"] == pytest.approx(0.5)
    assert all(baselines["hype_lexicon"][label] == pytest.approx(0.5) for label in LABELS)
    # Growth: 2 of 4 positives hold a digit against 2 of 4 negatives -> 0.5; "!" 2 of 4 vs 2 of 4.
    assert baselines["digit"]["growth"] == pytest.approx(0.5)
    best = metrics["best_cue"]["evidence"]
    assert best["baseline"] == "digit" and best["auroc"] == pytest.approx(1.0)
    assert best["margin"] == pytest.approx(metrics["labels"]["evidence"]["auroc"] - 1.0)
    assert metrics["best_cue"]["hype"]["baseline"] == "exclaim_emoji"


def test_ece_uses_ten_equal_width_bins() -> None:
    # 0.12 and 0.18 share the bin (0.1, 0.2]: mean probability 0.15, observed rate 0.5.
    assert binary_metrics(np.array([1, 0]), np.array([0.12, 0.18]))["ece"] == pytest.approx(0.35)
    # Two bins: (0.05 vs rate 0.5) and (0.95 vs rate 1.0), half the sentences each.
    y = np.array([0, 1, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    assert binary_metrics(y, p)["ece"] == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)
    assert binary_metrics(y, y.astype(float))["ece"] == pytest.approx(0.0, abs=1e-12)


def test_binary_metrics_on_a_hand_counted_case() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.1, 0.05])
    m = binary_metrics(y, p, threshold=0.5)
    assert m["confusion"] == {"tn": 4, "fp": 1, "fn": 1, "tp": 2}
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    # Negative class: precision 4/5, recall 4/5 -> F1 0.8; macro = (2/3 + 0.8) / 2.
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # 15 positive/negative pairs, all ranked correctly except (0.3, 0.6).
    assert m["auroc"] == pytest.approx(14 / 15)
    assert binary_metrics(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.7, 0.0]))["auroc"] is None


def test_zero_shot_metrics_use_margin_sign_and_ranking() -> None:
    y = np.array([1, 1, 0, 0])
    margin = np.array([0.2, -0.01, -0.3, 0.05])
    m = zero_shot_metrics(y, margin)
    assert m["auroc"] == pytest.approx(0.75)
    assert m["f1"] == pytest.approx(0.5)  # predicted positives: 0.2 (right) and 0.05 (wrong)
    assert m["best_threshold_f1"] >= m["f1"]


def test_breakdown_by_source_type() -> None:
    groups = ["feed"] * 4 + ["filing"] * 4 + ["semeval"] * 2
    y = np.zeros((10, 3), dtype=int)
    p = np.zeros((10, 3))
    # hype: feed ranked perfectly, filing exactly inverted, semeval has no positive.
    y[:, 0] = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0]
    p[:, 0] = [0.9, 0.8, 0.2, 0.1, 0.1, 0.2, 0.8, 0.9, 0.3, 0.4]
    y[:, 1] = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    p[:, 1] = [0.6, 0.4, 0.4, 0.6, 0.7, 0.3, 0.7, 0.3, 0.5, 0.5]
    result = by_group(groups, y, p, [0.5, 0.5, 0.5])
    assert list(result) == ["feed", "filing", "semeval"]
    assert result["feed"]["sentences"] == 4 and result["semeval"]["sentences"] == 2
    assert result["feed"]["positives"] == {"hype": 2, "growth": 2, "evidence": 0}
    assert result["feed"]["auroc"]["hype"] == pytest.approx(1.0)
    assert result["filing"]["auroc"]["hype"] == pytest.approx(0.0)
    assert result["semeval"]["auroc"]["hype"] is None  # one class only
    assert result["feed"]["auroc"]["growth"] == pytest.approx(0.5)  # (0.6 > 0.4, 0.4 < 0.6)
    assert result["filing"]["auroc"]["growth"] == pytest.approx(1.0)
    assert result["feed"]["auroc"]["evidence"] is None


def test_worst_errors_are_the_most_confident_mistakes_in_order() -> None:
    rows = [{"id": f"s{i}", "text": f"sentence {i}", "source_type": "feed"} for i in range(8)]
    y = np.zeros((8, 3), dtype=int)
    p = np.full((8, 3), 0.1)
    y[:, 0] = [0, 0, 0, 0, 1, 1, 1, 1]
    p[:, 0] = [0.7, 0.95, 0.2, 0.95, 0.4, 0.05, 0.9, 0.3]
    errors = worst_errors(rows, y, p, [0.5, 0.5, 0.5], k=2)
    hype = errors["hype"]
    # False positives: label 0 at or above the threshold, highest first, ties by id.
    assert [e["id"] for e in hype["false_positives"]] == ["s1", "s3"]
    assert [e["probability"] for e in hype["false_positives"]] == [0.95, 0.95]
    # False negatives: label 1 below the threshold, lowest first (s6 at 0.9 is no error).
    assert [e["id"] for e in hype["false_negatives"]] == ["s5", "s7"]
    assert hype["false_negatives"][0]["sha256"] == text_sha256("sentence 5")
    assert errors["growth"] == {"false_positives": [], "false_negatives": []}
    assert len(worst_errors(rows, y, p, [0.5] * 3, k=10)["hype"]["false_positives"]) == 3


def test_public_metrics_drop_text_of_real_sets_only() -> None:
    entry = {"id": "rt-1", "sha256": "ab", "probability": 0.9, "text": "their words"}
    own = {"id": "w1", "sha256": "cd", "probability": 0.8, "text": "our words"}
    metrics = {
        "sets": {
            "real-en": {
                "text_public": False,
                "worst_errors": {"hype": {"false_positives": [entry], "false_negatives": []}},
            },
            "written": {
                "text_public": True,
                "worst_errors": {"hype": {"false_positives": [own], "false_negatives": []}},
            },
        }
    }
    public = public_metrics(metrics)
    assert "text" not in public["sets"]["real-en"]["worst_errors"]["hype"]["false_positives"][0]
    assert (
        public["sets"]["written"]["worst_errors"]["hype"]["false_positives"][0]["text"]
        == "our words"
    )
    assert (
        metrics["sets"]["real-en"]["worst_errors"]["hype"]["false_positives"][0]["text"]
        == "their words"
    )


def test_standard_sets_skip_with_a_reason_when_labels_or_originals_are_absent(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "real"
    corpus.mkdir()
    sets = standard_sets(
        real_corpus=corpus, sources=tmp_path / "originals", ja_corpus=tmp_path / "none"
    )
    by_name = {s.name: s for s in sets}
    assert [s.name for s in sets] == ["written", "real-en", "real-ja"]
    assert by_name["written"].rows and by_name["written"].text_public
    assert (
        by_name["real-en"].rows is None
        and "annotations.jsonl is absent" in by_name["real-en"].skipped
    )
    (corpus / "annotations.jsonl").write_text("")
    missing = standard_sets(["real-en"], real_corpus=corpus, sources=tmp_path / "originals")[0]
    assert missing.rows is None and "--sources" in missing.skipped
    # No folder named: the library looks nowhere by itself and says what to pass.
    unnamed = standard_sets(["real-en"], real_corpus=corpus)[0]
    assert unnamed.rows is None and "no originals folder given" in unnamed.skipped
    with pytest.raises(InputError):
        standard_sets(["spoken"])


def _labelled_real_corpus(realdata: Path, directory: Path, per_split: int = 25) -> Path:
    """A small labelled real-text corpus: pool annotations labelled where the two passes agree."""
    corpus = PROJECT / "corpora" / "hype-real"
    if (corpus / "annotations.jsonl").is_file():
        lines = [
            json.loads(line)
            for line in (corpus / "annotations.jsonl").read_text().splitlines()
            if line.strip()
        ]
    else:
        passes = [
            {
                json.loads(line)["id"]: json.loads(line)
                for line in (corpus / "passes" / f"{name}.jsonl").read_text().splitlines()
            }
            for name in ("a", "b")
        ]
        lines = []
        for line in (corpus / "pool.jsonl").read_text().splitlines():
            row = json.loads(line)
            a, b = (p.get(row["id"]) for p in passes)
            if a and b and all(a[label] == b[label] for label in LABELS):
                lines.append({**row, **{label: a[label] for label in LABELS}})
    chosen = [r for r in lines if r["split"] == "test" and r["hype"]][:5]
    chosen += [r for r in lines if r["split"] == "test" and not r["hype"]][
        : per_split - len(chosen)
    ]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    return directory


@pytest.mark.slow
@pytest.mark.shared
def test_card_and_model_files_hold_ids_not_real_text(realdata: Path, tmp_path: Path) -> None:
    from analyzer.training.annotations import materialize, read_annotations

    corpus = _labelled_real_corpus(realdata, tmp_path / "hype-real")
    texts = [
        r["text"] for r in materialize(read_annotations(corpus / "annotations.jsonl"), realdata)[0]
    ]
    assert len(texts) >= 20
    model = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n{README_BEGIN}\nold figures\n{README_END}\n\nAfter.\n")
    local = tmp_path / "eval"
    metrics = evaluate_model(
        model,
        local,
        sets=["real-en"],
        real_corpus=corpus,
        sources=realdata,
        update_card=True,
        readme=readme,
        zero_shot=False,
        n_worst=50,
        device="cpu",
    )
    real = metrics["sets"]["real-en"]
    assert real["data"]["sentences"] == len(texts) and not real["text_public"]
    listed = [e for kinds in real["worst_errors"].values() for es in kinds.values() for e in es]
    assert listed, "the shipped model makes mistakes on real text"
    committed = {
        name: (model / name).read_text() for name in ("README.md", "metrics.json", "report.md")
    }
    committed["project README"] = readme.read_text()
    for name, content in committed.items():
        leaked = [t for t in texts if t in content]
        assert not leaked, f"{name} holds real text: {leaked[:1]}"
    for entry in listed[:3]:
        assert entry["id"] in committed["README.md"] or entry["id"] in committed["report.md"]
    # The private output folder keeps the sentences for reading the errors.
    assert any(e["text"] in (local / "report.md").read_text() for e in listed)
    assert f"{real['labels']['hype']['auroc']:.3f}" in committed["README.md"]
    assert (
        committed["project README"].startswith("# Project")
        and "old figures" not in committed["project README"]
    )
    assert committed["project README"].rstrip().endswith("After.")


@pytest.mark.slow
def test_report_and_card_show_each_set_with_baselines(
    packaged_scorer: HypeScorer, tmp_path: Path
) -> None:
    private_rows = [
        dict(r, id=f"p{i}", text="Privately: " + str(r["text"])) for i, r in enumerate(CUE_ROWS)
    ]
    sets = [
        EvalSet("written-sample", "written for this test", list(CUE_ROWS), text_public=True),
        EvalSet("private", "someone else's sentences", private_rows),
        EvalSet("absent", "not here", skipped="no labels yet"),
    ]
    metrics = evaluate_sets(packaged_scorer, sets, zero_shot=True)
    assert list(metrics["sets"]) == ["written-sample", "private"] and metrics["skipped"] == {
        "absent": "no labels yet"
    }
    assert metrics["summary"] == metrics["sets"]["written-sample"]["summary"]
    assert "zero_shot" in metrics["sets"]["private"]["baselines"]
    files = write_evaluation(metrics, tmp_path)
    assert {f.name for f in files} == {
        "metrics.json",
        "report.md",
        "reliability.png",
        "reliability-private.png",
    }
    card = render_model_card(metrics, packaged_scorer.config)
    assert "## written-sample" in card and "## private" in card and "no labels yet" in card
    assert "digit present" in card and "hype lexicon" in card and "zero-shot" in card
    assert "Selection: which split chose what" in card and "validation split" in card
    committed = [
        card,
        (tmp_path / "report.md").read_text(),
        (tmp_path / "metrics.json").read_text(),
    ]
    assert not [r["text"] for r in private_rows for content in committed if r["text"] in content]
    hidden = [
        e
        for kinds in metrics["sets"]["private"]["worst_errors"].values()
        for es in kinds.values()
        for e in es
    ]
    assert all(f"`{e['id']}`" in committed[1] for e in hidden)
    shown = [
        e
        for kinds in metrics["sets"]["written-sample"]["worst_errors"].values()
        for es in kinds.values()
        for e in es
    ]
    assert all(e["text"] in committed[1] for e in shown)  # our own sentences may be shown
    local = tmp_path / "local"
    write_evaluation(metrics, local, local=True)
    assert all(e["text"] in (local / "report.md").read_text() for e in hidden)


def test_update_readme_needs_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(InputError):
        update_readme(readme, {"sets": {}, "model": {"model_version": "x"}})


@pytest.mark.slow
def test_evaluate_command_reports_named_files_and_updates_the_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model)
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in CUE_ROWS))
    main(
        [
            "evaluate",
            str(model),
            str(data),
            "--sets",
            "none",
            "--out",
            str(tmp_path / "eval"),
            "--card",
            "--no-zero-shot",
        ]
    )
    out = capsys.readouterr().out
    assert "mine (8 sentences)" in out and "best cue" in out
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (
        json.loads((model / "metrics.json").read_text())["sets"]["mine"]["summary"]
        == metrics["sets"]["mine"]["summary"]
    )
    card = (model / "README.md").read_text()
    assert f"{metrics['sets']['mine']['labels']['hype']['auroc']:.3f}" in card


def test_evaluate_command_reports_a_missing_model_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "test.jsonl"
    data.write_text(json.dumps({"text": "x", "hype": 0, "growth": 0, "evidence": 0}) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "evaluate",
                str(tmp_path / "no-model"),
                str(data),
                "--sets",
                "none",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "Traceback" not in err


def test_card_update_refuses_the_validation_split(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        evaluate_model(MODEL_DIR, tmp_path, sets=["written"], split="validation", update_card=True)


def test_targets_check_each_set_and_japanese_from_both_sources() -> None:
    from analyzer.training.evaluation import check_targets

    def fake(aurocs: dict[str, float | None], ece: float = 0.03) -> dict[str, object]:
        return {
            "labels": {label: {"auroc": aurocs[label], "ece": ece} for label in LABELS},
            "best_cue": {label: {"margin": (aurocs[label] or 0) - 0.6} for label in LABELS},
        }

    written = fake({"hype": 0.98, "growth": 0.96, "evidence": 0.99})
    written["by_language"] = {"ja": {"auroc": {"hype": 0.95, "growth": 0.85, "evidence": 0.97}}}
    real = fake({"hype": 0.91, "growth": 0.92, "evidence": 0.80}, ece=0.07)
    real_ja = fake({"hype": None, "growth": None, "evidence": 0.93})
    rows = check_targets({"written": written, "real-en": real, "real-ja": real_ja})
    met = {(r["target"], r["set"], r["label"]): r["met"] for r in rows}
    assert met[("AUROC", "written", "growth")] is False  # 0.96 < 0.97
    assert (
        met[("AUROC", "real-en", "evidence")] is False and met[("AUROC", "real-en", "hype")] is True
    )
    assert met[("AUROC above best cue", "real-en", "hype")] is True  # 0.91 - 0.6
    assert ("AUROC above best cue", "real-en", "evidence") not in met  # hype and growth only
    assert met[("ECE", "real-en", "hype")] is False
    assert (
        met[("AUROC", "real-ja", "hype")] is None and met[("AUROC", "real-ja", "evidence")] is True
    )
    assert met[("AUROC", "written (ja)", "growth")] is False
    # An AUROC over a single positive is reported but not counted.
    real_ja["labels"]["evidence"]["support_positive"] = 1
    rows = check_targets({"real-ja": real_ja})
    single = next(r for r in rows if r["set"] == "real-ja" and r["label"] == "evidence")
    assert single["met"] is None and single["value"] == 0.93 and "1 positive" in single["note"]
    # Without any set, nothing is claimed as met.
    assert all(r["met"] is None for r in check_targets({}))
