"""Label: one sentence at a time, the ones the model is least sure of first.

This is the app's one writing page, and it writes only the ``labels`` table (through
:func:`analyzer.views.labelling.save_label`, whose connection may change nothing else). The
queue is chosen once and kept for the session, so labelling, skipping and undoing move through
a stable list; a new queue is chosen when it runs out.
"""

from __future__ import annotations

import html
import inspect
import os
from typing import Any

import streamlit as st

from analyzer.errors import AnalyzerError
from analyzer.training.labelling import guideline_version, guidelines_text
from analyzer.views import labelling
from app_pages import render, ui

LABELS = ("hype", "growth", "evidence")
SHORTCUTS = {"hype": "H", "growth": "G", "evidence": "E", "save": "N", "skip": "S", "undo": "U"}
# Native button shortcuts arrived in recent Streamlit releases; older ones just show the buttons.
HAS_SHORTCUTS = "shortcut" in inspect.signature(st.button).parameters
STRATEGIES = {
    "uncertain": "Least certain first",
    "random": "Random sample",
    "disagreement": "Versions disagree most",
}
ANY_ENTITY = ""

st.title("Label")
database = ui.require_documents()
db = ui.db_path()
state = st.session_state


def shortcut(name: str) -> dict[str, Any]:
    return {"shortcut": SHORTCUTS[name]} if HAS_SHORTCUTS else {}


# ----------------------------------------------------------------- who, what, how many
first, second, third, fourth = st.columns([2, 1, 2, 2])
annotator = first.text_input(
    "Annotator",
    value=os.environ.get("ANALYZER_ANNOTATOR", ""),
    key="label_annotator",
    help="Your name, stored with every label (agreement is measured between annotators).",
).strip()
target = int(second.number_input("Target", min_value=1, value=100, step=10, key="label_target"))
strategies = [s for s in STRATEGIES if s != "disagreement" or len(database["model_versions"]) > 1]
strategy = third.selectbox("Order", strategies, format_func=STRATEGIES.get, key="label_strategy")
entities = ui.entity_table()
entity_names = dict(zip(entities["id"], entities["name"])) if not entities.empty else {}
entity = fourth.selectbox(
    "Entity",
    [ANY_ENTITY, *entity_names],
    key="label_entity",
    format_func=lambda e: "any" if e == ANY_ENTITY else entity_names.get(e, e),
)

with st.popover("Guidelines", icon=":material/menu_book:"):
    text = guidelines_text()
    st.markdown(text if text else "No guidelines file found (set ANALYZER_GUIDELINES).")

if not annotator:
    st.info("Enter your name as annotator to start labelling.")
    st.stop()

# ----------------------------------------------------------------- the session's queue
settings = (db, annotator, strategy, entity, ui.model_version())
if state.get("label_settings") != settings:
    state.label_settings = settings
    state.label_queue = None
    state.label_done = []  # text hashes labelled in this session, in order
    state.label_skipped = []
    state.label_history = []  # {"action": "label"|"skip", "row": ..., "previous": ..., "values": ...}
    state.label_values = {}
    state.label_values_for = None


def refresh_queue() -> None:
    skip = frozenset(state.label_skipped) | frozenset(state.label_done)
    queue = labelling.label_queue(
        db,
        annotator,
        strategy=strategy,
        entity=entity or None,
        model_version=ui.model_version() or None,
        skip=skip,
    )
    state.label_queue = queue.to_dict("records")


def current_row() -> dict[str, Any] | None:
    passed = set(state.label_done) | set(state.label_skipped)
    return next((row for row in state.label_queue or [] if row["text_hash"] not in passed), None)


try:
    if state.label_queue is None or current_row() is None:
        refresh_queue()
except AnalyzerError as exc:
    st.warning(f"No sentences to label: {render.markdown_escape(exc)}")
    st.stop()

row = current_row()
if state.label_values_for != (row or {}).get("text_hash"):
    state.label_values = {label: 0 for label in LABELS}
    state.label_values_for = (row or {}).get("text_hash")


# ----------------------------------------------------------------- actions
def flip(label: str) -> None:
    state.label_values[label] = 1 - int(state.label_values.get(label, 0))


def save() -> None:
    current = current_row()
    if current is None:
        return
    try:
        previous = labelling.current_label(db, current["text_hash"], annotator)
        labelling.save_label(
            db,
            sentence=current,
            annotator=annotator,
            labels=dict(state.label_values),
            guideline_version=guideline_version(),
        )
    except AnalyzerError as exc:
        state.label_error = str(exc)
        return
    state.label_done.append(current["text_hash"])
    state.label_history.append(
        {
            "action": "label",
            "row": current,
            "previous": previous,
            "values": dict(state.label_values),
        }
    )
    state.label_error = None


