"""The Streamlit app, page by page, through streamlit.testing.v1.AppTest, and its read API.

Pages run against a real seeded database (scored by a tiny real model, analysed by the
pipeline) and a real local HTTP server; nothing is mocked.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from app_seed import HOSTILE_AUTHOR, HOSTILE_SENTENCE, HOSTILE_TITLE, seeded
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from streamlit.testing.v1 import AppTest

from analyzer.errors import FetchError, InputError
from analyzer.storage import Store
from analyzer.views import check as check_reads
from analyzer.views import common
from analyzer.views import documents as documents_reads
from analyzer.views import entity as entity_reads
from analyzer.views import overview as overview_reads
from app_pages import render

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGES = ["overview", "entity", "check", "documents", "model"]


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:  # noqa: F811
    return seeded(tmp_path_factory, tiny_model_dir)


@pytest.fixture
def app_env(seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("ANALYZER_DB", str(seed["path"]))
    monkeypatch.setenv("ANALYZER_MODEL", str(seed["model_dir"]))
    return seed


def run_page(page: str = "overview", timeout: float = 30) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=timeout).run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py").run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def html_bodies(at: AppTest) -> str:
    return "\n".join(element.value for element in at.get("html"))


# Tables are told apart by a column only they have (display-only dataframes expose no key).
TABLE_MARKERS = {
    "overview_entities": "trend",
    "entity_documents": "counted",
    "docs_table": "snippet",
    "check_figures": "figure",
    "check_entities": "mentions",
    "model_versions": "on screen",
}


def dataframe(at: AppTest, name: str) -> pd.DataFrame:
    marker = TABLE_MARKERS[name]
    for element in at.dataframe:
        if marker in element.value.columns:
            return element.value
    raise AssertionError(f"no {name} table; have {[list(e.value.columns) for e in at.dataframe]}")


def texts(at: AppTest, kind: str) -> list[str]:
    """The elements' text as a reader sees it (Markdown backslash escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", str(element.value)) for element in getattr(at, kind)]


def sources(at: AppTest, kind: str) -> list[str]:
    """The elements' Markdown source, escapes included."""
    return [str(element.value) for element in getattr(at, kind)]


# --------------------------------------------------------------------------- overview


def test_overview_ranks_entities_with_trends_and_explains_flags(app_env: dict[str, Any]) -> None:
    at = run_page("overview")
    table = dataframe(at, "overview_entities")
    assert set(table["entity"]) == {"nvidia", "solana", "ai-datacenters"}
    assert all(len(list(trend)) >= 2 for trend in table["trend"])
    # The ranking puts entities flagged now first, then the largest current divergence.
    flagged_first = table["flagged_now"].tolist()
    assert flagged_first == sorted(flagged_first, reverse=True)
    for _, group in table.groupby("flagged_now"):
        divergences = group["divergence"].fillna(-np.inf).tolist()
        assert divergences == sorted(divergences, reverse=True)
    lines = html_bodies(at)
    assert "Nvidia · revenue" in lines
    assert "narrative heat up" in lines and "σ" in lines
    assert app_env["flags"], "the seeded story should raise at least one flag"


