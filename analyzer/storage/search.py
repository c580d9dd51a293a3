"""Reads for people: full-text search, filtered document lists, one document in full, what the
database holds, and where a score ranks among the stored ones.

Every read is an indexed aggregate or a page with ``LIMIT``: nothing loads a whole table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analyzer.errors import InputError
from analyzer.storage.base import StorageError, StoreBase

SCORE_LABELS = ("hype", "growth", "evidence")
DOCUMENT_SORTS = {
    "newest": "d.published_at DESC, d.id DESC",
    "oldest": "d.published_at ASC, d.id ASC",
    "most hyped": "s.hype DESC, d.id DESC",
    "least hyped": "s.hype ASC, d.id ASC",
    "most evidence": "s.evidence DESC, d.id DESC",
}
MAX_PAGE_SIZE = 500


@dataclass
class DocumentQuery:
    """Filters of a document list; every field is optional."""

    text: str = ""
    entity: str | None = None
    source_id: int | None = None
    kind: str | None = None
    language: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    min_hype: float | None = None
    max_hype: float | None = None
    sort: str = "newest"


def fts_query(text: str) -> str:
    """A search box's text as an FTS5 query: FTS5 syntax (``"exact phrase"``, ``OR``, ``NOT``,
    ``prefix*``) works as typed; whitespace is normalised."""
    return " ".join(text.split())


class SearchQueries(StoreBase):
    """Search, document lists and database summaries."""

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

    # ----------------------------------------------------------------- summaries
    def summary(self) -> dict[str, Any]:
        """Documents, entities, whether fundamentals exist, the model versions that scored
        documents (newest first) and the stored analyses: cheap counts only."""
        versions = self._frame(
            "SELECT model_version, MAX(model_id) AS model_id, COUNT(*) AS documents,"
            " MAX(scored_at) AS last_scored FROM scores GROUP BY model_version ORDER BY last_scored DESC"
        )
        analysis = []
        if self.table_exists("analysis_runs"):
            analysis = self.query(
                "SELECT freq, model_version, computed_at FROM analysis_runs ORDER BY computed_at DESC"
            )
        return {
            "documents": int(self._scalar("SELECT COUNT(*) FROM documents") or 0),
            "entities": int(self._scalar("SELECT COUNT(*) FROM entities") or 0),
            "fundamentals": int(
                self._scalar("SELECT COUNT(*) FROM (SELECT 1 FROM fundamentals LIMIT 1)") or 0
            ),
            "model_versions": versions.to_dict("records"),
            "analysis": analysis,
        }

    def entity_table(self) -> pd.DataFrame:
        """Entities with their definitions (aliases and tickers as lists) and tagged document counts."""
        frame = self._frame(
            "SELECT e.id, e.name, e.kind, e.aliases, e.exclusions, e.tickers,"
            " (SELECT COUNT(*) FROM document_entities de WHERE de.entity_id = e.id) AS documents"
            " FROM entities e ORDER BY e.name COLLATE NOCASE"
        )
        for column in ("aliases", "exclusions", "tickers"):
            frame[column] = [json.loads(value or "[]") for value in frame[column]]
        return frame

    def filter_options(self) -> dict[str, Any]:
        """Choices for document filters: sources, kinds, languages and the date range."""
        sources = self._frame("SELECT id, name, kind FROM sources ORDER BY name COLLATE NOCASE")
        kinds = [r[0] for r in self.conn.execute("SELECT DISTINCT kind FROM documents ORDER BY 1")]
        languages = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT language FROM documents WHERE language IS NOT NULL ORDER BY 1"
            )
        ]
        first = self._scalar(
            "SELECT MIN(published_at) FROM documents WHERE published_at IS NOT NULL"
        )
        last = self._scalar(
            "SELECT MAX(published_at) FROM documents WHERE published_at IS NOT NULL"
        )
        return {
            "sources": sources.to_dict("records"),
            "kinds": kinds,
            "languages": languages,
            "first_date": first[:10] if first else None,
            "last_date": last[:10] if last else None,
        }

    # ----------------------------------------------------------------- document lists
    def search_documents(
        self,
        query: DocumentQuery | Mapping[str, Any] | None = None,
        *,
        model_version: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[pd.DataFrame, int]:
        """One page of documents matching ``query`` and the total number of matches.

        Columns: id, published_at, title, source, kind, language, entities, hype, growth,
        evidence, snippet (search hits in [brackets]), url. Raises InputError for a search query
        FTS5 cannot parse, with a hint on quoting.
        """
        if query is None:
            query = DocumentQuery()
        elif isinstance(query, Mapping):
            query = DocumentQuery(**query)
        if query.sort not in DOCUMENT_SORTS and query.sort != "relevance":
            raise InputError(
                f"unknown sort {query.sort!r}; use one of {', '.join(DOCUMENT_SORTS)} or relevance"
            )
        limit = max(1, min(int(limit), MAX_PAGE_SIZE))
        offset = max(0, int(offset))
        text = fts_query(query.text or "")
        where, params = _document_filters(query, text)
        join_fts = "JOIN documents_fts ON documents_fts.rowid = d.id" if text else ""
        order = (
            "documents_fts.rank"
            if (query.sort == "relevance" and text)
            else DOCUMENT_SORTS.get(query.sort, DOCUMENT_SORTS["newest"])
        )
        snippet = (
            "snippet(documents_fts, 1, '[', ']', ' … ', 14)" if text else "substr(d.text, 1, 200)"
        )
        scores_join = "LEFT JOIN scores s ON s.document_id = d.id AND s.model_version = ?"
        version_param = [model_version or ""]
        page_sql = f"""
            SELECT d.id, d.published_at, d.title, src.name AS source, d.kind, d.language,
                   (SELECT group_concat(de.entity_id, ', ') FROM document_entities de
                     WHERE de.document_id = d.id) AS entities,
                   s.hype, s.growth, s.evidence, {snippet} AS snippet, d.url
            FROM documents d {join_fts}
            {scores_join}
            LEFT JOIN sources src ON src.id = d.source_id
            WHERE {where}
            ORDER BY {order}
            LIMIT ? OFFSET ?
        """
        # Counting needs the scores only when a score filter is set; skipping the join halves the cost.
        filters_scores = "s.hype" in where
        count_sql = f"SELECT COUNT(*) FROM documents d {join_fts} {scores_join if filters_scores else ''} WHERE {where}"
        count_params = [*version_param, *params] if filters_scores else list(params)
        try:
            page = self._frame(page_sql, [*version_param, *params, limit, offset])
            total = int(self._scalar(count_sql, count_params) or 0)
        except sqlite3.OperationalError as exc:
            if text:
                raise InputError(
                    f"the search {query.text!r} is not a valid full-text query ({exc}); "
                    'put phrases in double quotes, e.g. "AI bubble"'
                ) from exc
            raise StorageError(f"could not list documents: {exc}") from exc
        return page, total

    def document_detail(
        self, document_id: int, *, model_version: str | None = None
    ) -> dict[str, Any] | None:
        """One document's metadata, scores and scored sentences (``sentences`` is a DataFrame)."""
        rows = self.query(
            "SELECT d.id, d.title, d.url, d.author, d.published_at, d.kind, d.language,"
            " src.name AS source, length(d.text) AS characters"
            " FROM documents d LEFT JOIN sources src ON src.id = d.source_id WHERE d.id = ?",
            (int(document_id),),
        )
        if not rows:
            return None
        detail = rows[0]
        version = model_version or ""
        scores = self.query(
            "SELECT hype, growth, evidence, hype_top, n_sentences, unscored FROM scores"
            " WHERE document_id = ? AND model_version = ?",
            (int(document_id), version),
        )
        detail["scores"] = scores[0] if scores else None
        detail["entities"] = [
            r[0]
            for r in self.conn.execute(
                "SELECT entity_id FROM document_entities WHERE document_id = ? ORDER BY entity_id",
                (int(document_id),),
            )
        ]
        detail["sentences"] = self._frame(
            "SELECT t.sentence_index, t.text, t.kind, ss.hype, ss.growth, ss.evidence FROM sentences t"
            " LEFT JOIN sentence_scores ss ON ss.document_id = t.document_id"
            " AND ss.sentence_index = t.sentence_index AND ss.model_version = ?"
            " WHERE t.document_id = ? ORDER BY t.sentence_index",
            (version, int(document_id)),
        )
        return detail

    # ----------------------------------------------------------------- score ranks
    def latest_scored_date(self, model_version: str, entity: str | None = None) -> str | None:
        join, params = _entity_join(entity)
        return self._scalar(
            f"SELECT MAX(d.published_at) FROM scores s {join} JOIN documents d ON d.id = s.document_id"
            " WHERE s.model_version = ? AND s.unscored = 0 AND s.hype IS NOT NULL",
            [*params, model_version],
        )

    def score_ranks(
        self,
        values: Mapping[str, float | None],
        *,
        model_version: str,
        entity: str | None = None,
        published_from: str | None = None,
        published_before: str | None = None,
    ) -> dict[str, Any]:
        """How many comparable stored documents score below and equal to each value.

        Returns ``n`` (documents compared) and, per label, ``(below, equal, counted)``.
        """
        join, params = _entity_join(entity)
        extra, extra_params = "", []
        if published_from is not None and published_before is not None:
            extra, extra_params = (
                " AND d.published_at >= ? AND d.published_at < ?",
                [published_from, published_before],
            )
        counts = ", ".join(
            f"SUM(s.{label} < ?), SUM(s.{label} = ?), COUNT(s.{label})" for label in SCORE_LABELS
        )
        label_params: list[Any] = []
        for label in SCORE_LABELS:
            value = values.get(label)
            value = float("nan") if value is None else float(value)
            label_params += [value, value]
        row = self.conn.execute(
            f"SELECT COUNT(*), {counts} FROM scores s {join} JOIN documents d ON d.id = s.document_id"
            f" WHERE s.model_version = ? AND s.unscored = 0 AND s.hype IS NOT NULL{extra}",
            [*label_params, *params, model_version, *extra_params],
        ).fetchone()
        result: dict[str, Any] = {"n": int(row[0] or 0)}
        for i, label in enumerate(SCORE_LABELS):
            result[label] = tuple(int(x or 0) for x in row[1 + 3 * i : 4 + 3 * i])
        return result


