"""Storage: the one owner of the database schema and of every SQL statement.

One SQLite file in WAL mode with versioned migrations (:mod:`.schema`); :class:`Store` reads
and writes it in transactions, so a killed run leaves no half-written document. No module
outside this package writes SQL.
"""

from analyzer.storage.base import (
    DEFAULT_DB_PATH,
    StorageError,
    content_hash,
    file_stamp,
    resolve_db_path,
    utcnow,
)
from analyzer.storage.documents import DocumentRecord, UpsertResult
from analyzer.storage.schema import DOCUMENT_KINDS, SCHEMA_VERSION
from analyzer.storage.search import DocumentQuery
from analyzer.storage.store import Store, timed

__all__ = [
    "DEFAULT_DB_PATH",
    "DOCUMENT_KINDS",
    "SCHEMA_VERSION",
    "DocumentQuery",
    "DocumentRecord",
    "StorageError",
    "Store",
    "UpsertResult",
    "content_hash",
    "file_stamp",
    "resolve_db_path",
    "timed",
    "utcnow",
]
