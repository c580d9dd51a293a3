"""Ingestion end to end: a real HTTP server on 127.0.0.1, real SQLite files, the real CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ingest_server import LocalServer, Reply, minimal_pdf, rss, running_server

from analyzer.cli import main as cli_main
from analyzer.ingest import IngestRejected, canonicalize_url
from analyzer.ingest.fetch import FetcherConfig
from analyzer.pipeline import compute_divergence, ingest_inputs
from analyzer.storage import Store
from analyzer.views import results

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST = FetcherConfig(
    connect_timeout=2.0, read_timeout=2.0, deadline=10.0, backoff=0.01, max_retry_after=0.05
)

LONG_TEXT = (
    "Quarterly revenue at the company grew by twelve percent, according to the audited report "
    "published on Tuesday. Analysts noted that operating margins were stable while research "
    "spending increased. The board confirmed the dividend and said capital expenditure would "
    "remain within the range given at the start of the year. "
) * 3


@pytest.fixture(scope="module")
def server() -> LocalServer:
    with running_server() as running:
        running.route(
            "/robots.txt",
            Reply(
                body=b"User-agent: *\nDisallow: /blocked/\n", headers={"Content-Type": "text/plain"}
            ),
        )
        yield running


def run(store: Store, inputs: list[Any], **options: Any) -> Any:
    options.setdefault("allow_private", True)
    options.setdefault("follow_links", False)
    options.setdefault("fetcher_config", FAST)
    return ingest_inputs(store, [str(i) for i in inputs], **options)


def documents(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM documents ORDER BY id")


def fetch_rows(store: Store, url: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM fetches WHERE url = ? ORDER BY id", (url,))


def feed_items(n: int, prefix: str = "item") -> list[dict[str, str]]:
    return [
        {
            "title": f"{prefix} {i} headline",
            "link": f"http://example.com/{prefix}/{i}",
            "guid": f"{prefix}-{i}",
            "pubDate": "Tue, 02 Jan 2024 10:00:00 GMT",
            "description": f"{prefix} {i}: {LONG_TEXT}",
        }
        for i in range(n)
    ]


# --------------------------------------------------------------------------- feeds over HTTP


def test_feed_with_etag_is_not_modified_on_repeat(server: LocalServer, store: Store) -> None:
    path = server.unique("/feed.xml")
    body = rss(feed_items(3, "etag"))

    def handler(headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == '"abc"':
            return Reply(304)
        return Reply(body=body, headers={"ETag": '"abc"', "Content-Type": "application/rss+xml"})

    url = server.route(path, handler)
    first = run(store, [url])
    second = run(store, [url])
    assert (first.inserted, first.rejected, first.not_modified) == (3, 0, 0)
    assert (second.inserted, second.not_modified) == (0, 1)
    assert len(documents(store)) == 3
    rows = fetch_rows(store, url)
    assert [r["status"] for r in rows] == ["ok", "not_modified"]
    assert rows[0]["etag"] == '"abc"' and rows[0]["items"] == 3 and rows[0]["http_status"] == 200
    assert rows[1]["http_status"] == 304 and rows[1]["items"] == 0
    assert server.hits(path)[1]["if-none-match"] == '"abc"'
    doc = documents(store)[0]
    assert doc["published_at"] == "2024-01-02T10:00:00+00:00"
    assert doc["language"] == "en"
    assert doc["canonical_url"] == "http://example.com/etag/0"


def test_malformed_feed_is_ingested_in_part(server: LocalServer, store: Store) -> None:
    whole = rss(feed_items(3, "broken")).decode()
    cut = whole[: whole.index("broken 2: Quarterly")] + "<b>unclosed & bad"
    url = server.route(server.unique("/broken.xml"), Reply(body=cut.encode()))
    report = run(store, [url])
    assert report.rejected == 0 and report.partial == 1
    assert report.inserted >= 2
    titles = {d["title"] for d in documents(store)}
    assert {"broken 0 headline", "broken 1 headline"} <= titles
    row = fetch_rows(store, url)[0]
    assert row["status"] == "partial"
    assert "malformed feed" in row["error"] and "SAXParseException" in row["error"]


def test_failures_are_recorded_and_the_run_goes_on(server: LocalServer, store: Store) -> None:
    good = server.route(server.unique("/good.xml"), Reply(body=rss(feed_items(2, "good"))))
    missing = server.base + server.unique("/missing.xml")
    slow = server.route(
        server.unique("/slow.xml"), Reply(body=rss(feed_items(1, "slow")), delay=3.0)
    )
    huge = server.route(
        server.unique("/huge.xml"), Reply(body=b"<rss>" + b"x" * 300_000 + b"</rss>")
    )
    retried = server.route(
        server.unique("/retry.xml"), Reply(500), Reply(body=rss(feed_items(1, "retried")))
    )
    config = FetcherConfig(
        connect_timeout=2.0,
        read_timeout=0.3,
        deadline=5.0,
        max_bytes=100_000,
        backoff=0.01,
        retries=1,
    )
    report = run(store, [missing, good, slow, huge, retried], fetcher_config=config)
    assert report.status == "ok"
    assert report.inserted == 3
    assert dict(report.reasons) == {"http_error": 1, "timeout": 1, "too_large": 1}
    statuses = {
        url: fetch_rows(store, url)[-1]["status"] for url in (good, missing, slow, huge, retried)
    }
    assert statuses == {
        good: "ok",
        missing: "http_error",
        slow: "timeout",
        huge: "too_large",
        retried: "ok",
    }
    assert fetch_rows(store, missing)[0]["http_status"] == 404
    assert len(server.hits(retried.replace(server.base, ""))) == 2
    run_row = store.query("SELECT * FROM runs WHERE id = ?", (report.run_id,))[0]
    assert run_row["status"] == "ok" and json.loads(run_row["stats"])["inserted"] == 3


ARTICLE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Chipmaker reports record quarter | Example News</title>
<script>var tracking = "SCRIPT-SHOULD-NOT-APPEAR";</script>
<style>.nav {{ color: red }}</style></head>
<body>
<header><nav><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/tech">Tech</a></nav></header>
<main><article>
<h1>Chipmaker reports record quarter</h1>
<p class="byline">By Jane Doe</p>
{paragraphs}
</article></main>
<footer><p>Copyright Example News. All rights reserved.</p></footer>
</body></html>"""

