"""analyzer: is this a bubble? Narrative heat against fundamentals, sentence by sentence.

The public API, one import away (each name loads its stage on first use, so ``import analyzer``
stays light)::

    import analyzer

    store = analyzer.Store("data/analyzer.db")
    analyzer.ingest_inputs(store, ["https://example.com/feed.xml", "dump.jsonl"])
    analyzer.score_store(store)                       # the shipped model, or score_store(store, scorer)
    analyzer.compute_divergence(store, freq="quarter")
    analyzer.run_claims(store)                        # extract quantified claims, check those due
    analyzer.results.divergence_frame(store, "nvidia")

    scorer = analyzer.HypeScorer.from_pretrained()
    scorer.score("This chip will change everything!")
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> (module, attribute); attribute None means the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "HypeScorer": ("analyzer.scoring.scorer", "HypeScorer"),
    "Store": ("analyzer.storage", "Store"),
    "ingest_inputs": ("analyzer.pipeline", "ingest_inputs"),
    "score_store": ("analyzer.pipeline", "score_store"),
    "tag_entities": ("analyzer.pipeline", "tag_entities"),
    "compute_divergence": ("analyzer.pipeline", "compute_divergence"),
    "run_claims": ("analyzer.pipeline", "run_claims"),
    "results": ("analyzer.views.results", None),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
    module_name, attribute = _EXPORTS[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
