"""Check a text or URL: how hyped is it, compared with everything else, and which sentences make it so."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analyzer.errors import AnalyzerError, ModelError
from analyzer.views import check as check_reads
from analyzer.views import claims as claims_reads
from analyzer.views import common
from app_pages import render, ui

CHECKED_KEY = "check_input"
MAX_HIGHLIGHTED = 400
ALL = "*"  # the "compare with everything" choice
MAX_SHARED_CHARS = 20_000

st.title("Check a text or URL")
st.caption(
    "Paste an article or give its address: every sentence is scored for hype, growth narrative and "
    "evidence, and the document is placed among the stored coverage."
)

# A check can be shared as a link: /check?text=... scores that text on arrival.
shared = st.query_params.get("text")
if shared and st.session_state.get("_shared_text") != shared:
    st.session_state["_shared_text"] = shared
    st.session_state["check_mode"] = "Paste text"
    st.session_state["check_text"] = shared[:MAX_SHARED_CHARS]
    st.session_state[CHECKED_KEY] = {
        "text": shared[:MAX_SHARED_CHARS],
        "source": "pasted text",
        "title": None,
    }

mode = st.radio(
    "Input",
    ["Paste text", "Fetch a URL"],
    horizontal=True,
    key="check_mode",
    label_visibility="collapsed",
)
if mode == "Paste text":
    pasted = st.text_area(
        "Text to check",
        height=200,
        key="check_text",
        placeholder="Paste an article, a press release or a whitepaper section…",
    )
    if st.button("Check text", type="primary", key="check_text_button"):
        if pasted.strip():
            st.session_state[CHECKED_KEY] = {"text": pasted, "source": "pasted text", "title": None}
        else:
            st.session_state.pop(CHECKED_KEY, None)
            st.warning("Paste some text first.")
else:
    url = st.text_input("Article URL", key="check_url", placeholder="https://…")
    if st.button("Fetch and check", type="primary", key="check_url_button"):
        try:
            with st.spinner("Fetching…"):
                article = check_reads.fetch_article(url)
        except AnalyzerError as exc:
            st.session_state.pop(CHECKED_KEY, None)
            st.warning(
                f"Could not use that address: {render.markdown_escape(exc)}. Paste the article's text instead."
            )
        else:
            st.session_state[CHECKED_KEY] = {
                "text": article["text"],
                "source": article["url"],
                "title": article.get("title"),
                "published_at": article.get("published_at"),
            }

checked = st.session_state.get(CHECKED_KEY)
if not checked:
    st.stop()

try:
    result = ui.check_text(checked["text"])
except ModelError as exc:
    st.warning(
        f"The hype model is not available ({render.markdown_escape(exc)}). Next step: train it with "
        "`analyzer train corpora/hype --out models/hype-default` (or `make demo`), or point "
        "`ANALYZER_MODEL` at a saved model."
    )
    st.stop()
except AnalyzerError as exc:
    st.warning(f"Could not score this text: {render.markdown_escape(exc)}")
    st.stop()

if checked.get("title"):
    st.subheader(render.markdown_escape(checked["title"]))
if checked["source"] != "pasted text":
    st.caption(f"Fetched from {render.markdown_escape(checked['source'])}")

sentences: pd.DataFrame = result["sentences"]
if result["unscored"]:
    language = result.get("language") or "und"
    covered = ", ".join(result.get("model_languages") or []) or "unknown"
    st.warning(
        f"Not scored: this text appears to be in language `{language}`, which the model does not cover "
        f"(it was trained on: {covered}). Its sentences are listed without scores; no hype figures are "
        "shown because they would mean nothing."
    )

# ----------------------------------------------------------------- entities and comparison scope
database = ui.status()
entities_found = ui.find_entities(checked["text"]) if database["ready"] else pd.DataFrame()
comparison: dict | None = None
if not result["unscored"]:
    scope_options = [ALL]
    names = {ALL: "all stored documents"}
    if database["ready"]:
        table = ui.entity_table()
        names.update(dict(zip(table["id"], table["name"])))
        scope_options += list(table["id"])
    default_scope = 0
    if not entities_found.empty and entities_found["entity"].iloc[0] in scope_options:
        default_scope = scope_options.index(entities_found["entity"].iloc[0])
    left, right = st.columns([2, 1])
    scope = left.selectbox(
        "Compare with",
        scope_options,
        index=default_scope,
        format_func=lambda value: names.get(value, str(value)),
        key="check_scope",
    )
    latest_only = right.toggle("Latest quarter only", value=True, key="check_latest_quarter")
    entity = None if scope == ALL else scope

    scores = {label: result.get(label) for label in common.LABELS}
    comparison = {"percentiles": dict.fromkeys(common.LABELS), "scope": None}
    if database["ready"]:
        comparison = ui.percentiles(scores, result["model_version"], entity, latest_only)
        if comparison.get("reason"):
            st.info(f"No comparison with the corpus: {comparison['reason']}.")
        elif comparison.get("note"):
            st.caption(render.markdown_escape(comparison["note"]))
    else:
        st.info(
            f"No comparison with the corpus: {render.markdown_escape(database['message'])} "
            f"Next step: {database['next_step']}."
        )

    columns = st.columns(3)
    for column, label in zip(columns, common.LABELS):
        percentile = comparison["percentiles"].get(label)
        column.metric(
            label.capitalize(),
            ui.format_score(result.get(label)),
            help=f"Mean sentence probability; the three loudest sentences average "
            f"{ui.format_score(result.get(label + '_top'))}.",
        )
        column.caption(
            render.markdown_escape(
                check_reads.percentile_sentence(label, percentile, comparison.get("scope"))
            )
        )

st.caption(
    f"{result['n_sentences']} sentences · language `{result.get('language')}` · model "
    f"`{result['model_id']}` version `{result['model_version']}`"
    + (
        f" · only the first {result['n_sentences']} of {result['n_sentences_total']} sentences were scored"
        if result.get("truncated")
        else ""
    )
)

# ----------------------------------------------------------------- sentences
st.subheader("Sentences")
ui.highlighted_sentences(sentences, max_sentences=MAX_HIGHLIGHTED)
with st.expander("Sentence scores as a table", expanded=False):
    ui.sentence_table(sentences, key="check_sentences")

# ----------------------------------------------------------------- claims
st.subheader("Claims")
found_claims = ui.checked_claims(
    checked["text"], published_at=checked.get("published_at"), scored_sentences=sentences
)
if found_claims.empty:
    st.caption(
        'No quantified forward-looking claim found (a change with a size, such as "revenue will '
        'double by 2026" or "10 GW online next year").'
    )
else:
    published = str(checked.get("published_at") or "")[:10]
    st.caption(
        f"{len(found_claims)} claim(s), as the ledger would read them: horizons resolved against "
        + (f"the publication date {published}" if published else "today (no publication date)")
        + ", status from the stored fundamentals. The ledger keeps claims from sentences whose growth "
        f"score reaches {claims_reads.DEFAULT_GROWTH_THRESHOLD:.2f} ('in ledger')."
    )
    st.html(render.CLAIM_LEGEND_HTML)
    st.html(render.claim_cards_html(found_claims.assign(published_at=published)))
    st.dataframe(
        found_claims,
        hide_index=True,
        width="stretch",
        key="check_claims",
        column_order=[
            "metric",
            "claimed",
            "horizon",
            "hedge",
            "speaker",
            "entity_id",
            "status",
            "status_reason",
            "when_due",
            "in_ledger",
            "growth",
            "sentence",
        ],
        column_config={
            "metric": "Metric",
            "claimed": "Claimed change",
            "horizon": "Horizon",
            "hedge": "Hedge",
            "speaker": "Speaker",
            "entity_id": "Entity",
            "status": "Status",
            "status_reason": "Why",
            "when_due": "Once due",
            "in_ledger": st.column_config.CheckboxColumn("In ledger"),
            "growth": st.column_config.NumberColumn("Growth", format="%.2f"),
            "sentence": st.column_config.TextColumn("Sentence", width="large"),
        },
    )

# ----------------------------------------------------------------- entities and figures
left, right = st.columns(2)
with left:
    st.subheader("Entities mentioned")
    if not database["ready"]:
        st.caption("No database, so no entity definitions to match.")
    elif entities_found.empty:
        st.caption("None of the stored entities is mentioned.")
    else:
        st.dataframe(
            entities_found,
            hide_index=True,
            width="stretch",
            key="check_entities",
            column_config={
                "entity": "ID",
                "name": "Entity",
                "mentions": "Mentions",
                "matched": "Matched words",
            },
        )
with right:
    st.subheader("Figures cited")
    figures: pd.DataFrame = result["figures"]
    if figures.empty:
        st.caption("No money amounts, percentages, multiples or quantities found.")
    else:
        st.dataframe(
            figures,
            hide_index=True,
            width="stretch",
            key="check_figures",
            column_config={
                "sentence": st.column_config.NumberColumn("Sentence", width="small"),
                "figure": "Figure",
                "kind": "Kind",
                "value": st.column_config.NumberColumn("Value", format="localized"),
            },
        )

# ----------------------------------------------------------------- downloads
percentile_info = comparison if database["ready"] else None
left, right, _ = st.columns([1, 1, 3])
left.download_button(
    "Download CSV",
    check_reads.check_result_csv(result),
    file_name="hype-check.csv",
    mime="text/csv",
    key="check_download_csv",
)
right.download_button(
    "Download JSON",
    check_reads.check_result_json(
        result, source=checked["source"], entities=entities_found, percentiles=percentile_info
    ),
    file_name="hype-check.json",
    mime="application/json",
    key="check_download_json",
)
