"""Analysis tables: the aggregates heat is computed from, near-duplicate clusters, and the
materialised heat, divergence, flags and statistics that reads come from.

``model_version`` is '' when no scores existed; ``metric`` is '' for an entity's heat-only rows
(no fundamentals) and for statistics about the heat series itself.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analyzer.errors import InputError
from analyzer.storage.base import StoreBase, in_clause, utcnow

DEFAULT_TOP_SENTENCES = 5
HEAT_VALUE_COLUMNS = [
    "documents",
    "stories",
    "sources",
    "scored",
    "volume_share",
    "volume_index",
    "hype_mean",
    "growth_mean",
    "evidence_mean",
    "hype_top",
    "growth_top",
    "evidence_top",
    "z_volume",
    "z_hype",
    "z_growth",
    "z_evidence",
    "z_hype_top",
    "heat_raw",
    "heat",
    "heat_low",
    "heat_high",
    "reliable",
    "mode",
]
DIVERGENCE_VALUE_COLUMNS = [
    "heat",
    "fundamental_level",
    "fundamental_growth",
    "growth_z",
    "growth_basis",
    "unit",
    "divergence",
    "flagged",
    "heat_low",
    "heat_high",
    "divergence_low",
    "divergence_high",
    "reliable",
    "mode",
]
FLAG_READ_COLUMNS = [
    "entity",
    "metric",
    "freq",
    "start",
    "end",
    "peak_period",
    "peak_value",
    "periods",
    "threshold",
    "min_periods",
    "top_sentences",
    "confidence",
    "peak_low",
    "peak_high",
    "mode",
]


def period_sql(expr: str, freq: str) -> str:
    """SQL expression mapping an ISO date/datetime expression to its period start (YYYY-MM-DD).

    Weeks start on Monday; only the first ten characters (the calendar date as written) count.
    """
    day = f"date(substr({expr}, 1, 10))"
    if freq == "day":
        return day
    if freq == "week":
        return f"date(substr({expr}, 1, 10), '-6 days', 'weekday 1')"
    if freq == "month":
        return f"strftime('%Y-%m-01', substr({expr}, 1, 10))"
    if freq == "quarter":
        return (
            f"printf('%s-%02d-01', strftime('%Y', {day}),"
            f" ((CAST(strftime('%m', {day}) AS INTEGER) - 1) / 3) * 3 + 1)"
            f" || CASE WHEN {day} IS NULL THEN NULL ELSE '' END"
        )
    if freq == "year":
        return f"strftime('%Y-01-01', substr({expr}, 1, 10))"
    raise InputError(f"unknown frequency {freq!r}")


def _entity_filter(entities: Iterable[str] | None, column: str) -> tuple[str, list[Any]]:
    if entities is None:
        return "", []
    chosen = [str(e) for e in entities]
    if not chosen:
        return " AND 0", []
    return f" AND {column} IN ({','.join('?' * len(chosen))})", chosen


def _nullable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _day(value: Any) -> str:
    return value[:10] if isinstance(value, str) else pd.Timestamp(value).strftime("%Y-%m-%d")


class AnalysisTables(StoreBase):
    """Reads and writes of the analysis tables."""

    def source_totals(self, freq: str) -> pd.DataFrame:
        """Stories (clusters counted once) per source and period over the whole corpus."""
        period = period_sql("published_at", freq)
        rows = self.conn.execute(
            f"SELECT COALESCE(source_id, 0) AS source_id, {period} AS period, COUNT(*) AS total"
            " FROM documents INDEXED BY idx_documents_heat"
            " WHERE published_at IS NOT NULL AND (cluster_id IS NULL OR cluster_id = id)"
            " GROUP BY 1, 2 HAVING period IS NOT NULL"
        ).fetchall()
        return pd.DataFrame(rows, columns=["source_id", "period", "total"])

    def entity_story_scores(
        self, freq: str, model_version: str, entities: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """One row per entity and story: period, source, documents in the story and its scores.

        A story is a near-duplicate cluster (or a lone document), placed at its representative's
        date and source, its scores the mean over its tagged members (NULL when none is scored);
        the same stories :meth:`entity_source_aggregates` sums. Heat's bootstrap resamples them.
        """
        sql = _stories_sql(period_sql("at", freq), _entity_filter(entities, "de.entity_id")[0])
        params = _entity_filter(entities, "de.entity_id")[1]
        cursor = self.conn.execute(
            sql
            + " SELECT entity_id, period, source_id, documents, hype, growth, evidence FROM placed"
            " WHERE period IS NOT NULL ORDER BY entity_id, period, source_id, unit",
            [*params, model_version],
        )
        frame = pd.DataFrame(cursor.fetchall(), columns=[c[0] for c in cursor.description])
        for column in ("hype", "growth", "evidence"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        return frame

    def entity_source_aggregates(
        self, freq: str, model_version: str, entities: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """One row per entity, period and source with story counts and score sums.

        A story is a near-duplicate cluster (or a lone document); it is placed at its
        representative's date and source, and its scores are the mean over its tagged members.
        Documents are read through the covering index on (published_at, source_id, cluster_id);
        only representatives of clusters whose representative is not itself tagged are looked up.
        Top-decile sums cover, per entity and period, the ceil(n/10) stories with the highest score.
        """
        period = period_sql("at", freq)
        where, params = _entity_filter(entities, "de.entity_id")
        rank_columns = []
        top_columns = []
        for name in ("hype", "growth", "evidence"):
            rank_columns.append(
                f"ROW_NUMBER() OVER (PARTITION BY entity_id, period ORDER BY {name} DESC) AS rank_{name},"
                f" COUNT({name}) OVER (PARTITION BY entity_id, period) AS n_{name}"
            )
            top_columns.append(
                f"SUM(CASE WHEN rank_{name} <= (n_{name} + 9) / 10 THEN {name} END) AS top_{name}_sum,"
                f" SUM(CASE WHEN {name} IS NOT NULL AND rank_{name} <= (n_{name} + 9) / 10 THEN 1 ELSE 0 END)"
                f" AS top_{name}_n,"
                f" SUM({name}) AS {name}_sum, COUNT({name}) AS {name}_n"
            )
        sql = (
            _stories_sql(period, where)
            + f"""
            , ranked AS (
                SELECT *, {", ".join(rank_columns)} FROM placed WHERE period IS NOT NULL
            )
            SELECT entity_id, period, source_id, COUNT(*) AS stories, SUM(documents) AS documents,
                   {", ".join(top_columns)}
            FROM ranked GROUP BY entity_id, period, source_id
        """
        )
        cursor = self.conn.execute(sql, [*params, model_version])
        columns = [c[0] for c in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=columns)
        # Without any scores the sums come back as all-NULL object columns.
        for column in columns[3:]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        return frame

    def top_sentence_rows(
        self,
        entity: str,
        start_day: str,
        end_day: str,
        model_version: str,
        limit: int = DEFAULT_TOP_SENTENCES,
    ) -> list[dict[str, Any]]:
        """The highest-hype sentences about ``entity`` in documents published in [start_day, end_day).

        Sentences tagged with the entity come first; when none are tagged (a document-level tag
        only), every scored sentence of the entity's documents is eligible. Syndicated copies of one
        sentence appear once.
        """
        # Candidate documents come from the covering index (date, source) and the tag's primary
        # key, so the large document rows are read only for the few sentences finally returned.
        docs = (
            "WITH docs AS MATERIALIZED ("
            " SELECT d.id, d.published_at, d.source_id FROM documents d INDEXED BY idx_documents_heat"
            " CROSS JOIN document_entities de"
            " WHERE d.published_at >= ? AND d.published_at < ?"
            " AND de.document_id = d.id AND de.entity_id = ?),"
        )
        ranked = (
            " ranked AS (SELECT docs.id AS document_id, docs.published_at, docs.source_id,"
            " ss.sentence_index, ss.hype, ss.growth, ss.evidence FROM docs {tag_join}"
            " JOIN sentence_scores ss ON ss.document_id = docs.id AND ss.model_version = ?{extra}"
            " WHERE ss.hype IS NOT NULL ORDER BY ss.hype DESC, docs.published_at, ss.sentence_index LIMIT ?)"
        )
        final = (
            " SELECT r.document_id, r.sentence_index, se.text, r.hype, r.growth, r.evidence, d.title,"
            " d.url, r.published_at, src.name AS source FROM ranked r"
            " JOIN sentences se ON se.document_id = r.document_id AND se.sentence_index = r.sentence_index"
            " JOIN documents d ON d.id = r.document_id LEFT JOIN sources src ON src.id = r.source_id"
            " ORDER BY r.hype DESC, r.published_at, r.sentence_index"
        )
        tagged = (
            docs
            + ranked.format(
                tag_join="CROSS JOIN sentence_entities x ON x.document_id = docs.id AND x.entity_id = ?",
                extra=" AND ss.sentence_index = x.sentence_index",
            )
            + final
        )
        fetch = max(limit * 4, limit + 10)  # room for duplicates removed below
        rows = self.query(tagged, (start_day, end_day, entity, entity, model_version, fetch))
        if not rows:
            untagged = docs + ranked.format(tag_join="", extra="") + final
            rows = self.query(untagged, (start_day, end_day, entity, model_version, fetch))
        seen: set[str] = set()
        unique = []
        for row in rows:
            key = " ".join(str(row["text"]).lower().split())
            if key in seen:
                continue
            seen.add(key)
            unique.append(row)
            if len(unique) >= limit:
                break
        return unique

    def save_analysis(
        self,
        *,
        freq: str,
        model_version: str,
        heat: pd.DataFrame,
        source_mix: pd.DataFrame,
        divergence: pd.DataFrame,
        flags: Sequence[dict[str, Any]],
        statistics: Sequence[dict[str, Any]],
        params: dict[str, Any],
    ) -> dict[str, int]:
        """Replace the materialised rows an analysis covers, in one transaction.

        ``params["entities"]`` (None: every entity) scopes the replacement; a partial recompute
        extends what an earlier run covered.
        """
        version = model_version
        entities = params.get("entities")
        scope, scope_params = "", []
        if entities is not None:
            scope = f" AND entity_id IN {in_clause(list(entities))}"
            scope_params = list(entities)
        now = utcnow()
        heat_rows = _heat_rows(heat, freq, version)
        mix_rows = _mix_rows(source_mix, freq)
        divergence_rows = _divergence_rows(divergence, freq, version)
        flag_rows = _flag_rows(flags, freq, version, now)
        stat_rows = _statistic_rows(statistics, freq, version, now)
        with self.transaction() as conn:
            for table, versioned in (
                ("heat", True),
                ("divergence", True),
                ("flags", True),
                ("statistics", True),
                ("heat_sources", False),
            ):
                where = "freq = ?" + (" AND model_version = ?" if versioned else "")
                args = [freq, version] if versioned else [freq]
                conn.execute(f"DELETE FROM {table} WHERE {where}{scope}", [*args, *scope_params])
            _insert_analysis_rows(conn, heat_rows, mix_rows, divergence_rows, flag_rows, stat_rows)
            _record_run(conn, freq, version, params, now)
        return {
            "heat": len(heat_rows),
            "divergence": len(divergence_rows),
            "flags": len(flag_rows),
            "statistics": len(stat_rows),
        }

    # ----------------------------------------------------------------- materialised reads
    def analysis_run(self, freq: str, model_version: str | None = None) -> dict[str, Any] | None:
        """The stored analysis for ``freq`` (and a version, else the latest computed): its
        ``model_version``, ``params`` and ``computed_at``; None when nothing is stored."""
        if model_version is not None:
            row = self.conn.execute(
                "SELECT model_version, params, computed_at FROM analysis_runs WHERE freq = ? AND model_version = ?",
                (freq, model_version),
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT model_version, params, computed_at FROM analysis_runs WHERE freq = ?"
                " ORDER BY computed_at DESC LIMIT 1",
                (freq,),
            ).fetchone()
        if row is None:
            return None
        return {
            "model_version": row[0],
            "params": json.loads(row[1] or "{}"),
            "computed_at": row[2],
        }

    def stored_heat(self, freq: str, model_version: str, entity: str | None = None) -> pd.DataFrame:
        sql = (
            "SELECT entity_id AS entity, freq, model_version, period, "
            + ", ".join(HEAT_VALUE_COLUMNS)
            + " FROM heat WHERE freq = ? AND model_version = ?"
        )
        sql, args = _narrowed(sql, [freq, model_version], entity, None)
        return self._frame(sql + " ORDER BY entity_id, period", args)

    def stored_source_mix(self, freq: str, entity: str | None = None) -> pd.DataFrame:
        sql = (
            "SELECT entity_id AS entity, period, source_id, stories, documents, source_total"
            " FROM heat_sources WHERE freq = ?"
        )
        sql, args = _narrowed(sql, [freq], entity, None)
        return self._frame(sql, args)

    def stored_divergence(
        self, freq: str, model_version: str, entity: str | None = None, metric: str | None = None
    ) -> pd.DataFrame:
        sql = (
            "SELECT entity_id AS entity, NULLIF(metric, '') AS metric, freq, model_version, period, "
            + ", ".join(DIVERGENCE_VALUE_COLUMNS)
            + " FROM divergence WHERE freq = ? AND model_version = ?"
        )
        sql, args = _narrowed(sql, [freq, model_version], entity, metric)
        return self._frame(sql + " ORDER BY entity_id, metric, period", args)

    def stored_flags(
        self, freq: str, model_version: str, entity: str | None = None, metric: str | None = None
    ) -> pd.DataFrame:
        """Flags with ``top_sentences`` decoded into lists."""
        sql = (
            "SELECT entity_id AS entity, NULLIF(metric, '') AS metric, freq, start_period AS start,"
            " end_period AS end, peak_period, peak_value, periods, threshold, min_periods, top_sentences,"
            " confidence, peak_low, peak_high, mode"
            " FROM flags WHERE freq = ? AND model_version = ?"
        )
        sql, args = _narrowed(sql, [freq, model_version], entity, metric)
        frame = self._frame(sql + " ORDER BY entity_id, metric, start_period", args)
        frame["top_sentences"] = [json.loads(s) for s in frame["top_sentences"]]
        return frame.reindex(columns=FLAG_READ_COLUMNS)

    def stored_statistic(
        self, freq: str, model_version: str, entity: str, metric: str | None, test: str
    ) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT result FROM statistics WHERE freq = ? AND model_version = ? AND entity_id = ?"
            " AND metric = ? AND test = ?",
            (freq, model_version, entity, metric or "", test),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def overview_aggregates(
        self, freq: str, model_version: str, trend_periods: int
    ) -> dict[str, pd.DataFrame]:
        """What the overview needs from the stored tables, each a small aggregate: the latest
        ``trend_periods`` heat values, document totals, the latest divergence per metric, and
        flag counts per entity."""
        recent = self._frame(
            "SELECT entity_id AS entity, period, heat FROM (SELECT entity_id, period, heat,"
            " ROW_NUMBER() OVER (PARTITION BY entity_id ORDER BY period DESC) AS rn FROM heat"
            " WHERE freq = ? AND model_version = ?) WHERE rn <= ? ORDER BY entity_id, period",
            [freq, model_version, trend_periods],
        )
        totals = self._frame(
            "SELECT entity_id AS entity, SUM(documents) AS documents, SUM(stories) AS stories,"
            " MIN(period) AS first_period, MAX(period) AS last_period FROM heat"
            " WHERE freq = ? AND model_version = ? GROUP BY entity_id",
            [freq, model_version],
        )
        latest_divergence = self._frame(
            "SELECT entity_id AS entity, metric, divergence, divergence_low, divergence_high, reliable,"
            " flagged, period FROM (SELECT *,"
            " ROW_NUMBER() OVER (PARTITION BY entity_id, metric ORDER BY period DESC) AS rn"
            " FROM divergence WHERE freq = ? AND model_version = ? AND metric != '') WHERE rn = 1",
            [freq, model_version],
        )
        flag_counts = self._frame(
            "SELECT entity_id AS entity, COUNT(*) AS flags, MAX(end_period) AS last_flag_end,"
            " (SELECT f2.confidence FROM flags f2 WHERE f2.freq = f.freq AND f2.model_version = f.model_version"
            " AND f2.entity_id = f.entity_id ORDER BY f2.end_period DESC, f2.confidence DESC LIMIT 1)"
            " AS last_confidence FROM flags f WHERE freq = ? AND model_version = ? GROUP BY entity_id",
            [freq, model_version],
        )
        return {
            "recent": recent,
            "totals": totals,
            "latest_divergence": latest_divergence,
            "flag_counts": flag_counts,
        }

    def entity_list(self) -> pd.DataFrame:
        return self._frame("SELECT id AS entity, name, kind FROM entities ORDER BY id")

    def period_documents(
        self, entity: str, start_day: str, end_day: str, model_version: str, limit: int = 200
    ) -> pd.DataFrame:
        """The entity's documents published in [start_day, end_day), most hyped first; ``counted``
        is True for the one document per near-duplicate cluster that heat counts."""
        frame = self._frame(
            "SELECT d.id AS document_id, d.title, d.url, d.published_at, src.name AS source, d.kind,"
            " d.language, d.cluster_id, (d.cluster_id IS NULL OR d.cluster_id = d.id) AS counted,"
            " s.hype, s.growth, s.evidence, s.hype_top, s.n_sentences"
            " FROM documents d CROSS JOIN document_entities de"
            " LEFT JOIN sources src ON src.id = d.source_id"
            " LEFT JOIN scores s ON s.document_id = d.id AND s.model_version = ?"
            " WHERE d.published_at >= ? AND d.published_at < ? AND de.document_id = d.id AND de.entity_id = ?"
            " ORDER BY s.hype IS NULL, s.hype DESC, d.published_at LIMIT ?",
            [model_version, start_day, end_day, entity, limit],
        )
        frame["counted"] = frame["counted"].astype(bool)
        return frame

    # ----------------------------------------------------------------- near-duplicate clusters
    def clustering_start(self) -> str | None:
        """Publication date of the earliest dated document not clustered yet."""
        return self._scalar(
            "SELECT MIN(published_at) FROM documents WHERE cluster_id IS NULL AND published_at IS NOT NULL"
        )

    def reset_clusters(self) -> None:
        with self.transaction():
            self.conn.execute("UPDATE documents SET cluster_id = NULL WHERE cluster_id IS NOT NULL")

    def iter_clustering_rows(
        self, since: str, batch_size: int = 500
    ) -> Iterator[tuple[int, str, int | None, str]]:
        """(id, published_at, cluster_id, text) of dated documents from ``since``, in date order."""
        cursor = self.conn.execute(
            "SELECT id, published_at, cluster_id, text FROM documents"
            " WHERE published_at IS NOT NULL AND published_at >= ? ORDER BY published_at, id",
            (since,),
        )
        while batch := cursor.fetchmany(batch_size):
            yield from batch

    def published_at(self, document_id: int) -> str | None:
        return self._scalar("SELECT published_at FROM documents WHERE id = ?", (document_id,))

    def write_clusters(
        self, merged: Sequence[tuple[int, int]], assigned: Sequence[tuple[int, int]]
    ) -> None:
        """Apply cluster changes atomically: ``merged`` (new root, old root) renames whole
        clusters, ``assigned`` (root, document) places single documents."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE documents SET cluster_id = ? WHERE cluster_id = ?", merged
            )
            self.conn.executemany("UPDATE documents SET cluster_id = ? WHERE id = ?", assigned)


