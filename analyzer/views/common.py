"""What every page needs: which database, whether it is usable, and the words for periods and
flags. Every function returns plain data; nothing here imports Streamlit or torch.

Reads go through a read-only store; text from feeds is untrusted and is escaped where it is
rendered (``app_pages/render.py``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from analyzer.storage import StorageError, Store, file_stamp, resolve_db_path

LABELS = ("hype", "growth", "evidence")
EMPTY_DATABASE_HINT = "run `analyzer ingest FEED` (then `analyzer score`) or `make demo`"


def database_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The database the app reads: ``db``, else ``$ANALYZER_DB``, else ``data/analyzer.db``."""
    return resolve_db_path(db)


def database_stamp(db: str | os.PathLike[str] | None = None) -> str:
    """Changes whenever the database (or its write-ahead log) is written: part of cache keys."""
    return file_stamp(database_path(db))


@contextmanager
def open_readonly(db: str | os.PathLike[str] | None = None) -> Iterator[Store]:
    """A read-only Store; raises StorageError when the file is missing or not a database."""
    store = Store(database_path(db), readonly=True)
    try:
        yield store
    finally:
        store.close()


def database_status(db: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What the database holds, cheaply, plus a ``message`` and ``next_step`` when it is not usable.

    ``ready`` is True when there are documents to show. Never raises for a missing, empty or
    unreadable file: the app turns the message into a friendly notice.
    """
    path = database_path(db)
    status: dict[str, Any] = {
        "path": str(path),
        "exists": path.is_file(),
        "ready": False,
        "documents": 0,
        "scored": 0,
        "entities": 0,
        "fundamentals": 0,
        "model_version": None,
        "model_versions": [],
        "analysis": [],
        "message": None,
        "next_step": None,
    }
    if not status["exists"]:
        status["message"] = f"No database at {path}."
        status["next_step"] = EMPTY_DATABASE_HINT
        return status
    try:
        with open_readonly(path) as store:
            status.update(store.summary())
    except (StorageError, sqlite3.DatabaseError) as exc:
        status["message"] = f"The database {path} cannot be read: {exc}"
        status["next_step"] = "open it once with `analyzer stats --db PATH` to upgrade or check it"
        return status
    versions = status["model_versions"]
    status["scored"] = sum(int(v["documents"]) for v in versions)
    status["model_version"] = versions[0]["model_version"] if versions else None
    if not status["documents"]:
        status["message"] = "No documents yet."
        status["next_step"] = EMPTY_DATABASE_HINT
        return status
    status["ready"] = True
    return status


def entity_table(db: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Entities with their definitions (aliases and tickers as lists) and tagged document counts."""
    with open_readonly(db) as store:
        return store.entity_table()


FREQ_LABELS = {"quarter": "Quarterly", "month": "Monthly", "week": "Weekly", "day": "Daily"}
GROWTH_BASIS_WORDS = {"yoy": "year over year", "pop": "on the previous period"}


def period_label(value: Any, freq: str) -> str:
    """'2024 Q3', '2024-03', 'week of 2024-03-04' or the day, for a period's start."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    stamp = pd.Timestamp(str(value)[:10]) if isinstance(value, str) else pd.Timestamp(value)
    if freq == "quarter":
        return f"{stamp.year} Q{(stamp.month - 1) // 3 + 1}"
    if freq == "month":
        return stamp.strftime("%Y-%m")
    if freq == "week":
        return f"week of {stamp.strftime('%Y-%m-%d')}"
    return stamp.strftime("%Y-%m-%d")


def analysis_state(
    db: str | os.PathLike[str] | None, freq: str, model_version: str | None
) -> dict[str, Any]:
    """Whether the analysis for ``freq`` and ``model_version`` is stored in full, and when."""
    with open_readonly(db) as store:
        run = store.analysis_run(freq, model_version or "")
    if run is None:
        return {"materialised": False, "computed_at": None, "params": None}
    return {
        "materialised": run["params"].get("entities") is None,
        "computed_at": run["computed_at"],
        "params": run["params"],
    }


def describe_flag(flag: Mapping[str, Any], rows: pd.DataFrame, name: str | None = None) -> str:
    """One line, generated from the numbers, for a flagged span.

    ``rows`` is the divergence frame of the flag's entity and metric. Example: "Nvidia ·
    revenue · 2024 Q1–2024 Q4: narrative heat up 2.1σ (1.4–2.8) while revenue growth slowed to
    3% year over year (peak divergence 3.4 (2.6–4.1) in 2024 Q3; confidence 97%)". The
    intervals are the bootstrap bands at the peak period; confidence is the flag's.
    """
    freq = str(flag.get("freq") or "quarter")
    metric = flag.get("metric")
    span = f"{period_label(flag['start'], freq)}–{period_label(flag['end'], freq)}"
    if flag["start"] == flag["end"]:
        span = period_label(flag["start"], freq)
    head = f"{name or flag['entity']}{f' · {metric}' if metric else ''} · {span}"
    peak = pd.Timestamp(flag["peak_period"])
    ordered = rows.sort_values("period").reset_index(drop=True)
    at_peak = ordered[ordered["period"] == peak]
    tail = (
        f"peak divergence {float(flag['peak_value']):.1f}{_interval(flag.get('peak_low'), flag.get('peak_high'))}"
        f" in {period_label(peak, freq)}{_confidence(flag.get('confidence'))}"
    )
    if at_peak.empty:
        return (
            f"{head}: divergence above the threshold for {int(flag['periods'])} periods ({tail})."
        )
    position = int(at_peak.index[0])
    row = ordered.iloc[position]
    heat_z = row.get("heat_z")
    banded = heat_z is None or pd.isna(heat_z)  # the band belongs to the heat column
    if banded:
        heat_z = row.get("heat")
    heat_phrase = (
        f"narrative heat {'up' if float(heat_z) >= 0 else 'down'} {abs(float(heat_z)):.1f}σ"
        if heat_z is not None and pd.notna(heat_z)
        else "narrative heat high"
    )
    if banded and heat_z is not None and pd.notna(heat_z):
        low, high = row.get("heat_low"), row.get("heat_high")
        if (
            float(heat_z) < 0
            and low is not None
            and high is not None
            and pd.notna(low)
            and pd.notna(high)
        ):
            low, high = -float(high), -float(low)
        heat_phrase += _interval(low, high)
    growth = row.get("fundamental_growth")
    if not metric or growth is None or pd.isna(growth):
        return f"{head}: {heat_phrase} with no fundamentals to compare ({tail})."
    growth = float(growth)
    basis = GROWTH_BASIS_WORDS.get(str(row.get("growth_basis") or ""), "")
    previous = ordered.iloc[position - 1].get("fundamental_growth") if position > 0 else None
    basis_text = f" {basis}" if basis else ""
    if growth < 0:
        growth_phrase = f"{metric} fell {abs(growth):.0%}{basis_text}"
    elif previous is not None and pd.notna(previous) and growth < float(previous):
        growth_phrase = (
            f"{metric} growth slowed to {growth:.0%}{basis_text} (from {float(previous):.0%})"
        )
    else:
        growth_z = row.get("growth_z")
        relative = (
            f", {float(growth_z):+.1f}σ against its history"
            if growth_z is not None and pd.notna(growth_z)
            else ""
        )
        growth_phrase = f"{metric} grew only {growth:.0%}{basis_text}{relative}"
    return f"{head}: {heat_phrase} while {growth_phrase} ({tail})."


def _interval(low: Any, high: Any) -> str:
    """' (1.4–2.8)' for a finite band, '' otherwise."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    return f" ({float(low):.1f}–{float(high):.1f})"


def _confidence(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"; confidence {float(value):.0%}"
