"""The claims ledger in SQLite: claims, their checks, and which documents were read for them.

A mixin of :class:`~analyzer.storage.store.Store` (it uses ``self.conn``, ``self.query`` and
``self.transaction``). Claims are keyed by ``(claim_key, extractor_version)``: the key comes
from the claim's document, sentence position and sentence text, so re-scoring a document or
ingesting it again never adds a claim twice, and a new extractor version keeps its own rows
beside the old ones, as scores keep theirs per model version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

CLAIM_FIELDS = (
    "claim_key",
    "extractor_version",
    "document_id",
    "sentence_index",
    "claim_index",
    "method",
    "sentence",
    "sentence_hash",
    "entity_id",
    "entity_source",
    "metric",
    "metric_text",
    "direction",
    "magnitude_kind",
    "magnitude_value",
    "magnitude_unit",
    "magnitude_text",
    "currency",
    "per_year",
    "baseline_value",
    "baseline_unit",
    "baseline_source",
    "claimed_change",
    "horizon",
    "horizon_kind",
    "horizon_text",
    "horizon_error",
    "hedge",
    "hedge_text",
    "speaker",
    "speaker_text",
    "published_at",
    "language",
    "growth",
)
CHECK_FIELDS = (
    "status",
    "status_reason",
    "claimed_change_checked",
    "realised_change",
    "ratio",
    "checked_metric",
    "checked_unit",
    "baseline_checked",
    "baseline_date",
    "realised_value",
    "realised_date",
    "check_date",
)


def create_claims_tables(db: Any) -> None:
    """Schema of the ledger (called by the migration in :mod:`analyzer.storage.schema`)."""
    db.execute(
        """
        CREATE TABLE claims (
            claim_key TEXT NOT NULL,
            extractor_version TEXT NOT NULL,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            sentence_index INTEGER NOT NULL,
            claim_index INTEGER NOT NULL DEFAULT 0,
            method TEXT NOT NULL,
            sentence TEXT NOT NULL,
            sentence_hash TEXT NOT NULL,
            entity_id TEXT,
            entity_source TEXT,
            metric TEXT NOT NULL,
            metric_text TEXT,
            direction TEXT,
            magnitude_kind TEXT,
            magnitude_value REAL,
            magnitude_unit TEXT,
            magnitude_text TEXT,
            currency TEXT,
            per_year INTEGER NOT NULL DEFAULT 0,
            baseline_value REAL,
            baseline_unit TEXT,
            baseline_source TEXT,
            claimed_change REAL,
            horizon TEXT,
            horizon_kind TEXT,
            horizon_text TEXT,
            horizon_error TEXT,
            hedge TEXT,
            hedge_text TEXT,
            speaker TEXT,
            speaker_text TEXT,
            published_at TEXT,
            language TEXT,
            growth REAL,
            extracted_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            status_reason TEXT,
            claimed_change_checked REAL,
            realised_change REAL,
            ratio REAL,
            checked_metric TEXT,
            checked_unit TEXT,
            baseline_checked REAL,
            baseline_date TEXT,
            realised_value REAL,
            realised_date TEXT,
            check_date TEXT,
            checked_at TEXT,
            PRIMARY KEY (claim_key, extractor_version)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX idx_claims_document ON claims(document_id, extractor_version)")
    db.execute("CREATE INDEX idx_claims_entity ON claims(entity_id, horizon)")
    db.execute(
        """
        CREATE TABLE claim_extractions (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            extractor_version TEXT NOT NULL,
            model_version TEXT NOT NULL DEFAULT '',
            content_hash TEXT NOT NULL,
            claims INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            extracted_at TEXT NOT NULL,
            PRIMARY KEY (document_id, extractor_version)
        ) WITHOUT ROWID"""
    )


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _clean(value: Any) -> Any:
    """NaN and numpy scalars from a DataFrame as plain Python values SQLite accepts."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, bool):
        return int(value)
    return value


class ClaimsTables:
    """Reads and writes of the claims ledger."""

    conn: Any

    # ----------------------------------------------------------------- extraction input
    def documents_for_claims(
        self, extractor_version: str, model_version: str | None, *, refresh: bool = False
    ) -> list[int]:
        """Ids of scored documents not yet read by this extractor for this model's scores.

        A document is read again when its text changed (content hash) or it was scored by
        another model version since; ``refresh`` reads every scored document again.
        """
        version = model_version or ""
        rows = self.conn.execute(
            """
            SELECT d.id FROM documents d
            WHERE EXISTS (SELECT 1 FROM sentences s WHERE s.document_id = d.id)
              AND (? OR NOT EXISTS (
                    SELECT 1 FROM claim_extractions x
                    WHERE x.document_id = d.id AND x.extractor_version = ?
                      AND x.model_version = ? AND x.content_hash = d.content_hash))
            ORDER BY d.id
            """,
            (int(refresh), extractor_version, version),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def claim_sentences(
        self, document_ids: Sequence[int], model_version: str | None
    ) -> list[dict[str, Any]]:
        """Sentences of these documents with their growth score and entity tags (comma-separated)."""
        out: list[dict[str, Any]] = []
        ids = [int(i) for i in document_ids]
        for start in range(0, len(ids), 400):
            chunk = ids[start : start + 400]
            marks = ",".join("?" * len(chunk))
            out += self.query(
                f"""
                SELECT s.document_id, s.sentence_index, s.text, ss.growth,
                       (SELECT GROUP_CONCAT(se.entity_id) FROM sentence_entities se
                        WHERE se.document_id = s.document_id AND se.sentence_index = s.sentence_index)
                       AS entity_ids
                FROM sentences s
                LEFT JOIN sentence_scores ss ON ss.document_id = s.document_id
                     AND ss.sentence_index = s.sentence_index AND ss.model_version = ?
                WHERE s.document_id IN ({marks})
                ORDER BY s.document_id, s.sentence_index
                """,
                (model_version or "", *chunk),
            )
        return out

    def claim_documents(self, document_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Publication date, language, kind, content hash and entity tags of these documents."""
        out: list[dict[str, Any]] = []
        ids = [int(i) for i in document_ids]
        for start in range(0, len(ids), 400):
            chunk = ids[start : start + 400]
            marks = ",".join("?" * len(chunk))
            out += self.query(
                f"""
                SELECT d.id AS document_id, d.published_at, d.language, d.kind, d.content_hash,
                       (SELECT GROUP_CONCAT(entity_id) FROM (
                            SELECT de.entity_id FROM document_entities de
                            WHERE de.document_id = d.id
                            ORDER BY de.method = 'explicit' DESC, de.score DESC, de.entity_id))
                       AS entity_ids
                FROM documents d WHERE d.id IN ({marks}) ORDER BY d.id
                """,
                chunk,
            )
        return out

    # ----------------------------------------------------------------- writing
    def save_document_claims(
        self,
        document_id: int,
        extractor_version: str,
        claims: Iterable[Mapping[str, Any]],
        *,
        model_version: str | None,
        content_hash: str,
        error: str | None = None,
    ) -> int:
        """Store one document's claims for one extractor version, replacing that version's old ones.

        Claims are upserted by key, so a claim found again keeps its identity (and its last
        check until the next one); claims no longer found are removed. With ``error`` the
        document's previous claims are kept and only the failure is recorded.
        """
        now = _now()
        rows = [dict(c) for c in claims]
        with self.transaction():
            if error is None:
                keys = [str(r["claim_key"]) for r in rows]
                marks = ",".join("?" * len(keys)) or "''"
                self.conn.execute(
                    f"DELETE FROM claims WHERE document_id = ? AND extractor_version = ?"
                    f" AND claim_key NOT IN ({marks})",
                    (document_id, extractor_version, *keys),
                )
                columns = [c for c in CLAIM_FIELDS if c != "extractor_version"]
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "claim_key")
                sql = (
                    f"INSERT INTO claims ({', '.join(CLAIM_FIELDS)}, extracted_at)"
                    f" VALUES ({', '.join('?' * len(CLAIM_FIELDS))}, ?)"
                    f" ON CONFLICT(claim_key, extractor_version) DO UPDATE SET {updates},"
                    " extracted_at = excluded.extracted_at"
                )
                self.conn.executemany(
                    sql,
                    [
                        tuple(
                            _clean(extractor_version if c == "extractor_version" else r.get(c))
                            for c in CLAIM_FIELDS
                        )
                        + (now,)
                        for r in rows
                    ],
                )
            self.conn.execute(
                "INSERT OR REPLACE INTO claim_extractions (document_id, extractor_version, model_version,"
                " content_hash, claims, error, extracted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    document_id,
                    extractor_version,
                    model_version or "",
                    content_hash,
                    len(rows) if error is None else 0,
                    error,
                    now,
                ),
            )
        return len(rows) if error is None else 0

    def save_claim_checks(self, checks: Iterable[Mapping[str, Any]]) -> int:
        """Write check results (status, realised change...) onto their claims."""
        now = _now()
        sets = ", ".join(f"{c} = ?" for c in CHECK_FIELDS)
        params = [
            (
                *(_clean(row.get(c)) for c in CHECK_FIELDS),
                now,
                str(row["claim_key"]),
                str(row["extractor_version"]),
            )
            for row in checks
        ]
        with self.transaction():
            self.conn.executemany(
                f"UPDATE claims SET {sets}, checked_at = ? WHERE claim_key = ? AND extractor_version = ?",
                params,
            )
        return len(params)

    # ----------------------------------------------------------------- reading
    def claims(
        self,
        *,
        entity_id: str | None = None,
        status: str | Sequence[str] | None = None,
        due_before: str | None = None,
        document_id: int | None = None,
        extractor_version: str | None = None,
        method: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Claims with their document's title and URL, newest publication first."""
        clauses, params = ["1"], []
        if entity_id:
            clauses.append("c.entity_id = ?")
            params.append(entity_id)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            clauses.append(f"c.status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if due_before:
            clauses.append("c.horizon IS NOT NULL AND c.horizon < ?")
            params.append(due_before)
        if document_id is not None:
            clauses.append("c.document_id = ?")
            params.append(int(document_id))
        if extractor_version:
            clauses.append("c.extractor_version = ?")
            params.append(extractor_version)
        if method:
            clauses.append("c.method LIKE ?")
            params.append(method + "%")
        sql = (
            "SELECT c.*, d.title AS document_title, d.url AS document_url FROM claims c"
            " JOIN documents d ON d.id = c.document_id"
            f" WHERE {' AND '.join(clauses)}"
            " ORDER BY c.published_at DESC, c.document_id, c.sentence_index, c.claim_index"
        )
        if limit:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self.query(sql, params)
        for row in rows:
            row["per_year"] = bool(row.get("per_year"))
        return rows

    def claim_extraction_errors(self, extractor_version: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM claim_extractions WHERE error IS NOT NULL"
        params: list[Any] = []
        if extractor_version:
            sql += " AND extractor_version = ?"
            params.append(extractor_version)
        return self.query(sql + " ORDER BY document_id", params)

    def claim_extractor_versions(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT extractor_version, method, COUNT(*) AS claims, MAX(extracted_at) AS last_extracted"
            " FROM claims GROUP BY extractor_version, method ORDER BY last_extracted DESC"
        )

    def fundamental_filings(self, entity_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Every stored fundamentals row, each filing of a period kept, for point-in-time checks."""
        sql = "SELECT entity_id, metric, date, value, unit, source, filed_at FROM fundamentals"
        params: list[Any] = []
        if entity_ids is not None:
            ids = list(entity_ids)
            if not ids:
                return []
            sql += f" WHERE entity_id IN ({','.join('?' * len(ids))})"
            params = ids
        return self.query(sql + " ORDER BY entity_id, metric, date, COALESCE(filed_at, '')", params)

    def entity_series_links(self) -> dict[str, list[str]]:
        """entity id -> series identifiers it links to (``eia_series``), for choosing fundamentals."""
        rows = self.conn.execute(
            "SELECT id, eia_series FROM entities WHERE eia_series IS NOT NULL"
        ).fetchall()
        return {str(r[0]): [s.strip() for s in str(r[1]).split(",") if s.strip()] for r in rows}
