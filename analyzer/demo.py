"""Build the demo database from the bundled corpus.

The corpus is a small static site (`corpora/demo/site/`) whose public root is
``https://demo.analyzer.example/``. It is served from a local HTTP server and fetched through
the ordinary safe fetcher with that root mirrored to the server, so the demo runs the same
ingestion path as real feeds: conditional GET, article extraction, PDF whitepapers. A second
build finds the feeds unchanged (304), the documents already scored, and only refreshes the
analysis.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import InputError

DEMO_ROOT_URL = "https://demo.analyzer.example/"


def default_corpus_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "corpora" / "demo"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port for the duration of the block; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def demo_inputs(site: Path) -> list[str]:
    """Public URLs of the demo's feeds and whitepapers."""
    feeds = sorted((site / "feeds").glob("*.xml"))
    papers = sorted((site / "whitepapers").glob("*.pdf"))
    if not feeds:
        raise InputError(f"no demo feeds found under {site / 'feeds'}")
    return [DEMO_ROOT_URL + p.relative_to(site).as_posix() for p in [*feeds, *papers]]


def build_demo(
    store: Any,
    *,
    corpus: Path | None = None,
    model: str | None = None,
    say: Callable[[str], None] = print,
    progress: Any = None,
) -> dict[str, Any]:
    """Ingest, tag, score, import fundamentals and compute divergence for the demo corpus."""
    from .fetch import FetcherConfig
    from .model import HypeScorer
    from .pipeline import (
        compute_divergence,
        import_fundamentals_csv,
        ingest,
        load_entities,
        score_store,
        tag_entities,
    )

    corpus = corpus or default_corpus_dir()
    site = corpus / "site"
    if not site.is_dir():
        raise InputError(f"demo corpus not found at {corpus}; run from a checkout of the project")
    summary: dict[str, Any] = {}

    entities = load_entities(store, corpus / "entities.yaml")
    say(f"Loaded {len(entities)} entities")

    with serve_directory(site) as base_url:
        config = FetcherConfig(mirrors={DEMO_ROOT_URL: base_url})
        report = ingest(store, demo_inputs(site), allow_private=True, fetcher_config=config)
    summary["ingest"] = report.to_dict()
    say(f"Ingested: {_describe(summary['ingest'])}")

    scorer = HypeScorer.from_pretrained(model)
    scored = score_store(store, scorer, progress=progress)
    summary["score"] = scored
    say(f"Scored {scored['documents']} new documents with {scorer.model_id} ({scorer.model_version})")

    tagged = tag_entities(store, entities)
    summary["tag"] = {"documents": tagged.documents, "tagged_documents": tagged.tagged_documents, "tags": tagged.tags}

    fundamentals = import_fundamentals_csv(store, corpus / "fundamentals.csv")
    summary["fundamentals"] = {"rows": len(fundamentals.rows), "errors": len(fundamentals.errors)}
    say(f"Imported {len(fundamentals.rows)} fundamentals rows")

    summary["divergence"] = compute_divergence(store, freq=["quarter", "month"], model_version=scorer.model_version)
    say("Computed narrative heat and divergence")
    return summary


def _describe(report: dict[str, Any]) -> str:
    keys = ("inserted", "updated", "unchanged", "duplicates", "not_modified", "rejected")
    return ", ".join(f"{report[k]} {k.replace('_', ' ')}" for k in keys if k in report)
