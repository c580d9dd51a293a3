"""Runs: one row per stage invocation (ingest, tag, score, divergence, fundamentals, ...), with
its arguments, outcome and statistics, so every number in the database can be traced to the
command that produced it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from analyzer.storage.base import StoreBase, utcnow


@dataclass
class RunRecord:
    """An open run; the stage fills ``stats`` as it goes."""

    id: int
    command: str
    stats: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"


class RunTables(StoreBase):
    """Reads and writes of the runs table."""

    # ----------------------------------------------------------------- runs
    def start_run(self, command: str, args: dict[str, Any] | None = None) -> int:
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO runs (command, args, started_at) VALUES (?, ?, ?)",
                (command, json.dumps(args or {}, default=str), utcnow()),
            )
        return int(cursor.lastrowid)

    def finish_run(
        self, run_id: int, status: str = "ok", stats: dict[str, Any] | None = None
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?",
                (utcnow(), status, json.dumps(stats or {}, default=str), run_id),
            )

    @contextmanager
    def run(self, command: str, args: dict[str, Any] | None = None) -> Iterator[RunRecord]:
        """Record a stage: a ``running`` row now, and its status and stats when it ends.

        An exception marks the run ``failed`` with the error in its stats (Ctrl-C marks it
        ``interrupted``) and propagates; a run killed outright stays ``running``, which is what a
        later reader should conclude.
        """
        record = RunRecord(self.start_run(command, args), command)
        try:
            yield record
        except KeyboardInterrupt:
            self._finish_quietly(record, "interrupted", record.stats)
            raise
        except BaseException as exc:
            self._finish_quietly(
                record, "failed", {**record.stats, "error": f"{type(exc).__name__}: {exc}"}
            )
            raise
        self.finish_run(record.id, record.status, record.stats)

    def _finish_quietly(self, record: RunRecord, status: str, stats: dict[str, Any]) -> None:
        # The original error matters more than a failure to record it (a broken database, say).
        try:
            self.finish_run(record.id, status, stats)
        except Exception:  # noqa: BLE001
            pass

    def recent_runs(self, limit: int = 5) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, command, status, started_at, finished_at FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
