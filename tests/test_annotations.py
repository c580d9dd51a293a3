"""Annotations over others' text: materialise, refuse what changed, passes, kappa, splits."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from analyzer.errors import InputError
from analyzer.training import locate
from analyzer.training.annotations import (
    annotation_id,
    materialize,
    read_annotations,
    sentence_sha256,
    write_annotations,
)
from analyzer.training.passes import (
    agreement,
    build_annotations,
    cohen_kappa,
    import_pass,
    read_pass,
    write_disagreements,
)
from analyzer.training.pool import sentence_shape

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REAL_CORPUS = PROJECT_ROOT / "corpora" / "hype-real"
ORIGIN = {"origin_repo": "example/repo", "origin_commit": "0" * 40}


def _annotate(located: locate.Located, **extra: object) -> dict:
    where = located.pointer if located.pointer is not None else located.page
    return {
        "id": annotation_id(
            ORIGIN["origin_repo"],
            located.local_path,
            located.extractor,
            where,
            located.start,
            located.end,
        ),
        **ORIGIN,
        "origin_path": located.local_path,
        "local_path": located.local_path,
        "extractor": located.extractor,
        "encoding": located.encoding,
        "pointer": located.pointer,
        "page": located.page,
        "start": located.start,
        "end": located.end,
        "sha256": sentence_sha256(located.text),
        **extra,
    }


PAGE = """<html><head><title>Quarterly note</title><script>var x = "<p>not text</p>";</script></head>
<body><nav><ul><li>Home</li><li>Markets</li></ul></nav>
<h1>Grid storage, explained</h1>
<p>The utility said its <a href="/x">battery fleet</a> delivered 410&nbsp;MWh on the hottest day.
Prices fell &amp; demand rose.</p>
<p>Read more</p></body></html>
"""
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Example</title>
<item><title>Plant reaches full output</title>
<description>&lt;p&gt;The plant reached full output on Monday.&lt;/p&gt;&lt;p&gt;AT&amp;amp;T will buy the site.&lt;/p&gt;</description></item>
<item><title>Second item</title><description><![CDATA[<p>Shares rose <b>4%</b> in early trading.</p>]]></description></item>
</channel></rss>
"""


def _write_sources(root: Path) -> dict[str, Path]:
    files = {"pages/note.html": PAGE, "feeds/example.xml": FEED}
    paths = {}
    for local_path, content in files.items():
        path = root / local_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        paths[local_path] = path
    return paths


def test_markup_spans_round_trip_and_leave_out_markup(tmp_path: Path) -> None:
    paths = _write_sources(tmp_path)
    page = locate.read_html_page(paths["pages/note.html"], "pages/note.html")
    feed = locate.read_feed(paths["feeds/example.xml"], "feeds/example.xml")
    located = [s for unit in page + feed for s in unit.sentences]
    texts = [s.text for s in located]
    assert "The utility said its battery fleet delivered 410 MWh on the hottest day." in texts
    assert "Prices fell & demand rose." in texts
    assert "AT&T will buy the site." in texts  # escaped twice inside the feed, decoded twice
    assert "Shares rose 4% in early trading." in texts
    assert not any("not text" in t or "<" in t for t in texts)
    assert {s.extractor for s in located} == {"html", "html-escaped"}
    rows, problems = materialize([_annotate(s) for s in located], tmp_path)
    assert problems == []
    assert [r["text"] for r in rows] == texts


def test_changed_source_is_refused_with_reason_and_others_kept(tmp_path: Path) -> None:
    paths = _write_sources(tmp_path)
    annotations = [
        _annotate(s)
        for path, local in (
            (paths["pages/note.html"], "pages/note.html"),
            (paths["feeds/example.xml"], "feeds/example.xml"),
        )
        for unit in (
            locate.read_html_page(path, local)
            if local.endswith(".html")
            else locate.read_feed(path, local)
        )
        for s in unit.sentences
    ]
    page_ids = {a["id"] for a in annotations if a["local_path"] == "pages/note.html"}
    # The same length, different words: every span still fits, no hash does.
    original = paths["pages/note.html"].read_text(encoding="utf-8")
    paths["pages/note.html"].write_text(
        original.replace("battery", "reactor").replace("Prices", "Levels"), encoding="utf-8"
    )
    rows, problems = materialize(annotations, tmp_path)
    refused = {p.id: p.reason for p in problems}
    assert len(refused) == 2 and set(refused) <= page_ids
    assert all("hash mismatch" in reason for reason in refused.values())
    kept = {r["text"] for r in rows}
    assert "Grid storage, explained" in kept and "Shares rose 4% in early trading." in kept
    assert not any("reactor" in t or "Levels" in t for t in kept)
    # Cutting the file short pushes spans out of range.
    paths["pages/note.html"].write_text(original[:200], encoding="utf-8")
    _, problems = materialize(annotations, tmp_path)
    assert any("out of range" in p.reason for p in problems)


