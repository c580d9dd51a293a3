"""The demo build: the bundled corpus through the real fetch path, and a second build that reuses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hype_fixtures import tiny_model_dir  # noqa: F401

from analyzer.demo import (
    DEMO_ROOT_URL,
    default_corpus_dir,
    demo_inputs,
    serve_directory,
)
from analyzer.ingest.fetch import FetcherConfig, SafeFetcher
from analyzer.pipeline import build_demo
from analyzer.storage import Store


def test_mirror_serves_public_urls_from_a_local_copy(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.xml").write_text(
        "<rss version='2.0'><channel><title>t</title></channel></rss>"
    )
    with serve_directory(tmp_path) as base_url:
        config = FetcherConfig(mirrors={"https://mirror.test/": base_url})
        with SafeFetcher(config, allow_private=True) as fetcher:
            result = fetcher.fetch("https://mirror.test/feeds/a.xml")
            missing = fetcher.fetch("https://mirror.test/feeds/missing.xml")
        with SafeFetcher(config) as strict:
            refused = strict.fetch("https://mirror.test/feeds/a.xml")
    assert result.status == "ok", result.error
    assert result.url == "https://mirror.test/feeds/a.xml"
    assert result.final_url == "https://mirror.test/feeds/a.xml"
    assert b"<rss" in result.content
    assert missing.status == "http_error" and missing.http_status == 404
    # A mirror on loopback is still subject to the address policy.
    assert refused.status == "refused"


def test_demo_inputs_name_every_feed_and_whitepaper() -> None:
    site = default_corpus_dir() / "site"
    inputs = demo_inputs(site)
    assert all(url.startswith(DEMO_ROOT_URL) for url in inputs)
    assert sum(url.endswith(".xml") for url in inputs) >= 2
    assert sum(url.endswith(".pdf") for url in inputs) >= 2


@pytest.mark.slow
def test_demo_builds_and_a_second_build_reuses_it(tmp_path: Path, tiny_model_dir: Path) -> None:  # noqa: F811
    messages: list[str] = []
    with Store(tmp_path / "demo.db") as store:
        first = build_demo(store, model=str(tiny_model_dir), say=messages.append)
        assert first["ingest"]["inserted"] >= 300
        assert first["ingest"]["rejected"] == 0
        kinds = {
            row["kind"]: row["n"]
            for row in store.query("SELECT kind, COUNT(*) AS n FROM documents GROUP BY kind")
        }
        assert kinds.get("whitepaper", 0) >= 2
        assert first["score"]["documents"] == store.db["documents"].count
        assert store.db["fundamentals"].count > 0
        assert store.query("SELECT COUNT(*) AS n FROM heat")[0]["n"] > 0
        quarters = store.query(
            "SELECT COUNT(DISTINCT substr(published_at, 1, 4) || ((CAST(substr(published_at, 6, 2) AS INTEGER) + 2) / 3))"
            " AS n FROM documents"
        )[0]["n"]
        assert quarters >= 8

        second = build_demo(store, model=str(tiny_model_dir), say=messages.append)
        assert second["ingest"]["inserted"] == 0
        assert second["ingest"]["not_modified"] == len(demo_inputs(default_corpus_dir() / "site"))
        assert second["score"]["documents"] == 0


def test_demo_corpus_files_match_their_generator() -> None:
    import subprocess
    import sys

    script = default_corpus_dir() / "build_demo.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
