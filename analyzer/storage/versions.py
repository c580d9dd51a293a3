"""Reads that put two model versions side by side: their sentence and document scores, the
heat and flags computed from each. Part of :class:`analyzer.storage.Store`; frames come back as
pandas DataFrames for the pure comparison functions in :mod:`analyzer.analysis.compare`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any


class VersionsMixin:
    """Methods of :class:`analyzer.storage.Store` for reading scores and analysis by model version."""

    conn: sqlite3.Connection

    def _read_frame(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import pandas as pd

        cursor = self.conn.execute(sql, list(params))
        columns = [c[0] for c in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)

    def resolve_version(self, prefix: str) -> str | None:
        """The stored model version that equals ``prefix`` or is the only one starting with it."""
        rows = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT model_version FROM scores WHERE substr(model_version, 1, ?) = ?",
                (len(prefix), prefix),
            )
        ]
        if prefix in rows:
            return prefix
        return rows[0] if len(rows) == 1 else None

    def sentence_scores_frame(self, model_version: str) -> Any:
        """Every scored sentence of one version: document_id, sentence_index, hype, growth, evidence."""
        return self._read_frame(
            "SELECT document_id, sentence_index, hype, growth, evidence FROM sentence_scores"
            " WHERE model_version = ? AND hype IS NOT NULL ORDER BY document_id, sentence_index",
            (model_version,),
        )

    def document_scores_frame(self, model_version: str) -> Any:
        """Document scores of one version with titles: document_id, title, hype, hype_top, ..."""
        return self._read_frame(
            "SELECT s.document_id, d.title, s.hype, s.growth, s.evidence, s.hype_top, s.growth_top,"
            " s.evidence_top FROM scores s JOIN documents d ON d.id = s.document_id"
            " WHERE s.model_version = ? AND s.unscored = 0 ORDER BY s.document_id",
            (model_version,),
        )

    def heat_frame_for(self, model_version: str, freq: str) -> Any:
        """Materialised heat of one version: entity_id, period, heat (empty when not computed)."""
        return self._read_frame(
            "SELECT entity_id, period, heat, stories FROM heat WHERE model_version = ? AND freq = ?"
            " ORDER BY entity_id, period",
            (model_version, freq),
        )

    def flags_frame_for(self, model_version: str, freq: str) -> Any:
        """Materialised flags of one version: entity_id, metric, start_period, end_period, peak_value."""
        return self._read_frame(
            "SELECT entity_id, metric, freq, start_period, end_period, peak_period, peak_value, periods"
            " FROM flags WHERE model_version = ? AND freq = ? ORDER BY entity_id, metric, start_period",
            (model_version, freq),
        )

    def is_analysed(self, model_version: str, freq: str) -> bool:
        """Whether heat and flags are materialised for this version and frequency."""
        row = self.conn.execute(
            "SELECT 1 FROM analysis_runs WHERE model_version = ? AND freq = ?",
            (model_version, freq),
        ).fetchone()
        return row is not None

    def sentence_texts(self, positions: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """Texts of the sentences at (document_id, sentence_index) positions."""
        found: dict[tuple[int, int], str] = {}
        for document_id, sentence_index in positions:
            row = self.conn.execute(
                "SELECT text FROM sentences WHERE document_id = ? AND sentence_index = ?",
                (int(document_id), int(sentence_index)),
            ).fetchone()
            if row is not None:
                found[(int(document_id), int(sentence_index))] = row[0]
        return found

    def version_summary(self) -> list[dict[str, Any]]:
        """Each stored model version: model_id, documents scored, last scored, analysed frequencies."""
        versions = self.conn.execute(
            "SELECT model_version, MAX(model_id), COUNT(*), MAX(scored_at) FROM scores"
            " GROUP BY model_version ORDER BY MAX(scored_at) DESC"
        ).fetchall()
        analysed: dict[str, list[str]] = {}
        for version, freq in self.conn.execute(
            "SELECT model_version, freq FROM analysis_runs ORDER BY freq"
        ):
            analysed.setdefault(version, []).append(freq)
        return [
            {
                "model_version": v,
                "model_id": m,
                "documents": n,
                "last_scored": t,
                "analysed": analysed.get(v, []),
            }
            for v, m, n, t in versions
        ]
