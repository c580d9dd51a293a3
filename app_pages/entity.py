"""Entity: one entity's narrative heat against its fundamentals, the flagged spans, and the
documents and sentences behind any period."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analyzer.views import common, plots
from app_pages import render, ui

MAX_DOCUMENT_ROWS = 100

st.title("Entity")
database = ui.require_documents()
freq = ui.freq()

ranking = ui.overview()
covered = ranking[ranking["documents"] > 0]
if covered.empty:
    st.info(
        "No dated document mentions an entity yet. Next step: `analyzer entities tag entities.yaml`."
    )
    st.stop()
names = dict(zip(ranking["entity"], ranking["name"]))
choices = list(covered["entity"])
# The URL names the entity (?entity=ID), so a view can be shared and other pages can link here.
wanted = st.query_params.get("entity")
if wanted in choices and wanted != st.session_state.get("entity_choice"):
    st.session_state["entity_choice"] = wanted


def _remember_choice() -> None:
    st.query_params["entity"] = st.session_state["entity_choice"]


entity = st.selectbox(
    "Entity",
    choices,
    format_func=lambda e: f"{names.get(e, e)} ({e})",
    key="entity_choice",
    on_change=_remember_choice,
)
ui.analysis_notice()

view = ui.entity_view(entity)
heat: pd.DataFrame = view["heat"]
divergence: pd.DataFrame = view["divergence"]
flags: pd.DataFrame = view["flags"]
metrics: list[str] = view["metrics"]

if view["reliability"]["warning"]:
    st.warning(view["reliability"]["warning"])

# ----------------------------------------------------------------- the series
left, right = st.columns([3, 2])
chosen_metrics = left.multiselect(
    "Fundamentals",
    metrics,
    default=metrics[:1],
    key=f"entity_metrics_{entity}",
    help="Compare the heat with one or more fundamentals.",
)
mode = right.radio(
    "Chart",
    ["Dual axis", "Standardised"],
    horizontal=True,
    key="entity_chart_mode",
    help="Dual axis: heat against each fundamental's growth in its own units. "
    "Standardised: every series as a robust z-score on one axis.",
)
if not metrics:
    st.caption(
        "No fundamentals are loaded for this entity: the chart shows heat alone. "
        "Load some with `analyzer fundamentals import FILE`."
    )
if mode == "Standardised" or not chosen_metrics:
    figure = plots.standardised_figure(
        divergence,
        chosen_metrics,
        flags,
        title=f"{names.get(entity, entity)}: heat and fundamentals",
    )
    st.plotly_chart(ui.with_claim_markers(figure, entity), key="entity_standardised")
else:
    for metric in chosen_metrics:
        rows = divergence[divergence["metric"] == metric]
        figure = plots.fig_heat_vs_fundamentals(
            rows,
            flags,
            metric=metric,
            title=f"{names.get(entity, entity)}: narrative heat vs {metric} growth",
        )
        st.plotly_chart(ui.with_claim_markers(figure, entity), key=f"entity_dual_{metric}")
st.caption(
    "Shaded: flagged spans, where the lower end of the divergence band stayed above the threshold for "
    "consecutive periods. The pale band around heat is its 90% bootstrap interval over the period's stories "
    "(sources resampled too); grey circles mark periods with too few stories to be reliable, which are "
    "never flagged. Standardisation: "
    + (
        "real time (each period against the history up to it)"
        if view.get("mode") != "hindsight"
        else "hindsight (against the whole history)"
    )
    + "."
)
state = ui.analysis_state()
threshold = float((state.get("params") or {}).get("threshold", plots.DEFAULT_THRESHOLD))
for metric in chosen_metrics:
    st.plotly_chart(
        plots.fig_divergence_bars(
            divergence, threshold, metric=metric, title="Divergence and its band"
        ),
        key=f"entity_divergence_{metric}",
    )

# ----------------------------------------------------------------- flags
st.subheader("Flags")
if flags.empty:
    st.caption("No flagged span for this entity.")
else:
    ui.escaped_list(
        [
            f"{summary} (confidence {conf})"
            if conf != "–" and "confidence" not in summary
            else summary
            for summary, conf in zip(flags["summary"], flags["confidence_text"])
        ]
    )
    st.caption(
        "Confidence: the smallest, over the flagged periods, of the probability that the period's "
        "divergence exceeds the threshold given its band."
    )

# ----------------------------------------------------------------- lead-lag
if chosen_metrics:
    st.subheader("Lead and lag")
    for metric in chosen_metrics:
        summary = ui.lead_lag(entity, metric)
        st.markdown(render.markdown_escape(summary["sentence"]))
        with st.expander(f"Correlations and Granger tests ({metric})"):
            correlations = summary["correlations"]
            st.dataframe(correlations, hide_index=True, key=f"entity_correlations_{metric}")
            st.dataframe(summary["granger"], hide_index=True, key=f"entity_granger_{metric}")
    st.caption(f"Caveat: {summary['caveat']}")

# ----------------------------------------------------------------- one period
st.subheader("What was written")
periods = [pd.Timestamp(p).strftime("%Y-%m-%d") for p in view["periods"]]
default_period = 0
if not flags.empty:
    peak = pd.Timestamp(flags.sort_values("end").iloc[-1]["peak_period"]).strftime("%Y-%m-%d")
    default_period = periods.index(peak) if peak in periods else 0
stories = dict(zip((pd.Timestamp(p).strftime("%Y-%m-%d") for p in heat["period"]), heat["stories"]))
period = st.selectbox(
    "Period",
    periods,
    index=default_period,
    key=f"entity_period_{entity}_{freq}",
    format_func=lambda p: f"{common.period_label(p, freq)} · {int(stories.get(p, 0))} stories",
)
if period is not None:
    detail = ui.period_detail(entity, period)
    top = detail["sentences"]
    if top.empty:
        st.caption(
            f"No scored sentences about {render.markdown_escape(names.get(entity, entity))} in {detail['label']}."
        )
    else:
        st.markdown(f"**Highest-hype sentences in {detail['label']}**")
        ui.highlighted_sentences(
            top.assign(
                note=[
                    f"— {row.title or 'untitled'}, {row.source or 'unknown source'}, {str(row.published_at or '')[:10]}"
                    for row in top.itertuples()
                ]
            ),
            note_column="note",
        )
    documents = detail["documents"]
    if documents.empty:
        st.caption("No documents in this period.")
    else:
        st.caption(
            f"{len(documents)} documents in {detail['label']}"
            + (f" (first {MAX_DOCUMENT_ROWS})" if len(documents) >= MAX_DOCUMENT_ROWS else "")
            + "; 'counted' marks the one copy per near-duplicate story that heat counts."
        )
        st.dataframe(
            documents,
            hide_index=True,
            width="stretch",
            key="entity_documents",
            column_order=[
                "published_at",
                "title",
                "source",
                "hype",
                "growth",
                "evidence",
                "counted",
                "kind",
                "language",
                "url",
            ],
            column_config={
                "published_at": st.column_config.TextColumn("Published"),
                "title": st.column_config.TextColumn("Title", width="large"),
                "url": st.column_config.LinkColumn("Original", display_text="open ↗"),
                **ui.SCORE_NUMBER_COLUMNS,
            },
        )

# ----------------------------------------------------------------- source mix and components
left, right = st.columns(2)
with left:
    st.plotly_chart(
        plots.fig_source_mix(view["source_mix"], title="Source mix (stories per period)"),
        key="entity_source_mix",
    )
with right:
    st.plotly_chart(
        plots.fig_heat_components(heat, title="What makes up the heat"), key="entity_components"
    )
