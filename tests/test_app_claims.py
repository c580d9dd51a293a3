"""The claims ledger in the app: the Claims page, the Entity page's claim markers, the claims the
Check page finds, the Overview's reliability column, and the read model and figures behind them.

Pages run through streamlit.testing.v1.AppTest against a copy of the seeded database (scored by
the tiny real model) with claim-bearing documents added, extracted by the rules extractor and
checked against the seeded fundamentals; nothing is mocked. Expected figures come from the
ledger itself, read through the library, never typed in.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from app_seed import CLAIM_DOCUMENTS, CLAIMS_CHECKED_ON, HOSTILE_CLAIM_MARKUP, seed_claims, seeded
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from streamlit.testing.v1 import AppTest

from analyzer.claims.check import MAX_BASELINE_AGE_DAYS, measured_series
from analyzer.claims.ledger import claims_frame, claims_scorecard
from analyzer.storage import Store
from analyzer.views import claims as claims_reads
from analyzer.views import overview as overview_reads
from analyzer.views import plots
from app_pages import render

APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture(scope="session")
def claims_seed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:  # noqa: F811
    seed = seeded(tmp_path_factory, tiny_model_dir)
    info = seed_claims(
        seed["path"], tmp_path_factory.mktemp("claims") / "claims.db", seed["model_dir"]
    )
    return {**seed, **info, "plain_path": seed["path"]}


@pytest.fixture
def claims_env(claims_seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("ANALYZER_DB", str(claims_seed["path"]))
    monkeypatch.setenv("ANALYZER_MODEL", str(claims_seed["model_dir"]))
    return claims_seed


def ledger(path: Path) -> pd.DataFrame:
    with Store(path, readonly=True) as store:
        return claims_frame(store)


def run_page(page: str, timeout: float = 60, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=timeout).run()
    at.switch_page(f"app_pages/{page}.py")
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def html_bodies(at: AppTest) -> str:
    return "\n".join(element.value for element in at.get("html"))


def table(at: AppTest, marker: str) -> pd.DataFrame:
    """The dataframe with a column only it has."""
    for element in at.dataframe:
        if marker in element.value.columns:
            return element.value
    raise AssertionError(
        f"no table with {marker!r}; have {[list(e.value.columns) for e in at.dataframe]}"
    )


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array: Any) -> list[Any]:
    """A trace's array as sent to the browser: a list, or Plotly's typed array (dtype + base64)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(
            base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])
        ).tolist()
    return list(array)


