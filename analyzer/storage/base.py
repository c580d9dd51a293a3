"""The database connection: opening, migrating, transactions and the small query helpers that
every table module builds on.

This package knows nothing of models or fetching: it stores documents, scores and numbers and
answers queries about them. Every write that belongs together happens in one transaction, so a
killed run leaves no half-written document.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import sqlite_utils

from analyzer.errors import AnalyzerError
from analyzer.storage.schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB_PATH = Path("data") / "analyzer.db"
DB_ENV_VAR = "ANALYZER_DB"
# Tables whose row counts `analyzer stats` and the app's status line report.
COUNTED_TABLES = (
    "sources",
    "fetches",
    "documents",
    "entities",
    "document_entities",
    "sentences",
    "scores",
    "sentence_scores",
    "fundamentals",
    "runs",
)


class StorageError(AnalyzerError):
    """Raised for problems with the database file or its contents."""


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The database path: an explicit argument, else ``ANALYZER_DB``, else ``data/analyzer.db``."""
    if db:
        return Path(db)
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(env)
    return DEFAULT_DB_PATH


def utcnow() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def content_hash(text: str) -> str:
    """sha256 of whitespace-normalised text: the identity of a document's text and the one key
    of every sentence-score cache (in memory, in files and in the database)."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def in_clause(values: Sequence[Any]) -> str:
    """``(?, ?, ...)`` for a parameterised ``IN``; an empty list matches nothing."""
    return f"({','.join('?' * len(values))})" if values else "(NULL)"


class StoreBase:
    """Connection, migrations and transactions; the table mixins add the reads and writes."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False):
        self.path = resolve_db_path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise StorageError(
                    f"database {self.path} does not exist; run `analyzer ingest` first"
                )
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
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

    def __enter__(self) -> StoreBase:
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

    @contextmanager
    def savepoint(self, name: str = "unit") -> Iterator[None]:
        """A unit inside the current transaction that can fail alone: on error only its own
        writes are undone, and the error propagates."""
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.conn.execute(f"RELEASE SAVEPOINT {name}")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, for ad-hoc reads (the library's own reads are methods)."""
        cursor = self.conn.execute(sql, params)
        columns = [c[0] for c in cursor.description or []]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def _frame(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> pd.DataFrame:
        cursor = self.conn.execute(sql, params)
        return pd.DataFrame(cursor.fetchall(), columns=[c[0] for c in cursor.description or []])

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def table_exists(self, name: str) -> bool:
        return bool(
            self._scalar(
                "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
            )
        )

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in COUNTED_TABLES}

    def write_stamp(self) -> str:
        """Changes whenever the database (or its write-ahead log) is written: part of cache keys."""
        return file_stamp(self.path)


def file_stamp(path: Path) -> str:
    parts = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            stat = candidate.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
    return "/".join(parts)
