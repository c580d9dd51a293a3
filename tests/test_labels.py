"""The labelling loop without the app: choosing sentences, exporting, importing, agreement, and
training from stored labels."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from loop_fixtures import (
    add_version,
    confident,
    plant_document,
    planted_uncertain_store,
    random_sentence,
)

from analyzer.analysis.agreement import agreement_table, cohen_kappa
from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.storage import Store
from analyzer.storage.labels import LabelStorageError, LabelWriter
from analyzer.training.labelling import choose_sentences, export_for_labelling, import_labels
from analyzer.training.selection import select_for_labelling, sentence_shingles

# --------------------------------------------------------------------------- choosing


def test_export_picks_the_most_uncertain_sentences_of_a_known_set(
    store: Store, tmp_path: Path
) -> None:
    planted = planted_uncertain_store(store)
    for measure in ("margin", "entropy"):
        out = tmp_path / f"{measure}.jsonl"
        summary = export_for_labelling(store, out, n=5, measure=measure, max_share=1.0)
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert summary["sentences"] == 5
        assert {line["text"] for line in lines} == set(planted["uncertain"])
        # Best first: the sentence at exactly 0.5 on every label leads.
        assert lines[0]["text"] == planted["uncertain"][0]
        scores = [line["selection_score"] for line in lines]
        assert scores == sorted(scores, reverse=True)
        first = lines[0]
        assert first["id"] == f"{first['document_id']}:{first['sentence_index']}"
        assert first["hype"] is None and first["growth"] is None and first["evidence"] is None
        assert (
            first["context_before"] and first["context_after"]
        )  # the planted sentence sits mid-document
        assert first["model_scores"] == {"hype": 0.5, "growth": 0.5, "evidence": 0.5}
        assert first["guideline_version"].startswith("sha256:")


def test_margin_and_entropy_can_rank_differently(store: Store) -> None:
    rng = random.Random(1)
    two_unsure = random_sentence(rng)  # two labels at a coin flip, one certain
    all_leaning = random_sentence(rng)  # every label at 0.25
    plant_document(
        store, [(two_unsure, (0.5, 0.5, 0.02)), (all_leaning, (0.25, 0.25, 0.25))], version="v1"
    )
    by_margin, _ = choose_sentences(store, n=2, measure="margin", max_share=1.0)
    by_entropy, _ = choose_sentences(store, n=2, measure="entropy", max_share=1.0)
    # margin: (1 + 1 + 0.04) / 3 = 0.68 against 0.5; entropy: 0.71 bits against 0.81.
    assert list(by_margin["text"]) == [two_unsure, all_leaning]
    assert list(by_entropy["text"]) == [all_leaning, two_unsure]


def test_export_spreads_across_sources_and_entities(store: Store) -> None:
    rng = random.Random(2)
    # Source A holds the six most uncertain sentences; B's are a little surer.
    for i in range(6):
        plant_document(
            store,
            [(random_sentence(rng), (0.5, 0.5, 0.5 + i / 100))],
            version="v1",
            source="Source A",
            entities=["alpha"],
        )
        plant_document(
            store,
            [(random_sentence(rng), (0.3, 0.3, 0.3 + i / 100))],
            version="v1",
            source="Source B",
            entities=["beta"],
        )
    chosen, _ = choose_sentences(store, n=4, max_share=0.5)
    assert sorted(chosen["source"]) == ["Source A", "Source A", "Source B", "Source B"]
    # Without the cap the ranking alone decides.
    unspread, _ = choose_sentences(store, n=4, max_share=1.0)
    assert set(unspread["source"]) == {"Source A"}
    # One entity asked for: spread across sources only, the rest is ranking.
    only_beta, _ = choose_sentences(store, n=3, entity="beta")
    assert set(only_beta["entities"]) == {"beta"} and len(only_beta) == 3


def test_near_duplicates_are_exported_once(store: Store) -> None:
    template = "Acme will change everything and nothing can stop it now"
    plant_document(store, [(template + "!", (0.5, 0.5, 0.5))], version="v1", source="Source A")
    plant_document(
        store,
        [(template.replace("Acme", "Globex") + "!", (0.5, 0.5, 0.49))],
        version="v1",
        source="Source B",
    )
    plant_document(
        store,
        [("Quarterly revenue was reported in the annual filing.", (0.4, 0.4, 0.4))],
        version="v1",
        source="Source C",
    )
    chosen, _ = choose_sentences(store, n=3, max_share=1.0)
    assert len(chosen) == 2
    assert sum("change everything" in text for text in chosen["text"]) == 1
    assert sentence_shingles("Up 12% in 2024") == sentence_shingles(
        "Up 15% in 2023"
    )  # numbers fold


def test_disagreement_picks_where_versions_differ_most(store: Store) -> None:
    rng = random.Random(3)
    same, split, wide = random_sentence(rng), random_sentence(rng), random_sentence(rng)
    first = [(same, (0.9, 0.1, 0.1)), (split, (0.6, 0.4, 0.5)), (wide, (0.95, 0.05, 0.9))]
    document_id = plant_document(store, first, version="v1")
    add_version(
        store,
        document_id,
        [(same, (0.9, 0.1, 0.1)), (split, (0.4, 0.6, 0.5)), (wide, (0.05, 0.95, 0.1))],
        version="v2",
    )
    chosen, versions = choose_sentences(store, n=3, strategy="disagreement", max_share=1.0)
    assert set(versions) == {"v1", "v2"}
    assert list(chosen["text"]) == [wide, split, same]
    with pytest.raises(InputError, match="two model versions"):
        choose_sentences(store, n=3, strategy="disagreement", model_versions=["v1"])


def test_random_strategy_is_seeded_and_labelled_sentences_are_left_out(
    store: Store, tmp_path: Path
) -> None:
    planted_uncertain_store(store)
    one, _ = choose_sentences(store, n=10, strategy="random", seed=4, max_share=1.0)
    two, _ = choose_sentences(store, n=10, strategy="random", seed=4, max_share=1.0)
    other, _ = choose_sentences(store, n=10, strategy="random", seed=5, max_share=1.0)
    assert list(one["text_hash"]) == list(two["text_hash"]) != list(other["text_hash"])
    exported = tmp_path / "export.jsonl"
    export_for_labelling(store, exported, n=5, max_share=1.0)
    _fill(exported, tmp_path / "labelled.jsonl", annotator="ann")
    import_labels(store, tmp_path / "labelled.jsonl")
    again, _ = choose_sentences(store, n=5, max_share=1.0)
    labelled = {json.loads(line)["text_hash"] for line in exported.read_text().splitlines()}
    assert labelled.isdisjoint(set(again["text_hash"]))


def test_selection_refuses_nonsense() -> None:
    with pytest.raises(InputError):
        select_for_labelling(pd.DataFrame({"text": ["a"], "source": ["s"], "entities": [""]}), 0)
    with pytest.raises(InputError):
        select_for_labelling(
            pd.DataFrame({"text": ["a"], "source": ["s"], "entities": [""]}), 1, max_share=0
        )


# --------------------------------------------------------------------------- import


def _fill(
    exported: Path, out: Path, *, annotator: str | None, values: dict[str, Any] | None = None
) -> list[dict]:
    rows = []
    for i, line in enumerate(exported.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        row.update(
            values or {"hype": i % 2, "growth": (i // 2) % 2, "evidence": None if i == 0 else 1}
        )
        if annotator:
            row["annotator"] = annotator
        rows.append(row)
    out.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return rows


def test_import_round_trips_the_labels_and_is_idempotent(store: Store, tmp_path: Path) -> None:
    planted_uncertain_store(store)
    exported = tmp_path / "export.jsonl"
    export_for_labelling(store, exported, n=5, max_share=1.0)
    rows = _fill(exported, tmp_path / "labelled.jsonl", annotator="ana")
    report = import_labels(store, tmp_path / "labelled.jsonl", guideline="g-7")
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (5, 0, 0, [])
    stored = {label["text_hash"]: label for label in store.labels()}
    for row in rows:
        label = stored[row["text_hash"]]
        assert (label["hype"], label["growth"], label["evidence"]) == (
            row["hype"],
            row["growth"],
            row["evidence"],
        )
        assert (
            label["annotator"] == "ana"
            and label["text"] == row["text"]
            and label["origin"] == "import"
        )
        assert (label["document_id"], label["sentence_index"]) == (
            row["document_id"],
            row["sentence_index"],
        )
        # The export's guideline version travels on each line and wins over the file-wide default.
        assert label["guideline_version"] == row["guideline_version"]
    assert stored[rows[0]["text_hash"]]["evidence"] is None  # left unset, stored as unset
    times = {label["text_hash"]: label["labelled_at"] for label in store.labels()}

    again = import_labels(store, tmp_path / "labelled.jsonl")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert {label["text_hash"]: label["labelled_at"] for label in store.labels()} == times

    changed = [dict(rows[1], hype=1 - rows[1]["hype"])]
    (tmp_path / "fix.jsonl").write_text(json.dumps(changed[0]) + "\n")
    fixed = import_labels(store, tmp_path / "fix.jsonl")
    assert fixed.updated == 1
    assert store.label(rows[1]["text_hash"], "ana")["hype"] == 1 - rows[1]["hype"]
    assert len(store.labels()) == 5


def test_a_bad_label_file_is_rejected_line_by_line_and_the_rest_kept(
    store: Store, tmp_path: Path
) -> None:
    planted_uncertain_store(store)
    sentence = store.sentence_at(1, 0)
    other = store.sentence_at(2, 1)
    good = {"id": "1:0", "hype": 1, "growth": 0, "evidence": 0, "annotator": "ana"}
    lines = [
        json.dumps(good),
        json.dumps({"id": "999:0", "hype": 1, "annotator": "ana"}),
        json.dumps({"id": "2:1", "hype": 2, "annotator": "ana"}),
        json.dumps({"id": "2:1", "growth": "yes", "annotator": "ana"}),
        "{not json",
        json.dumps({"id": "2:1", "hype": 1}),
        json.dumps({"id": "2:1", "annotator": "ana"}),
        json.dumps(
            {"id": "2:1", "text_hash": sentence["text_hash"], "hype": 0, "annotator": "ana"}
        ),
        json.dumps({"id": "banana", "hype": 0, "annotator": "ana"}),
        json.dumps({"text_hash": other["text_hash"], "hype": 0, "growth": 1, "annotator": "bo"}),
        json.dumps({"id": "2:1", "hype": 1, "annotator": "ana", "labelled_at": "yesterday"}),
        "",
        json.dumps([1, 2]),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_labels(store, path)
    reasons = dict(report.rejected)
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 8, 9, 11, 13}
    assert "unknown sentence id '999:0'" in reasons[2]
    assert "label 'hype' must be 0, 1 or null, got 2" in reasons[3]
    assert "label 'growth' must be 0, 1 or null, got 'yes'" in reasons[4]
    assert "invalid JSON" in reasons[5]
    assert "no annotator" in reasons[6]
    assert "no label set" in reasons[7]
    assert "changed since it was exported" in reasons[8]
    assert "unknown sentence id 'banana'" in reasons[9]
    assert "labelled_at" in reasons[11]
    assert "JSON object" in reasons[13]
    stored = {(label["text_hash"], label["annotator"]) for label in store.labels()}
    assert stored == {(sentence["text_hash"], "ana"), (other["text_hash"], "bo")}


def test_label_import_and_export_from_the_command_line(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted_uncertain_store(store)
    exported = tmp_path / "cli.jsonl"
    main(
        [
            "label",
            "export",
            "--db",
            str(store.path),
            "--n",
            "3",
            "--max-share",
            "1",
            "--out",
            str(exported),
        ]
    )
    assert "Wrote 3 sentences" in capsys.readouterr().out
    _fill(
        exported,
        tmp_path / "filled.jsonl",
        annotator=None,
        values={"hype": 1, "growth": 0, "evidence": 0},
    )
    with (tmp_path / "filled.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "999:9", "hype": 1}) + "\n")
    main(
        [
            "label",
            "import",
            str(tmp_path / "filled.jsonl"),
            "--db",
            str(store.path),
            "--annotator",
            "cli",
        ]
    )
    captured = capsys.readouterr()
    assert "Imported 3 of 4 labels" in captured.out and "3 new" in captured.out
    assert ":4: rejected: unknown sentence id '999:9'" in captured.err
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "label",
                "import",
                str(tmp_path / "filled.jsonl"),
                "--db",
                str(store.path),
                "--annotator",
                "cli",
                "--strict",
            ]
        )
    assert exit_info.value.code == 1
    assert "1 line(s) rejected" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["label", "import", str(tmp_path / "missing.jsonl"), "--db", str(store.path)])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "label",
                "export",
                "--db",
                str(tmp_path / "empty.db"),
                "--out",
                str(tmp_path / "x.jsonl"),
            ]
        )
    assert "no scored sentences" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "label",
                "export",
                "--db",
                str(store.path),
                "--entity",
                "atlantis",
                "--out",
                str(tmp_path / "x.jsonl"),
            ]
        )
    assert "unknown entity 'atlantis'" in capsys.readouterr().err


# --------------------------------------------------------------------------- the app's writer


def test_the_label_writer_can_change_labels_and_nothing_else(store: Store) -> None:
    planted_uncertain_store(store)
    sentence = store.sentence_at(1, 0)
    documents = store.counts()["documents"]
    with LabelWriter(store.path) as writer:
        writer.save_labels(
            [
                {
                    **sentence,
                    "annotator": "ana",
                    "hype": 1,
                    "growth": 0,
                    "evidence": 0,
                    "guideline_version": "g",
                    "labelled_at": "2024-01-01T00:00:00+00:00",
                    "origin": "app",
                }
            ]
        )
        for statement in (
            "DELETE FROM documents",
            "UPDATE scores SET hype = 0",
            "DROP TABLE labels",
            "INSERT INTO watches (channel, target, created_at) VALUES ('email', 'a@b', 'now')",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
                writer.conn.execute(statement)
        assert writer.delete_label(sentence["text_hash"], "ana")
    assert store.counts()["documents"] == documents and store.labels() == []
    with pytest.raises(LabelStorageError, match="does not exist"):
        LabelWriter(store.path.with_name("nothing.db"))


def test_labels_must_be_zero_one_or_unset(store: Store) -> None:
    planted_uncertain_store(store)
    sentence = store.sentence_at(1, 0)
    with pytest.raises(LabelStorageError, match="must be 0, 1 or unset"):
        store.save_labels(
            [
                {
                    **sentence,
                    "annotator": "a",
                    "hype": 3,
                    "guideline_version": "g",
                    "labelled_at": "t",
                }
            ]
        )
    assert store.labels() == []


# --------------------------------------------------------------------------- agreement


def test_cohen_kappa_matches_the_textbook_values() -> None:
    from sklearn.metrics import cohen_kappa_score

    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # one category throughout: undefined
    assert cohen_kappa([], []) is None
    rng = random.Random(0)
    a = [rng.randint(0, 1) for _ in range(200)]
    b = [x if rng.random() < 0.8 else 1 - x for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_agreement_table_compares_every_pair_on_shared_sentences() -> None:
    labels = pd.DataFrame(
        [
            {"text_hash": "s1", "annotator": "ana", "hype": 1, "growth": 0, "evidence": None},
            {"text_hash": "s2", "annotator": "ana", "hype": 0, "growth": 1, "evidence": 1},
            {"text_hash": "s3", "annotator": "ana", "hype": 1, "growth": 0, "evidence": 0},
            {"text_hash": "s1", "annotator": "bo", "hype": 1, "growth": 1, "evidence": 1},
            {"text_hash": "s2", "annotator": "bo", "hype": 0, "growth": 1, "evidence": 1},
            {"text_hash": "s9", "annotator": "cy", "hype": 0, "growth": 0, "evidence": 0},
        ]
    )
    table = agreement_table(labels).set_index("label")
    assert set(table["annotator_a"]) == {"ana"} and set(table["annotator_b"]) == {
        "bo"
    }  # cy shares nothing
    assert table.loc["hype", "sentences"] == 2 and table.loc["hype", "kappa"] == pytest.approx(1.0)
    assert table.loc["growth", "agreement"] == pytest.approx(0.5)
    assert table.loc["evidence", "sentences"] == 1  # ana left s1's evidence unset


def test_agreement_from_the_command_line(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted_uncertain_store(store)
    exported = tmp_path / "e.jsonl"
    export_for_labelling(store, exported, n=5, max_share=1.0)
    _fill(
        exported,
        tmp_path / "a.jsonl",
        annotator="ana",
        values={"hype": 1, "growth": 0, "evidence": 1},
    )
    rows = _fill(
        exported,
        tmp_path / "b.jsonl",
        annotator="bo",
        values={"hype": 1, "growth": 0, "evidence": 1},
    )
    rows[0]["hype"] = 0
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    import_labels(store, tmp_path / "a.jsonl")
    import_labels(store, tmp_path / "b.jsonl")
    main(["label", "agreement", "--db", str(store.path), "--json"])
    found = json.loads(capsys.readouterr().out)
    assert found["annotators"] == {"ana": 5, "bo": 5}
    hype = next(r for r in found["agreement"] if r["label"] == "hype")
    assert hype["sentences"] == 5 and hype["agreement"] == pytest.approx(0.8)
    # ana said 1 throughout, so the 80% agreement is exactly what chance gives: kappa 0.
    assert hype["kappa"] == pytest.approx(0.0)
    growth = next(r for r in found["agreement"] if r["label"] == "growth")
    assert growth["kappa"] is None and growth["agreement"] == 1.0


# --------------------------------------------------------------------------- training from the database


def test_stored_labels_split_by_document_and_never_leak_into_training(
    store: Store, tmp_path: Path
) -> None:
    from analyzer.training.from_db import consensus_labels, training_data_from_store

    rng = random.Random(9)
    shared = random_sentence(rng)
    for d in range(30):
        sentences = [(random_sentence(rng), confident(rng)) for _ in range(3)]
        if d < 2:
            sentences.append((shared, (0.5, 0.5, 0.5)))  # the same sentence in two documents
        plant_document(store, sentences, version="v1", title=f"Doc {d}", source=f"S{d % 3}")
    labels = []
    for document_id in range(1, 31):
        for index in range(4 if document_id <= 2 else 3):
            sentence = store.sentence_at(document_id, index)
            labels.append(
                {
                    **sentence,
                    "annotator": "ana",
                    "hype": index % 2,
                    "growth": 0,
                    "evidence": 1,
                    "guideline_version": "g",
                    "labelled_at": "2024-01-01T00:00:00+00:00",
                }
            )
    # A second annotator splits one label: the tie leaves it unset, so that sentence does not train.
    tied = store.sentence_at(5, 0)
    labels.append(
        {
            **tied,
            "annotator": "bo",
            "hype": 1,
            "growth": 0,
            "evidence": 1,
            "guideline_version": "g",
            "labelled_at": "2024-01-02T00:00:00+00:00",
        }
    )
    store.save_labels(labels)
    merged = {row["text_hash"]: row for row in consensus_labels(store.labels())}
    assert merged[tied["text_hash"]]["hype"] is None

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    corpus_rows = [
        {"text": random_sentence(rng), "hype": i % 2, "growth": 1, "evidence": 0} for i in range(20)
    ]
    (corpus / "train.jsonl").write_text("\n".join(json.dumps(r) for r in corpus_rows[:14]) + "\n")
    # A corpus validation sentence that was also labelled in the database must not train.
    leak = store.sentence_at(7, 1)["text"]
    validation = corpus_rows[14:] + [{"text": leak, "hype": 0, "growth": 0, "evidence": 1}]
    (corpus / "validation.jsonl").write_text("\n".join(json.dumps(r) for r in validation) + "\n")
    data, report = training_data_from_store(store, [corpus], say=lambda message: None)
    assert (
        report["partial"] == 1 and report["labels"] == len(labels) - 1
    )  # the shared sentence: one label
    texts = {
        name: {r["text"] for r in rows}
        for name, rows in (
            ("train", data.train),
            ("validation", data.validation),
            ("test", data.test or []),
        )
    }
    assert leak not in texts["train"] and leak in texts["validation"]
    assert texts["train"].isdisjoint(texts["validation"] | texts["test"])
    assert texts["validation"].isdisjoint(texts["test"])
    # Every document's sentences landed in one split (the shared sentence counts once).
    split_of = {text: name for name, group in texts.items() for text in group}
    for document_id in range(3, 31):
        sentences = [store.sentence_at(document_id, i)["text"] for i in range(3)]
        splits = {split_of.get(s) for s in sentences if s != leak} - {
            None
        }  # the leak follows the corpus
        assert len(splits) == 1, (document_id, splits)
    assert sum(report["from_database"].values()) == len(merged) - 1
    assert (
        report["from_database"]["train"] > 0
        and report["from_database"]["test"] + report["from_database"]["validation"] > 0
    )


def test_a_missing_default_corpus_is_skipped_with_a_message(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer.training import from_db

    monkeypatch.setattr(
        from_db, "DEFAULT_CORPORA", (tmp_path / "written", tmp_path / "not-materialised")
    )
    (tmp_path / "written").mkdir()
    rows = [
        {"text": random_sentence(random.Random(i)), "hype": i % 2, "growth": 0, "evidence": 1}
        for i in range(12)
    ]
    (tmp_path / "written" / "train.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows[:8]) + "\n"
    )
    (tmp_path / "written" / "validation.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows[8:]) + "\n"
    )
    messages: list[str] = []
    data, report = from_db.training_data_from_store(store, None, say=messages.append)
    assert any("not-materialised" in m and "not found" in m for m in messages)
    assert len(data.train) == 8 and report["labels"] == 0
    with pytest.raises(InputError, match="does not exist"):
        from_db.training_data_from_store(store, [tmp_path / "typo"], say=messages.append)


def test_corpora_merge_split_by_split_and_held_out_documents_never_train(
    tmp_path: Path,
) -> None:
    from analyzer.training.from_db import training_data_from_store

    rng = random.Random(4)

    def write(folder: Path, split: str, documents: list[str]) -> None:
        folder.mkdir(exist_ok=True)
        rows = [
            {"text": random_sentence(rng), "hype": i % 2, "growth": 0, "evidence": 1, "document": d}
            for i, d in enumerate(documents)
        ]
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    written, real = tmp_path / "written", tmp_path / "real"
    for split, count in (("train", 6), ("validation", 3), ("test", 2)):
        write(written, split, [f"notes/{split}-{i}.txt" for i in range(count)])
    write(real, "train", ["papers/btc.pdf#intro", "papers/btc.pdf#proof", "news/a.html"])
    write(real, "validation", ["papers/btc.pdf#end", "news/b.html"])
    write(real, "test", ["news/c.html"])
    data, report = training_data_from_store(
        None, [written, real], hold_out_documents=["papers/btc.pdf"], say=lambda m: None
    )
    assert (len(data.train), len(data.validation), len(data.test or [])) == (7, 5, 3)
    assert report["held_out_rows"] == 2 and report["labels"] == 0
    assert not any(r["document"].startswith("papers/") for r in data.train)
    assert any(r["document"].startswith("papers/") for r in data.validation)
    assert data.sources["train"] == "written, real" and "database" not in data.sources
    # A glob pattern matches the document part of the key, never the section after '#'.
    data, report = training_data_from_store(
        None, [real], hold_out_documents=["papers/*"], say=lambda m: None
    )
    assert report["held_out_rows"] == 2 and [r["document"] for r in data.train] == ["news/a.html"]
    # DIR@N: a corpus's training rows count N times; its evaluation rows stay single.
    data, report = training_data_from_store(None, [written, f"{real}@3"], say=lambda m: None)
    assert (len(data.train), len(data.validation)) == (6 + 3 * 3, 5)
    assert report["corpora"][1]["repeat"] == 3
    with pytest.raises(InputError, match="at least 1"):
        training_data_from_store(None, [f"{real}@0"], say=lambda m: None)


def test_train_refuses_held_out_documents_without_corpora(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "labelled.jsonl"
    data.write_text(json.dumps({"text": "x", "hype": 0, "growth": 0, "evidence": 0}) + "\n")
    with pytest.raises(SystemExit):
        main(["train", str(data), "--out", str(tmp_path / "m"), "--hold-out-document", "a/*"])
    assert "--hold-out-document goes with --corpus or --from-db" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--corpus", str(tmp_path / "missing"), "--out", str(tmp_path / "m")])
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_training_from_the_database_changes_the_model_version(
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tiny_model_dir: Path,  # noqa: F811
) -> None:
    from hype_fixtures import split_rows

    from analyzer.scoring.scorer import HypeScorer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    train_rows, validation_rows = split_rows()
    (corpus / "train.jsonl").write_text("\n".join(json.dumps(r) for r in train_rows) + "\n")
    (corpus / "validation.jsonl").write_text(
        "\n".join(json.dumps(r) for r in validation_rows) + "\n"
    )
    # Sentences only the database knows, in eight documents, labelled by an annotator.
    written = [
        ("Shareholders will be stunned by this unstoppable rocket of a stock!", (1, 0, 0)),
        ("The utility expects to add two gigawatts of capacity by 2027.", (0, 1, 0)),
        ("The regulator fined the bank $4.1 million on Thursday.", (0, 0, 1)),
        ("The lobby was repainted over the weekend.", (0, 0, 0)),
    ]
    for d in range(8):
        sentences = [
            (f"{text[:-1]} (report {chr(65 + d)}){text[-1]}", (0.5, 0.5, 0.5))
            for text, _ in written
        ]
        document_id = plant_document(store, sentences, version="v1", title=f"Report {d}")
        store.save_labels(
            [
                {
                    **store.sentence_at(document_id, i),
                    "annotator": "ana",
                    "hype": h,
                    "growth": g,
                    "evidence": e,
                    "guideline_version": "g",
                    "labelled_at": "2024-01-01T00:00:00+00:00",
                }
                for i, (_, (h, g, e)) in enumerate(written)
            ]
        )
    # The tiny model was trained on this corpus alone with these settings (tests/hype_fixtures.py).
    main(
        [
            "train",
            "--from-db",
            str(store.path),
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "with-labels"),
            "--epochs",
            "60",
            "--seed",
            "3",
            "--device",
            "cpu",
            "--no-zero-shot",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    corpus_only = HypeScorer.from_pretrained(tiny_model_dir, device="cpu")
    with_labels = HypeScorer.from_pretrained(tmp_path / "with-labels", device="cpu")
    assert with_labels.model_version == summary["model_version"] != corpus_only.model_version

    def settings(config: dict[str, Any]) -> dict[str, Any]:
        unversioned = {"model_version", "model_id", "created_at", "training", "temperatures"}
        return {k: v for k, v in config.items() if k not in unversioned}

    # Same settings: the new version comes from what the stored labels taught the weights.
    assert settings(with_labels.config) == settings(corpus_only.config)
    assert summary["data"]["labels"] == 32 and sum(summary["data"]["from_database"].values()) == 32
    assert "32 stored labels on 32 sentences" in captured.err
    data = with_labels.config["training"]["data"]
    assert "database labels" in data["train"] and data["database"] == store.path.name
    assert not any(
        str(tmp_path) in str(value) for value in data.values()
    )  # no machine paths in the model
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "x")])
    assert "give the labelled DATA, --corpus DIR or --from-db DB" in capsys.readouterr().err