def texts(at: AppTest, kind: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", str(element.value)) for element in getattr(at, kind)]


# --------------------------------------------------------------------------- the seeded ledger


def test_the_seeded_ledger_holds_met_missed_pending_and_unverifiable_claims(
    claims_seed: dict[str, Any],
) -> None:
    claims = ledger(claims_seed["path"])
    assert not claims_seed["extracted"]["failed"]
    assert set(claims["document_id"]) == set(claims_seed["document_ids"])
    assert {"met", "missed", "pending", "unverifiable"} <= set(claims["status"])
    nvidia = claims[claims["entity_id"] == "nvidia"]
    assert {"met", "missed"} <= set(nvidia["status"])


# --------------------------------------------------------------------------- Claims page


def test_claims_page_shows_the_scorecard_and_every_claim(claims_env: dict[str, Any]) -> None:
    at = run_page("claims")
    card = table(at, "unverifiable")
    with Store(claims_env["path"], readonly=True) as store:
        expected = claims_scorecard(store).set_index("entity_id")
    shown = card.set_index("entity_id")
    assert set(shown.index) == set(expected.index)
    for entity, row in expected.iterrows():
        for column in ("made", "met", "missed", "pending", "unverifiable"):
            assert shown.loc[entity, column] == row[column], (entity, column)
    nvidia = shown.loc["nvidia"]
    assert nvidia["reliability"] == pytest.approx(
        nvidia["met"] / (nvidia["met"] + nvidia["missed"])
    )
    assert f"({nvidia['met']} met, {nvidia['missed']} missed)" in nvidia["record"]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Met"] == str(int(expected["met"].sum()))
    assert labels["Missed"] == str(int(expected["missed"].sum()))

    rows = table(at, "document_link")
    stored = ledger(claims_env["path"])
    assert len(rows) == len(stored)
    assert set(rows["claim_key"]) == set(stored["claim_key"])
    for row in rows.itertuples():
        assert row.document_link == f"documents?document={row.document_id}"
    bodies = html_bodies(at)
    # Each claim's sentence is drawn with its quantity and horizon emphasised.
    assert bodies.count('class="claim-card"') >= len(rows)
    assert 'class="claim-quantity"' in bodies and 'class="claim-horizon"' in bodies


def test_claims_page_filters_by_entity_status_and_due_date(claims_env: dict[str, Any]) -> None:
    at = run_page("claims")
    everything = table(at, "document_link")

    at.selectbox(key="claims_status").set_value("met").run()
    assert_clean(at)
    met = table(at, "document_link")
    assert len(met) > 0 and set(met["status"]) == {"met"}
    assert len(met) < len(everything)

    at.selectbox(key="claims_status").set_value("").run()
    at.selectbox(key="claims_entity").set_value("solana").run()
    assert_clean(at)
    solana = table(at, "document_link")
    assert len(solana) > 0 and set(solana["entity_id"]) == {"solana"}

    at.selectbox(key="claims_entity").set_value("").run()
    cutoff = date(2024, 6, 30)
    at.date_input(key="claims_due_before").set_value(cutoff).run()
    assert_clean(at)
    due = table(at, "document_link")
    assert len(due) > 0 and len(due) < len(everything)
    assert (due["horizon"] < cutoff.isoformat()).all()
    expected = everything[
        everything["horizon"].notna() & (everything["horizon"] < cutoff.isoformat())
    ]
    assert set(due["claim_key"]) == set(expected["claim_key"])


def test_claims_page_follows_the_entity_named_in_the_link(claims_env: dict[str, Any]) -> None:
    at = run_page("claims", entity="solana")
    assert at.selectbox(key="claims_entity").value == "solana"
    assert set(table(at, "document_link")["entity_id"]) == {"solana"}


def test_claims_page_renders_untrusted_sentences_as_text(claims_env: dict[str, Any]) -> None:
    stored = ledger(claims_env["path"])
    assert stored["sentence"].str.contains(HOSTILE_CLAIM_MARKUP, regex=False).any(), (
        "the hostile claim is stored"
    )
    at = run_page("claims")
    bodies = html_bodies(at)
    assert "<script>" not in bodies
    assert "&lt;script&gt;alert(&#x27;claim&#x27;)&lt;/script&gt;" in bodies
    # The hostile title reaches the page only escaped too.
    assert "<b>Nvidia</b>" not in bodies and "&lt;b&gt;Nvidia&lt;/b&gt;" in bodies


def test_claims_page_draws_the_realised_series_and_the_claimed_path(
    claims_env: dict[str, Any],
) -> None:
    at = run_page("claims")
    key = next(box.key for box in at.selectbox if box.key and box.key.startswith("claims_claim"))
    box = at.selectbox(key=key)
    rows = table(at, "document_link")
    chosen = rows.iloc[box.value]
    assert chosen["status"] in ("met", "missed"), "a checked claim is shown first"
    spec = figures(at)[-1]
    traces = {trace["name"]: trace for trace in spec["data"]}
    path = traces["claimed path"]
    path_values = values(path["y"])
    assert path_values[0] == pytest.approx(chosen["baseline_checked"])
    assert path_values[1] == pytest.approx(chosen["baseline_checked"] * chosen["claimed_change"])
    realised = traces["at the horizon"]
    assert values(realised["y"])[0] == pytest.approx(chosen["realised_value"])
    assert chosen["realised_value"] / chosen["baseline_checked"] == pytest.approx(
        chosen["realised_change"]
    )
    # The page links to the claim's document on the Documents page.
    links = at.get("page_link")
    assert links and any(
        f"document={int(chosen['document_id'])}" in str(link.proto) for link in links
    )

    pending = next(i for i, status in enumerate(rows["status"]) if status == "pending")
    box.set_value(pending).run()
    assert_clean(at)
    assert any("Not checked against a series" in c for c in texts(at, "caption"))


def test_documents_page_opens_the_document_named_in_the_link(claims_env: dict[str, Any]) -> None:
    document_id = claims_env["document_ids"][0]
    at = run_page("documents", document=str(document_id))
    assert at.selectbox(key="docs_document").value == document_id
    assert CLAIM_DOCUMENTS[0][2].split(",")[0] in html_bodies(at)


def test_claims_page_without_claims_says_how_to_make_them(
    claims_seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYZER_DB", str(claims_seed["plain_path"]))
    at = run_page("claims")
    assert any("analyzer claims extract" in n for n in texts(at, "info"))


# --------------------------------------------------------------------------- Entity page


def test_entity_page_marks_claims_at_publication_and_horizon(claims_env: dict[str, Any]) -> None:
    at = run_page("entity", entity="nvidia")
    stored = ledger(claims_env["path"])
    nvidia = stored[stored["entity_id"] == "nvidia"]
    spec = figures(at)[0]
    traces = {trace["name"]: trace for trace in spec["data"]}
    published = traces["claim published"]
    shown_dates = {str(x)[:10] for x in values(published["x"])}
    heat_end = max(str(x)[:10] for x in values(traces["Narrative heat (z)"]["x"]))
    expected = {str(p)[:10] for p in nvidia["published_at"] if str(p)[:10] <= heat_end}
    assert expected and expected <= shown_dates
    for status in ("met", "missed"):
        due = traces[f"claim due: {status}"]
        wanted = {str(h)[:10] for h in nvidia[nvidia["status"] == status]["horizon"]}
        assert {str(x)[:10] for x in values(due["x"])} == wanted
        assert all(status in text for text in due["customdata"])
    # Hover text carries the sentence, escaped (the hostile claim is published inside the timeline).
    hostile = nvidia[nvidia["sentence"].str.contains(HOSTILE_CLAIM_MARKUP, regex=False)]
    assert str(hostile["published_at"].iloc[0])[:10] in shown_dates
    hovers = " ".join(published["customdata"])
    assert "<script>" not in hovers and "&lt;script&gt;" in hovers


def test_claim_markers_are_a_pure_addition_to_the_figure() -> None:
    periods = pd.to_datetime(["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01"])
    base = go.Figure(go.Scatter(x=periods, y=[0.1, 0.5, 1.2, 0.9], name="heat"))
    claims = pd.DataFrame(
        {
            "published_at": ["2023-02-10", "2023-05-01", "2023-08-15"],
            "horizon": ["2023-12-31", "2030-12-31", None],
            "status": ["met", "pending", "pending"],
            "metric": ["revenue", "capacity", "other"],
            "claimed": ["+30%", "×3.0", ""],
            "sentence": [
                "Revenue will grow 30% this year.",
                "Capacity <b>triples</b> by 2030.",
                "It will boom.",
            ],
            "status_reason": [
                None,
                "horizon 2030-12-31 not reached on 2024-01-01",
                "no horizon stated",
            ],
        }
    )
    marked = plots.add_claim_markers(base, claims)
    assert len(base.data) == 1, "the input figure is left as it was"
    traces = {trace.name: trace for trace in marked.data}
    assert len(traces["claim published"].x) == 3
    assert [str(x)[:10] for x in traces["claim due: met"].x] == ["2023-12-31"]
    assert (
        "claim due: pending" not in traces
    )  # 2030 lies beyond the timeline; no horizon for the third
    assert any(
        "1 claim horizon(s) after the last period" in a.text for a in marked.layout.annotations
    )
    hover = " ".join(traces["claim published"].customdata)
    assert "&lt;b&gt;triples&lt;/b&gt;" in hover and "<b>triples" not in hover
    assert plots.add_claim_markers(base, claims.iloc[0:0]).data == base.data


# --------------------------------------------------------------------------- Overview


def test_overview_has_a_claim_reliability_column(claims_env: dict[str, Any]) -> None:
    at = run_page("overview")
    ranking = table(at, "trend")
    assert "claim_record" in ranking.columns
    with Store(claims_env["path"], readonly=True) as store:
        card = claims_scorecard(store).set_index("entity_id")
    for row in ranking.itertuples():
        if (
            row.entity in card.index
            and card.loc[row.entity, "met"] + card.loc[row.entity, "missed"]
        ):
            met, missed = int(card.loc[row.entity, "met"]), int(card.loc[row.entity, "missed"])
            assert row.claim_record == f"{met / (met + missed):.0%} ({met} met, {missed} missed)"
            assert row.claim_reliability == pytest.approx(met / (met + missed))
        elif row.entity not in card.index or not card.loc[row.entity, "due"]:
            assert row.claim_record == ""


def test_overview_leaves_the_column_blank_without_claims(claims_seed: dict[str, Any]) -> None:
    plain = overview_reads.overview(claims_seed["plain_path"], "quarter")
    assert (plain["claim_record"] == "").all() and plain["claim_reliability"].isna().all()


def test_reliability_words_follow_the_counts() -> None:
    assert claims_reads.reliability_text(4, 1, 7) == "80% (4 met, 1 missed)"
    assert claims_reads.reliability_text(0, 0, 0) == ""
    assert claims_reads.reliability_text(0, 0, 2) == "– (2 due, none checkable)"
    assert claims_reads.format_change(2.0) == "×2.0"
    assert claims_reads.format_change(1.25) == "+25%"
    assert claims_reads.format_change(0.9) == "−10%"
    assert claims_reads.format_change(None) == ""


# --------------------------------------------------------------------------- Check page


CHECK_CLAIM = "Nvidia will double its revenue by 2027, an analyst said."


@pytest.mark.slow
def test_check_page_lists_the_claims_in_a_written_sentence(claims_env: dict[str, Any]) -> None:
    at = run_page("check", timeout=120)
    at.text_area(key="check_text").set_value(CHECK_CLAIM + " The weather was mild.")
    at.button(key="check_text_button").click().run()
    assert_clean(at)
    found = table(at, "when_due")
    assert len(found) == 1
    claim = found.iloc[0]
    assert claim["metric"] == "revenue" and claim["claimed_change"] == pytest.approx(2.0)
    assert claim["horizon"] == "2027-12-31"
    assert claim["entity_id"] == "nvidia"
    assert claim["hedge"] and claim["status"] in ("pending", "unverifiable")
    if date.today() <= date(2027, 12, 31):
        assert claim["status"] == "pending" and "not reached" in claim["status_reason"]
    # Nvidia has a revenue series; it is a usable baseline while its last value is recent enough.
    with Store(claims_env["path"], readonly=True) as store:
        last_revenue = date.fromisoformat(
            max(r["date"] for r in store.fundamentals("nvidia", "revenue"))[:10]
        )
    if (date.today() - last_revenue).days <= MAX_BASELINE_AGE_DAYS:
        assert claim["when_due"] == "checkable against the stored fundamentals"
    else:
        assert claim["when_due"] == (
            f"unverifiable: no revenue value for 'nvidia' known at publication "
            f"({date.today().isoformat()})"
        )
    assert bool(claim["in_ledger"]) == (claim["growth"] >= claims_reads.DEFAULT_GROWTH_THRESHOLD)
    bodies = html_bodies(at)
    assert 'class="claim-quantity"' in bodies and "double" in bodies


def test_checked_text_claims_say_what_the_ledger_would_store(claims_seed: dict[str, Any]) -> None:
    text = (
        "AI data centers will double their electricity use by 2028, planners say. "
        "Nvidia revenue rose 12% last quarter. Solana's total value locked will triple by the end of 2023."
    )
    found = claims_reads.checked_text_claims(
        claims_seed["path"], text, published_at="2023-01-05", as_of=CLAIMS_CHECKED_ON
    )
    by_entity = {row["entity_id"]: row for row in found.to_dict("records")}
    datacenters = by_entity["ai-datacenters"]
    assert datacenters["status"] == "pending"
    assert (
        datacenters["when_due"].startswith("unverifiable")
        and "no fundamentals" in datacenters["when_due"]
    )
    # Published in early 2023 with a 2023 horizon, the Solana claim is checked now, as the ledger would.
    solana = by_entity["solana"]
    stored = ledger(claims_seed["path"])
    twin = stored[
        stored["sentence"].str.startswith("Solana's total value locked will triple")
    ].iloc[0]
    assert solana["status"] == twin["status"] and solana["status"] in ("met", "missed")
    assert all(found["in_ledger"])  # no scorer: every sentence counts as unscored
    html = render.claim_cards_html(found)
    assert 'class="claim-quantity"' in html


# --------------------------------------------------------------------------- realised series


def test_measured_series_sums_a_flow_over_a_year_and_keeps_a_level() -> None:
    rows = pd.DataFrame(
        {
            "date": ["2022-03-31", "2022-06-30", "2022-09-30", "2022-12-31", "2023-03-31"],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    flow = measured_series(rows, "revenue")
    assert list(flow["date"]) == ["2022-12-31", "2023-03-31"]
    assert list(flow["value"]) == [10.0, 14.0]
    level = measured_series(rows, "tvl")
    assert list(level["value"]) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_claim_series_view_reads_the_series_its_check_used(claims_seed: dict[str, Any]) -> None:
    stored = claims_reads.claims_table(claims_seed["path"], status="missed", entity="nvidia")
    claim = stored.iloc[0].to_dict()
    view = claims_reads.claim_series_view(claims_seed["path"], claim)
    assert view["metric"] == claim["checked_metric"]
    series = view["series"].set_index("date")["value"]
    assert series[claim["baseline_date"]] == pytest.approx(claim["baseline_checked"])
    assert series[claim["realised_date"]] == pytest.approx(claim["realised_value"])
    path = view["path"]
    assert list(path["date"]) == [claim["baseline_date"], claim["horizon"]]
    figure = plots.fig_claim_series(view, status="missed", title="<i>x</i>")
    assert {trace.name for trace in figure.data} >= {"claimed path", "at the horizon"}
    assert "<i>" not in figure.layout.title.text
    empty = plots.fig_claim_series(
        {
            "series": pd.DataFrame(columns=["date", "value"]),
            "path": pd.DataFrame(columns=["date", "value", "point"]),
        }
    )
    assert empty.layout.annotations[0].text == "No matching fundamentals series"


def test_claim_sentences_are_highlighted_and_escaped() -> None:
    markup = render.highlight_claim_html(
        "Acme <img src=x onerror=alert(1)> will double revenue by 2026 & more.",
        {"quantity": "double", "horizon": "by 2026", "hedge": "will"},
    )
    assert "<img" not in markup and "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert '<span class="claim-quantity"' in markup and ">double</span>" in markup
    assert ">by 2026</span>" in markup and ">will</span>" in markup
    assert "&amp; more." in markup
    plain = render.highlight_claim_html(
        "No spans here.", {"quantity": None, "horizon": float("nan")}
    )
    assert plain == '<span class="claim-sentence">No spans here.</span>'


def test_claims_page_without_a_database_gives_the_next_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYZER_DB", str(tmp_path / "missing.db"))
    at = run_page("claims")
    assert any("analyzer" in notice for notice in texts(at, "info"))
    assert not (tmp_path / "missing.db").exists(), "reading must not create a database"
