"""analyzer: narrative-vs-fundamentals analysis."""

from __future__ import annotations

from typing import Any

__all__ = ["HypeScorer"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import analyzer` (and `analyzer --help`) stays light.
    if name == "HypeScorer":
        from analyzer.scoring.scorer import HypeScorer

        return HypeScorer
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