def _entity_join(entity: str | None) -> tuple[str, list[Any]]:
    if not entity:
        return "", []
    return "JOIN document_entities de ON de.document_id = s.document_id AND de.entity_id = ?", [
        entity
    ]


def _document_filters(query: DocumentQuery, text: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if text:
        clauses.append("documents_fts MATCH ?")
        params.append(text)
    if query.entity:
        clauses.append(
            "EXISTS (SELECT 1 FROM document_entities de WHERE de.document_id = d.id AND de.entity_id = ?)"
        )
        params.append(query.entity)
    if query.source_id is not None:
        clauses.append("d.source_id = ?")
        params.append(int(query.source_id))
    if query.kind:
        clauses.append("d.kind = ?")
        params.append(query.kind)
    if query.language:
        clauses.append("d.language = ?")
        params.append(query.language)
    if query.date_from:
        clauses.append("d.published_at >= ?")
        params.append(str(query.date_from)[:10])
    if query.date_to:
        # Inclusive of the whole last day, whatever time of day is stored.
        clauses.append("d.published_at < date(?, '+1 day')")
        params.append(str(query.date_to)[:10])
    if query.min_hype is not None and query.min_hype > 0:
        clauses.append("s.hype >= ?")
        params.append(float(query.min_hype))
    if query.max_hype is not None and query.max_hype < 1:
        clauses.append("s.hype <= ?")
        params.append(float(query.max_hype))
    return " AND ".join(clauses) or "1", params