# The divergence table stores ``flagged`` as 0/1 after the values stored as they are.
_DIVERGENCE_PLAIN_COLUMNS = [c for c in DIVERGENCE_VALUE_COLUMNS if c != "flagged"]
_DIVERGENCE_INSERT_COLUMNS = [*_DIVERGENCE_PLAIN_COLUMNS, "flagged"]


def _heat_rows(heat: pd.DataFrame, freq: str, version: str) -> list[tuple[Any, ...]]:
    return [
        (
            row.entity,
            freq,
            version,
            _day(row.period),
            *(_nullable(getattr(row, c, None)) for c in HEAT_VALUE_COLUMNS),
        )
        for row in heat.itertuples(index=False)
    ]


def _mix_rows(source_mix: pd.DataFrame, freq: str) -> list[tuple[Any, ...]]:
    return [
        (
            row.entity,
            freq,
            _day(row.period),
            int(row.source_id),
            int(row.stories),
            int(row.documents),
            int(row.source_total),
        )
        for row in source_mix.itertuples(index=False)
    ]


def _divergence_rows(divergence: pd.DataFrame, freq: str, version: str) -> list[tuple[Any, ...]]:
    return [
        (
            row.entity,
            row.metric or "",
            freq,
            version,
            _day(row.period),
            *(_nullable(getattr(row, c, None)) for c in _DIVERGENCE_PLAIN_COLUMNS),
            int(bool(row.flagged)),
        )
        for row in divergence.itertuples(index=False)
    ]


