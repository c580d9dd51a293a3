"""Real-world feeds (feedparser's own suite and feeds from other readers) through the parse path."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import feedparser
import pytest

from analyzer.cli import main as cli_main
from analyzer.ingest import ContentError, parse_feed
from analyzer.storage import Store

pytestmark = pytest.mark.shared

# Expectations that plain feedparser 6.0.x itself does not meet (they were written for a later
# feedparser): an Atom <link> without href must not replace an earlier alternate link.
UPSTREAM_MISMATCHES = {
    "tests/wellformed/atom/entry_link_no_href_link_priority.xml",
    "tests/wellformed/atom/entry_link_rel_enclosure_no_href.xml",
    "tests/wellformed/atom10/entry_link_no_href_link_priority.xml",
    "tests/wellformed/atom10/entry_link_rel_enclosure_no_href.xml",
}


SCRIPT_ELEMENT = re.compile(r"<script\b[^>]*>[\s\S]*?</script>", re.IGNORECASE)


def _headers(row: dict[str, str]) -> dict[str, str] | None:
    """The response headers a test needs, or None when it needs more than a Content-Type."""
    headers: dict[str, str] = {}
    for line in (row.get("http_headers") or "").splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        if name.strip().lower() != "content-type":
            return None
        headers["content-type"] = value.strip()
    if row.get("http_test") == "yes" and not headers:
        return None
    return headers


def _applies(row: dict[str, str]) -> bool:
    condition = row.get("skip_unless") or ""
    if not condition:
        return True
    try:
        return bool(eval(condition, {"feedparser": feedparser}))  # noqa: S307 - the suite's own expressions
    except Exception:  # a missing codec or module: the suite skips these too
        return False


def test_every_feedparser_suite_file_parses(realdata: Path) -> None:
    root = realdata / "feedparser-tests"
    files = sorted(p for p in (root / "tests").rglob("*") if p.is_file())
    assert len(files) > 700
    rejected = []
    for path in files:
        try:
            parsed = parse_feed(path.read_bytes())
        except ContentError as exc:
            rejected.append((path.name, str(exc)))
            continue
        for item in parsed.items:
            assert isinstance(item.text, str)
            assert item.title is None or isinstance(item.title, str)
            assert item.published_at is None or item.published_at.endswith("+00:00")
    # Only documents with no feed in them at all (ill-formed or empty) may be refused.
    assert len(rejected) < 40, rejected


def test_feedparser_expectations_hold_through_the_parse_path(realdata: Path) -> None:
    root = realdata / "feedparser-tests"
    with (root / "EXPECTATIONS.tsv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    checked, failed, skipped = 0, [], 0
    for row in rows:
        headers = _headers(row)
        if headers is None or not _applies(row) or not row.get("expect_python_expr"):
            skipped += 1
            continue
        data = (root / row["path"]).read_bytes()
        try:
            parsed = parse_feed(data, content_type=headers.get("content-type"))
            namespace: dict[str, Any] = dict(parsed.raw)
        except ContentError:
            # Refused as "not a feed": judge the expectation on what feedparser itself saw.
            namespace = dict(
                feedparser.parse(__import__("io").BytesIO(data), response_headers=headers)
            )
        try:
            ok = bool(eval(row["expect_python_expr"], {"feedparser": feedparser}, namespace))  # noqa: S307
        except Exception:
            ok = False
        checked += 1
        if not ok:
            failed.append(row["path"])
    assert checked > 700
    assert set(failed) <= UPSTREAM_MISMATCHES, sorted(set(failed) - UPSTREAM_MISMATCHES)


def test_every_real_feed_file_parses_or_is_refused_cleanly(realdata: Path) -> None:
    files = sorted(p for p in (realdata / "feeds").rglob("*") if p.is_file())
    feeds = [p for p in files if p.suffix.lower() in (".xml", ".rss", ".atom", ".rdf", ".json")]
    parsed_items = 0
    for path in feeds:
        raw = path.read_bytes()
        try:
            parsed = parse_feed(raw)
        except ContentError:
            continue
        # A script tag may survive only as visible text, i.e. when the source escaped it.
        scripts_shown_as_text = b"&lt;" in raw  # markup shown as text (code samples)
        for item in parsed.items:
            assert isinstance(item.text, str)
            assert not SCRIPT_ELEMENT.search(item.text) or scripts_shown_as_text, (path, item.title)
        parsed_items += len(parsed.items)
    assert parsed_items > 1500


def test_cli_ingests_the_real_folders(
    realdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "real.db"
    try:
        cli_main(
            [
                "ingest",
                "--db",
                str(db),
                "--no-follow-links",
                "--json",
                str(realdata / "feedparser-tests"),
                str(realdata / "feeds"),
            ]
        )
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "ok"
    assert report["inserted"] > 1500
    assert report["partial"] > 0  # the ill-formed suite files are recorded as partial, not lost
    with Store(db) as store:
        counts = store.counts()
        assert counts["documents"] == report["inserted"]
        statuses = {r["status"] for r in store.query("SELECT DISTINCT status FROM fetches")}
        assert statuses <= {"ok", "partial", "rejected"}
        leftovers = store.query("SELECT COUNT(*) AS n FROM documents WHERE text LIKE '%</p>%'")[0][
            "n"
        ]
    assert leftovers == 0
