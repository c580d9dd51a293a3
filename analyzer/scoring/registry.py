"""The installed models and the databases that hold their scores.

A model directory is any directory with an ``analyzer-hype-scorer`` ``config.json``. They are
looked for in ``models/`` (in the working directory and beside the package), in
``$ANALYZER_MODEL``, and in any directory given (a model directory itself, or a folder of
them). Databases are the ones given, else ``$ANALYZER_DB`` and ``data/*.db`` in the working
directory. Versions and metrics are read from ``config.json`` and ``metrics.json`` without
loading any weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analyzer.scoring.scorer import CONFIG_FORMAT, DEFAULT_MODEL_DIR, MODEL_ENV_VAR

SUMMARY_METRICS = ("macro_f1", "auroc", "ece")


def _is_model_dir(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("format") == CONFIG_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def model_directories(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Model directories found in the default places and in ``extra``, each once."""
    roots: list[Path] = [Path("models"), DEFAULT_MODEL_DIR.parent]
    if os.environ.get(MODEL_ENV_VAR):
        roots.append(Path(os.environ[MODEL_ENV_VAR]))
    roots += [Path(p) for p in extra]
    found: dict[Path, Path] = {}
    for root in roots:
        root = root.expanduser()
        candidates = (
            [root] if _is_model_dir(root) else sorted(p for p in root.glob("*") if p.is_dir())
        )
        for candidate in candidates:
            if _is_model_dir(candidate):
                found.setdefault(candidate.resolve(), candidate)
    return list(found.values())


def describe_model(directory: Path) -> dict[str, Any]:
    """A model directory's id, version, method, base and test metrics (from its files)."""
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    record: dict[str, Any] = {
        "model_id": config.get("model_id") or directory.name,
        "model_version": config.get("model_version"),
        "method": config.get("method"),
        "base": config.get("base"),
        "languages": config.get("languages") or [],
        "path": str(directory),
        "metrics": None,
    }
    metrics_file = directory / "metrics.json"
    if metrics_file.is_file():
        try:
            summary = json.loads(metrics_file.read_text(encoding="utf-8")).get("summary") or {}
            record["metrics"] = {k: summary.get(k) for k in SUMMARY_METRICS}
        except (OSError, ValueError, AttributeError):
            record["metrics"] = None
    return record


def default_databases() -> list[Path]:
    """``$ANALYZER_DB`` and ``data/*.db`` in the working directory, those that exist."""
    found = []
    if os.environ.get("ANALYZER_DB"):
        found.append(Path(os.environ["ANALYZER_DB"]))
    found += sorted(Path("data").glob("*.db"))
    unique: dict[Path, Path] = {}
    for path in found:
        if path.is_file():
            unique.setdefault(path.resolve(), path)
    return list(unique.values())


def database_versions(path: Path) -> dict[str, Any]:
    """Model versions whose scores a database holds, or the reason it could not be read."""
    import sqlite3

    from analyzer.storage import StorageError, Store

    try:
        with Store(path, readonly=True) as store:
            return {"path": str(path), "versions": store.version_summary(), "error": None}
    except (StorageError, sqlite3.DatabaseError) as exc:
        return {"path": str(path), "versions": [], "error": str(exc)}


def model_registry(
    directories: Iterable[str | os.PathLike[str]] = (),
    databases: Iterable[str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Installed models with the databases holding their scores, and stored versions with no model.

    Returns ``models`` (one record per directory, with ``databases``: path and documents
    scored), ``unknown_versions`` (scored versions no installed directory has) and
    ``databases`` (what each database holds, or why it could not be read).
    """
    models = [describe_model(d) for d in model_directories(directories)]
    paths = [Path(p) for p in databases] if databases is not None else default_databases()
    dbs = [database_versions(p) for p in paths]
    installed = {m["model_version"] for m in models}
    for model in models:
        model["databases"] = [
            {
                "path": db["path"],
                "documents": v["documents"],
                "last_scored": v["last_scored"],
                "analysed": v["analysed"],
            }
            for db in dbs
            for v in db["versions"]
            if v["model_version"] == model["model_version"]
        ]
    unknown = [
        {
            "model_version": v["model_version"],
            "model_id": v["model_id"],
            "path": db["path"],
            "documents": v["documents"],
        }
        for db in dbs
        for v in db["versions"]
        if v["model_version"] not in installed
    ]
    return {"models": models, "unknown_versions": unknown, "databases": dbs}