def test_overview_computes_on_the_fly_when_nothing_is_materialised(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    copy = tmp_path / "unanalysed.db"
    with sqlite3.connect(seed["path"]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with Store(copy) as store, store.transaction():
        for table in ("analysis_runs", "heat", "heat_sources", "divergence", "flags", "statistics"):
            store.conn.execute(f"DELETE FROM {table}")
    monkeypatch.setenv("ANALYZER_DB", str(copy))
    at = run_page("overview")
    assert any(
        "computed on the fly" in c and "analyzer divergence" in c for c in texts(at, "caption")
    )
    assert set(dataframe(at, "overview_entities")["entity"]) == {
        "nvidia",
        "solana",
        "ai-datacenters",
    }
    assert "Nvidia · revenue" in html_bodies(at)


def test_overview_flag_lines_match_the_numbers(app_env: dict[str, Any]) -> None:
    flags = overview_reads.latest_flags(app_env["path"], "quarter", app_env["model_version"])
    assert not flags.empty
    nvidia = flags[(flags["entity"] == "nvidia") & (flags["metric"] == "revenue")].iloc[0]
    frame = entity_reads.entity_view(
        app_env["path"], "nvidia", "quarter", app_env["model_version"]
    )["divergence"]
    peak = frame[(frame["metric"] == "revenue") & (frame["period"] == nvidia["peak_period"])].iloc[
        0
    ]
    heat_z = peak.get("heat_z")
    heat_z = peak["heat"] if heat_z is None or pd.isna(heat_z) else heat_z
    expected_direction = "up" if heat_z >= 0 else "down"
    assert f"narrative heat {expected_direction} {abs(heat_z):.1f}σ" in nvidia["summary"]
    assert f"peak divergence {nvidia['peak_value']:.1f}" in nvidia["summary"]


def test_describe_flag_words_follow_the_direction_of_growth() -> None:
    periods = pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"])
    rows = pd.DataFrame(
        {
            "period": periods,
            "heat": [0.5, 2.0, 3.0],
            "heat_z": [0.4, 1.8, 2.6],
            "fundamental_growth": [0.30, 0.12, -0.05],
            "growth_z": [1.0, -0.2, -1.5],
            "growth_basis": "yoy",
        }
    )
    flag = {
        "entity": "acme",
        "metric": "revenue",
        "freq": "quarter",
        "start": periods[1],
        "end": periods[2],
        "peak_period": periods[2],
        "peak_value": 4.1,
        "periods": 2,
    }
    falling = common.describe_flag(flag, rows, "Acme")
    assert "narrative heat up 2.6σ" in falling and "revenue fell 5% year over year" in falling
    assert "2024 Q2–2024 Q3" in falling
    slowing = common.describe_flag({**flag, "peak_period": periods[1]}, rows, "Acme")
    assert "revenue growth slowed to 12% year over year (from 30%)" in slowing


# --------------------------------------------------------------------------- entity


def test_entity_page_shows_series_flags_lead_lag_and_period_evidence(
    app_env: dict[str, Any],
) -> None:
    at = run_page("entity")
    at.selectbox(key="entity_choice").set_value("nvidia").run()
    assert_clean(at)
    assert at.get("plotly_chart"), "the heat chart is drawn"
    assert "Nvidia · revenue" in html_bodies(at)
    subheaders = texts(at, "subheader")
    assert "Lead and lag" in subheaders
    assert any("Caveat" in caption for caption in texts(at, "caption"))

    period_box = at.selectbox(key="entity_period_nvidia_quarter")
    latest = period_box.options[0]
    period_box.set_value(period_box.options[0]).run()
    assert_clean(at)
    documents = dataframe(at, "entity_documents")
    assert len(documents) > 0
    assert documents["published_at"].str.startswith("2024-1").all()
    # The highest-hype sentences are rendered escaped: the hostile sentence never becomes markup.
    bodies = html_bodies(at)
    assert "<img" not in bodies and "onerror=alert(1)&gt;" in bodies.replace("&#x27;", "'")
    assert latest

    at.radio(key="entity_chart_mode").set_value("Standardised").run()
    assert_clean(at)
    assert at.get("plotly_chart")


def test_entity_page_follows_the_entity_named_in_the_link(app_env: dict[str, Any]) -> None:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page("app_pages/entity.py")
    at.query_params["entity"] = "solana"
    at.run()
    assert_clean(at)
    assert at.selectbox(key="entity_choice").value == "solana"
    at.selectbox(key="entity_choice").set_value("nvidia").run()
    assert at.query_params["entity"] == "nvidia"  # the URL follows the choice, so it can be shared


def test_entity_page_without_fundamentals_says_so(app_env: dict[str, Any]) -> None:
    at = run_page("entity")
    at.selectbox(key="entity_choice").set_value("ai-datacenters").run()
    assert_clean(at)
    assert any("No fundamentals are loaded" in caption for caption in texts(at, "caption"))


def test_lead_lag_summary_reads_its_own_numbers(app_env: dict[str, Any]) -> None:
    summary = entity_reads.lead_lag_summary(
        app_env["path"], "nvidia", "revenue", "quarter", app_env["model_version"]
    )
    assert len(summary["granger"]) == 2
    if summary["best_lag"] is None:
        assert summary["sentence"].startswith("No lead-lag estimate")
    else:
        assert f"{summary['best_correlation']:+.2f}" in summary["sentence"]
        if summary["best_lag"]:
            assert f"{abs(summary['best_lag'])} quarter" in summary["sentence"]
    assert "Granger" in summary["caveat"]


def test_entity_view_warns_when_too_few_documents(app_env: dict[str, Any]) -> None:
    view = entity_reads.entity_view(
        app_env["path"], "ai-datacenters", "quarter", app_env["model_version"]
    )
    assert view["reliability"]["median_stories"] < entity_reads.MIN_RELIABLE_STORIES
    assert "unreliable" in view["reliability"]["warning"]
    with pytest.raises(InputError):
        entity_reads.entity_view(
            app_env["path"], "no-such-entity", "quarter", app_env["model_version"]
        )


# --------------------------------------------------------------------------- documents


def test_documents_page_searches_filters_and_escapes(app_env: dict[str, Any]) -> None:
    at = run_page("documents")
    table = dataframe(at, "docs_table")
    assert len(table) == 50  # one page
    assert table["url"].str.startswith("https://").all()

    at.text_input(key="docs_search").set_value("whitepaper").run()
    assert_clean(at)
    found = dataframe(at, "docs_table")
    assert "Solana whitepaper" in set(found["title"])

    at.text_input(key="docs_search").set_value("").run()
    at.selectbox(key="docs_kind").set_value("whitepaper").run()
    assert_clean(at)
    assert set(dataframe(at, "docs_table")["kind"]) == {"whitepaper"}

    at.selectbox(key="docs_kind").set_value("").run()
    at.selectbox(key="docs_entity").set_value("solana").run()
    # Solana has more documents than the default page holds: show them all on one page.
    at.selectbox(key="docs_page_size").set_value(200).run()
    assert_clean(at)
    solana = dataframe(at, "docs_table")
    _, solana_total = documents_reads.search_documents(
        app_env["path"], {"entity": "solana"}, limit=1
    )
    assert len(solana) == solana_total
    assert solana["entities"].str.contains("solana").all()
    assert {"news", "whitepaper"} <= set(solana["kind"])  # the kind filter was cleared

    at.selectbox(key="docs_page_size").set_value(50).run()
    at.selectbox(key="docs_entity").set_value("").run()
    at.slider(key="docs_hype").set_value((0.5, 1.0)).run()
    assert_clean(at)
    narrowed = dataframe(at, "docs_table")
    assert (narrowed["hype"] >= 0.5).all()

    # The hostile title is data in a table and escaped text in the reader, never markup.
    at.slider(key="docs_hype").set_value((0.0, 1.0)).run()
    at.text_input(key="docs_search").set_value("mania").run()
    assert_clean(at)
    assert HOSTILE_TITLE in set(dataframe(at, "docs_table")["title"])
    bodies = html_bodies(at)
    assert "<img" not in bodies and "&lt;img src=x" in bodies
    # The author line reads as written but its Markdown is inert (no remote image, no link).
    assert any(HOSTILE_AUTHOR in caption for caption in texts(at, "caption"))
    assert not any("](" in caption for caption in sources(at, "caption"))


def test_documents_page_turns_a_malformed_query_into_a_message(app_env: dict[str, Any]) -> None:
    at = run_page("documents")
    at.text_input(key="docs_search").set_value('"unbalanced AND (').run()
    assert not at.exception
    assert any("not a valid full-text query" in warning for warning in texts(at, "warning"))


def test_search_documents_paginates_in_sql(app_env: dict[str, Any]) -> None:
    first, total = documents_reads.search_documents(
        app_env["path"], {"sort": "oldest"}, limit=20, offset=0
    )
    second, same_total = documents_reads.search_documents(
        app_env["path"], {"sort": "oldest"}, limit=20, offset=20
    )
    assert total == same_total == app_env["documents"]
    assert len(first) == len(second) == 20
    assert not set(first["id"]) & set(second["id"])
    assert first["published_at"].max() <= second["published_at"].min()
    with pytest.raises(InputError):
        documents_reads.search_documents(app_env["path"], {"text": "NEAR("})


# --------------------------------------------------------------------------- check


CHECK_TEXT = (
    "Nvidia will change everything and nothing can stop it! "
    "Revenue rose 12% to $30.5 billion, according to the audited filing. "
    "The company shipped 2.5 million GPUs, a 3x increase."
)


@pytest.mark.slow
def test_check_page_scores_pasted_text_against_the_corpus(app_env: dict[str, Any]) -> None:
    at = run_page("check", timeout=120)
    at.text_area(key="check_text").set_value(CHECK_TEXT)
    at.button(key="check_text_button").click().run()
    assert_clean(at)
    assert [m.label for m in at.metric] == ["Hype", "Growth", "Evidence"]
    captions = texts(at, "caption")
    assert any("% of" in c and "Nvidia coverage" in c for c in captions), captions
    assert at.selectbox(key="check_scope").value == "nvidia"  # the entity the text mentions
    bodies = html_bodies(at)
    assert bodies.count('class="hype-sentence"') == 3
    assert 'title="hype ' in bodies
    figures = dataframe(at, "check_figures")
    assert {"$30.5 billion", "12%", "2.5 million GPUs", "3x"} <= set(figures["figure"])
    where = dict(zip(figures["figure"], figures["sentence"]))
    assert where["$30.5 billion"] == 2 and where["3x"] == 3  # numbered as a reader counts sentences
    assert "nvidia" in set(dataframe(at, "check_entities")["entity"])
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Download CSV", "Download JSON"]

    at.selectbox(key="check_scope").set_value("*").run()
    assert_clean(at)
    assert any("stored documents" in c for c in texts(at, "caption")), texts(at, "caption")


@pytest.mark.slow
def test_check_page_scores_a_text_shared_in_a_link(app_env: dict[str, Any]) -> None:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("app_pages/check.py")
    at.query_params["text"] = "Solana is going to the moon! Fees rose 40% to $3 million."
    at.run()
    assert_clean(at)
    assert [m.label for m in at.metric] == ["Hype", "Growth", "Evidence"]
    assert {"40%", "$3 million"} <= set(dataframe(at, "check_figures")["figure"])


@pytest.mark.slow
def test_check_page_escapes_untrusted_text(app_env: dict[str, Any]) -> None:
    at = run_page("check", timeout=120)
    at.text_area(key="check_text").set_value(
        "<script>alert('x')</script> This will change everything! <b onmouseover=alert(2)>Buy now</b>."
    )
    at.button(key="check_text_button").click().run()
    assert_clean(at)
    bodies = html_bodies(at)
    assert "<script>" not in bodies and "<b " not in bodies
    assert "&lt;script&gt;" in bodies and "&lt;b onmouseover=alert(2)&gt;" in bodies


@pytest.mark.slow
def test_check_page_says_plainly_when_the_language_is_not_covered(app_env: dict[str, Any]) -> None:
    at = run_page("check", timeout=120)
    at.text_area(key="check_text").set_value(
        "この会社の売上高は前年比で二割増加した。新しい工場は来年稼働する予定だ。市場は急速に拡大している。"
    )
    at.button(key="check_text_button").click().run()
    assert_clean(at)
    assert any("Not scored" in w and "`ja`" in w for w in texts(at, "warning"))
    assert not at.metric


def test_check_page_refuses_private_addresses_with_a_message(app_env: dict[str, Any]) -> None:
    at = run_page("check")
    at.radio(key="check_mode").set_value("Fetch a URL").run()
    at.text_input(key="check_url").set_value("http://127.0.0.1:9/article")
    at.button(key="check_url_button").click().run()
    assert not at.exception
    assert any("not allowed" in w for w in texts(at, "warning"))
    at.text_input(key="check_url").set_value("file:///etc/passwd")
    at.button(key="check_url_button").click().run()
    assert any("Could not use that address" in w for w in texts(at, "warning"))


ARTICLE_HTML = """<!doctype html><html><head><title>Chip boom</title></head><body>
<nav>Home | Markets</nav><article><h1>Chip boom</h1>
<p>Nvidia will change everything, analysts said on Tuesday, as orders for data center chips kept rising.</p>
<p>The company reported revenue of $30 billion for the quarter, up 94% from a year earlier.</p>
<p>Suppliers said capacity would stay tight until the middle of next year, according to three executives.</p>
</article><footer>Copyright</footer></body></html>"""


@pytest.fixture
def article_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/robots.txt":
                self.send_response(404)
                self.end_headers()
                return
            body = ARTICLE_HTML.encode() if self.path == "/article" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_article_downloads_and_extracts_with_the_safe_fetcher(article_server: str) -> None:
    article = check_reads.fetch_article(f"{article_server}/article", allow_private=True)
    assert "revenue of $30 billion" in article["text"]
    assert "Copyright" not in article["text"]
    with pytest.raises(FetchError, match="not allowed"):
        check_reads.fetch_article(f"{article_server}/article")
    with pytest.raises(FetchError, match="HTTP 404"):
        check_reads.fetch_article(f"{article_server}/missing", allow_private=True)


# --------------------------------------------------------------------------- model


def test_model_page_shows_card_metrics_and_the_version_on_screen(app_env: dict[str, Any]) -> None:
    at = run_page("model")
    versions = dataframe(at, "model_versions")
    on_screen = versions[versions["on screen"]]
    assert list(on_screen["model_version"]) == [app_env["model_version"]]
    assert bool(on_screen["this model"].iloc[0])
    assert [m.label for m in at.metric] == ["Macro F1", "AUROC", "ECE"]
    assert any("Hype/growth/evidence sentence classifier" in m for m in texts(at, "markdown"))


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("page", PAGES)
def test_missing_database_gives_a_next_step_on_every_page(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYZER_DB", str(tmp_path / "missing.db"))
    monkeypatch.setenv("ANALYZER_MODEL", str(tmp_path / "no-model"))
    at = run_page(page)
    notices = texts(at, "info") + texts(at, "warning")
    if page == "check":
        assert at.text_area(key="check_text") is not None
    else:
        assert any("analyzer" in n for n in notices), notices
    assert not (tmp_path / "missing.db").exists(), "reading must not create a database"


def test_empty_database_explains_how_to_fill_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(tmp_path / "empty.db").close()
    monkeypatch.setenv("ANALYZER_DB", str(tmp_path / "empty.db"))
    for page in ("overview", "entity", "documents"):
        at = run_page(page)
        assert any("No documents yet" in n and "analyzer ingest" in n for n in texts(at, "info"))


def test_missing_model_gives_a_message_not_a_traceback(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYZER_DB", str(seed["path"]))
    monkeypatch.setenv("ANALYZER_MODEL", str(tmp_path / "no-model"))
    at = run_page("check")
    at.text_area(key="check_text").set_value("This will change everything!")
    at.button(key="check_text_button").click().run()
    assert not at.exception
    assert any(
        "model is not available" in w and "analyzer train" in w for w in texts(at, "warning")
    )
    at = run_page("model")
    assert any("No model found" in w for w in texts(at, "warning"))


# --------------------------------------------------------------------------- read API


def test_percentiles_match_a_direct_count_of_stored_scores(app_env: dict[str, Any]) -> None:
    with Store(app_env["path"]) as store:
        stored = pd.DataFrame(
            store.query(
                "SELECT hype FROM scores WHERE model_version = ? AND unscored = 0",
                (app_env["model_version"],),
            )
        )
    probe = float(stored["hype"].quantile(0.8))
    result = check_reads.corpus_percentiles(
        app_env["path"],
        {"hype": probe, "growth": None, "evidence": None},
        model_version=app_env["model_version"],
        latest_quarter=False,
    )
    expected = (
        100 * ((stored["hype"] < probe).sum() + 0.5 * (stored["hype"] == probe).sum()) / len(stored)
    )
    assert result["percentiles"]["hype"] == pytest.approx(expected)
    assert result["percentiles"]["growth"] is None
    assert result["n"] == len(stored)
    other = check_reads.corpus_percentiles(
        app_env["path"], {"hype": probe}, model_version="another-version"
    )
    assert other["percentiles"]["hype"] is None and "analyzer score" in other["reason"]


def test_extract_figures_finds_money_percentages_multiples_and_units() -> None:
    figures = check_reads.extract_figures(
        [
            "Revenue hit $1.2bn, up 35% year on year.",
            "It now has 300 million users and 4 GW of capacity, a 10x jump.",
            "Margins fell 2.5 percentage points to €40 million.",
            "Nothing numeric here, only words.",
        ]
    )
    found = dict(zip(figures["figure"], figures["kind"]))
    assert found["$1.2bn"] == "money"
    assert found["35%"] == "percent"
    assert found["300 million users"] == "quantity"
    assert found["4 GW"] == "quantity"
    assert found["10x"] == "multiple"
    assert found["2.5 percentage points"] == "percent"
    assert found["€40 million"] == "money"
    values = dict(zip(figures["figure"], figures["value"]))
    assert values["$1.2bn"] == pytest.approx(1.2e9)
    assert values["300 million users"] == pytest.approx(3e8)
    assert 3 not in set(figures["sentence"])


def test_markdown_escape_neutralises_links_images_colours_and_maths() -> None:
    escaped = render.markdown_escape(
        "![x](http://t.example/p.png) [a](b) :red[c] $5 and $6 _i_ <b>"
    )
    assert re.search(r"(?<!\\)[\[\]()$<>:_!]", escaped) is None  # nothing special left unescaped
    assert (
        re.sub(r"\\(.)", r"\1", escaped)
        == "![x](http://t.example/p.png) [a](b) :red[c] $5 and $6 _i_ <b>"
    )


def test_highlighting_escapes_every_sentence_and_score() -> None:
    sentences = pd.DataFrame(
        {
            "text": [HOSTILE_SENTENCE, 'Plain "quoted" & fine.', "Unscored."],
            "hype": [0.9, 0.1, None],
            "growth": [0.2, 0.3, None],
            "evidence": [0.0, 0.5, None],
        }
    )
    markup = render.highlight_sentences_html(sentences)
    assert "<img" not in markup and "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "&quot;quoted&quot; &amp; fine." in markup
    assert 'title="hype 0.90 · growth 0.20 · evidence 0.00"' in markup
    assert "hype –" in markup
    assert markup.count('class="hype-sentence"') == 3


def test_check_result_downloads_hold_every_sentence() -> None:
    import json

    sentences = pd.DataFrame(
        {
            "sentence": [0, 1],
            "text": ["One.", "Two."],
            "hype": [0.2, 0.8],
            "growth": [0.1, 0.1],
            "evidence": [0.5, np.nan],
        }
    )
    result = {
        "hype": 0.5,
        "growth": 0.1,
        "evidence": 0.5,
        "language": "en",
        "model_version": "v",
        "unscored": False,
        "sentences": sentences,
        "figures": check_reads.extract_figures(["One."]),
    }
    csv_lines = check_reads.check_result_csv(result).strip().splitlines()
    assert len(csv_lines) == 3 and "document_hype" in csv_lines[0]
    document = json.loads(check_reads.check_result_json(result, source="pasted text"))
    assert [s["text"] for s in document["sentences"]] == ["One.", "Two."]
    assert document["sentences"][1]["evidence"] is None
    assert document["hype"] == 0.5