ARTICLE_PARAGRAPHS = [
    "The chipmaker said on Wednesday that data-centre revenue more than doubled from a year earlier.",
    "Executives attributed the increase to demand for accelerators used to train large models.",
    "Gross margin improved to 74 percent, helped by lower component costs and a richer product mix.",
    "The company guided to further growth next quarter but warned that supply remained constrained.",
    "Shares rose four percent in extended trading after the results were published.",
]


def test_summary_only_items_get_the_full_article(server: LocalServer, store: Store) -> None:
    page = ARTICLE_PAGE.format(paragraphs="\n".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS))
    article = server.route(
        server.unique("/article.html"),
        Reply(body=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"}),
    )
    blocked_path = "/blocked" + server.unique("/page.html")
    blocked = server.route(blocked_path, Reply(body=page.encode()))
    gone = server.base + server.unique("/gone.html")
    items = [
        {
            "title": "Record quarter",
            "link": article,
            "guid": "a1",
            "description": "Revenue doubled.",
        },
        {"title": "Blocked page", "link": blocked, "guid": "a2", "description": "A short summary."},
        {"title": "Gone page", "link": gone, "guid": "a3", "description": "Another short summary."},
    ]
    feed = server.route(server.unique("/summaries.xml"), Reply(body=rss(items)))
    report = run(store, [feed], follow_links=True)
    assert report.inserted == 3 and report.rejected == 0
    by_title = {d["title"]: d for d in documents(store)}
    full = by_title["Record quarter"]["text"]
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in full
    assert "SCRIPT-SHOULD-NOT-APPEAR" not in full and "<p>" not in full
    # Summaries keep their headline, so what is scored says what the story is.
    assert by_title["Blocked page"]["text"] == "Blocked page\n\nA short summary."
    assert by_title["Gone page"]["text"] == "Gone page\n\nAnother short summary."
    assert fetch_rows(store, article)[0]["status"] == "ok"
    assert fetch_rows(store, blocked)[0]["status"] == "disallowed"
    assert fetch_rows(store, gone)[0]["status"] == "http_error"
    assert server.hits(blocked_path) == []  # robots.txt kept us away


def test_summary_only_items_sharing_boilerplate_stay_separate_stories(
    server: LocalServer, store: Store
) -> None:
    boilerplate = "Read the full story on our website."
    items = [
        {
            "title": f"Company {i} reports its quarter",
            "link": server.base + server.unique(f"/gone-{i}.html"),
            "guid": f"syndicated-{i}",
            "pubDate": "Tue, 02 Jan 2024 10:00:00 GMT",
            "description": boilerplate,
        }
        for i in range(10)
    ]
    feed = server.route(server.unique("/boilerplate.xml"), Reply(body=rss(items)))
    report = run(store, [feed], follow_links=True)
    assert report.inserted == 10 and report.duplicates == 0
    texts = [d["text"] for d in documents(store)]
    assert len(set(texts)) == 10
    assert all(text.endswith(boilerplate) and text.startswith("Company ") for text in texts)
    store.upsert_entity({"id": "wire", "name": "Wire"})
    for document in documents(store):
        store.tag_document(document["id"], "wire", method="alias")
    compute_divergence(store, freq="quarter")
    assert int(results.heat_frame(store, "wire")["stories"].sum()) == 10


def test_a_summary_never_replaces_a_longer_stored_text(server: LocalServer, store: Store) -> None:
    page = ARTICLE_PAGE.format(paragraphs="\n".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS))
    article = server.route(
        server.unique("/kept.html"),
        Reply(body=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"}),
    )
    item = {
        "title": "Kept story",
        "link": article,
        "guid": "kept-1",
        "description": "Short summary.",
    }
    feed = server.route(server.unique("/kept.xml"), Reply(body=rss([item])))
    assert run(store, [feed], follow_links=True).inserted == 1
    full = documents(store)[0]["text"]
    assert ARTICLE_PARAGRAPHS[0] in full
    again = run(store, [feed], follow_links=False)
    assert again.updated == 0 and documents(store)[0]["text"] == full


def test_pdf_url_is_ingested_as_a_whitepaper(server: LocalServer, store: Store) -> None:
    pdf = minimal_pdf(
        ["Proof of History: a clock before consensus", "Throughput scales with hardware."]
    )
    url = server.route(
        server.unique("/paper"), Reply(body=pdf, headers={"Content-Type": "application/pdf"})
    )
    report = run(store, [url])
    assert report.inserted == 1
    doc = documents(store)[0]
    assert doc["kind"] == "whitepaper"
    assert "Throughput scales with hardware." in doc["text"]
    assert doc["canonical_url"] == canonicalize_url(url)


@pytest.mark.parametrize(
    ("charset", "title", "body"),
    [
        (
            "windows-1251",
            "Рост выручки компании",
            "Выручка компании выросла на двенадцать процентов за квартал, сообщили аналитики.",
        ),
        (
            "iso-8859-1",
            "Économie française",
            "La croissance économique française a été révisée à la hausse par les économistes.",
        ),
    ],
)
def test_charset_given_only_in_content_type_is_honoured(
    server: LocalServer, store: Store, charset: str, title: str, body: str
) -> None:
    xml = (
        '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Charset test</title>'
        f"<item><title>{title}</title><link>http://example.com/{charset}</link>"
        f"<description>{body}</description></item></channel></rss>"
    ).encode(charset)
    with pytest.raises(UnicodeDecodeError):
        xml.decode("utf-8")  # the bytes really are not UTF-8
    url = server.route(
        server.unique("/charset.xml"),
        Reply(body=xml, headers={"Content-Type": f"application/rss+xml; charset={charset}"}),
    )
    report = run(store, [url])
    assert report.inserted == 1
    doc = documents(store)[0]
    # A short summary keeps its headline (see test_summary_only_items_get_the_full_article).
    assert doc["title"] == title and doc["text"] == f"{title}\n\n{body}"
    assert doc["language"] == ("ru" if charset == "windows-1251" else "fr")


def test_local_server_refused_without_allow_private(server: LocalServer, store: Store) -> None:
    path = server.unique("/private.xml")
    url = server.route(path, Reply(body=rss(feed_items(1))))
    report = run(store, [url], allow_private=False)
    assert report.inserted == 0 and dict(report.reasons) == {"refused": 1}
    assert fetch_rows(store, url)[0]["status"] == "refused"
    assert server.hits(path) == []


# --------------------------------------------------------------------------- identity


def test_canonical_urls_dedupe_and_updates_replace(server: LocalServer, store: Store) -> None:
    link = "HTTP://Example.COM:80/news/1?utm_source=feed&b=2&a=1&fbclid=xyz#comments"
    version1 = rss(
        [
            {
                "title": "Story",
                "link": link,
                "guid": "story-1",
                "description": "First version. " + LONG_TEXT,
            }
        ]
    )
    version2 = rss(
        [
            {
                "title": "Story",
                "link": link,
                "guid": "story-1",
                "description": "Second version. " + LONG_TEXT,
            }
        ]
    )
    feed = server.route(server.unique("/story.xml"), Reply(body=version1), Reply(body=version2))
    other = server.route(
        server.unique("/other.xml"),
        Reply(
            body=rss(
                [
                    {
                        "title": "Story",
                        "link": "http://example.com/news/1?a=1&b=2&gclid=1",
                        "description": "Second version. " + LONG_TEXT,
                    }
                ],
                title="Other feed",
            )
        ),
    )
    assert run(store, [feed]).inserted == 1
    assert run(store, [feed]).updated == 1
    assert run(store, [other]).unchanged == 1
    rows = documents(store)
    assert len(rows) == 1
    assert rows[0]["canonical_url"] == "http://example.com/news/1?a=1&b=2"
    assert rows[0]["text"].startswith("Second version.")


def test_duplicate_guids_within_a_feed(server: LocalServer, store: Store) -> None:
    items = [
        {"title": "One", "guid": "same", "description": "Text one " + LONG_TEXT},
        {"title": "Two", "guid": "same", "description": "Text two " + LONG_TEXT},
        {"title": "Three", "guid": "other", "description": "Text three " + LONG_TEXT},
    ]
    url = server.route(server.unique("/dupes.xml"), Reply(body=rss(items)))
    report = run(store, [url])
    assert report.inserted == 2 and report.duplicates == 1
    assert {d["title"] for d in documents(store)} == {"One", "Three"}
    assert run(store, [url]).unchanged == 2
    assert len(documents(store)) == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://Example.com:443/a/b?utm_medium=x&z=1&a=2#frag",
            "https://example.com/a/b?a=2&z=1",
        ),
        ("http://example.com", "http://example.com/"),
        (
            "http://user:pw@example.com:8080/p?ref=home&mc_cid=1&mc_eid=2&id=7",
            "http://example.com:8080/p?id=7",
        ),
        ("http://example.com/p%2fq?gclid=1", "http://example.com/p%2Fq"),
        ("ftp://example.com/file", None),
        ("javascript:alert(1)", None),
        ("/relative/path", None),
        ("http://example.com:99999/", None),
    ],
)
def test_canonicalize_url(url: str, expected: str | None) -> None:
    assert canonicalize_url(url) == expected