def _flag_rows(
    flags: Sequence[dict[str, Any]], freq: str, version: str, now: str
) -> list[tuple[Any, ...]]:
    return [
        (
            f["entity"],
            f["metric"] or "",
            freq,
            version,
            f["threshold"],
            f["min_periods"],
            f["start"],
            f["end"],
            f["peak_period"],
            f["peak_value"],
            f["periods"],
            json.dumps(f.get("top_sentences") or [], default=str),
            now,
            _nullable(f.get("confidence")),
            _nullable(f.get("peak_low")),
            _nullable(f.get("peak_high")),
            f.get("mode"),
        )
        for f in flags
    ]


def _statistic_rows(
    statistics: Sequence[dict[str, Any]], freq: str, version: str, now: str
) -> list[tuple[Any, ...]]:
    return [
        (
            s["entity"],
            s["metric"] or "",
            freq,
            version,
            s["test"],
            json.dumps(s["result"], default=str),
            now,
        )
        for s in statistics
    ]


def _insert_analysis_rows(
    conn: sqlite3.Connection,
    heat_rows: list[tuple[Any, ...]],
    mix_rows: list[tuple[Any, ...]],
    divergence_rows: list[tuple[Any, ...]],
    flag_rows: list[tuple[Any, ...]],
    stat_rows: list[tuple[Any, ...]],
) -> None:
    conn.executemany(
        f"INSERT INTO heat (entity_id, freq, model_version, period, {', '.join(HEAT_VALUE_COLUMNS)})"
        f" VALUES ({', '.join('?' * (4 + len(HEAT_VALUE_COLUMNS)))})",
        heat_rows,
    )
    conn.executemany(
        "INSERT INTO heat_sources (entity_id, freq, period, source_id, stories, documents, source_total)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        mix_rows,
    )
    conn.executemany(
        "INSERT INTO divergence (entity_id, metric, freq, model_version, period, "
        f"{', '.join(_DIVERGENCE_INSERT_COLUMNS)}) VALUES ({', '.join('?' * (5 + len(_DIVERGENCE_INSERT_COLUMNS)))})",
        divergence_rows,
    )
    conn.executemany(
        "INSERT INTO flags (entity_id, metric, freq, model_version, threshold, min_periods,"
        " start_period, end_period, peak_period, peak_value, periods, top_sentences, computed_at,"
        " confidence, peak_low, peak_high, mode)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        flag_rows,
    )
    conn.executemany(
        "INSERT INTO statistics (entity_id, metric, freq, model_version, test, result, computed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        stat_rows,
    )


