from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from analyzer.storage import SCHEMA_VERSION, DocumentRecord, StorageError, Store, resolve_db_path


def test_new_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert "documents_fts" in store.db.table_names()


def test_db_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ANALYZER_DB", raising=False)
    assert resolve_db_path(None) == Path("data/analyzer.db")
    monkeypatch.setenv("ANALYZER_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(None) == tmp_path / "env.db"
    assert resolve_db_path(tmp_path / "flag.db") == tmp_path / "flag.db"


def test_upsert_dedups_by_canonical_url_and_content(store: Store) -> None:
    first = store.upsert_document(
        DocumentRecord(text="Chips sold out. Again.", title="A", canonical_url="https://x.test/a")
    )
    assert first.action == "inserted"
    again = store.upsert_document(
        DocumentRecord(text="Chips sold out. Again.", title="A", canonical_url="https://x.test/a")
    )
    assert (again.document_id, again.action) == (first.document_id, "unchanged")
    copy = store.upsert_document(DocumentRecord(text="Chips  sold out.\nAgain.", title="Copy"))
    assert copy.action == "duplicate"
    updated = store.upsert_document(
        DocumentRecord(
            text="Chips sold out, said the CEO.", title="A", canonical_url="https://x.test/a"
        )
    )
    assert (updated.document_id, updated.action) == (first.document_id, "updated")
    assert store.db["documents"].count == 1
    assert store.search("CEO")[0]["id"] == first.document_id


def test_text_change_drops_stale_scores(store: Store) -> None:
    doc = store.upsert_document(DocumentRecord(text="One. Two.", canonical_url="https://x.test/s"))
    store.save_document_scores(
        doc.document_id,
        model_id="m",
        model_version="v1",
        document_scores={"hype": 0.1, "growth": 0.2, "evidence": 0.3},
        sentences=["One.", "Two."],
        sentence_scores=[{"hype": 0.1, "growth": 0.2, "evidence": 0.3}] * 2,
    )
    assert store.db["sentence_scores"].count == 2
    assert list(store.documents_to_score("v1")) == []
    store.upsert_document(DocumentRecord(text="Three.", canonical_url="https://x.test/s"))
    assert store.db["sentence_scores"].count == 0
    assert [d["id"] for d in store.documents_to_score("v1")] == [doc.document_id]
    # The cache keeps what was learnt about the old sentences.
    from analyzer.storage import content_hash

    assert content_hash("One.") in store.cached_sentence_scores([content_hash("One.")], "v1")


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.upsert_document(
                DocumentRecord(text="Half written", canonical_url="https://x.test/h")
            )
            raise RuntimeError("killed")
    assert store.db["documents"].count == 0


def test_bad_input_is_refused_with_clear_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="empty"):
        store.upsert_document(DocumentRecord(text="   "))
    with pytest.raises(StorageError, match="kind"):
        store.upsert_document(DocumentRecord(text="x", kind="tweet"))
    with pytest.raises(StorageError, match="search"):
        store.search('"unterminated')
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a usable SQLite"):
        Store(garbage)


def test_point_in_time_fundamentals(store: Store) -> None:
    store.add_fundamentals(
        [
            {
                "entity_id": "acme",
                "metric": "revenue",
                "date": "2024-03-31",
                "value": 10.0,
                "filed_at": "2024-05-01",
            },
            {
                "entity_id": "acme",
                "metric": "revenue",
                "date": "2024-03-31",
                "value": 11.0,
                "filed_at": "2025-05-01",
            },
        ]
    )
    assert [r["value"] for r in store.fundamentals("acme")] == [11.0]
    assert [r["value"] for r in store.fundamentals("acme", as_of="2024-12-31")] == [10.0]
    assert store.fundamentals("acme", as_of="2024-01-01") == []


def test_old_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # version 0: an empty file from an older release
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
    with Store(path, readonly=True) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_equal_text_never_merges_documents_with_their_own_urls(store: Store) -> None:
    text = "Shares rose after the company raised its outlook for the year."
    first = store.upsert_document(
        DocumentRecord(text=text, url="https://a.example/1", canonical_url="https://a.example/1")
    )
    second = store.upsert_document(
        DocumentRecord(text=text, url="https://b.example/2", canonical_url="https://b.example/2")
    )
    by_guid = store.upsert_document(DocumentRecord(text=text, external_id="guid-3", source="Wire"))
    assert (first.action, second.action, by_guid.action) == ("inserted", "inserted", "inserted")
    assert len({first.document_id, second.document_id, by_guid.document_id}) == 3
    # Only a document with neither URL nor GUID is recognised by its text.
    anonymous = store.upsert_document(DocumentRecord(text=text))
    assert anonymous.action == "duplicate" and anonymous.document_id == first.document_id


def test_guid_identifies_a_document_without_a_source(store: Store) -> None:
    first = store.upsert_document(DocumentRecord(text="First text of record r1.", external_id="r1"))
    again = store.upsert_document(
        DocumentRecord(text="Edited text of record r1.", external_id="r1")
    )
    assert again.document_id == first.document_id and again.action == "updated"
    assert store.document(first.document_id)["text"] == "Edited text of record r1."


def test_a_summary_keeps_the_longer_stored_text_but_updates_the_title(store: Store) -> None:
    full = "The article in full. " * 20
    first = store.upsert_document(
        DocumentRecord(text=full, title="Old", canonical_url="https://x.example/a")
    )
    summary = DocumentRecord(
        text="Old\n\nShort.", title="New", canonical_url="https://x.example/a", is_summary=True
    )
    result = store.upsert_document(summary)
    row = store.document(first.document_id)
    assert result.action == "updated" and row["text"] == full and row["title"] == "New"