# --------------------------------------------------------------------------- local inputs


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n",
        encoding="utf-8",
    )
    return path


def test_jsonl_dump_with_entities(tmp_path: Path, store: Store) -> None:
    dump = write_jsonl(
        tmp_path / "dump.jsonl",
        [
            {
                "id": "d1",
                "url": "https://news.test/a?utm_source=x",
                "title": "A",
                "text": "Nvidia shipped more chips.",
                "published": "2024-03-01T09:30:00+02:00",
                "source": "Wire",
                "entities": ["nvidia", "semiconductors"],
            },
            {
                "id": "d2",
                "title": "B",
                "text": "<p>Markup <b>is</b> stripped.</p><script>alert(1)</script>",
                "published": "not a date",
                "source": "Wire",
            },
            "{not json",
            {"id": "d4", "title": "no text"},
            {"id": "d5", "text": "   "},
        ],
    )
    report = run(store, [dump])
    assert report.inserted == 2
    assert dict(report.reasons) == {"invalid_record": 3}
    assert [r.input for r in report.rejections] == [f"{dump}:3", f"{dump}:4", f"{dump}:5"]
    first, second = documents(store)
    assert first["canonical_url"] == "https://news.test/a"
    assert first["published_at"] == "2024-03-01T07:30:00+00:00"
    assert second["text"] == "Markup is stripped." and second["published_at"] is None
    assert {e["id"] for e in store.entities()} == {"nvidia", "semiconductors"}
    linked = store.query(
        "SELECT entity_id FROM document_entities WHERE document_id = ? ORDER BY entity_id",
        (first["id"],),
    )
    assert [r["entity_id"] for r in linked] == ["nvidia", "semiconductors"]


