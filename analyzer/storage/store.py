"""SQLite storage: one file, WAL mode, versioned migrations, transactional writes.

This module knows nothing of models or fetching: it stores documents, scores and numbers
and answers queries about them. Every write that belongs together happens in one
transaction, so a killed run leaves no half-written document.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from analyzer.errors import AnalyzerError
from analyzer.storage.claims import ClaimsTables
from analyzer.storage.schema import DOCUMENT_KINDS, MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB_PATH = Path("data") / "analyzer.db"


class StorageError(AnalyzerError):
    """Raised for problems with the database file or its contents."""


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The database path: an explicit argument, else ``ANALYZER_DB``, else ``data/analyzer.db``."""
    if db:
        return Path(db)
    env = os.environ.get("ANALYZER_DB")
    if env:
        return Path(env)
    return DEFAULT_DB_PATH


def utcnow() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def content_hash(text: str) -> str:
    """Hash of whitespace-normalised text, used for dedup and the score cache."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- migrations
# Each migration runs once, in order, inside a transaction; PRAGMA user_version records progress.










# --------------------------------------------------------------------------- records


@dataclass
class DocumentRecord:
    """A document ready to be stored. ``text`` must already be clean plain text."""

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


@dataclass
class UpsertResult:
    document_id: int
    action: str  # "inserted", "updated", "unchanged" or "duplicate"


class Store(ClaimsTables):
    """The analyzer database.

    >>> store = Store("data/analyzer.db")   # creates and migrates the file when needed
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False):
        self.path = resolve_db_path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise StorageError(f"database {self.path} does not exist; run `analyzer ingest` first")
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        try:
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"{self.path} is not a usable SQLite database: {exc}") from exc
        self.db = sqlite_utils.Database(conn)
        if not readonly:
            self.migrate()
        elif self.schema_version() < SCHEMA_VERSION:
            raise StorageError(
                f"database {self.path} has schema version {self.schema_version()}, "
                f"this analyzer needs {SCHEMA_VERSION}; open it once read-write to upgrade"
            )

    # ----------------------------------------------------------------- housekeeping
    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply pending migrations; returns the number applied."""
        current = self.schema_version()
        applied = 0
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            with self.transaction():
                migration(self.db)
                self.conn.execute(f"PRAGMA user_version = {number}")
            applied += 1
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested use joins the outer transaction."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        columns = [c[0] for c in cursor.description or []]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def counts(self) -> dict[str, int]:
        tables = [
            "sources", "fetches", "documents", "entities", "document_entities",
            "sentences", "scores", "sentence_scores", "fundamentals", "runs",
        ]
        return {t: self.db[t].count for t in tables}

    # ----------------------------------------------------------------- runs
    def start_run(self, command: str, args: dict[str, Any] | None = None) -> int:
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO runs (command, args, started_at) VALUES (?, ?, ?)",
                (command, json.dumps(args or {}, default=str), utcnow()),
            )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, status: str = "ok", stats: dict[str, Any] | None = None) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?",
                (utcnow(), status, json.dumps(stats or {}, default=str), run_id),
            )

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
                    run_id, source_id, url, started_at or utcnow(), duration_ms, status,
                    http_status, etag, last_modified, content_type, n_bytes, items, error,
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

        Identity is the canonical URL when there is one, otherwise the content hash; a document
        without a URL whose text is already stored is a duplicate and is not stored again.
        """
        if not isinstance(doc.text, str) or not doc.text.strip():
            raise StorageError("document text is empty")
        if doc.kind not in DOCUMENT_KINDS:
            raise StorageError(f"unknown document kind {doc.kind!r}; use one of {', '.join(DOCUMENT_KINDS)}")
        digest = content_hash(doc.text)
        now = utcnow()
        with self.transaction():
            source_id = None
            if doc.source:
                source_id = self.source_id(doc.source) or self.upsert_source(doc.source, kind=doc.kind)
            existing = None
            if doc.canonical_url:
                existing = self.conn.execute(
                    "SELECT id, content_hash, title FROM documents WHERE canonical_url = ?",
                    (doc.canonical_url,),
                ).fetchone()
            if existing is None and doc.external_id and source_id is not None:
                existing = self.conn.execute(
                    "SELECT id, content_hash, title FROM documents WHERE external_id = ? AND source_id = ?",
                    (doc.external_id, source_id),
                ).fetchone()
            if existing is None:
                same_text = self.conn.execute(
                    "SELECT id FROM documents WHERE content_hash = ? LIMIT 1", (digest,)
                ).fetchone()
                if same_text is not None:
                    self._link_entities(int(same_text[0]), doc.entities, method="explicit")
                    return UpsertResult(int(same_text[0]), "duplicate")
                cursor = self.conn.execute(
                    "INSERT INTO documents (external_id, url, canonical_url, title, author, published_at,"
                    " fetched_at, updated_at, language, kind, text, content_hash, source_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.external_id, doc.url, doc.canonical_url, doc.title, doc.author,
                        doc.published_at, now, now, doc.language, doc.kind, doc.text, digest, source_id,
                    ),
                )
                document_id = int(cursor.lastrowid)
                self._link_entities(document_id, doc.entities, method="explicit")
                return UpsertResult(document_id, "inserted")
            document_id = int(existing[0])
            self._link_entities(document_id, doc.entities, method="explicit")
            if existing[1] == digest and existing[2] == doc.title:
                return UpsertResult(document_id, "unchanged")
            self.conn.execute(
                "UPDATE documents SET url = ?, title = ?, author = COALESCE(?, author),"
                " published_at = COALESCE(?, published_at), updated_at = ?, language = ?, kind = ?,"
                " text = ?, content_hash = ?, source_id = COALESCE(?, source_id) WHERE id = ?",
                (
                    doc.url, doc.title, doc.author, doc.published_at, now, doc.language, doc.kind,
                    doc.text, digest, source_id, document_id,
                ),
            )
            if existing[1] != digest:
                # The text changed: its sentences and scores no longer describe it.
                for table in ("sentences", "sentence_scores", "scores", "sentence_entities"):
                    self.conn.execute(f"DELETE FROM {table} WHERE document_id = ?", (document_id,))
            return UpsertResult(document_id, "updated")

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

    # ----------------------------------------------------------------- scores
    def documents_to_score(self, model_version: str, batch_size: int = 256) -> Iterator[dict[str, Any]]:
        """Documents with no score from ``model_version`` yet, streamed in id order."""
        yield from self.iter_documents(
            where="NOT EXISTS (SELECT 1 FROM scores s WHERE s.document_id = documents.id"
            " AND s.model_version = ?)",
            params=(model_version,),
            batch_size=batch_size,
        )

    def cached_sentence_scores(
        self, text_hashes: Sequence[str], model_version: str
    ) -> dict[str, tuple[float, float, float]]:
        found: dict[str, tuple[float, float, float]] = {}
        unique = list(dict.fromkeys(text_hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT text_hash, hype, growth, evidence FROM score_cache"
                f" WHERE model_version = ? AND text_hash IN ({marks})",
                (model_version, *chunk),
            ):
                found[row[0]] = (row[1], row[2], row[3])
        return found

    def save_document_scores(
        self,
        document_id: int,
        *,
        model_id: str,
        model_version: str,
        document_scores: dict[str, Any],
        sentences: Sequence[str],
        sentence_scores: Sequence[dict[str, float | None]],
    ) -> None:
        """Store a document's sentences and all its scores for one model version, atomically.

        ``document_scores`` holds hype/growth/evidence (means), optional ``*_top`` and ``*_share``,
        ``n_sentences``, ``language`` and ``unscored``.
        """
        if len(sentences) != len(sentence_scores):
            raise StorageError("sentences and sentence_scores differ in length")
        hashes = [content_hash(s) for s in sentences]
        with self.transaction():
            self.conn.execute("DELETE FROM sentences WHERE document_id = ?", (document_id,))
            self.conn.executemany(
                "INSERT INTO sentences (document_id, sentence_index, text, text_hash) VALUES (?, ?, ?, ?)",
                [(document_id, i, s, h) for i, (s, h) in enumerate(zip(sentences, hashes))],
            )
            self.conn.execute(
                "DELETE FROM sentence_scores WHERE document_id = ? AND model_version = ?",
                (document_id, model_version),
            )
            self.conn.executemany(
                "INSERT INTO sentence_scores (document_id, sentence_index, model_id, model_version,"
                " hype, growth, evidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (document_id, i, model_id, model_version, s.get("hype"), s.get("growth"), s.get("evidence"))
                    for i, s in enumerate(sentence_scores)
                ],
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO score_cache (text_hash, model_version, hype, growth, evidence)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (h, model_version, s["hype"], s["growth"], s["evidence"])
                    for h, s in zip(hashes, sentence_scores)
                    if s.get("hype") is not None
                ],
            )
            d = document_scores
            self.conn.execute(
                "INSERT OR REPLACE INTO scores (document_id, model_id, model_version, hype, growth, evidence,"
                " hype_top, growth_top, evidence_top, hype_share, growth_share, evidence_share,"
                " n_sentences, language, unscored, scored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document_id, model_id, model_version,
                    d.get("hype"), d.get("growth"), d.get("evidence"),
                    d.get("hype_top"), d.get("growth_top"), d.get("evidence_top"),
                    d.get("hype_share"), d.get("growth_share"), d.get("evidence_share"),
                    int(d.get("n_sentences") or len(sentences)), d.get("language"),
                    int(bool(d.get("unscored"))), utcnow(),
                ),
            )

    def model_versions(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT model_id, model_version, COUNT(*) AS documents, MAX(scored_at) AS last_scored"
            " FROM scores GROUP BY model_id, model_version ORDER BY last_scored DESC"
        )

    def latest_model_version(self) -> str | None:
        row = self.conn.execute(
            "SELECT model_version FROM scores ORDER BY scored_at DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    # ----------------------------------------------------------------- fundamentals
    def add_fundamentals(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert or replace fundamentals rows (entity_id, metric, date, value, unit, source, filed_at).

        Rows of an unknown entity create a bare entity, so nothing imported is lost.
        """
        now = utcnow()
        count = 0
        with self.transaction():
            for row in rows:
                entity_id = str(row["entity_id"])
                self.conn.execute(
                    "INSERT OR IGNORE INTO entities (id, name, kind) VALUES (?, ?, 'theme')",
                    (entity_id, entity_id),
                )
                self.conn.execute(
                    "INSERT OR REPLACE INTO fundamentals (entity_id, metric, date, value, unit, source,"
                    " filed_at, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entity_id, row["metric"], row["date"], row.get("value"), row.get("unit"),
                        row.get("source") or "csv", row.get("filed_at"), now,
                    ),
                )
                count += 1
        return count

    def fundamentals(
        self,
        entity_id: str | None = None,
        metric: str | None = None,
        *,
        as_of: str | None = None,
    ) -> list[dict[str, Any]]:
        """Fundamentals rows, one per (entity, metric, date, source).

        With ``as_of``, only values filed on or before that date are visible, and for each period
        the latest such filing wins: a point-in-time view free of look-ahead.
        """
        clauses, params = ["1"], []
        if entity_id:
            clauses.append("entity_id = ?")
            params.append(entity_id)
        if metric:
            clauses.append("metric = ?")
            params.append(metric)
        if as_of:
            clauses.append("(filed_at IS NULL OR filed_at <= ?)")
            params.append(as_of)
        where = " AND ".join(clauses)
        return self.query(
            f"""
            SELECT entity_id, metric, date, value, unit, source, filed_at FROM (
                SELECT *, ROW_NUMBER() OVER (
                    PARTITION BY entity_id, metric, date, source
                    ORDER BY COALESCE(filed_at, '') DESC, id DESC
                ) AS rank FROM fundamentals WHERE {where}
            ) WHERE rank = 1 ORDER BY entity_id, metric, date
            """,
            params,
        )

    # ----------------------------------------------------------------- search
    def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Full-text search over title and text; raises StorageError on a malformed query."""
        try:
            return self.query(
                "SELECT d.id, d.title, d.url, d.published_at, d.kind, d.language,"
                " snippet(documents_fts, 1, '[', ']', ' … ', 12) AS snippet"
                " FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid"
                " WHERE documents_fts MATCH ? ORDER BY rank LIMIT ?",
                (query, limit),
            )
        except sqlite3.OperationalError as exc:
            raise StorageError(f"could not search for {query!r}: {exc}") from exc


def timed() -> Callable[[], int]:
    """A stopwatch: call the returned function for elapsed milliseconds."""
    start = time.perf_counter()
    return lambda: int((time.perf_counter() - start) * 1000)
