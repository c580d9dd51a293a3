"""Human labels for sentences, and the sentences worth labelling next.

:class:`LabelsMixin` is part of :class:`analyzer.storage.Store`. :class:`LabelWriter` is the
one writable connection the app opens: it may change the ``labels`` table and nothing else
(an SQLite authorizer refuses every other write), so the app's labelling page cannot alter
documents, scores or analysis even by mistake.
"""

from __future__ import annotations

import math
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError

LABEL_NAMES = ("hype", "growth", "evidence")
SELECTION_STRATEGIES = ("uncertain", "disagreement", "random")
UNCERTAINTY_MEASURES = ("margin", "entropy")
LABEL_COLUMNS = (
    "text_hash",
    "annotator",
    "text",
    "document_id",
    "sentence_index",
    *LABEL_NAMES,
    "guideline_version",
    "labelled_at",
    "origin",
)


class LabelStorageError(AnalyzerError):
    """A label could not be stored or read."""


def _binary_entropy(p: float | None) -> float | None:
    """Entropy of a Bernoulli(p) in bits: 1 at p = 0.5, 0 at 0 and 1."""
    if p is None:
        return None
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _seeded_rank(seed: int, document_id: int, sentence_index: int) -> int:
    return zlib.crc32(f"{seed}:{document_id}:{sentence_index}".encode())


def _register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("binary_entropy", 1, _binary_entropy, deterministic=True)
    conn.create_function("seeded_rank", 3, _seeded_rank, deterministic=True)


# The entities a sentence is about: those tagged on the sentence, else on its document.
_ENTITIES_SQL = (
    "COALESCE("
    "(SELECT group_concat(entity_id, ',') FROM (SELECT x.entity_id FROM sentence_entities x"
    " WHERE x.document_id = c.document_id AND x.sentence_index = c.sentence_index ORDER BY x.entity_id)),"
    "(SELECT group_concat(entity_id, ',') FROM (SELECT de.entity_id FROM document_entities de"
    " WHERE de.document_id = c.document_id ORDER BY de.entity_id)), '')"
)


