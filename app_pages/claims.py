"""Claims: the ledger of quantified growth claims, who made them, and how they turned out."""

from __future__ import annotations

import streamlit as st

from analyzer.errors import AnalyzerError
from analyzer.views import claims as claims_reads
from analyzer.views import plots
from app_pages import render, ui

ANY = ""  # the "no filter" choice of every selectbox
MAX_CARDS = 60

st.title("Claims ledger")
st.caption(
    'Quantified forward-looking claims read from scored sentences ("revenue will double by 2025"), each '
    "checked against the fundamentals once its horizon has passed: met, missed, pending, or unverifiable "
    "when no matching series exists. The check uses only values filed by the check date."
)
database = ui.require_documents()
versions = ui.claim_versions()
if not versions:
    st.info(
        "No claims in the ledger yet. Next step: `analyzer claims extract` (after `analyzer score`), "
        "or `make demo`."
    )
    st.stop()
version = versions[0]
if len(versions) > 1:
    version = st.selectbox(
        "Extractor",
        versions,
        key="claims_version",
        help="Which extractor's claims to show (rules or an LLM endpoint, by version).",
    )
else:
    st.caption(f"Extractor version `{render.markdown_escape(version)}`")

# ----------------------------------------------------------------- scorecard
card = ui.claims_scorecard(version)
st.subheader("Scorecard")
made, due = int(card["made"].sum()), int(card["due"].sum())
met, missed = int(card["met"].sum()), int(card["missed"].sum())
columns = st.columns(5)
columns[0].metric("Claims made", f"{made:,}")
columns[1].metric("Due", f"{due:,}", help="Horizon passed by today.")
columns[2].metric("Met", f"{met:,}")
columns[3].metric("Missed", f"{missed:,}")
columns[4].metric(
    "Reliability",
    f"{met / (met + missed):.0%}" if met + missed else "–",
    help="Met / (met + missed): the share of checked claims that came true.",
)
st.dataframe(
    card,
    hide_index=True,
    width="stretch",
    key="claims_scorecard",
    column_order=[
        "name",
        "made",
        "due",
        "met",
        "missed",
        "pending",
        "unverifiable",
        "reliability",
        "record",
    ],
    column_config={
        "name": st.column_config.TextColumn("Entity"),
        "made": st.column_config.NumberColumn("Made", format="%d"),
        "due": st.column_config.NumberColumn("Due", format="%d"),
        "met": st.column_config.NumberColumn("Met", format="%d"),
        "missed": st.column_config.NumberColumn("Missed", format="%d"),
        "pending": st.column_config.NumberColumn("Pending", format="%d"),
        "unverifiable": st.column_config.NumberColumn("Unverifiable", format="%d"),
        "reliability": st.column_config.ProgressColumn(
            "Reliability", min_value=0.0, max_value=1.0, format="percent"
        ),
        "record": st.column_config.TextColumn("Record"),
    },
)
st.caption("A sentence republished elsewhere counts once, at its first publication.")

# ----------------------------------------------------------------- filters
st.subheader("Claims")
names = dict(zip(card["entity_id"], card["name"]))
entity_choices = [ANY, *[e for e in card["entity_id"] if e != "(none)"]]
# The URL may name the entity (?entity=ID), as on the Entity page.
wanted = st.query_params.get("entity")
if wanted in entity_choices and wanted != st.session_state.get("_claims_linked_entity"):
    st.session_state["_claims_linked_entity"] = wanted
    st.session_state["claims_entity"] = wanted
first, second, third = st.columns(3)
entity = first.selectbox(
    "Entity",
    entity_choices,
    key="claims_entity",
    format_func=lambda e: "any" if e == ANY else f"{names.get(e, e)} ({e})",
)
status = second.selectbox(
    "Status",
    [ANY, *claims_reads.STATUSES],
    key="claims_status",
    format_func=lambda s: "any" if s == ANY else s,
)
due_before = third.date_input(
    "Due before",
    value=None,
    key="claims_due_before",
    help="Only claims whose horizon falls before this date.",
)
try:
    claims = ui.claims_table(
        entity=entity or None,
        status=status or None,
        due_before=due_before.isoformat() if due_before else None,
        version=version,
    )