def test_missing_file_and_bad_annotation_are_reported(tmp_path: Path) -> None:
    paths = _write_sources(tmp_path)
    located = locate.read_feed(paths["feeds/example.xml"], "feeds/example.xml")[0].sentences[0]
    good = _annotate(located)
    missing = {**good, "id": "rt-missing", "local_path": "feeds/gone.xml"}
    unknown = {**good, "id": "rt-unknown", "extractor": "ocr"}
    escape = {**good, "id": "rt-escape", "local_path": "../outside.xml"}
    rows, problems = materialize([good, missing, unknown, escape], tmp_path)
    assert [r["id"] for r in rows] == [good["id"]]
    reasons = {p.id: p.reason for p in problems}
    assert reasons["rt-missing"] == "missing file"
    assert "unknown extractor" in reasons["rt-unknown"]
    assert "relative" in reasons["rt-escape"]


def test_writing_an_annotation_with_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="refusing to write text"):
        write_annotations(tmp_path / "a.jsonl", [{"id": "x", "text": "a sentence"}])
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"id": "x", "sentence": "a sentence"}) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="must not carry"):
        read_annotations(tmp_path / "b.jsonl")


def test_shape_heuristic_names_fragments() -> None:
    assert sentence_shape("By Maria Jensen") == "byline"
    assert sentence_shape("Figure 3: Throughput by batch size") == "caption"
    assert sentence_shape("$ 1,204 12.4 %") == "numeric"
    assert sentence_shape("Read more") == "boilerplate"
    assert sentence_shape("Network Design") == "heading"
    assert sentence_shape("Plant reaches full output", "title") == "headline"
    assert sentence_shape("The plant reached full output on Monday.") == "prose"


# --------------------------------------------------------------------------- committed files


def _committed_annotation_files() -> list[Path]:
    return sorted(
        p
        for folder in (PROJECT_ROOT / "corpora").glob("*real*")
        for p in folder.rglob("*")
        if p.suffix in (".jsonl", ".csv", ".tsv")
    )


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_committed_annotation_files_carry_no_text() -> None:
    files = _committed_annotation_files()
    assert REAL_CORPUS / "pool.jsonl" in files
    for path in files:
        content = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            for line in content.splitlines():
                if line.strip():
                    assert not _keys(json.loads(line)) & {"text", "sentence"}, path
        else:
            header = content.splitlines()[0].lower() if content else ""
            assert "text" not in header and "sentence" not in header, path


def test_splits_never_share_a_document_or_a_sentence() -> None:
    for name in ("pool.jsonl", "annotations.jsonl"):
        path = REAL_CORPUS / name
        if not path.is_file():
            continue
        rows = read_annotations(path)
        splits_of_document: dict[str, set[str]] = defaultdict(set)
        splits_of_sentence: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            assert row["split"] in ("train", "validation", "test")
            splits_of_document[row["document"]].add(row["split"])
            splits_of_sentence[row["sha256"]].add(row["split"])
        assert all(len(s) == 1 for s in splits_of_document.values()), name
        assert all(len(s) == 1 for s in splits_of_sentence.values()), name
        assert len({r["id"] for r in rows}) == len(rows)


@pytest.mark.shared
def test_committed_pool_materialises_from_the_real_originals(realdata: Path) -> None:
    annotations = read_annotations(REAL_CORPUS / "pool.jsonl")
    rows, problems = materialize(annotations, realdata)
    assert [p.as_dict() for p in problems][:5] == []
    assert len(rows) == len(annotations) >= 4400
    assert {r["extractor"] for r in rows} >= {
        "text",
        "html",
        "html-escaped",
        "json",
        "json-html",
        "pdf",
    }