class LabelsMixin:
    """Methods of :class:`analyzer.storage.Store` for the ``labels`` table."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by the class this is mixed into

        def transaction(self) -> Any: ...

    # ----------------------------------------------------------------- sentences to label
    def sentence_at(self, document_id: int, sentence_index: int) -> dict[str, Any] | None:
        """The stored sentence at a position (``text``, ``text_hash``), or None."""
        row = self.conn.execute(
            "SELECT document_id, sentence_index, text, text_hash FROM sentences"
            " WHERE document_id = ? AND sentence_index = ?",
            (int(document_id), int(sentence_index)),
        ).fetchone()
        if row is None:
            return None
        return {
            "document_id": row[0],
            "sentence_index": row[1],
            "text": row[2],
            "text_hash": row[3],
        }

    def sentence_with_hash(self, text_hash: str) -> dict[str, Any] | None:
        """A stored sentence with this text hash (the first by position), or None."""
        row = self.conn.execute(
            "SELECT document_id, sentence_index, text, text_hash FROM sentences WHERE text_hash = ?"
            " ORDER BY document_id, sentence_index LIMIT 1",
            (text_hash,),
        ).fetchone()
        if row is None:
            return None
        return {
            "document_id": row[0],
            "sentence_index": row[1],
            "text": row[2],
            "text_hash": row[3],
        }

    def sentence_context(
        self, document_id: int, sentence_index: int, window: int = 2
    ) -> list[dict[str, Any]]:
        """The sentences around one, in order: ``window`` before and after it, itself included."""
        rows = self.conn.execute(
            "SELECT sentence_index, text FROM sentences WHERE document_id = ?"
            " AND sentence_index BETWEEN ? AND ? ORDER BY sentence_index",
            (int(document_id), int(sentence_index) - window, int(sentence_index) + window),
        ).fetchall()
        return [
            {"sentence_index": r[0], "text": r[1], "current": r[0] == sentence_index} for r in rows
        ]

    def document_summary(self, document_id: int) -> dict[str, Any] | None:
        """A document's title, URL, publication date and source name (no text)."""
        row = self.conn.execute(
            "SELECT d.id, d.title, d.url, d.published_at, src.name FROM documents d"
            " LEFT JOIN sources src ON src.id = d.source_id WHERE d.id = ?",
            (int(document_id),),
        ).fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "title": row[1],
            "url": row[2],
            "published_at": row[3],
            "source": row[4],
        }

    def scored_versions(self) -> list[str]:
        """Model versions with sentence scores, most recently used first."""
        rows = self.conn.execute(
            "SELECT model_version FROM scores GROUP BY model_version ORDER BY MAX(scored_at) DESC"
        ).fetchall()
        return [r[0] for r in rows]

    def label_candidates(
        self,
        strategy: str,
        model_versions: Sequence[str],
        *,
        limit: int,
        measure: str = "margin",
        entity: str | None = None,
        seed: int = 0,
        exclude_labelled_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """Scored sentences ranked for labelling, best first, at most ``limit``.

        ``uncertain`` ranks by the mean over labels of the model's uncertainty (``margin``:
        1 - |2p - 1|; ``entropy``: binary entropy in bits) under ``model_versions[0]``;
        ``disagreement`` by the mean over labels of the spread (max - min) of the
        probabilities the versions gave, among sentences scored by at least two of them;
        ``random`` by a seeded hash. Sentences already labelled (by anyone, or only by
        ``exclude_labelled_by`` when given) are left out. Each row carries the sentence, its
        scores, ``score`` (the ranking value), its source and its entities (comma-separated).
        """
        if strategy not in SELECTION_STRATEGIES:
            raise LabelStorageError(
                f"unknown strategy {strategy!r}; use {', '.join(SELECTION_STRATEGIES)}"
            )
        if measure not in UNCERTAINTY_MEASURES:
            raise LabelStorageError(
                f"unknown measure {measure!r}; use {', '.join(UNCERTAINTY_MEASURES)}"
            )
        versions = list(dict.fromkeys(model_versions))
        if not versions:
            raise LabelStorageError("no model version given")
        _register_functions(self.conn)
        labelled = "SELECT 1 FROM labels l WHERE l.text_hash = se.text_hash"
        params_labelled: list[Any] = []
        if exclude_labelled_by is not None:
            labelled += " AND l.annotator = ?"
            params_labelled.append(exclude_labelled_by)
        entity_filter, entity_params = "", []
        if entity:
            entity_filter = " AND ss.document_id IN (SELECT document_id FROM document_entities WHERE entity_id = ?)"
            entity_params = [entity]
        if strategy == "disagreement":
            if len(versions) < 2:
                raise LabelStorageError(
                    "the disagreement strategy needs at least two model versions"
                )
            marks = ",".join("?" * len(versions))
            inner = (
                "SELECT ss.document_id, ss.sentence_index, se.text, se.text_hash,"
                " AVG(ss.hype) AS hype, AVG(ss.growth) AS growth, AVG(ss.evidence) AS evidence,"
                " COUNT(DISTINCT ss.model_version) AS versions,"
                " ((MAX(ss.hype) - MIN(ss.hype)) + (MAX(ss.growth) - MIN(ss.growth))"
                " + (MAX(ss.evidence) - MIN(ss.evidence))) / 3.0 AS score"
                " FROM sentence_scores ss JOIN sentences se"
                " ON se.document_id = ss.document_id AND se.sentence_index = ss.sentence_index"
                f" WHERE ss.model_version IN ({marks}) AND ss.hype IS NOT NULL{entity_filter}"
                f" AND NOT EXISTS ({labelled})"
                " GROUP BY ss.document_id, ss.sentence_index HAVING COUNT(DISTINCT ss.model_version) >= 2"
                " ORDER BY score DESC, ss.document_id, ss.sentence_index LIMIT ?"
            )
            params: list[Any] = [*versions, *entity_params, *params_labelled, int(limit)]
        else:
            if strategy == "random":
                score = "seeded_rank(?, ss.document_id, ss.sentence_index)"
                score_params: list[Any] = [int(seed)]
                order = "score ASC"
            elif measure == "margin":
                score = "(3.0 - ABS(2 * ss.hype - 1) - ABS(2 * ss.growth - 1) - ABS(2 * ss.evidence - 1)) / 3.0"
                score_params, order = [], "score DESC"
            else:
                score = "(binary_entropy(ss.hype) + binary_entropy(ss.growth) + binary_entropy(ss.evidence)) / 3.0"
                score_params, order = [], "score DESC"
            inner = (
                "SELECT ss.document_id, ss.sentence_index, se.text, se.text_hash,"
                f" ss.hype, ss.growth, ss.evidence, 1 AS versions, {score} AS score"
                " FROM sentence_scores ss JOIN sentences se"
                " ON se.document_id = ss.document_id AND se.sentence_index = ss.sentence_index"
                f" WHERE ss.model_version = ? AND ss.hype IS NOT NULL AND ss.growth IS NOT NULL"
                f" AND ss.evidence IS NOT NULL{entity_filter} AND NOT EXISTS ({labelled})"
                f" ORDER BY {order}, ss.document_id, ss.sentence_index LIMIT ?"
            )
            params = [*score_params, versions[0], *entity_params, *params_labelled, int(limit)]
        sql = (
            f"SELECT c.*, d.title, d.url, d.published_at, d.language, src.name AS source,"
            f" {_ENTITIES_SQL} AS entities"
            f" FROM ({inner}) c JOIN documents d ON d.id = c.document_id"
            " LEFT JOIN sources src ON src.id = d.source_id"
        )
        cursor = self.conn.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    # ----------------------------------------------------------------- labels
    def label(self, text_hash: str, annotator: str) -> dict[str, Any] | None:
        """One annotator's label for a sentence, or None."""
        cursor = self.conn.execute(
            f"SELECT {', '.join(LABEL_COLUMNS)} FROM labels WHERE text_hash = ? AND annotator = ?",
            (text_hash, annotator),
        )
        row = cursor.fetchone()
        return dict(zip(LABEL_COLUMNS, row)) if row else None

    def save_labels(self, labels: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Insert or update labels (one per sentence text and annotator), atomically.

        A label equal to the stored one (same values and guideline version) is left as it is,
        time included, so importing a file twice changes nothing. Returns counts of
        ``inserted``, ``updated`` and ``unchanged``.
        """
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        with self.transaction():
            for label in labels:
                values = {k: label.get(k) for k in LABEL_COLUMNS}
                values["origin"] = values["origin"] or "import"
                for name in LABEL_NAMES:
                    if values[name] not in (None, 0, 1):
                        raise LabelStorageError(
                            f"label {name!r} must be 0, 1 or unset, not {values[name]!r}"
                        )
                if not values["text_hash"] or not values["annotator"] or not values["text"]:
                    raise LabelStorageError("a label needs text_hash, annotator and text")
                current = self.label(values["text_hash"], values["annotator"])
                if current is not None and all(
                    current[k] == values[k] for k in (*LABEL_NAMES, "guideline_version")
                ):
                    counts["unchanged"] += 1
                    continue
                self.conn.execute(
                    f"INSERT INTO labels ({', '.join(LABEL_COLUMNS)})"
                    f" VALUES ({', '.join('?' * len(LABEL_COLUMNS))})"
                    " ON CONFLICT(text_hash, annotator) DO UPDATE SET text = excluded.text,"
                    " document_id = excluded.document_id, sentence_index = excluded.sentence_index,"
                    " hype = excluded.hype, growth = excluded.growth, evidence = excluded.evidence,"
                    " guideline_version = excluded.guideline_version, labelled_at = excluded.labelled_at,"
                    " origin = excluded.origin",
                    [values[k] for k in LABEL_COLUMNS],
                )
                counts["updated" if current is not None else "inserted"] += 1
        return counts

    def delete_label(self, text_hash: str, annotator: str) -> bool:
        """Remove one annotator's label for a sentence; True when there was one."""
        with self.transaction():
            cursor = self.conn.execute(
                "DELETE FROM labels WHERE text_hash = ? AND annotator = ?", (text_hash, annotator)
            )
        return cursor.rowcount > 0

    def labels(self, annotator: str | None = None) -> list[dict[str, Any]]:
        """Every label (or one annotator's), with ``document_key``: the identity of the document
        it was labelled in (its content hash; the sentence's own hash when the document is gone)."""
        sql = (
            f"SELECT {', '.join('l.' + c for c in LABEL_COLUMNS)},"
            " COALESCE(d.content_hash, l.text_hash) AS document_key, d.language AS language"
            " FROM labels l LEFT JOIN documents d ON d.id = l.document_id"
        )
        params: list[Any] = []
        if annotator is not None:
            sql += " WHERE l.annotator = ?"
            params.append(annotator)
        cursor = self.conn.execute(
            sql + " ORDER BY l.labelled_at, l.text_hash, l.annotator", params
        )
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def label_counts(self) -> dict[str, int]:
        """Labels per annotator."""
        return dict(
            self.conn.execute(
                "SELECT annotator, COUNT(*) FROM labels GROUP BY annotator"
            ).fetchall()
        )


# --------------------------------------------------------------------------- the app's writer

# Actions that change the database; everything else (reads, transactions, pragmas) is allowed.
_WRITE_ACTIONS = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}
_SCHEMA_ACTIONS = {
    getattr(sqlite3, name)
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_"))
    or name in ("SQLITE_ALTER_TABLE", "SQLITE_REINDEX")
}
WRITABLE_TABLES = frozenset({"labels"})


def _only_labels(
    action: int, arg1: str | None, arg2: str | None, database: str | None, source: str | None
) -> int:
    if action in _SCHEMA_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action in _WRITE_ACTIONS and arg1 not in WRITABLE_TABLES:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class LabelWriter(LabelsMixin):
    """A connection to an existing database that may write the ``labels`` table only.

    >>> with LabelWriter("data/analyzer.db") as writer:
    ...     writer.save_labels([...])

    The file must exist with an up-to-date schema (this never migrates: migrating writes
    other tables). Any other write raises :class:`sqlite3.DatabaseError` ("not authorized").
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from analyzer.storage.schema import SCHEMA_VERSION

        self.path = Path(path)
        if not self.path.is_file():
            raise LabelStorageError(f"database {self.path} does not exist")
        try:
            self.conn = sqlite3.connect(
                f"file:{self.path}?mode=rw", uri=True, check_same_thread=False
            )
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.conn.execute("PRAGMA foreign_keys = ON")
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise LabelStorageError(f"{self.path} is not a usable SQLite database: {exc}") from exc
        if version < SCHEMA_VERSION:
            self.conn.close()
            raise LabelStorageError(
                f"database {self.path} has schema version {version}, labelling needs {SCHEMA_VERSION};"
                " open it once with `analyzer stats --db PATH` to upgrade"
            )
        self.conn.set_authorizer(_only_labels)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
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

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LabelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