def test_sources_file(tmp_path: Path, server: LocalServer, store: Store) -> None:
    feed = server.route(server.unique("/src.xml"), Reply(body=rss(feed_items(2, "src"))))
    disabled_path = server.unique("/disabled.xml")
    disabled = server.route(disabled_path, Reply(body=rss(feed_items(2, "off"))))
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "coin.pdf").write_bytes(
        minimal_pdf(["Coin whitepaper", "A ledger for everyone."])
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"""
- name: Test Wire
  url: {feed}
  kind: news
  language: en
  entities: [acme, widgets]
- name: Switched off
  url: {disabled}
  enabled: false
- name: Coin papers
  url: papers/coin.pdf
  kind: whitepaper
- name: Broken entry
  kind: news
""",
        encoding="utf-8",
    )
    report = run(store, [sources])
    assert report.inserted == 3 and report.skipped == 1
    assert dict(report.reasons) == {"invalid_sources": 1}
    assert server.hits(disabled_path) == []
    src = {r["name"]: r for r in store.query("SELECT * FROM sources")}
    assert json.loads(src["Test Wire"]["entity_hints"]) == ["acme", "widgets"]
    assert src["Switched off"]["enabled"] == 0
    kinds = {d["title"]: (d["kind"], d["source_id"]) for d in documents(store)}
    assert kinds["Coin whitepaper"] == ("whitepaper", src["Coin papers"]["id"])
    assert kinds["src 0 headline"] == ("news", src["Test Wire"]["id"])
    assert fetch_rows(store, feed)[0]["source_id"] == src["Test Wire"]["id"]


