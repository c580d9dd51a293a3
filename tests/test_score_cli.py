"""`analyzer score`: files (JSONL, CSV, Parquet), bad records, one text, and the database."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import hype_fixtures
import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL

from analyzer.cli import main
from analyzer.scoring.files import OUTPUT_COLUMNS, InputRecord, RecordProblem, score_records
from analyzer.scoring.scorer import HypeScorer
from analyzer.storage import DocumentRecord, Store

pytestmark = pytest.mark.slow

JAPANESE = "この革命的なトークンは月まで行く！来年は売上が倍増する見込みだ。"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hype_fixtures.tiny_model_dir_for(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_scorer(tiny_model_dir: Path) -> HypeScorer:
    return hype_fixtures.loaded_scorer(tiny_model_dir)


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_round_trip_with_a_broken_line(
    tiny_model_dir: Path,
    tiny_scorer: HypeScorer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    article = f"{HYPE[0]} {EVIDENCE[0]}\n\n{GROWTH[0]}"
    source = _jsonl(
        tmp_path / "in.jsonl",
        [
            json.dumps({"id": "a", "text": article}),
            json.dumps({"id": 7, "text": NEUTRAL[0]}),
            '{"id": "broken", "text": "no closing brace"',
            json.dumps({"id": "ja", "text": JAPANESE}),
            json.dumps({"id": "empty", "text": ""}),
            json.dumps({"id": "none"}),
        ],
    )
    out = tmp_path / "out.jsonl"
    main(
        [
            "score",
            "--input",
            str(source),
            "--output",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--device",
            "cpu",
        ]
    )
    captured = capsys.readouterr()
    assert "line 3" in captured.err and "invalid JSON" in captured.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", 7, "ja", "empty", "none"]
    assert all(list(r) == list(OUTPUT_COLUMNS) for r in rows)
    expected = tiny_scorer.score_document(article)
    assert (
        rows[0]["n_sentences"] == 3 and rows[0]["unscored"] is False and rows[0]["language"] == "en"
    )
    for label in ("hype", "growth", "evidence"):
        assert rows[0][label] == pytest.approx(
            expected[label], abs=1e-4
        )  # the CLI may use ONNX Runtime
    assert rows[2]["unscored"] is True and rows[2]["language"] == "ja" and rows[2]["hype"] is None
    assert rows[3]["unscored"] is True and rows[3]["n_sentences"] == 0
    assert rows[4]["unscored"] is True and "text is missing" in captured.err
    assert "Scored 5 records" in captured.out


def test_strict_mode_fails_after_writing_the_good_rows(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _jsonl(
        tmp_path / "in.jsonl", ["not json at all", json.dumps({"id": 1, "text": HYPE[1]})]
    )
    out = tmp_path / "out.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "score",
                "--input",
                str(source),
                "--output",
                str(out),
                "--model",
                str(tiny_model_dir),
                "--strict",
            ]
        )
    assert exit_info.value.code == 1
    assert "--strict" in capsys.readouterr().err
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [1]


def test_csv_round_trip_with_sentence_rows(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "text"])
        writer.writerow(["x1", "t", f'{EVIDENCE[2]}\n\nHe said "wow, great", and left.'])
        writer.writerow(["x2", "t", GROWTH[2]])
        writer.writerow(["x3", "t", ""])
    out, sentences = tmp_path / "out.csv", tmp_path / "sentences.csv"
    main(
        [
            "score",
            "--input",
            str(source),
            "--output",
            str(out),
            "--sentences",
            str(sentences),
            "--model",
            str(tiny_model_dir),
            "--batch-size",
            "2",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 3 and summary["problems"] == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["x1", "x2", "x3"] and list(rows[0]) == list(OUTPUT_COLUMNS)
    assert rows[0]["n_sentences"] == "2" and rows[2]["unscored"] == "True" and rows[2]["hype"] == ""
    sentence_rows = list(csv.DictReader(sentences.open(encoding="utf-8")))
    assert [(r["id"], r["sentence_index"]) for r in sentence_rows] == [
        ("x1", "0"),
        ("x1", "1"),
        ("x2", "0"),
    ]
    assert sentence_rows[0]["text"] == EVIDENCE[2]
    assert summary["sentences"] == 3
    mean = (float(sentence_rows[0]["hype"]) + float(sentence_rows[1]["hype"])) / 2
    assert float(rows[0]["hype"]) == pytest.approx(mean, abs=1e-6)


def test_parquet_round_trip(tiny_model_dir: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [10, 11], "text": [HYPE[3], EVIDENCE[3]]}), source)
    out = tmp_path / "out.parquet"
    main(["score", "--input", str(source), "--output", str(out), "--model", str(tiny_model_dir)])
    table = pq.read_table(out).to_pylist()
    assert [r["id"] for r in table] == ["10", "11"]
    assert table[0]["hype"] > table[1]["hype"] and table[1]["evidence"] > table[0]["evidence"]


def test_bad_options_and_files_give_one_clean_line(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,hello\n")
    cases = [
        ["score", "--input", str(source), "--model", str(tiny_model_dir)],
        [
            "score",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.csv"),
            "--model",
            str(tiny_model_dir),
        ],
        [
            "score",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.xlsx"),
            "--model",
            str(tiny_model_dir),
        ],
        ["score", "--text", "hi", "--model", str(tmp_path / "missing-model")],
    ]
    for argv in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("Error:") and "Traceback" not in err, argv


def test_text_option_prints_document_and_sentence_scores(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["score", "--text", f"{HYPE[4]} {EVIDENCE[4]}", "--model", str(tiny_model_dir)])
    result = json.loads(capsys.readouterr().out)
    assert result["n_sentences"] == 2 and len(result["sentences"]) == 2 and result["model_version"]


def test_score_records_streams_chunk_by_chunk(tiny_scorer: HypeScorer) -> None:
    consumed = []

    def records():
        for i in range(10):
            consumed.append(i)
            yield InputRecord(i + 1, i, NEUTRAL[i % len(NEUTRAL)])
        yield RecordProblem(11, "line 11: broken")

    problems = []
    stream = score_records(tiny_scorer, records(), chunk_size=3, on_problem=problems.append)
    first = next(stream)
    assert first.row["id"] == 0 and len(consumed) == 3  # only the first chunk was read
    rest = list(stream)
    assert [r.row["id"] for r in rest] == list(range(1, 10))
    assert [p.message for p in problems] == ["line 11: broken"]


def _add_documents(store: Store, texts: list[str]) -> list[int]:
    return [
        store.upsert_document(
            DocumentRecord(text=t, title=f"doc {i}", url=f"https://example.com/{i}")
        ).document_id
        for i, t in enumerate(texts)
    ]


def test_db_scoring_is_incremental_cached_and_keeps_old_versions(
    tiny_model_dir: Path, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = f"{HYPE[0]} {EVIDENCE[0]}"
    ids = _add_documents(store, [shared, f"{shared} {GROWTH[0]}", JAPANESE])
    argv = ["score", "--db", str(store.path), "--model", str(tiny_model_dir), "--json"]
    main(argv)
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 3 and stats["unscored"] == 1
    # The second document repeats the first one's two sentences: computed once.
    assert stats["computed_sentences"] == 3
    scores = store.query("SELECT * FROM scores ORDER BY document_id")
    assert (
        [s["document_id"] for s in scores] == ids
        and scores[2]["unscored"] == 1
        and scores[2]["hype"] is None
    )
    assert store.query("SELECT COUNT(*) AS n FROM sentence_scores")[0]["n"] == 2 + 3 + 2

    main(argv)  # nothing left for this version
    assert json.loads(capsys.readouterr().out)["documents"] == 0

    _add_documents(store, [f"{EVIDENCE[0]} {NEUTRAL[1]}"])
    main(argv)
    stats = json.loads(capsys.readouterr().out)
    assert (
        stats["documents"] == 1
        and stats["cached_sentences"] == 1
        and stats["computed_sentences"] == 1
    )

    # A recalibrated model is a new version: everything is scored again, old scores stay.
    other = tmp_path / "recalibrated"
    shutil.copytree(tiny_model_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["temperatures"]["hype"] = 3.0
    (other / "config.json").write_text(json.dumps(config))
    main(["score", "--db", str(store.path), "--model", str(other), "--json"])
    assert json.loads(capsys.readouterr().out)["documents"] == 4
    versions = store.query("SELECT model_version, COUNT(*) AS n FROM scores GROUP BY model_version")
    assert sorted(v["n"] for v in versions) == [4, 4]
    runs = store.query("SELECT command, status FROM runs")
    assert runs and all(r == {"command": "score", "status": "ok"} for r in runs)


def test_db_that_does_not_exist_is_an_error(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--db", str(tmp_path / "nope.db"), "--model", str(tiny_model_dir)])
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()


def test_one_cache_key_from_the_database_to_files(
    tiny_model_dir: Path, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from analyzer.scoring.cache import MemorySentenceCache
    from analyzer.storage import content_hash

    text = f"{HYPE[1]} {EVIDENCE[1]}"
    _add_documents(store, [text])
    main(["score", "--db", str(store.path), "--model", str(tiny_model_dir), "--json"])
    capsys.readouterr()
    stored_keys = {row["text_hash"] for row in store.query("SELECT text_hash FROM score_cache")}
    sentences = [row["text"] for row in store.query("SELECT text FROM sentences")]
    assert stored_keys == {content_hash(s) for s in sentences}

    # A file run with --db reads those scores instead of computing them again.
    source = _jsonl(tmp_path / "again.jsonl", [json.dumps({"id": "x", "text": text})])
    out = tmp_path / "again.jsonl.out.jsonl"
    main(
        [
            "score",
            "--input",
            str(source),
            "--output",
            str(out),
            "--db",
            str(store.path),
            "--model",
            str(tiny_model_dir),
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["sentences_computed"] == 0 and summary["sentence_cache_hits"] == len(sentences)

    # The memory cache of a file run holds the same keys.
    scorer = hype_fixtures.loaded_scorer(tiny_model_dir)
    cache = MemorySentenceCache(max_entries=10)
    scorer.score_documents([text], cache=cache)
    assert set(cache.get_many(sorted(stored_keys))) == stored_keys


def test_memory_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    from analyzer.scoring.cache import MemorySentenceCache

    cache = MemorySentenceCache(max_entries=2)
    cache.put_many({"a": (0.1,), "b": (0.2,)})
    assert cache.get_many(["a"]) == {"a": (0.1,)}  # "a" is now the most recent
    cache.put_many({"c": (0.3,)})
    assert set(cache.get_many(["a", "b", "c"])) == {"a", "c"} and len(cache) == 2