@pytest.mark.shared
def test_a_changed_real_original_is_refused_while_others_are_kept(
    realdata: Path, tmp_path: Path
) -> None:
    annotations = read_annotations(REAL_CORPUS / "pool.jsonl")
    by_file: dict[str, list[dict]] = defaultdict(list)
    for row in annotations:
        by_file[row["local_path"]].append(row)
    changed_file = next(
        p
        for p, rows in sorted(by_file.items())
        if p.startswith("feeds/")
        and len(rows) >= 3
        and all(r["extractor"] in ("html", "html-escaped") for r in rows)
    )
    kept_file = next(p for p, rows in sorted(by_file.items()) if p.startswith("labeled/"))
    for local_path in (changed_file, kept_file):
        target = tmp_path / local_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(realdata / local_path, target)
    altered = tmp_path / changed_file
    # One inserted character before the first span shifts every span in the file.
    data = altered.read_bytes()
    encoding = by_file[changed_file][0].get("encoding") or "utf-8"
    first = min(r["start"] for r in by_file[changed_file])
    cut = data.decode(encoding)[:first].encode(encoding)
    altered.write_bytes(cut + b" " + data[len(cut) :])
    subset = by_file[changed_file] + by_file[kept_file][:50]
    rows, problems = materialize(subset, tmp_path)
    assert {p.id for p in problems} == {r["id"] for r in by_file[changed_file]}
    assert all("hash mismatch" in p.reason or "out of range" in p.reason for p in problems)
    assert [r["id"] for r in rows] == [r["id"] for r in by_file[kept_file][:50]]


# --------------------------------------------------------------------------- passes and kappa


def test_cohen_kappa_on_a_known_example() -> None:
    a = [1, 1, 0, 0, 1, 0, 1, 0, 0, 0]
    b = [1, 0, 0, 0, 1, 0, 1, 1, 0, 0]
    # observed 0.8; chance 0.4 * 0.4 + 0.6 * 0.6 = 0.52; kappa (0.8 - 0.52) / 0.48
    assert cohen_kappa(a, b) == pytest.approx(0.28 / 0.48)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([0, 0, 0], [0, 0, 0]) is None
    assert cohen_kappa([], []) is None


def _tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    pool = [
        {
            "id": f"rt-{n}",
            **ORIGIN,
            "origin_path": "f.txt",
            "local_path": "f.txt",
            "extractor": "text",
            "start": n,
            "end": n + 1,
            "sha256": "0" * 64,
            "source_type": "feed",
            "document": f"doc{n % 2}",
            "split": "train" if n % 2 else "test",
            "stratum": "random" if n < 3 else "hype:0.9-1.0",
        }
        for n in range(5)
    ]
    write_annotations(corpus / "pool.jsonl", pool)
    return corpus


def _labels_file(path: Path, rows: list[tuple[str, int, int, int]], **extra: object) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": i, "hype": h, "growth": g, "evidence": e, **extra}) + "\n"
            for i, h, g, e in rows
        ),
        encoding="utf-8",
    )
    return path


def test_passes_agreement_adjudication_and_final_annotations(tmp_path: Path) -> None:
    corpus = _tiny_corpus(tmp_path)
    a = _labels_file(
        tmp_path / "a.jsonl",
        [
            ("rt-0", 1, 0, 0),
            ("rt-1", 0, 1, 1),
            ("rt-2", 0, 0, 1),
            ("rt-3", 1, 1, 0),
            ("rt-9", 0, 0, 0),
        ],
        text="dropped",
    )
    b = _labels_file(
        tmp_path / "b.jsonl",
        [("rt-0", 1, 0, 0), ("rt-1", 0, 0, 1), ("rt-2", 1, 0, 1), ("rt-3", 1, 1, 0)],
    )
    report = import_pass(corpus, "a", [a])
    assert (report.added, report.unknown_ids) == (4, ["rt-9"])
    import_pass(corpus, "b", [b])
    stored = (corpus / "passes" / "a.jsonl").read_text(encoding="utf-8")
    assert "dropped" not in stored and "text" not in stored

    result = agreement(read_pass(corpus, "a"), read_pass(corpus, "b"))
    assert result["items"] == 4
    assert result["labels"]["evidence"]["kappa"] == pytest.approx(1.0)
    assert result["labels"]["hype"]["agreement"] == pytest.approx(0.75)

    batches = tmp_path / "batches"
    batches.mkdir()
    (batches / "batch-01.jsonl").write_text(
        "".join(
            json.dumps({"id": f"rt-{n}", "text": f"sentence {n}", "context": {}}) + "\n"
            for n in range(5)
        ),
        encoding="utf-8",
    )
    written = write_disagreements(
        read_pass(corpus, "a"), read_pass(corpus, "b"), batches, tmp_path / "adjudicate"
    )
    assert written == {"adjudicate-01.jsonl": 2}
    lines = [
        json.loads(x)
        for x in (tmp_path / "adjudicate" / "adjudicate-01.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    first = next(x for x in lines if x["id"] == "rt-1")
    assert first["disagree_on"] == ["growth"] and first["growth"] is None and first["evidence"] == 1
    assert first["text"] == "sentence 1"

    # Only rt-1 is decided; rt-2 stays undecided and must be left out, never guessed.
    first["growth"] = 1
    (tmp_path / "decided.jsonl").write_text(json.dumps(first) + "\n", encoding="utf-8")
    import_pass(corpus, "adjudicated", [tmp_path / "decided.jsonl"], partial=True)
    stats = build_annotations(corpus, "a", "b", adjudication="adjudicated")
    final = {r["id"]: r for r in read_annotations(corpus / "annotations.jsonl")}
    assert set(final) == {"rt-0", "rt-1", "rt-3"}
    assert (final["rt-1"]["growth"], final["rt-1"]["adjudicated"]) == (1, ["growth"])
    assert stats["left_out"] == {
        "disagreement not adjudicated": 1,
        "not labelled by both passes": 1,
    }
    assert stats["natural_random_sample"]["sentences"] == 2


def test_a_bad_labelling_file_imports_nothing(tmp_path: Path) -> None:
    corpus = _tiny_corpus(tmp_path)
    import_pass(corpus, "a", [_labels_file(tmp_path / "a.jsonl", [("rt-0", 1, 0, 0)])])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"id": "rt-1", "hype": 2, "growth": 0, "evidence": 0}) + "\n{not json\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="2 bad line"):
        import_pass(corpus, "a", [bad])
    assert read_pass(corpus, "a") == {"rt-0": {"hype": 1, "growth": 0, "evidence": 0}}
    with pytest.raises(InputError, match="pass name"):
        import_pass(corpus, "../a", [bad])