def skip() -> None:
    current = current_row()
    if current is not None:
        state.label_skipped.append(current["text_hash"])
        state.label_history.append({"action": "skip", "row": current})


def undo() -> None:
    if not state.label_history:
        return
    last = state.label_history.pop()
    text_hash = last["row"]["text_hash"]
    if last["action"] == "label":
        try:
            labelling.restore_label(db, text_hash, annotator, last["previous"])
        except AnalyzerError as exc:
            state.label_history.append(last)
            state.label_error = str(exc)
            return
        state.label_done.remove(text_hash)
        state.label_values = dict(last["values"])
    else:
        state.label_skipped.remove(text_hash)
        state.label_values = {label: 0 for label in LABELS}
    state.label_values_for = text_hash
    # Put the sentence back in front even if a new queue was chosen since.
    if all(r["text_hash"] != text_hash for r in state.label_queue or []):
        state.label_queue = [last["row"], *(state.label_queue or [])]
    else:
        state.label_queue = [
            last["row"],
            *[r for r in state.label_queue if r["text_hash"] != text_hash],
        ]


# ----------------------------------------------------------------- progress
done = labelling.progress(db, annotator)
st.progress(min(done / target, 1.0), text=f"{done} of {target} sentences labelled by {annotator}")
if state.get("label_error"):
    st.error(f"The label was not saved: {render.markdown_escape(state.label_error)}")

if row is None:
    st.success(
        "Nothing left to label here: every scored sentence in this selection has your label."
    )
    st.button(
        "Undo",
        key="label_undo",
        on_click=undo,
        disabled=not state.label_history,
        **shortcut("undo"),
    )
    st.stop()

# ----------------------------------------------------------------- the sentence in its document
view = labelling.sentence_view(db, row["document_id"], row["sentence_index"])
meta = " · ".join(
    html.escape(str(x)) for x in (view["source"], (view["published_at"] or "")[:10]) if x
)
parts = []
for sentence in view["context"]:
    text_html = html.escape(sentence["text"])
    if sentence["current"]:
        parts.append(
            f'<mark style="background:#fff3b0;padding:0.1rem 0.2rem;font-size:1.15rem">{text_html}</mark>'
        )
    else:
        parts.append(f'<span style="color:#6b7280">{text_html}</span>')
url = str(view["url"] or "")
link = (
    f' · <a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">original</a>'
    if url.startswith(("http://", "https://"))
    else ""
)
st.html(
    f'<div style="font-weight:600">{html.escape(str(view["title"] or "Untitled"))}</div>'
    f'<div style="color:#6b7280;font-size:0.85rem">{meta}{link}</div>'
    f'<p style="line-height:1.7;margin-top:0.6rem">{" ".join(parts)}</p>'
)

# ----------------------------------------------------------------- the three labels
columns = st.columns(3)
for column, label in zip(columns, LABELS):
    on = bool(state.label_values.get(label))
    column.button(
        f"{label.capitalize()}: {'yes' if on else 'no'}",
        key=f"label_toggle_{label}",
        on_click=flip,
        args=(label,),
        type="primary" if on else "secondary",
        icon=":material/check_box:" if on else ":material/check_box_outline_blank:",
        width="stretch",
        help=f"Toggle {label} (key {SHORTCUTS[label]}); see the guidelines for what counts.",
        **shortcut(label),
    )

actions = st.columns(3)
actions[0].button(
    "Save and next",
    key="label_save",
    on_click=save,
    type="primary",
    width="stretch",
    icon=":material/done:",
    **shortcut("save"),
)
actions[1].button(
    "Skip",
    key="label_skip",
    on_click=skip,
    width="stretch",
    icon=":material/skip_next:",
    **shortcut("skip"),
)
actions[2].button(
    "Undo",
    key="label_undo",
    on_click=undo,
    width="stretch",
    icon=":material/undo:",
    disabled=not state.label_history,
    **shortcut("undo"),
)
if HAS_SHORTCUTS:
    st.caption(
        "Keys: H, G, E toggle hype, growth and evidence; N saves and moves on; S skips; U undoes."
    )

with st.expander("The model's scores for this sentence"):
    st.caption(
        " · ".join(f"{label} {ui.format_score(row.get(label))}" for label in LABELS)
        + f" · selection score {ui.format_score(row.get('score'))}"
    )