except AnalyzerError as exc:
    st.warning(f"Those filters could not be applied: {render.markdown_escape(exc)}")
    st.stop()
st.caption(f"{len(claims):,} claims match · newest publication first")
if claims.empty:
    st.info("No claims match. Widen the filters.")
    st.stop()

st.dataframe(
    claims,
    hide_index=True,
    width="stretch",
    key="claims_table",
    column_order=[
        "published_at",
        "name",
        "metric",
        "claimed",
        "horizon",
        "status",
        "realised",
        "hedge",
        "speaker",
        "sentence",
        "document_link",
        "document_url",
    ],
    column_config={
        "published_at": st.column_config.TextColumn("Published"),
        "name": st.column_config.TextColumn("Entity"),
        "metric": st.column_config.TextColumn("Metric"),
        "claimed": st.column_config.TextColumn(
            "Claimed", help="The claimed change over the baseline."
        ),
        "horizon": st.column_config.TextColumn("Horizon"),
        "status": st.column_config.TextColumn("Status"),
        "realised": st.column_config.TextColumn(
            "Realised", help="The change that happened over the same period."
        ),
        "hedge": st.column_config.TextColumn("Hedge"),
        "speaker": st.column_config.TextColumn("Speaker"),
        "sentence": st.column_config.TextColumn("Sentence", width="large"),
        "document_link": st.column_config.LinkColumn(
            "Document", display_text="read ↗", help="The document on the Documents page."
        ),
        "document_url": st.column_config.LinkColumn("Original", display_text="open ↗"),
    },
)

# ----------------------------------------------------------------- one claim and its realised series
st.subheader("What happened")
records = claims.to_dict("records")
checked = [i for i, r in enumerate(records) if r["status"] in ("met", "missed")]
labels = {
    i: f"{r['published_at']} · {r['name'] or 'no entity'} · {r['metric']} {r['claimed']} · {r['status']}"
    for i, r in enumerate(records)
}
chosen = st.selectbox(
    "Claim",
    list(labels),
    index=checked[0] if checked else 0,
    format_func=labels.get,
    key=f"claims_claim_{entity}_{status}_{due_before}",
)
claim = records[chosen]
st.html(render.CLAIM_LEGEND_HTML)
st.html(render.claim_cards_html(claims.iloc[[chosen]]))
link_left, link_right, _ = st.columns([1, 1, 3])
link_left.page_link(
    "app_pages/documents.py",
    label="Read the document",
    icon=":material/article:",
    query_params={"document": str(int(claim["document_id"]))},
)
original = claim.get("document_url")
if isinstance(original, str) and original.startswith(("http://", "https://")):
    link_right.link_button("Open the original", original)
view = ui.claim_series(claim)
title = f"{claim['name'] or claim['entity_id'] or 'no entity'}: {view['metric'] or claim['metric']}"
st.plotly_chart(
    plots.fig_claim_series(view, status=claim["status"], title=title), key="claims_series"
)
if view["metric"] and claim["status"] in ("met", "missed"):
    st.caption(
        f"{render.markdown_escape(view['metric'])} as the check measured it"
        + (" (trailing-year totals)" if claims_reads.is_flow_metric(view["metric"]) else "")
        + f", values filed by {claim['check_date']}. Dashed: the claimed path from the baseline to the target."
    )
elif claim.get("status_reason"):
    st.caption(f"Not checked against a series: {render.markdown_escape(claim['status_reason'])}.")

# ----------------------------------------------------------------- every claim as written
st.subheader("Claims as written")
st.html(render.claim_cards_html(claims.head(MAX_CARDS)))
if len(claims) > MAX_CARDS:
    st.caption(f"First {MAX_CARDS} of {len(claims):,} claims shown; the table has all of them.")