def make_mixed_folder(root: Path) -> Path:
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "notes.txt").write_bytes(
        rss(feed_items(2, "disguised"))
    )  # a feed with a text extension
    (root / "nested" / "paper.bin").write_bytes(
        minimal_pdf(["Disguised PDF", "Its content decides its type."])
    )
    page = ARTICLE_PAGE.format(paragraphs="\n".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS))
    (root / "nested" / "deeper" / "page.dat").write_text(page, encoding="utf-8")
    write_jsonl(
        root / "nested" / "records.data",
        [{"id": "r1", "text": "A JSONL record without the extension."}],
    )
    (root / "readme.txt").write_text(
        "Plain notes\nThe market narrative ran ahead of revenue.", encoding="utf-8"
    )
    (root / "junk.xml").write_bytes(bytes(range(256)) * 40)
    return root


def test_directory_types_are_sniffed_from_content(tmp_path: Path, store: Store) -> None:
    folder = make_mixed_folder(tmp_path / "mixed")
    report = run(store, [folder])
    assert report.inserted == 6, report.to_dict()
    assert dict(report.reasons) == {"unsupported": 1}
    assert report.rejections[0].input.endswith("junk.xml")
    by_title = {d["title"]: d for d in documents(store)}
    assert by_title["disguised 0 headline"]["kind"] == "news"
    assert by_title["Disguised PDF"]["kind"] == "whitepaper"
    assert ARTICLE_PARAGRAPHS[0] in by_title["Chipmaker reports record quarter"]["text"]
    assert by_title["Plain notes"]["kind"] == "other"
    assert any(d["text"] == "A JSONL record without the extension." for d in by_title.values())


def comparable_rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        documents_rows = conn.execute(
            "SELECT d.id, d.external_id, d.url, d.canonical_url, d.title, d.author, d.published_at, d.language,"
            " d.kind, d.text, d.content_hash, s.name FROM documents d LEFT JOIN sources s ON s.id = d.source_id"
            " ORDER BY d.id"
        ).fetchall()
        links = conn.execute(
            "SELECT document_id, entity_id FROM document_entities ORDER BY 1, 2"
        ).fetchall()
    return documents_rows + links


def test_reingest_is_idempotent(tmp_path: Path) -> None:
    folder = make_mixed_folder(tmp_path / "mixed")
    db = tmp_path / "idem.db"
    with Store(db) as store:
        first = run(store, [folder])
        before = comparable_rows(db)
        second = run(store, [folder])
    assert first.inserted == 6
    assert (second.inserted, second.updated) == (0, 0)
    # The JSONL record has no URL and no source, but its id identifies it (not its text).
    assert (second.unchanged, second.duplicates) == (6, 0)
    assert comparable_rows(db) == before


