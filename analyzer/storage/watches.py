"""Watches (who hears about which entity's flags, and how) and the record of every delivery.

Part of :class:`analyzer.storage.Store`. A delivery is keyed by watch and flag (entity, metric,
frequency, start period), so each flag reaches each watch once. Before a message goes out its
row is claimed (``sending``, committed); after it the outcome is recorded. A crash in between
leaves one ``sending`` row, which the next run sends again: at most one duplicate message.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError

WATCH_CHANNELS = ("webhook", "email")
DELIVERY_STATUSES = ("baseline", "sending", "sent", "failed")
WATCH_COLUMNS = (
    "id",
    "entity_id",
    "channel",
    "target",
    "freq",
    "secret",
    "secret_env",
    "allow_private",
    "enabled",
    "created_at",
)
DELIVERY_COLUMNS = (
    "watch_id",
    "entity_id",
    "metric",
    "freq",
    "start_period",
    "status",
    "attempts",
    "first_seen_at",
    "last_attempt_at",
    "sent_at",
    "last_error",
    "payload",
)
FlagKey = tuple[str, str, str, str]  # entity_id, metric ('' for none), freq, start_period


class WatchStorageError(AnalyzerError):
    """A watch could not be stored or found."""


def _now() -> str:
    from analyzer.storage.base import utcnow

    return utcnow()


class WatchesMixin:
    """Methods of :class:`analyzer.storage.Store` for the ``watches`` and ``alert_deliveries`` tables."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by the class this is mixed into

        def transaction(self) -> Any: ...

    # ----------------------------------------------------------------- watches
    def add_watch(
        self,
        *,
        channel: str,
        target: str,
        entity_id: str | None = None,
        freq: str = "quarter",
        secret: str | None = None,
        secret_env: str | None = None,
        allow_private: bool = False,
    ) -> tuple[int, bool]:
        """Store a watch; returns (id, created). Adding the same watch again returns its id."""
        if channel not in WATCH_CHANNELS:
            raise WatchStorageError(
                f"unknown channel {channel!r}; use {' or '.join(WATCH_CHANNELS)}"
            )
        with self.transaction():
            row = self.conn.execute(
                "SELECT id FROM watches WHERE COALESCE(entity_id, '') = ? AND channel = ? AND target = ?"
                " AND freq = ?",
                (entity_id or "", channel, target, freq),
            ).fetchone()
            if row is not None:
                self.conn.execute(
                    "UPDATE watches SET secret = ?, secret_env = ?, allow_private = ?, enabled = 1 WHERE id = ?",
                    (secret, secret_env, int(allow_private), row[0]),
                )
                return int(row[0]), False
            cursor = self.conn.execute(
                "INSERT INTO watches (entity_id, channel, target, freq, secret, secret_env, allow_private,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (entity_id, channel, target, freq, secret, secret_env, int(allow_private), _now()),
            )
            return int(cursor.lastrowid), True

    def watches(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(WATCH_COLUMNS)} FROM watches"
        if enabled_only:
            sql += " WHERE enabled = 1"
        rows = self.conn.execute(sql + " ORDER BY id").fetchall()
        return [dict(zip(WATCH_COLUMNS, row)) for row in rows]

    def watch(self, watch_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(WATCH_COLUMNS)} FROM watches WHERE id = ?", (int(watch_id),)
        ).fetchone()
        return dict(zip(WATCH_COLUMNS, row)) if row else None

    def remove_watch(self, watch_id: int) -> bool:
        """Delete a watch and its delivery record; True when it existed."""
        with self.transaction():
            self.conn.execute("DELETE FROM alert_deliveries WHERE watch_id = ?", (int(watch_id),))
            cursor = self.conn.execute("DELETE FROM watches WHERE id = ?", (int(watch_id),))
        return cursor.rowcount > 0

    # ----------------------------------------------------------------- deliveries
    def known_flag_keys(self, watch_id: int) -> set[FlagKey]:
        """Flags this watch has already seen, whatever became of their delivery."""
        rows = self.conn.execute(
            "SELECT entity_id, metric, freq, start_period FROM alert_deliveries WHERE watch_id = ?",
            (int(watch_id),),
        ).fetchall()
        return {tuple(r) for r in rows}  # type: ignore[misc]

    def record_baseline(self, watch_id: int, keys: Iterable[FlagKey]) -> int:
        """Mark flags as already present (never sent) for a new watch; returns how many."""
        now = _now()
        with self.transaction():
            cursor = self.conn.executemany(
                "INSERT OR IGNORE INTO alert_deliveries (watch_id, entity_id, metric, freq, start_period,"
                " status, first_seen_at) VALUES (?, ?, ?, ?, ?, 'baseline', ?)",
                [(int(watch_id), *key, now) for key in keys],
            )
        return max(cursor.rowcount, 0)

    def claim_delivery(
        self, watch_id: int, key: FlagKey, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Mark a delivery as being sent (committed before sending); returns its row.

        The payload stored at the first claim is kept, so every retry sends the same message.
        """
        now = _now()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO alert_deliveries (watch_id, entity_id, metric, freq, start_period, status,"
                " attempts, first_seen_at, last_attempt_at, payload) VALUES (?, ?, ?, ?, ?, 'sending', 1, ?, ?, ?)"
                " ON CONFLICT(watch_id, entity_id, metric, freq, start_period) DO UPDATE SET"
                " status = 'sending', attempts = attempts + 1, last_attempt_at = excluded.last_attempt_at,"
                " payload = COALESCE(payload, excluded.payload)",
                (
                    int(watch_id),
                    *key,
                    now,
                    now,
                    json.dumps(payload, default=str, ensure_ascii=False),
                ),
            )
        row = self.delivery(watch_id, key)
        assert row is not None
        return row

    def finish_delivery(
        self, watch_id: int, key: FlagKey, *, ok: bool, error: str | None = None
    ) -> None:
        """Record the outcome of a claimed delivery."""
        with self.transaction():
            if ok:
                self.conn.execute(
                    "UPDATE alert_deliveries SET status = 'sent', sent_at = ?, last_error = NULL"
                    " WHERE watch_id = ? AND entity_id = ? AND metric = ? AND freq = ? AND start_period = ?",
                    (_now(), int(watch_id), *key),
                )
            else:
                self.conn.execute(
                    "UPDATE alert_deliveries SET status = 'failed', last_error = ?"
                    " WHERE watch_id = ? AND entity_id = ? AND metric = ? AND freq = ? AND start_period = ?",
                    (error, int(watch_id), *key),
                )

    def defer_delivery(
        self, watch_id: int, key: FlagKey, payload: dict[str, Any], reason: str
    ) -> None:
        """Record a delivery as failed without an attempt, so the next run tries it."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO alert_deliveries (watch_id, entity_id, metric, freq, start_period, status,"
                " attempts, first_seen_at, last_error, payload) VALUES (?, ?, ?, ?, ?, 'failed', 0, ?, ?, ?)"
                " ON CONFLICT(watch_id, entity_id, metric, freq, start_period) DO UPDATE SET"
                " status = 'failed', last_error = excluded.last_error, payload = COALESCE(payload, excluded.payload)",
                (
                    int(watch_id),
                    *key,
                    _now(),
                    reason,
                    json.dumps(payload, default=str, ensure_ascii=False),
                ),
            )

    def delivery(self, watch_id: int, key: FlagKey) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries"
            " WHERE watch_id = ? AND entity_id = ? AND metric = ? AND freq = ? AND start_period = ?",
            (int(watch_id), *key),
        ).fetchone()
        return _delivery_row(row) if row else None

    def unfinished_deliveries(self, watch_id: int) -> list[dict[str, Any]]:
        """Deliveries of a watch still to (re)send: failed ones and any left ``sending`` by a crash."""
        rows = self.conn.execute(
            f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries"
            " WHERE watch_id = ? AND status IN ('sending', 'failed') ORDER BY first_seen_at, entity_id,"
            " metric, start_period",
            (int(watch_id),),
        ).fetchall()
        return [_delivery_row(r) for r in rows]

    def deliveries(self, watch_id: int | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries"
        params: list[Any] = []
        if watch_id is not None:
            sql += " WHERE watch_id = ?"
            params.append(int(watch_id))
        rows = self.conn.execute(
            sql + " ORDER BY watch_id, first_seen_at, entity_id, start_period", params
        )
        return [_delivery_row(r) for r in rows.fetchall()]

    # ----------------------------------------------------------------- scheduled updates
    def documents_updated_since(self, timestamp: str) -> list[int]:
        """Ids of documents inserted or changed at or after ``timestamp`` (ISO, UTC)."""
        rows = self.conn.execute(
            "SELECT id FROM documents WHERE updated_at >= ? ORDER BY id", (timestamp,)
        ).fetchall()
        return [int(r[0]) for r in rows]

    def analysed_frequencies(self, model_version: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT freq FROM analysis_runs WHERE model_version = ? ORDER BY freq", (model_version,)
        ).fetchall()
        return [r[0] for r in rows]


def _delivery_row(row: Any) -> dict[str, Any]:
    record = dict(zip(DELIVERY_COLUMNS, row))
    record["payload"] = json.loads(record["payload"]) if record["payload"] else None
    return record
