"""The Model page: the model's card, metrics and reliability plot, read from its directory
(files only, no torch, so the page is instant).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd


def model_directory() -> Path:
    """The model the app loads: ``$ANALYZER_MODEL``, else the shipped models/hype-default."""
    from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, MODEL_ENV_VAR

    return Path(os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_DIR).expanduser()


_LOCAL_IMAGE = re.compile(r"!\[[^\]]*\]\((?!https?:)[^)]*\)")


def model_card(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The model's card (markdown), metrics, configuration summary and reliability plot path.

    Reads files only (no torch), so the Model page is instant. ``exists`` is False when the
    directory holds no saved model.
    """
    directory = Path(directory) if directory else model_directory()
    card: dict[str, Any] = {
        "directory": str(directory),
        "exists": (directory / "config.json").is_file(),
        "readme": None,
        "metrics": None,
        "config": None,
        "model_version": None,
        "model_id": directory.name,
        "reliability_plot": None,
        "images": [],
    }
    if not card["exists"]:
        return card
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    card["config"] = {
        key: config.get(key)
        for key in (
            "model_id",
            "model_version",
            "base",
            "method",
            "labels",
            "languages",
            "multilingual",
            "temperatures",
            "thresholds",
            "max_length",
            "created_at",
        )
        if key in config
    }
    card["model_version"] = config.get("model_version")
    card["model_id"] = config.get("model_id") or directory.name
    readme = directory / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        # Images beside the card cannot be served by the app; the page shows them itself.
        card["readme"] = _LOCAL_IMAGE.sub("", text)
    metrics = directory / "metrics.json"
    if metrics.is_file():
        try:
            card["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
        except ValueError:
            card["metrics"] = None
    images = sorted(p for p in directory.glob("*.png"))
    card["images"] = [str(p) for p in images]
    reliability = [
        p for p in images if "reliab" in p.name.lower() or "calibration" in p.name.lower()
    ]
    card["reliability_plot"] = (
        str(reliability[0]) if reliability else (str(images[0]) if images else None)
    )
    return card


def metrics_frame(metrics: Mapping[str, Any] | None) -> pd.DataFrame:
    """Per-label test metrics as a table (label rows, numeric metric columns), when present."""
    if not metrics:
        return pd.DataFrame()
    per_label = metrics.get("labels")
    if isinstance(per_label, Mapping):
        rows = []
        for label, values in per_label.items():
            if isinstance(values, Mapping):
                rows.append(
                    {
                        "label": label,
                        **{k: v for k, v in values.items() if isinstance(v, (int, float))},
                    }
                )
        if rows:
            return pd.DataFrame(rows)
    flat = {
        k: v for k, v in (metrics.get("summary") or metrics).items() if isinstance(v, (int, float))
    }
    return pd.DataFrame([flat]) if flat else pd.DataFrame()
