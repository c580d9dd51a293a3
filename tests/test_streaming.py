"""Resumable streaming of `analyzer score --input/--output`: kill -9, resume, dedup, bad lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hype_fixtures
import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL

from analyzer.scoring.files import (
    CHECKPOINT_FILE,
    InputRecord,
    RecordProblem,
    read_records,
    score_file_resumable,
    work_dir_for,
)
from analyzer.scoring.scorer import HypeScorer

pytestmark = pytest.mark.slow
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hype_fixtures.tiny_model_dir_for(tmp_path_factory)


@pytest.fixture(scope="module")
def scorer(model_dir: Path) -> HypeScorer:
    loaded = HypeScorer.from_pretrained(model_dir, device="cpu")
    loaded.use_backend("onnx")
    return loaded


def _records(n: int) -> list[dict[str, object]]:
    """Short documents: a repeated boilerplate sentence plus one sentence unique to the record."""
    pool = HYPE + GROWTH + EVIDENCE + NEUTRAL
    return [
        {"id": f"doc-{i}", "text": f"{pool[i % len(pool)]} Item {i} was reviewed on day {i % 97}."}
        for i in range(n)
    ]


def _write_jsonl(
    path: Path, rows: list[dict[str, object]], broken_at: set[int] = frozenset()
) -> Path:
    lines = []
    for i, row in enumerate(rows):
        if i in broken_at:
            lines.append('{"id": "broken", "text": "never closed"')
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _assert_same_rows(resumed: list[dict[str, object]], reference: list[dict[str, object]]) -> None:
    assert [r["id"] for r in resumed] == [r["id"] for r in reference]
    assert len({r["id"] for r in resumed}) == len(resumed)
    for a, b in zip(resumed, reference):
        assert a["n_sentences"] == b["n_sentences"] and a["unscored"] == b["unscored"]
        for label in ("hype", "growth", "evidence"):
            assert a[label] == pytest.approx(b[label], abs=1e-5)


def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(
    model_dir: Path, tmp_path: Path
) -> None:
    rows = _records(1500)
    source = _write_jsonl(tmp_path / "in.jsonl", rows, broken_at={700})
    out = tmp_path / "out.jsonl"
    command = [
        sys.executable,
        "-c",
        "from analyzer.cli import main; main()",
        "score",
        "--input",
        str(source),
        "--output",
        str(out),
        "--model",
        str(model_dir),
        "--device",
        "cpu",
        "--batch-size",
        "25",
        "--checkpoint-every",
        "50",
        "--json",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    checkpoint = work_dir_for(out) / CHECKPOINT_FILE
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists() and json.loads(checkpoint.read_text())["position"] >= 150:
                break
            time.sleep(0.01)
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.communicate()
    assert not out.exists()  # the output appears only when complete
    state = json.loads(checkpoint.read_text())
    assert 0 < state["position"] < 1501 and not state["finished"]

    resumed = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed_at_record"] == state["position"]
    assert summary["records"] == 1500 and summary["problems"] == 1
    assert "line 701" in resumed.stderr and "resuming" in resumed.stderr
    assert not work_dir_for(out).exists()

    reference = tmp_path / "reference.jsonl"
    direct = subprocess.run(
        [*command[:7], str(reference), *command[8:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert direct.returncode == 0, direct.stderr[-2000:]
    _assert_same_rows(_read_jsonl(out), _read_jsonl(reference))


def test_interrupted_parquet_run_resumes_to_the_same_rows(
    scorer: HypeScorer, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _records(300)
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source, row_group_size=40)
    reference = score_file_resumable(scorer, source, tmp_path / "reference.parquet", chunk_size=20)

    original = scorer.sentence_scores
    calls = {"n": 0}

    def interrupt_on_the_sixth_call(sentences: list[str]) -> list[dict[str, float]]:
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(sentences)

    out = tmp_path / "out.parquet"
    scorer.sentence_scores = interrupt_on_the_sixth_call
    try:
        with pytest.raises(KeyboardInterrupt):
            score_file_resumable(scorer, source, out, chunk_size=20, checkpoint_records=40)
    finally:
        del scorer.sentence_scores
    assert not out.exists()
    messages: list[str] = []
    summary = score_file_resumable(
        scorer, source, out, chunk_size=20, checkpoint_records=40, on_resume=messages.append
    )
    assert summary.resumed_at_record == 100 and summary.records == 300
    assert messages and "resuming" in messages[0]
    assert reference.records == 300
    _assert_same_rows(
        pq.read_table(out).to_pylist(), pq.read_table(tmp_path / "reference.parquet").to_pylist()
    )


def test_changed_input_or_no_resume_starts_over(scorer: HypeScorer, tmp_path: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", _records(60))
    out = tmp_path / "out.jsonl"
    work = work_dir_for(out)
    work.mkdir()
    stale = {
        "format": 1,
        "input": {"path": "elsewhere"},
        "position": 40,
        "offset": 999,
        "outputs": {},
    }
    (work / CHECKPOINT_FILE).write_text(json.dumps(stale))
    messages: list[str] = []
    summary = score_file_resumable(scorer, source, out, chunk_size=16, on_resume=messages.append)
    assert summary.resumed_at_record == 0 and summary.records == 60
    assert "discarding" in messages[0]
    assert [r["id"] for r in _read_jsonl(out)] == [f"doc-{i}" for i in range(60)]


def test_identical_sentences_are_scored_once_per_run(scorer: HypeScorer, tmp_path: Path) -> None:
    # A sentence repeated in every record (a sign-up line would be boilerplate, never scored).
    boilerplate = "The company is based in Helsinki and employs about 400 people."
    rows = [{"id": i, "text": f"{HYPE[i % 3]} {boilerplate}"} for i in range(90)]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    seen: list[str] = []
    original = scorer.probabilities

    def counting(texts: list[str]):
        seen.extend(texts)
        return original(texts)

    scorer.probabilities = counting
    try:
        summary = score_file_resumable(scorer, source, tmp_path / "out.jsonl", chunk_size=8)
    finally:
        del scorer.probabilities
    # Three distinct hype sentences and the boilerplate: four model evaluations in all.
    assert sorted(seen) == sorted({*HYPE[:3], boilerplate})
    assert summary.sentences_computed == 4 and summary.sentence_cache_hits == 180 - 4
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert out[0]["hype"] == pytest.approx(out[3]["hype"]) and out[0]["n_sentences"] == 2


def test_broken_lines_are_reported_with_their_line_numbers_after_a_resume_point(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n\n{oops\n[1, 2]\n{"id": 6, "text": "f"}\n'
    )
    items = list(read_records(source))
    first = items[0]
    assert isinstance(first, InputRecord) and first.end == len('{"id": 1, "text": "a"}\n')
    resumed = list(read_records(source, start=(first.end, first.position)))
    problems = [i for i in resumed if isinstance(i, RecordProblem)]
    assert [p.position for p in problems] == [4, 5]
    assert (
        "line 4: invalid JSON" in problems[0].message
        and "line 5: expected a JSON object" in problems[1].message
    )
    assert [i.id for i in resumed if isinstance(i, InputRecord)] == [2, 6]


def test_parquet_reading_skips_what_was_already_read(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(
        pa.table({"id": list(range(250)), "text": [f"t{i}" for i in range(250)]}),
        source,
        row_group_size=64,
    )
    for skip in (0, 63, 64, 130, 249, 250):
        records = list(read_records(source, start=(skip, skip)))
        assert [r.id for r in records] == list(range(skip, 250))
        assert [r.position for r in records][:1] == ([skip + 1] if skip < 250 else [])