# --------------------------------------------------------------------------- crash safety


def cli_process(db: Path, dump: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from analyzer.cli import main; main()",
            "ingest",
            "--db",
            str(db),
            str(dump),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def count_documents(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_killed_run_restarted_matches_a_clean_run(tmp_path: Path) -> None:
    n_records = 12_000
    records = []
    for i in range(n_records):
        record: dict[str, Any] = {
            "id": f"k{i}",
            "title": f"Record {i}",
            "text": f"Record number {i} says revenue moved by {i % 97} percent in quarter {i % 4}.",
        }
        if i % 50 == 0:
            record["source"] = f"wire-{i % 7}"
        if i % 3 == 0:
            record["url"] = f"https://news.test/{i}?utm_campaign=x"
        if i % 5 == 0:
            record["entities"] = [f"entity-{i % 11}"]
        if i % 1000 == 999:
            record["text"] = (
                "Record number 0 says revenue moved by 0 percent in quarter 0."  # a duplicate
            )
        records.append(record)
    dump = write_jsonl(tmp_path / "big.jsonl", records)

    clean_db = tmp_path / "clean.db"
    with Store(clean_db) as store:
        clean = run(store, [dump])
    assert clean.inserted + clean.duplicates == n_records

    killed_db = tmp_path / "killed.db"
    process = cli_process(killed_db, dump)
    deadline = time.monotonic() + 60
    while (
        count_documents(killed_db) < 400 and process.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert process.poll() is None, (
        "the ingest finished before it could be killed; make the dump bigger"
    )
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial_count = count_documents(killed_db)
    assert 0 < partial_count < n_records

    restarted = cli_process(killed_db, dump)
    _, stderr = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, stderr.decode()
    assert comparable_rows(killed_db) == comparable_rows(clean_db)
    with sqlite3.connect(killed_db) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM runs ORDER BY id")]
    assert statuses == ["running", "ok"]  # the killed run never finished; the restart did


# --------------------------------------------------------------------------- command line


def call_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        cli_main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_summary_json_and_strict(
    tmp_path: Path, server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = server.route(server.unique("/cli.xml"), Reply(body=rss(feed_items(2, "cli"))))
    missing = tmp_path / "does-not-exist.xml"
    db = tmp_path / "cli.db"
    base = ["ingest", "--db", str(db), "--allow-private", "--no-follow-links"]

    code, out, _ = call_cli([*base, "--json", feed, str(missing), "file:///etc/passwd"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["inserted"] == 2 and report["status"] == "ok"
    assert report["rejection_reasons"] == {"missing": 1, "refused": 1}

    code, out, _ = call_cli([*base, feed], capsys)
    assert code == 0
    assert "2 unchanged" in out

    code, out, err = call_cli([*base, "--strict", str(missing)], capsys)
    assert code == 1
    assert "no such file" in err and "Traceback" not in err
    with Store(db) as store:
        assert (
            store.query("SELECT status FROM runs ORDER BY id DESC LIMIT 1")[0]["status"] == "failed"
        )
        assert store.counts()["documents"] == 2  # the failed run lost nothing


def test_strict_mode_raises_from_the_library(tmp_path: Path, store: Store) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{broken\n', encoding="utf-8")
    with pytest.raises(IngestRejected) as caught:
        run(store, [bad], strict=True)
    assert caught.value.report.rejected == 1
    assert "bad.jsonl:2" in str(caught.value)


def test_a_record_the_store_refuses_is_rolled_back_alone(store: Store) -> None:
    from analyzer.ingest import Ingestor
    from analyzer.storage import DocumentRecord

    ingestor = Ingestor(store)
    ingestor._write(
        [
            ("first", DocumentRecord(text="Kept before.", title="before")),
            ("bad", DocumentRecord(text="Refused by the store.", kind="not-a-kind")),
            ("last", DocumentRecord(text="Kept after.", title="after")),
        ]
    )
    assert [d["title"] for d in documents(store)] == ["before", "after"]
    assert [(r.input, r.reason) for r in ingestor.report.rejections] == [("bad", "store_refused")]
