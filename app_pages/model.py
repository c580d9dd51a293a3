"""Model: the shipped classifier's card, its test metrics and calibration, and which version scored what."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analyzer.views import model as model_reads
from app_pages import model_versions, ui

st.title("Model")

card = model_reads.model_card(ui.model_directory())
database = ui.status()
in_use = ui.model_version() if database["exists"] else ""

# ----------------------------------------------------------------- which version is on screen
st.subheader("Scores on screen")
versions = pd.DataFrame(database["model_versions"])
if versions.empty:
    st.info(
        "No stored document has been scored yet, so no page shows model scores. Next step: "
        "`analyzer score` (or `make demo`)."
    )
else:
    st.write(f"The Overview, Entity and Documents pages show scores from model version `{in_use}`.")
    versions["on screen"] = versions["model_version"] == in_use
    versions["this model"] = versions["model_version"] == (card["model_version"] or "")
    st.dataframe(versions, hide_index=True, width="stretch", key="model_versions")
    if card["exists"] and card["model_version"] and card["model_version"] != in_use:
        st.warning(
            f"The model below (version `{card['model_version']}`) is not the one that produced the "
            "scores on screen; the Check page uses it. Re-score with `analyzer score` to compare like with like."
        )

if database["exists"]:
    model_versions.render()

# ----------------------------------------------------------------- the card
if not card["exists"]:
    st.warning(
        f"No model found at `{card['directory']}`. Next step: train one with "
        "`analyzer train corpora/hype --out models/hype-default` (or `make demo`), or point "
        "`ANALYZER_MODEL` at a saved model directory."
    )
    st.stop()

st.subheader(f"{card['model_id']} · version `{card['model_version'] or 'unknown'}`")
config = card["config"] or {}
st.caption(
    f"Method `{config.get('method', '?')}` on base `{config.get('base', '?')}` · languages "
    f"{', '.join(config.get('languages') or []) or 'unknown'}"
    + (" (multilingual base)" if config.get("multilingual") else "")
)

metrics = card["metrics"]
if metrics:
    summary = metrics.get("summary") or {}
    columns = st.columns(3)
    for column, (name, label) in zip(
        columns, (("macro_f1", "Macro F1"), ("auroc", "AUROC"), ("ece", "ECE"))
    ):
        value = summary.get(name)
        column.metric(
            label,
            "–" if value is None else f"{value:.3f}",
            help="Held-out test split, mean over labels.",
        )
    table = model_reads.metrics_frame(metrics)
    if not table.empty:
        st.dataframe(table, hide_index=True, width="stretch", key="model_metrics")
else:
    st.info(
        "This model has no metrics.json yet: run `analyzer evaluate` to measure it on the test split."
    )

if card["reliability_plot"]:
    st.image(
        card["reliability_plot"],
        caption="Reliability: predicted probability against observed frequency.",
        width=640,
    )

if card["readme"]:
    with st.expander("Model card", expanded=True):
        st.markdown(card["readme"])
else:
    st.caption("The model directory has no README.md card.")