def test_cli_materialize_reports_refusals_and_fails_only_when_nothing_matches(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    paths = _write_sources(tmp_path / "sources")
    located = [
        s
        for u in locate.read_feed(paths["feeds/example.xml"], "feeds/example.xml")
        for s in u.sentences
    ]
    annotations = [
        _annotate(s, split="train", source_type="feed", document="d", hype=0, growth=0, evidence=1)
        for s in located
    ]
    broken = {**annotations[0], "id": "rt-broken", "sha256": "f" * 64}
    corpus = tmp_path / "corpus"
    write_annotations(corpus / "annotations.jsonl", [*annotations, broken])
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "corpus",
            "materialize",
            "--sources",
            str(tmp_path / "sources"),
            "--corpus",
            str(corpus),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"materialized {len(annotations)} of {len(annotations) + 1}" in result.output
    assert "refused rt-broken" in result.output and "hash mismatch" in result.output
    train = [json.loads(x) for x in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["text"] for r in train} == {s.text for s in located}

    write_annotations(corpus / "annotations.jsonl", [broken])
    result = runner.invoke(
        app,
        [
            "corpus",
            "materialize",
            "--sources",
            str(tmp_path / "sources"),
            "--corpus",
            str(corpus),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1
    assert "materialized 0 of 1" in result.output


def test_top_supplement_takes_the_highest_scoring_prose_per_source_type() -> None:
    from analyzer.training.pool import Candidate, select_supplement

    def candidate(number: int, source_type: str, hype: float, shape: str = "prose") -> Candidate:
        located = locate.Located(
            local_path=f"{source_type}/file.txt",
            extractor="text",
            start=number * 100,
            end=number * 100 + 40,
            text=f"Sentence number {number} of the {source_type} file.",
        )
        item = Candidate(
            located=located,
            source_type=source_type,
            document=f"{source_type}/file.txt",
            origin={"origin_repo": "o/r", "origin_commit": "c" * 40, "origin_path": source_type},
            shape=shape,
            in_article=True,
            context={"title": None, "previous": None, "next": None},
        )
        item.scores = {"hype": hype, "growth": 0.0, "evidence": 0.0}
        return item

    feed = [candidate(i, "feed", i / 10) for i in range(10)]
    article = [candidate(20 + i, "article", i / 10) for i in range(10)]
    heading = candidate(99, "feed", 0.99, shape="heading")
    already = feed[9]
    picked = select_supplement(
        [*feed, *article, heading], {already.id}, {"hype": 4}, seed=3, round_name="s9", top=True
    )
    assert {c.id for c in picked} == {feed[8].id, feed[7].id, article[9].id, article[8].id}
    assert {c.stratum for c in picked} == {"s9:hype:top"}
