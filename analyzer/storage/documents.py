"""Sources, fetches, documents, entities and entity tags.

Identity: a document is its canonical URL, or else its GUID (``external_id``) within its
source. Two documents with their own URLs or GUIDs stay two documents even when their text is
equal (syndicated copies are kept and counted once in heat by clustering); only a document with
neither is matched by the hash of its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.storage.base import StorageError, StoreBase, content_hash, in_clause, utcnow
from analyzer.storage.schema import DOCUMENT_KINDS


@dataclass
class DocumentRecord:
    """A document ready to be stored. ``text`` must already be clean plain text.

    ``is_summary`` marks text that is only a feed summary (its article was not fetched): it never
    replaces a longer text stored for the same document.
    """

    text: str
    title: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    external_id: str | None = None
    author: str | None = None
    published_at: str | None = None
    language: str | None = None
    kind: str = "news"
    source: str | None = None
    entities: list[str] = field(default_factory=list)
    is_summary: bool = False


@dataclass
class UpsertResult:
    document_id: int
    action: str  # "inserted", "updated", "unchanged" or "duplicate"


class DocumentTables(StoreBase):
    """Reads and writes of sources, fetches, documents, entities and tags."""

    # ----------------------------------------------------------------- sources & fetches
    def upsert_source(
        self,
        name: str,
        url: str | None = None,
        kind: str = "news",
        language: str | None = None,
        entity_hints: Iterable[str] = (),
        enabled: bool = True,
    ) -> int:
        with self.transaction():
            row = self.conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
            hints = json.dumps(list(entity_hints))
            if row:
                self.conn.execute(
                    "UPDATE sources SET url = COALESCE(?, url), kind = ?, language = COALESCE(?, language),"
                    " entity_hints = ?, enabled = ? WHERE id = ?",
                    (url, kind, language, hints, int(enabled), row[0]),
                )
                return int(row[0])
            cursor = self.conn.execute(
                "INSERT INTO sources (name, url, kind, language, entity_hints, enabled, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, url, kind, language, hints, int(enabled), utcnow()),
            )
            return int(cursor.lastrowid)

    def source_id(self, name: str) -> int | None:
        row = self.conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def record_fetch(
        self,
        url: str,
        status: str,
        *,
        run_id: int | None = None,
        source_id: int | None = None,
        started_at: str | None = None,
        duration_ms: int | None = None,
        http_status: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str | None = None,
        n_bytes: int | None = None,
        items: int | None = None,
        error: str | None = None,
    ) -> int:
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO fetches (run_id, source_id, url, started_at, duration_ms, status,"
                " http_status, etag, last_modified, content_type, bytes, items, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    source_id,
                    url,
                    started_at or utcnow(),
                    duration_ms,
                    status,
                    http_status,
                    etag,
                    last_modified,
                    content_type,
                    n_bytes,
                    items,
                    error,
                ),
            )
        return int(cursor.lastrowid)

    def update_fetch(self, fetch_id: int, **fields: Any) -> None:
        allowed = {"status", "items", "error", "http_status", "duration_ms"}
        unknown = set(fields) - allowed
        if unknown:
            raise StorageError(f"cannot update fetch fields {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self.conn.execute(
                f"UPDATE fetches SET {assignments} WHERE id = ?", (*fields.values(), fetch_id)
            )

    def last_validators(self, url: str) -> tuple[str | None, str | None]:
        """ETag and Last-Modified of the last successful fetch of ``url``, for a conditional GET."""
        row = self.conn.execute(
            "SELECT etag, last_modified FROM fetches WHERE url = ? AND status IN ('ok', 'partial')"
            " AND (etag IS NOT NULL OR last_modified IS NOT NULL) ORDER BY id DESC LIMIT 1",
            (url,),
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    # ----------------------------------------------------------------- documents
    def upsert_document(self, doc: DocumentRecord, *, run_id: int | None = None) -> UpsertResult:
        """Insert or update one document atomically.

        The stored document is found by canonical URL, else by (source, ``external_id``). Only a
        document with neither is looked up by the hash of its text, and one whose text is
        already stored is a duplicate that is not stored again. A summary-only record
        (``is_summary``) never replaces a longer stored text.
        """
        if not isinstance(doc.text, str) or not doc.text.strip():
            raise StorageError("document text is empty")
        if doc.kind not in DOCUMENT_KINDS:
            raise StorageError(
                f"unknown document kind {doc.kind!r}; use one of {', '.join(DOCUMENT_KINDS)}"
            )
        digest = content_hash(doc.text)
        with self.transaction():
            source_id = None
            if doc.source:
                source_id = self.source_id(doc.source) or self.upsert_source(
                    doc.source, kind=doc.kind
                )
            existing = self._find_document(doc, source_id)
            if existing is None and not doc.canonical_url and not doc.external_id:
                same_text = self.conn.execute(
                    "SELECT id FROM documents WHERE content_hash = ? LIMIT 1", (digest,)
                ).fetchone()
                if same_text is not None:
                    self._link_entities(int(same_text[0]), doc.entities, method="explicit")
                    return UpsertResult(int(same_text[0]), "duplicate")
            if existing is None:
                document_id = self._insert_document(doc, digest, source_id)
                self._link_entities(document_id, doc.entities, method="explicit")
                return UpsertResult(document_id, "inserted")
            document_id, stored_hash, stored_title, stored_length = existing
            self._link_entities(document_id, doc.entities, method="explicit")
            keep_text = doc.is_summary and stored_length > len(doc.text)
            if (stored_hash == digest or keep_text) and stored_title == doc.title:
                return UpsertResult(document_id, "unchanged")
            self._update_document(document_id, doc, digest, source_id, keep_text=keep_text)
            if stored_hash != digest and not keep_text:
                # The text changed: its sentences and scores no longer describe it.
                for table in ("sentences", "sentence_scores", "scores", "sentence_entities"):
                    self.conn.execute(f"DELETE FROM {table} WHERE document_id = ?", (document_id,))
            return UpsertResult(document_id, "updated")

    def _find_document(
        self, doc: DocumentRecord, source_id: int | None
    ) -> tuple[int, str, str | None, int] | None:
        columns = "SELECT id, content_hash, title, length(text) FROM documents"
        row = None
        if doc.canonical_url:
            row = self.conn.execute(
                f"{columns} WHERE canonical_url = ?", (doc.canonical_url,)
            ).fetchone()
        if row is None and doc.external_id:
            # A GUID is unique within its source; records without a source share one namespace.
            row = self.conn.execute(
                f"{columns} WHERE external_id = ? AND source_id IS ?", (doc.external_id, source_id)
            ).fetchone()
        return (int(row[0]), row[1], row[2], int(row[3])) if row else None

    def _insert_document(self, doc: DocumentRecord, digest: str, source_id: int | None) -> int:
        now = utcnow()
        cursor = self.conn.execute(
            "INSERT INTO documents (external_id, url, canonical_url, title, author, published_at,"
            " fetched_at, updated_at, language, kind, text, content_hash, source_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.external_id,
                doc.url,
                doc.canonical_url,
                doc.title,
                doc.author,
                doc.published_at,
                now,
                now,
                doc.language,
                doc.kind,
                doc.text,
                digest,
                source_id,
            ),
        )
        return int(cursor.lastrowid)

    def _update_document(
        self,
        document_id: int,
        doc: DocumentRecord,
        digest: str,
        source_id: int | None,
        *,
        keep_text: bool,
    ) -> None:
        text_columns = "" if keep_text else ", language = ?, kind = ?, text = ?, content_hash = ?"
        text_values: tuple[Any, ...] = (
            () if keep_text else (doc.language, doc.kind, doc.text, digest)
        )
        self.conn.execute(
            "UPDATE documents SET url = COALESCE(?, url), title = ?, author = COALESCE(?, author),"
            f" published_at = COALESCE(?, published_at), updated_at = ?{text_columns},"
            " source_id = COALESCE(?, source_id) WHERE id = ?",
            (
                doc.url,
                doc.title,
                doc.author,
                doc.published_at,
                utcnow(),
                *text_values,
                source_id,
                document_id,
            ),
        )

    def _link_entities(self, document_id: int, entity_ids: Iterable[str], method: str) -> None:
        for entity_id in entity_ids:
            entity_id = str(entity_id).strip()
            if not entity_id:
                continue
            self.conn.execute(
                "INSERT OR IGNORE INTO entities (id, name, kind) VALUES (?, ?, 'theme')",
                (entity_id, entity_id),
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO document_entities (document_id, entity_id, method, matched, score)"
                " VALUES (?, ?, ?, NULL, 1.0)",
                (document_id, entity_id, method),
            )

    def document(self, document_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM documents WHERE id = ?", (document_id,))
        return rows[0] if rows else None

    def iter_documents(
        self, *, where: str = "1", params: Sequence[Any] = (), batch_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Stream documents in id order without holding them all in memory."""
        last_id = 0
        while True:
            rows = self.query(
                f"SELECT * FROM documents WHERE id > ? AND ({where}) ORDER BY id LIMIT ?",
                (last_id, *params, batch_size),
            )
            if not rows:
                return
            yield from rows
            last_id = rows[-1]["id"]

    # ----------------------------------------------------------------- entities
    def upsert_entity(self, entity: dict[str, Any]) -> None:
        """Insert or replace an entity definition (lists are stored as JSON)."""
        row = {
            "id": entity["id"],
            "name": entity.get("name") or entity["id"],
            "kind": entity.get("kind") or "theme",
            "aliases": json.dumps(list(entity.get("aliases") or [])),
            "exclusions": json.dumps(list(entity.get("exclusions") or [])),
            "tickers": json.dumps(list(entity.get("tickers") or [])),
            "description": entity.get("description"),
            "sec_cik": str(entity["sec_cik"]) if entity.get("sec_cik") not in (None, "") else None,
            "defillama_slug": entity.get("defillama_slug"),
            "coingecko_id": entity.get("coingecko_id"),
            "eia_series": entity.get("eia_series"),
        }
        with self.transaction():
            self.conn.execute(
                "INSERT INTO entities (id, name, kind, aliases, exclusions, tickers, description, sec_cik,"
                " defillama_slug, coingecko_id, eia_series) VALUES (:id, :name, :kind, :aliases, :exclusions,"
                " :tickers, :description, :sec_cik, :defillama_slug, :coingecko_id, :eia_series)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
                " aliases = excluded.aliases, exclusions = excluded.exclusions, tickers = excluded.tickers,"
                " description = excluded.description, sec_cik = excluded.sec_cik,"
                " defillama_slug = excluded.defillama_slug, coingecko_id = excluded.coingecko_id,"
                " eia_series = excluded.eia_series",
                row,
            )

    def entities(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT e.*, (SELECT COUNT(*) FROM document_entities de WHERE de.entity_id = e.id) AS documents"
            " FROM entities e ORDER BY e.id"
        )
        for row in rows:
            for key in ("aliases", "exclusions", "tickers"):
                row[key] = json.loads(row[key] or "[]")
        return rows

    def tag_document(
        self,
        document_id: int,
        entity_id: str,
        *,
        method: str,
        matched: str | None = None,
        score: float | None = None,
        sentence_indices: Iterable[int] = (),
    ) -> None:
        """Record that a document (and some of its sentences) mention an entity, and why."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO document_entities (document_id, entity_id, method, matched, score)"
                " VALUES (?, ?, ?, ?, ?)",
                (document_id, entity_id, method, matched, score),
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO sentence_entities (document_id, sentence_index, entity_id, matched)"
                " VALUES (?, ?, ?, ?)",
                [(document_id, int(i), entity_id, matched) for i in sentence_indices],
            )

    def clear_entity_tags(self, document_id: int, entity_ids: Sequence[str]) -> set[str]:
        """Drop the derived tags of these entities from a document, keeping explicit links (those
        the source stated); returns the entities that are linked explicitly."""
        marks = in_clause(entity_ids)
        explicit = {
            row[0]
            for row in self.conn.execute(
                f"SELECT entity_id FROM document_entities WHERE document_id = ? AND method = 'explicit'"
                f" AND entity_id IN {marks}",
                (document_id, *entity_ids),
            )
        }
        with self.transaction():
            self.conn.execute(
                f"DELETE FROM document_entities WHERE document_id = ? AND method != 'explicit'"
                f" AND entity_id IN {marks}",
                (document_id, *entity_ids),
            )
            self.conn.execute(
                f"DELETE FROM sentence_entities WHERE document_id = ? AND entity_id IN {marks}",
                (document_id, *entity_ids),
            )
        return explicit

    def stored_sentences(self, document_id: int) -> list[str]:
        """The document's sentences as scoring split them (empty before it is scored)."""
        rows = self.conn.execute(
            "SELECT text FROM sentences WHERE document_id = ? ORDER BY sentence_index",
            (document_id,),
        ).fetchall()
        return [row[0] for row in rows]

    def entity(self, entity_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM entities WHERE id = ?", (entity_id,))
        return rows[0] if rows else None

    def entity_names(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT id, name FROM entities").fetchall())

    def source_names(self) -> dict[int, str]:
        return {int(k): v for k, v in self.conn.execute("SELECT id, name FROM sources").fetchall()}
