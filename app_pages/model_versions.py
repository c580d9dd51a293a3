"""The Model page's section on versions and labels: what another model version changes
(with a version picker) and how well annotators agree. Read-only, like every page but Label."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from analyzer.errors import AnalyzerError
from analyzer.views import versions
from app_pages import ui
from app_pages.render import markdown_escape

MAX_ROWS = 20


def _comparison(db: str, stored: list[dict]) -> None:
    st.subheader("Compare two versions")
    if len(stored) < 2:
        st.caption(
            "Only one model version has scores here. Score with another one "
            "(`analyzer score --db DB --model DIR`; the old scores stay) to see what it changes."
        )
        return
    names = {
        v["model_version"]: f"{v['model_version']} ({v['model_id']}, {v['documents']:,} docs)"
        for v in stored
    }
    order = list(names)
    left, right = st.columns(2)
    a = left.selectbox(
        "Version A (reference)", order, index=1, format_func=names.get, key="compare_a"
    )
    b = right.selectbox("Version B", order, index=0, format_func=names.get, key="compare_b")
    if a == b:
        st.info("Pick two different versions.")
        return
    try:
        result = ui_compare(db, ui.db_stamp(), a, b, ui.freq())
    except AnalyzerError as exc:
        st.warning(f"These versions cannot be compared: {markdown_escape(exc)}")
        return
    for note in result.notes:
        st.caption(markdown_escape(note))
    st.dataframe(result.flip_summary, hide_index=True, width="stretch", key="compare_flip_summary")
    if not result.flips.empty:
        st.caption(f"{len(result.flips):,} label flips; the largest moves:")
        st.dataframe(
            result.flips.head(MAX_ROWS),
            hide_index=True,
            width="stretch",
            key="compare_flips",
            column_config={"text": st.column_config.TextColumn("Sentence", width="large")},
        )
    columns = st.columns(3)
    columns[0].metric(
        "Document rank correlation",
        ui.format_score(result.document_rank_correlation),
        help="Spearman correlation of the documents' hype ranking under A and B.",
    )
    columns[1].metric(
        "Heat rank correlation",
        ui.format_score(result.heat_rank_correlation),
        help=f"Entities ranked by heat in {result.heat_period or 'the latest common period'}.",
    )
    columns[2].metric(
        "Flags appeared / disappeared",
        f"{len(result.flags_appeared)} / {len(result.flags_disappeared)}",
    )
    if not result.heat.empty:
        st.dataframe(
            result.heat.rename(columns={"key": "entity"}),
            hide_index=True,
            width="stretch",
            key="compare_heat",
        )
    changed = (
        result.flags[result.flags["change"] != "kept"] if not result.flags.empty else result.flags
    )
    if not changed.empty:
        st.dataframe(changed, hide_index=True, width="stretch", key="compare_flags")


@st.cache_data(ttl=ui.CACHE_TTL_SECONDS, show_spinner="Comparing versions…", max_entries=16)
def ui_compare(db: str, stamp: str, a: str, b: str, freq: str) -> Any:
    return versions.compare(db, a, b, freq=freq)


def _agreement(db: str) -> None:
    st.subheader("Annotator agreement")
    found = versions.agreement(db)
    counts = found["annotators"]
    if not counts:
        st.caption("No labels yet: label on the Label page or with `analyzer label import`.")
        return
    st.caption(
        "Labels per annotator: "
        + ", ".join(f"{markdown_escape(k)} {v:,}" for k, v in sorted(counts.items()))
    )
    table: pd.DataFrame = found["table"]
    if table.empty:
        st.caption(
            "Agreement (Cohen's κ) appears once two annotators have labelled the same sentences."
        )
        return
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="agreement_table",
        column_config={
            "kappa": st.column_config.NumberColumn("κ", format="%.2f"),
            "agreement": st.column_config.NumberColumn("observed", format="%.2f"),
        },
    )
    st.caption("κ = (observed − chance agreement) / (1 − chance); 1 is perfect, 0 is chance level.")


def render() -> None:
    """The section, for a database that exists (a note instead when it cannot be read)."""
    db = ui.db_path()
    try:
        stored = versions.stored_versions(db)
    except AnalyzerError as exc:
        st.caption(f"Versions and labels cannot be read: {markdown_escape(exc)}")
        return
    _comparison(db, stored)
    _agreement(db)
