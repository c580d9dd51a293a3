"""The app's labelling loop through AppTest: the Label page writes labels (and only labels),
every other page leaves the database untouched, and the Model page compares versions and shows
annotator agreement. Real seeded databases, no mocks."""

from __future__ import annotations

import hashlib
import html
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from app_seed import seeded
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from loop_fixtures import rescored_seed
from streamlit.testing.v1 import AppTest

from analyzer.storage import Store
from analyzer.views import common

APP = Path(__file__).resolve().parent.parent / "app.py"
READ_ONLY_PAGES = ["overview", "entity", "check", "documents", "model"]


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:  # noqa: F811
    return seeded(tmp_path_factory, tiny_model_dir)


def _copy(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
        a.backup(b)
    with Store(target):
        pass  # WAL mode, as every analyzer database; closing checkpoints it
    return target


@pytest.fixture
def app_db(seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _copy(seed["path"], tmp_path / "app.db")
    monkeypatch.setenv("ANALYZER_DB", str(path))
    monkeypatch.setenv("ANALYZER_MODEL", str(seed["model_dir"]))
    monkeypatch.delenv("ANALYZER_ANNOTATOR", raising=False)
    return path


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def current_sentence(at: AppTest) -> str:
    for element in at.get("html"):
        found = re.search(r"<mark[^>]*>(.*?)</mark>", element.value)
        if found:
            return found.group(1)
    raise AssertionError("no sentence on the page")


def table_dump(path: Path, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"')))
            for t in tables
            if t not in skip
        }


def file_digest(path: Path) -> tuple[str, ...]:
    """The database file and its write-ahead log (a reader may leave an empty log: nothing in it)."""
    parts = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        content = candidate.read_bytes() if candidate.exists() else b""
        parts.append(hashlib.sha256(content).hexdigest() if content else "-")
    return tuple(parts)


# --------------------------------------------------------------------------- the Label page


def test_label_page_writes_labels_through_the_storage_api(app_db: Path) -> None:
    others_before = table_dump(app_db, skip=("labels",))
    at = run_page("label")
    assert any("Enter your name" in str(i.value) for i in at.info)
    at.text_input(key="label_annotator").input("ana").run()
    assert_clean(at)
    assert "0 of 100 sentences labelled by ana" in at.get("progress")[0].proto.text
    first = current_sentence(at)
    hype = at.button(key="label_toggle_hype")
    assert hype.label == "Hype: no" and hype.proto.shortcut.upper() == "H"
    assert {
        at.button(key=k).proto.shortcut.upper() for k in ("label_save", "label_skip", "label_undo")
    } == {"N", "S", "U"}
    hype.click().run()
    assert at.button(key="label_toggle_hype").label == "Hype: yes"
    at.button(key="label_save").click().run()
    assert_clean(at)

    with Store(app_db) as store:
        (label,) = store.labels()
    assert (label["annotator"], label["hype"], label["growth"], label["evidence"]) == (
        "ana",
        1,
        0,
        0,
    )
    assert label["origin"] == "app" and label["guideline_version"].startswith("sha256:")
    assert label["text"] == html.unescape(first)  # the sentence on screen is the one labelled
    assert "1 of 100" in at.get("progress")[0].proto.text
    second = current_sentence(at)
    assert second != first and at.button(key="label_toggle_hype").label == "Hype: no"

    at.button(key="label_skip").click().run()
    third = current_sentence(at)
    assert third not in (first, second)
    at.button(key="label_undo").click().run()  # undo the skip
    assert current_sentence(at) == second
    at.button(key="label_undo").click().run()  # undo the label
    assert current_sentence(at) == first
    assert (
        at.button(key="label_toggle_hype").label == "Hype: yes"
    )  # the undone choice, ready to fix
    with Store(app_db) as store:
        assert store.labels() == []
    assert "0 of 100" in at.get("progress")[0].proto.text
    # Nothing but the labels table was written.
    assert table_dump(app_db, skip=("labels",)) == others_before


def test_label_page_shows_the_sentence_in_its_document_escaped(
    app_db: Path, seed: dict[str, Any]
) -> None:
    # Make the hostile document's sentences the least certain, so the page shows one of them first.
    with Store(app_db) as store:
        hostile = store.search('"onerror"')[0]["id"]
        texts = [s["text"] for s in store.sentence_context(hostile, 0, window=50)]
        store.save_document_scores(
            hostile,
            model_id="tiny-hype",
            model_version=seed["model_version"],
            document_scores={"n_sentences": 2},
            sentences=texts,
            sentence_scores=[{"hype": 0.5, "growth": 0.5, "evidence": 0.5} for _ in texts],
        )
    at = run_page("label")
    at.text_input(key="label_annotator").input("bo").run()
    bodies = "\n".join(element.value for element in at.get("html"))
    assert (
        "onerror=alert(1)&gt;" in bodies and "<img" not in bodies
    )  # shown as text, never as markup
    assert "&lt;script&gt;" in bodies and "<script" not in bodies  # the hostile title, escaped too
    assert "original</a>" in bodies
    guidelines = [m.value for m in at.markdown if "Labelling guidelines" in str(m.value)]
    assert guidelines, "the guidelines are one click away"
    assert any("selection score 1.00" in str(c.value) for c in at.caption)


def test_two_annotators_label_the_same_sentences_and_agreement_appears(app_db: Path) -> None:
    for annotator, choose in (("ana", ("hype",)), ("bo", ("hype", "evidence"))):
        at = run_page("label")
        at.text_input(key="label_annotator").input(annotator).run()
        for _ in range(3):
            for label in choose:
                at.button(key=f"label_toggle_{label}").click().run()
            at.button(key="label_save").click().run()
            assert_clean(at)
    with Store(app_db) as store:
        labels = store.labels()
    assert (
        len(labels) == 6 and len({label["text_hash"] for label in labels}) == 3
    )  # the same three sentences
    at = run_page("model")
    table = next(d.value for d in at.dataframe if "kappa" in d.value.columns)
    rows = table.set_index("label")
    assert rows.loc["hype", "sentences"] == 3 and rows.loc["hype", "agreement"] == 1.0
    assert rows.loc["evidence", "agreement"] == 0.0
    assert any("Labels per annotator: ana 3, bo 3" in str(c.value) for c in at.caption)


def test_label_page_without_a_database_gives_the_next_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYZER_DB", str(tmp_path / "none.db"))
    at = run_page("label")
    assert any("analyzer ingest" in str(i.value) for i in at.info)
    assert not (tmp_path / "none.db").exists()


# --------------------------------------------------------------------------- read-only everywhere else


def test_every_other_page_opens_the_database_read_only(app_db: Path) -> None:
    before = file_digest(app_db), table_dump(app_db)
    for page in READ_ONLY_PAGES:
        at = run_page(page)
        if page == "check":
            at.text_area(key="check_text").input("Nvidia will change everything! Revenue rose 5%.")
            at.button(key="check_text_button").click().run()
            assert_clean(at)
            assert at.get("html"), "the pasted text was scored"
    assert (file_digest(app_db), table_dump(app_db)) == before
    with (
        common.open_readonly(app_db) as store,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        store.conn.execute("DELETE FROM labels")


# --------------------------------------------------------------------------- versions on the Model page


def test_model_page_compares_two_versions_with_a_picker(
    tmp_path_factory: pytest.TempPathFactory,
    seed: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    two = rescored_seed(tmp_path_factory, seed)
    path = _copy(two["path"], tmp_path / "two.db")
    monkeypatch.setenv("ANALYZER_DB", str(path))
    monkeypatch.setenv("ANALYZER_MODEL", str(seed["model_dir"]))
    before = file_digest(path)
    at = run_page("model")
    assert (
        at.selectbox(key="compare_a").value == two["a"]
        and at.selectbox(key="compare_b").value == two["b"]
    )
    summary = next(d.value for d in at.dataframe if "turned_on" in d.value.columns).set_index(
        "label"
    )
    assert summary.loc["hype", "turned_on"] > 0 and summary.loc["hype", "turned_off"] == 0
    flips = next(
        d.value for d in at.dataframe if "change" in d.value.columns and "text" in d.value.columns
    )
    assert set(flips["label"]) == {"hype"} and flips["text"].notna().all()
    assert any(m.label == "Flags appeared / disappeared" for m in at.metric)
    # Swapping the versions swaps the direction of every flip.
    at.selectbox(key="compare_a").set_value(two["b"]).run()
    at.selectbox(key="compare_b").set_value(two["a"]).run()
    assert_clean(at)
    swapped = next(d.value for d in at.dataframe if "turned_on" in d.value.columns).set_index(
        "label"
    )
    assert swapped.loc["hype", "turned_off"] == summary.loc["hype", "turned_on"]
    at.selectbox(key="compare_b").set_value(two["b"]).run()
    assert any("Pick two different versions" in str(i.value) for i in at.info)
    assert file_digest(path) == before
