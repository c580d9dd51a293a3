"""Overview: which stories run hottest, and which run ahead of their numbers."""

from __future__ import annotations

import streamlit as st

from analyzer.views import common
from app_pages import render, ui

st.title("Narrative heat vs fundamentals")
database = ui.require_documents()
freq = ui.freq()
if not database["scored"]:
    st.info(
        "Documents are stored but none is scored yet, so heat counts volume only. Next step: "
        "`analyzer score`, then `analyzer divergence`."
    )
ui.analysis_notice()

ranking = ui.overview()
covered = ranking[ranking["documents"] > 0]
if covered.empty:
    st.info(
        "No dated document mentions an entity yet. Next step: define entities and tag documents with "
        "`analyzer entities tag entities.yaml`, then `analyzer divergence`."
    )
    st.stop()

flags = ui.latest_flags(limit=10)

first, second, third = st.columns(3)
first.metric("Entities with coverage", f"{len(covered)}")
second.metric(
    "Flagged right now",
    f"{int(covered['flagged_now'].sum())}",
    help="Entities whose latest period lies inside a flagged span.",
)
latest = covered["last_period"].max()
third.metric("Latest period", common.period_label(latest, freq))

st.subheader("Entities")
st.caption(
    "Ranked by current divergence (heat z minus fundamental-growth z, the largest across metrics), "
    "then by heat. Heat is a robust z-score against the entity's own history up to each period (real "
    "time), with a 90% bootstrap band; a flag needs the band's lower end above the threshold."
)
table = covered.assign(
    metrics=[", ".join(m) for m in covered["metrics"]],
    divergence_band=[
        f"{lo:.1f} to {hi:.1f}" if lo == lo and hi == hi else ""
        for lo, hi in zip(
            covered["divergence_low"].astype(float), covered["divergence_high"].astype(float)
        )
    ],
    last_period=[common.period_label(p, freq) for p in covered["last_period"]],
)
selection = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    key="overview_entities",
    on_select="rerun",
    selection_mode="single-row",
    # Every entity in view without scrolling, up to a long list.
    height=38 + 35 * min(len(table), 25),
    column_order=[
        "rank",
        "name",
        "kind",
        "heat",
        "heat_change",
        "trend",
        "divergence",
        "divergence_band",
        "divergence_metric",
        "flagged_now",
        "flag_confidence",
        "flags",
        "claim_record",
        "documents",
        "last_period",
        "metrics",
    ],
    column_config={
        "rank": st.column_config.NumberColumn("#", width="small"),
        "name": st.column_config.TextColumn("Entity"),
        "kind": st.column_config.TextColumn("Kind"),
        "heat": st.column_config.NumberColumn("Heat (z)", format="%.2f"),
        "heat_change": st.column_config.NumberColumn(
            "Δ heat", format="%+.2f", help="Change since the previous period."
        ),
        "trend": st.column_config.LineChartColumn("Heat trend", width="medium"),
        "divergence": st.column_config.NumberColumn("Divergence", format="%.2f"),
        "divergence_band": st.column_config.TextColumn(
            "90% band", help="Bootstrap interval of the latest divergence."
        ),
        "flag_confidence": st.column_config.NumberColumn(
            "Flag confidence", format="percent", help="Confidence of the flag running now."
        ),
        "divergence_metric": st.column_config.TextColumn("vs metric"),
        "flagged_now": st.column_config.CheckboxColumn("Flagged now"),
        "flags": st.column_config.NumberColumn("Flags"),
        "claim_record": st.column_config.TextColumn(
            "Claim reliability",
            help="Claims that fell due and could be checked: met / (met + missed), with the "
            "counts. Blank when none has fallen due; see the Claims page.",
        ),
        "documents": st.column_config.NumberColumn("Documents", format="%d"),
        "last_period": st.column_config.TextColumn("Latest period"),
        "metrics": st.column_config.TextColumn("Fundamentals"),
    },
)

chosen_rows = selection.selection.rows if selection is not None else []
if chosen_rows:
    st.switch_page(
        "app_pages/entity.py", query_params={"entity": table.iloc[chosen_rows[0]]["entity"]}
    )
st.caption("Select a row to open the entity.")

st.subheader("Latest flags")
if flags.empty:
    st.caption(
        "No flags: no entity's narrative heat has run ahead of its fundamentals for long enough "
        "(or no fundamentals are loaded: `analyzer fundamentals import FILE`)."
    )
else:
    ui.escaped_list(flags["summary"])

without = ranking[ranking["documents"] == 0]
if not without.empty:
    st.caption(f"No coverage yet: {', '.join(render.markdown_escape(n) for n in without['name'])}.")
