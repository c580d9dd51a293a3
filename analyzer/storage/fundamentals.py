"""Fundamentals: measured values per entity, metric and date, every filed vintage kept."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analyzer.storage.base import StoreBase, in_clause, utcnow

FUNDAMENTAL_COLUMNS = ["id", "entity_id", "metric", "date", "value", "unit", "source", "filed_at"]


class FundamentalTables(StoreBase):
    """Reads and writes of the fundamentals table."""

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
                        entity_id,
                        row["metric"],
                        row["date"],
                        row.get("value"),
                        row.get("unit"),
                        row.get("source") or "csv",
                        row.get("filed_at"),
                        now,
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

    def fundamentals_frame(self, entities: Iterable[str] | None = None) -> pd.DataFrame:
        """Every stored vintage of the entities' fundamentals (small: one row per report)."""
        sql = f"SELECT {', '.join(FUNDAMENTAL_COLUMNS)} FROM fundamentals"
        params: list[Any] = []
        if entities is not None:
            params = list(entities)
            sql += f" WHERE entity_id IN {in_clause(params)}"
        return self._frame(sql, params).reindex(columns=FUNDAMENTAL_COLUMNS)

    def fundamental_metrics(self, entity_id: str | None = None) -> list[str]:
        """Metrics on record, for one entity or all."""
        if entity_id:
            rows = self.conn.execute(
                "SELECT DISTINCT metric FROM fundamentals WHERE entity_id = ? ORDER BY metric",
                (entity_id,),
            )
        else:
            rows = self.conn.execute("SELECT DISTINCT metric FROM fundamentals ORDER BY metric")
        return [row[0] for row in rows]
