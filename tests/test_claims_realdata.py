"""Compute-price CSV schema, and the real-text claims set's tooling (skips without ../shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.fundamentals.csv_import import parse_fundamentals_csv

PROJECT = Path(__file__).resolve().parent.parent
INDEX = PROJECT / "corpora" / "claims-real" / "candidates.index.jsonl"


def test_gpu_price_rows_are_checked_and_good_rows_kept() -> None:
    text = (
        "entity,metric,date,value,unit,source\n"
        "ai-datacenters,gpu_rental_price_h100,2024-01-31,2.85,USD/GPU-hour,list\n"
        "ai-datacenters,gpu_rental_price_h100,2024-02-29,2.70,USD/hour,list\n"
        "ai-datacenters,gpu_rental_price_h100,2024-03-31,0,USD/GPU-hour,list\n"
        "ai-datacenters,compute_index_gpu_hour,2024-01-31,100,index,tracker:2024-01=100\n"
        "ai-datacenters,compute_index_gpu_hour,2024-02-29,98,points,tracker\n"
        "ai-datacenters,revenue,2024-01-31,5,whatever,csv\n"
    )
    result = parse_fundamentals_csv(text)
    assert [(r["metric"], r["value"]) for r in result.rows] == [
        ("gpu_rental_price_h100", 2.85),
        ("compute_index_gpu_hour", 100.0),
        ("revenue", 5.0),
    ]
    assert [e.line for e in result.errors] == [3, 4, 6]
    assert "USD/GPU-hour" in result.errors[0].message and "positive" in result.errors[1].message


def test_committed_index_holds_no_text() -> None:
    rows = [json.loads(line) for line in INDEX.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 600
    assert all("text" not in r and "sentence" not in r and "context" not in r for r in rows)
    assert all(len(r["sha256"]) == 64 and r["char_end"] > r["char_start"] for r in rows)
    for path in (PROJECT / "corpora" / "claims-real").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not {"text", "sentence"} & set(json.loads(line))


def test_benchmark_skips_cleanly_without_labels(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "bench_claims.py"),
            "run",
            "--annotations",
            str(tmp_path / "none.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout


@pytest.mark.shared
def test_index_spans_rebuild_their_sentences(realdata: Path) -> None:
    sys.path.insert(0, str(PROJECT / "benchmarks"))
    from bench_claims import sentence_for

    rows = [json.loads(line) for line in INDEX.read_text(encoding="utf-8").splitlines()]
    phrasebank = [r for r in rows if r["reader"] in ("phrasebank", "headlines")][:40]
    cache: dict = {}
    assert all(sentence_for(r, cache) is not None for r in phrasebank)


def test_later_rounds_are_fresh_and_hold_labels_only() -> None:
    seen = {json.loads(line)["sha256"] for line in INDEX.read_text(encoding="utf-8").splitlines()}
    for number in ("2", "3"):
        folder = PROJECT / "corpora" / "claims-real" / f"round{number}"
        rows = [
            json.loads(line)
            for line in (folder / "candidates.index.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        digests = {r["sha256"] for r in rows}
        # Each round is drawn from sentences that no earlier round holds.
        assert len(rows) == 500 and len(digests) == 500 and seen.isdisjoint(digests), number
        seen |= digests
        for path in [*folder.glob("*.jsonl"), *(folder / "passes").glob("*.jsonl")]:
            for line in path.read_text(encoding="utf-8").splitlines():
                assert not {"text", "sentence", "context"} & set(json.loads(line)), path


def test_two_passes_merge_where_they_agree_and_take_the_adjudication_elsewhere(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(PROJECT / "benchmarks"))
    from bench_claims import import_passes

    index = [{"id": f"d{i}", "sha256": "0" * 64, "char_start": 0, "char_end": 5} for i in range(4)]
    (tmp_path / "candidates.index.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in index), encoding="utf-8"
    )
    claim = {"is_claim": True, "metric": "revenue", "magnitude_kind": "multiplier"}
    a = [
        {"id": "d0", "is_claim": False},
        {"id": "d1", **claim},
        {"id": "d2", **claim},
        {"id": "d3", "is_claim": False},
    ]
    b = [
        {"id": "d0", "is_claim": False},
        {"id": "d1", **claim},
        {"id": "d2", **claim, "metric": "fees"},
        {"id": "d3", "is_claim": True},
    ]
    decided = [{"id": "d2", **claim, "metric": "fees"}, {"id": "d3", "is_claim": False}]
    files = []
    for name, labels in (("a", a), ("b", b), ("adj", decided)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
        files.append(path)
    agreement = import_passes(*files, folder=tmp_path)
    merged = {
        r["id"]: r["labels"]
        for r in map(json.loads, (tmp_path / "annotations.jsonl").read_text().splitlines())
    }
    assert merged["d2"]["metric"] == "fees" and merged["d3"]["is_claim"] is False
    assert merged["d1"]["metric"] == "revenue" and agreement["adjudicated"] == 2
    assert agreement["kappa_is_claim"] == pytest.approx(0.5)
    assert (tmp_path / "passes" / "b.jsonl").is_file()
    # A disagreement nobody decided is an error, not a silent choice of one pass.
    files[2].write_text(json.dumps(decided[0]) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="d3"):
        import_passes(*files, folder=tmp_path)
