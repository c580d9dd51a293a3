"""Storage: the one owner of the database schema and of every SQL statement.

One SQLite file in WAL mode with versioned migrations (:mod:`.schema`); :class:`Store` reads
and writes it in transactions, so a killed run leaves no half-written document.
"""

from analyzer.storage.schema import DOCUMENT_KINDS, SCHEMA_VERSION
from analyzer.storage.store import (
    DEFAULT_DB_PATH,
    DocumentRecord,
    StorageError,
    Store,
    UpsertResult,
    content_hash,
    resolve_db_path,
    utcnow,
)

__all__ = [
    "DEFAULT_DB_PATH", "DOCUMENT_KINDS", "SCHEMA_VERSION", "DocumentRecord", "StorageError", "Store",
    "UpsertResult", "content_hash", "resolve_db_path", "utcnow",
]
