"""The bundled demo corpus: where it is, and a local server that stands in for its site.

:func:`analyzer.pipeline.build_demo` builds the demo database from it.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from analyzer.errors import InputError

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