def _record_run(
    conn: sqlite3.Connection, freq: str, version: str, params: dict[str, Any], now: str
) -> None:
    """Store the run's parameters; a run scoped to some entities adds them to those an earlier
    run covered (None, every entity, stays so)."""
    entities = params.get("entities")
    stored = dict(params)
    previous = conn.execute(
        "SELECT params FROM analysis_runs WHERE freq = ? AND model_version = ?",
        (freq, version),
    ).fetchone()
    if entities is not None and previous is not None:
        earlier = json.loads(previous[0]).get("entities")
        stored["entities"] = None if earlier is None else sorted({*earlier, *entities})
    conn.execute(
        "INSERT OR REPLACE INTO analysis_runs (freq, model_version, params, computed_at)"
        " VALUES (?, ?, ?, ?)",
        (freq, version, json.dumps(stored, default=str), now),
    )


def _stories_sql(period: str, where: str) -> str:
    """The CTEs ending in ``placed``: one row per entity and story with its period and scores.

    Parameters: the entity filter's values, then the model version.
    """
    return f"""
            WITH tagged AS (
                SELECT de.entity_id AS entity_id, COALESCE(d.cluster_id, d.id) AS unit, d.id AS document_id,
                       d.published_at, d.source_id
                FROM documents d INDEXED BY idx_documents_heat
                CROSS JOIN document_entities de ON de.document_id = d.id
                WHERE d.published_at IS NOT NULL{where}
            ),
            units AS (
                SELECT t.entity_id, t.unit, COUNT(*) AS documents,
                       AVG(s.hype) AS hype, AVG(s.growth) AS growth, AVG(s.evidence) AS evidence,
                       MAX(t.document_id = t.unit) AS rep_tagged,
                       MAX(CASE WHEN t.document_id = t.unit THEN t.published_at END) AS rep_published,
                       MAX(CASE WHEN t.document_id = t.unit THEN t.source_id END) AS rep_source
                FROM tagged t LEFT JOIN scores s
                  ON s.document_id = t.document_id AND s.model_version = ? AND s.unscored = 0
                GROUP BY t.entity_id, t.unit
            ),
            represented AS (
                SELECT entity_id, unit, documents, hype, growth, evidence,
                       CASE WHEN rep_tagged THEN rep_published
                            ELSE (SELECT r.published_at FROM documents r WHERE r.id = unit) END AS at,
                       CASE WHEN rep_tagged THEN COALESCE(rep_source, 0)
                            ELSE (SELECT COALESCE(r.source_id, 0) FROM documents r WHERE r.id = unit) END
                         AS source_id
                FROM units
            ),
            placed AS MATERIALIZED (
                SELECT entity_id, unit, documents, hype, growth, evidence, source_id, {period} AS period
                FROM represented WHERE at IS NOT NULL
            )
    """


def _narrowed(
    sql: str, args: list[Any], entity: str | None, metric: str | None
) -> tuple[str, list[Any]]:
    """Narrow a query over a materialised table to one entity and/or metric."""
    if entity:
        sql += " AND entity_id = ?"
        args = [*args, entity]
    if metric:
        sql += " AND metric = ?"
        args = [*args, metric]
    return sql, args
