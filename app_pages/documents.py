"""Documents: full-text search and filters over everything stored, with links to the originals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import streamlit as st

from analyzer.errors import AnalyzerError
from analyzer.views import common
from analyzer.views import documents as documents_reads
from app_pages import render, ui

PAGE_SIZES = (25, 50, 100, 200)
ANY = ""  # the "no filter" choice of every selectbox


def any_or(names: dict[Any, str] | None = None) -> Callable[[Any], str]:
    """Format function of a filter selectbox: "any" for no filter, else the value's name."""
    return lambda value: "any" if value == ANY else (names or {}).get(value, value)


MAX_HIGHLIGHTED = 400

st.title("Documents")
database = ui.require_documents()
options = ui.filter_options()
entities = ui.entity_table()

search = st.text_input(
    "Search titles and text",
    key="docs_search",
    placeholder='e.g. nvidia "data center" — quotes for phrases, OR / NOT, prefix*',
)

with st.expander("Filters", expanded=True):
    first, second, third = st.columns(3)
    entity_names = dict(zip(entities["id"], entities["name"]))
    entity = first.selectbox(
        "Entity", [ANY, *entities["id"]], key="docs_entity", format_func=any_or(entity_names)
    )
    source_names = {s["id"]: s["name"] for s in options["sources"]}
    source = second.selectbox(
        "Source", [ANY, *source_names], key="docs_source", format_func=any_or(source_names)
    )
    kind = third.selectbox("Kind", [ANY, *options["kinds"]], key="docs_kind", format_func=any_or())
    first, second, third = st.columns(3)
    language = first.selectbox(
        "Language", [ANY, *options["languages"]], key="docs_language", format_func=any_or()
    )
    dates: tuple = ()
    if options["first_date"] and options["last_date"]:
        lowest = dt.date.fromisoformat(options["first_date"])
        highest = dt.date.fromisoformat(options["last_date"])
        dates = second.date_input(
            "Published between",
            value=(lowest, highest),
            min_value=lowest,
            max_value=highest,
            key="docs_dates",
        )
    hype_range = third.slider(
        "Hype score",
        0.0,
        1.0,
        (0.0, 1.0),
        step=0.05,
        key="docs_hype",
        help="Documents without a score are left out once the range is narrowed.",
    )
    first, second, _ = st.columns(3)
    sorts = (["relevance"] if search.strip() else []) + list(documents_reads.DOCUMENT_SORTS)
    sort = first.selectbox("Sort by", sorts, key=f"docs_sort_{bool(search.strip())}")
    page_size = second.selectbox("Rows per page", PAGE_SIZES, index=1, key="docs_page_size")

query = {
    "text": search,
    "entity": entity or None,
    "source_id": None if source == ANY else source,
    "kind": kind or None,
    "language": language or None,
    "date_from": dates[0].isoformat() if len(dates) >= 1 else None,
    "date_to": dates[1].isoformat() if len(dates) >= 2 else None,
    "min_hype": hype_range[0],
    "max_hype": hype_range[1],
    "sort": sort,
}

page_number = int(st.session_state.setdefault("docs_page", 1))
try:
    rows, total = ui.search_documents(query, limit=page_size, offset=(page_number - 1) * page_size)
except AnalyzerError as exc:
    st.warning(f"That search could not be run: {render.markdown_escape(exc)}")
    st.stop()

pages = max(1, -(-total // page_size))
if page_number > pages:
    # The filters changed under a later page: start again from the first one.
    page_number = 1
    st.session_state["docs_page"] = 1
    rows, total = ui.search_documents(query, limit=page_size, offset=0)

st.caption(
    f"{total:,} matching documents · page {page_number} of {pages} · scores from model version "
    f"`{ui.model_version() or 'none'}`"
)
if rows.empty:
    st.info("No documents match. Widen the filters or change the search.")
    st.stop()

st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    key="docs_table",
    column_order=[
        "published_at",
        "title",
        "hype",
        "growth",
        "evidence",
        "source",
        "entities",
        "url",
        "kind",
        "language",
        "snippet",
        "id",
    ],
    column_config={
        "published_at": st.column_config.TextColumn("Published"),
        "title": st.column_config.TextColumn("Title", width="large"),
        "source": st.column_config.TextColumn("Source"),
        "entities": st.column_config.TextColumn("Entities"),
        "kind": st.column_config.TextColumn("Kind"),
        "language": st.column_config.TextColumn("Language"),
        "snippet": st.column_config.TextColumn("Snippet", width="large"),
        "url": st.column_config.LinkColumn("Original", display_text="open ↗"),
        "id": st.column_config.NumberColumn("ID", format="%d"),
        **ui.SCORE_NUMBER_COLUMNS,
    },
)
st.columns(4)[0].number_input("Page", min_value=1, max_value=pages, step=1, key="docs_page")

# ----------------------------------------------------------------- one document
st.subheader("Read a document")
labels = {
    int(row.id): f"{row.published_at or 'undated'} · {row.title or '(untitled)'}"
    for row in rows.itertuples()
}
# A link names a document (?document=ID, e.g. from the Claims page): it is offered and chosen
# first, whether or not it is on this page of results.
linked = str(st.query_params.get("document") or "")
linked_id = int(linked) if linked.isdigit() else None
if linked_id is not None and linked_id not in labels:
    linked_detail = ui.document_detail(linked_id)
    if linked_detail is not None:
        labels = {
            linked_id: f"{str(linked_detail.get('published_at') or 'undated')[:10]} · "
            f"{linked_detail.get('title') or '(untitled)'}",
            **labels,
        }
if linked_id in labels and st.session_state.get("_docs_linked") != linked_id:
    st.session_state["_docs_linked"] = linked_id
    st.session_state["docs_document"] = linked_id
chosen = st.selectbox("Document", list(labels), format_func=labels.get, key="docs_document")
detail = ui.document_detail(chosen) if chosen is not None else None
if detail is None:
    st.stop()
meta = [
    detail.get("source") or "unknown source",
    detail.get("kind"),
    detail.get("language") or "und",
]
if detail.get("author"):
    meta.insert(0, detail["author"])
st.caption(" · ".join(render.markdown_escape(m) for m in meta if m))
if detail.get("url"):
    st.link_button("Open the original", detail["url"])
scores = detail.get("scores")
if scores and not scores.get("unscored"):
    columns = st.columns(3)
    for column, label in zip(columns, common.LABELS):
        column.metric(label.capitalize(), ui.format_score(scores.get(label)))
elif scores:
    st.info("This document was not scored (its language is not one the model covers).")
else:
    st.info("This document has no scores from the selected model version; run `analyzer score`.")
if detail["entities"]:
    st.caption("Entities: " + ", ".join(render.markdown_escape(e) for e in detail["entities"]))
sentences = detail["sentences"]
if sentences.empty:
    st.caption("Its sentences are stored once it has been scored.")
else:
    ui.highlighted_sentences(sentences, max_sentences=MAX_HIGHLIGHTED)
