"""Model versions and their consequences: rescoring keeps every version, comparison reports the
flips, ranking changes and flag changes planted in fixtures, and the registry lists models."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from app_seed import seeded
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from loop_fixtures import add_version, plant_document, random_sentence, rescored_seed

from analyzer.analysis.compare import (
    compare_versions,
    flag_changes,
    flip_summary,
    label_flips,
    rank_correlation,
    ranking_change,
)
from analyzer.cli import main
from analyzer.storage import Store
from analyzer.views import versions


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:  # noqa: F811
    return seeded(tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory, seed: dict[str, Any]) -> dict[str, Any]:
    return rescored_seed(tmp_path_factory, seed)


# --------------------------------------------------------------------------- pure functions


def _sentences(rows: list[tuple[int, int, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["document_id", "sentence_index", "hype", "growth", "evidence"]
    )


def test_label_flips_are_exactly_the_planted_ones() -> None:
    rng = random.Random(0)
    base = [
        (d, i, rng.choice((0.1, 0.9)), rng.choice((0.2, 0.8)), rng.choice((0.05, 0.95)))
        for d in range(1, 6)
        for i in range(4)
    ]
    a = _sentences(base)
    planted = {(1, 2, "hype"), (3, 0, "hype"), (2, 1, "growth"), (5, 3, "evidence")}
    changed = []
    for d, i, h, g, e in base:
        if (d, i, "hype") in planted:
            h = 1 - h
        if (d, i, "growth") in planted:
            g = 1 - g
        if (d, i, "evidence") in planted:
            e = 1 - e
        changed.append((d, i, h + 0.01 * (h < 0.5), g, e))  # small moves that cross nothing
    b = _sentences(changed + [(9, 0, 0.9, 0.9, 0.9)])  # a sentence only B scored is not compared
    flips = label_flips(a, b)
    assert {(r.document_id, r.sentence_index, r.label) for r in flips.itertuples()} == planted
    for flip in flips.itertuples():
        assert flip.change == ("on" if flip.score_b >= 0.5 else "off")
        assert (flip.score_a >= 0.5) != (flip.score_b >= 0.5)
    summary = flip_summary(a, b).set_index("label")
    assert summary.loc["hype", "compared"] == 20
    expected_on = sum(
        1
        for d, i, label in planted
        if label == "hype"
        and a.set_index(["document_id", "sentence_index"]).loc[(d, i), "hype"] < 0.5
    )
    assert summary.loc["hype", "turned_on"] == expected_on
    assert summary.loc["hype", "turned_on"] + summary.loc["hype", "turned_off"] == 2
    assert summary.loc["growth", "flip_rate"] == pytest.approx(1 / 20)


def test_ranking_change_and_correlation() -> None:
    a = pd.Series({"x": 3.0, "y": 2.0, "z": 1.0, "w": 0.5})
    b = pd.Series({"x": 1.0, "y": 2.0, "z": 3.0, "q": 9.0})
    ranking = ranking_change(a, b).set_index("key")
    assert set(ranking.index) == {"x", "y", "z"}  # only keys in both
    assert (
        ranking.loc["z", "rank_a"] == 3
        and ranking.loc["z", "rank_b"] == 1
        and ranking.loc["z", "rank_change"] == 2
    )
    assert ranking.loc["y", "rank_change"] == 0
    assert rank_correlation(ranking.reset_index()) == pytest.approx(-1.0)
    assert rank_correlation(ranking_change(a, a)) == pytest.approx(1.0)
    assert rank_correlation(ranking_change(a.head(1), a.head(1))) is None


def test_flag_changes_tell_appeared_disappeared_and_kept() -> None:
    columns = ["entity_id", "metric", "start_period", "end_period", "peak_value"]
    a = pd.DataFrame(
        [
            ("nvidia", "revenue", "2024-01-01", "2024-07-01", 2.1),
            ("solana", "tvl", "2023-01-01", "2023-04-01", 1.4),
        ],
        columns=columns,
    )
    b = pd.DataFrame(
        [
            ("nvidia", "revenue", "2024-01-01", "2024-10-01", 2.6),
            ("acme", "fees", "2024-04-01", "2024-07-01", 1.2),
        ],
        columns=columns,
    )
    changes = flag_changes(a, b).set_index("entity_id")
    assert changes.loc["acme", "change"] == "appeared" and pd.isna(changes.loc["acme", "end_a"])
    assert changes.loc["solana", "change"] == "disappeared"
    assert (
        changes.loc["nvidia", "change"] == "kept" and changes.loc["nvidia", "end_b"] == "2024-10-01"
    )
    assert list(flag_changes(a, b)["change"]) == ["appeared", "disappeared", "kept"]
    empty = pd.DataFrame(columns=columns)
    assert list(flag_changes(empty, b)["change"]) == ["appeared", "appeared"]


def test_compare_versions_bundles_everything_as_json() -> None:
    a = _sentences([(1, 0, 0.2, 0.2, 0.2), (2, 0, 0.8, 0.2, 0.2)])
    b = _sentences([(1, 0, 0.7, 0.2, 0.2), (2, 0, 0.8, 0.2, 0.2)])
    documents = pd.DataFrame({"document_id": [1, 2], "title": ["one", "two"], "hype": [0.2, 0.8]})
    documents_b = documents.assign(hype=[0.9, 0.8])
    empty_heat = pd.DataFrame(columns=["entity_id", "period", "heat"])
    empty_flags = pd.DataFrame(
        columns=["entity_id", "metric", "start_period", "end_period", "peak_value"]
    )
    result = compare_versions(
        a="A",
        b="B",
        sentences_a=a,
        sentences_b=b,
        documents_a=documents,
        documents_b=documents_b,
        heat_a=empty_heat,
        heat_b=empty_heat,
        flags_a=empty_flags,
        flags_b=empty_flags,
    )
    payload = json.loads(json.dumps(result.to_dict()))
    assert (
        payload["label_flips"]["total"] == 1
        and payload["label_flips"]["sentences"][0]["change"] == "on"
    )
    assert (
        payload["documents"]["largest_moves"][0]["key"] == 1
        and payload["documents"]["largest_moves"][0]["title"] == "one"
    )
    assert payload["heat"]["period"] is None and any(
        "heat is not materialised" in n for n in payload["notes"]
    )


# --------------------------------------------------------------------------- a database with planted versions


def test_compare_command_reports_the_flips_planted_in_a_database(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(4)
    planted = 0
    for d in range(6):
        first = [(random_sentence(rng), (0.2, 0.7, 0.1)) for _ in range(3)]
        document_id = plant_document(store, first, version="aaaa1111", source=f"S{d}")
        second = [
            (text, (0.6 if i == d % 3 else 0.25, 0.7, 0.1)) for i, (text, _) in enumerate(first)
        ]
        planted += 1
        add_version(store, document_id, second, version="bbbb2222")
    main(
        [
            "compare",
            "--db",
            str(store.path),
            "--a",
            "aaaa",
            "--b",
            "bbbb2222",
            "--format",
            "json",
            "--top",
            "100",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert (result["a"], result["b"]) == ("aaaa1111", "bbbb2222")
    assert result["label_flips"]["total"] == planted
    hype = next(r for r in result["label_flips"]["summary"] if r["label"] == "hype")
    assert (hype["turned_on"], hype["turned_off"], hype["compared"]) == (planted, 0, 18)
    assert all(s["text"] for s in result["label_flips"]["sentences"])
    main(["compare", "--db", str(store.path), "--a", "aaaa1111", "--b", "bbbb2222"])
    table = capsys.readouterr().out
    assert (
        "Label flips" in table
        and "Largest flips" in table
        and "Flags: 0 appeared, 0 disappeared" in table
    )
    for bad, message in (
        (["--a", "cccc", "--b", "bbbb"], "unknown or ambiguous model version 'cccc'"),
        (["--a", "bbbb", "--b", "bbbb2222"], "same model version"),
        (["--a", "aaaa", "--b", "bbbb", "--rank-by", "volume"], "cannot rank documents"),
    ):
        with pytest.raises(SystemExit):
            main(["compare", "--db", str(store.path), *bad])
        assert message in capsys.readouterr().err


def test_a_capped_rescore_keeps_the_other_version_sentences(store: Store) -> None:
    rng = random.Random(6)
    sentences = [(random_sentence(rng), (0.1, 0.1, 0.1)) for _ in range(4)]
    document_id = plant_document(store, sentences, version="v1")
    add_version(
        store, document_id, sentences[:2], version="v2"
    )  # e.g. scored with --max-sentences 2
    assert len(store.sentence_scores_frame("v1")) == 4
    texts = store.sentence_texts([(document_id, i) for i in range(4)])
    assert [texts[(document_id, i)] for i in range(4)] == [s for s, _ in sentences]


# --------------------------------------------------------------------------- rescoring the seeded database


def test_rescoring_with_another_model_keeps_the_old_version(two_versions: dict[str, Any]) -> None:
    with Store(two_versions["path"]) as store:
        summary = {v["model_version"]: v for v in store.version_summary()}
        assert set(summary) == {two_versions["a"], two_versions["b"]}
        assert summary[two_versions["a"]]["documents"] == summary[two_versions["b"]]["documents"]
        assert summary[two_versions["b"]]["model_id"] == "tiny-hype-shifted"
        pd.testing.assert_frame_equal(
            store.sentence_scores_frame(two_versions["a"]), two_versions["a_sentences_before"]
        )
        pd.testing.assert_frame_equal(
            store.document_scores_frame(two_versions["a"]), two_versions["a_documents_before"]
        )
        assert (
            set(summary[two_versions["a"]]["analysed"])
            == set(summary[two_versions["b"]]["analysed"])
            == {"quarter"}
        )


def test_compare_the_two_scored_versions_against_direct_counts(
    two_versions: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path, a, b = two_versions["path"], two_versions["a"], two_versions["b"]
    main(["compare", "--db", str(path), "--a", a, "--b", b, "--format", "json", "--top", "1000"])
    result = json.loads(capsys.readouterr().out)
    with Store(path) as store:
        merged = store.sentence_scores_frame(a).merge(
            store.sentence_scores_frame(b),
            on=["document_id", "sentence_index"],
            suffixes=("_a", "_b"),
        )
        flags_a = {
            tuple(r)
            for r in store.flags_frame_for(a, "quarter")[
                ["entity_id", "metric", "start_period"]
            ].values
        }
        flags_b = {
            tuple(r)
            for r in store.flags_frame_for(b, "quarter")[
                ["entity_id", "metric", "start_period"]
            ].values
        }
    turned_on = int(((merged["hype_a"] < 0.5) & (merged["hype_b"] >= 0.5)).sum())
    hype = next(r for r in result["label_flips"]["summary"] if r["label"] == "hype")
    # Raising the hype bias can only turn hype on, never off; growth and evidence are untouched.
    assert hype["turned_on"] == turned_on > 0 and hype["turned_off"] == 0
    assert all(
        r["turned_on"] == r["turned_off"] == 0
        for r in result["label_flips"]["summary"]
        if r["label"] != "hype"
    )
    assert result["heat"]["period"] is not None and len(result["heat"]["entities"]) == 3
    appeared = {
        (c["entity_id"], c["metric"], c["start_period"])
        for c in result["flags"]["changes"]
        if c["change"] == "appeared"
    }
    disappeared = {
        (c["entity_id"], c["metric"], c["start_period"])
        for c in result["flags"]["changes"]
        if c["change"] == "disappeared"
    }
    assert appeared == flags_b - flags_a and disappeared == flags_a - flags_b
    comparison = versions.compare(path, a, b)
    assert len(comparison.flips) == result["label_flips"]["total"] == turned_on
    assert comparison.flips["text"].head(versions.MAX_FLIPS_WITH_TEXT).notna().all()


def test_models_lists_installed_models_with_the_databases_holding_their_scores(
    two_versions: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = two_versions["path"]
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all")
    main(
        [
            "models",
            "--dir",
            str(two_versions["model_a"]),
            "--dir",
            str(two_versions["model_b"].parent),
            "--db",
            str(path),
            "--db",
            str(broken),
            "--json",
        ]
    )
    registry = json.loads(capsys.readouterr().out)
    by_version = {m["model_version"]: m for m in registry["models"]}
    for version in (two_versions["a"], two_versions["b"]):
        assert by_version[version]["databases"][0]["path"] == str(path)
        assert by_version[version]["databases"][0]["documents"] > 0
    assert by_version[two_versions["a"]]["metrics"] == {"macro_f1": 0.5, "auroc": 0.5, "ece": 0.1}
    errors = {d["path"]: d["error"] for d in registry["databases"]}
    assert errors[str(path)] is None and errors[str(broken)]
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: table cells are not cut
    main(["models", "--dir", str(two_versions["model_b"]), "--db", str(path)])
    out = capsys.readouterr()
    assert "tiny-hype-shifted" in out.out and "two-versions.db" in out.out
