"""Helpers shared by the pages: cached reads, the sidebar, the loaded model and safe rendering.

Reads are wrapped in ``st.cache_data`` keyed by the database path, a stamp that changes when
the database is written, and the arguments, with a time-to-live; the model is a
``st.cache_resource``. Pages call these wrappers and the read models in ``analyzer.views``,
never SQL or torch. When the analysis for the chosen frequency is not stored, the wrappers ask
the read models explicitly for an on-the-fly computation, which runs once per database state.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from analyzer.views import check as check_reads
from analyzer.views import claims as claims_reads
from analyzer.views import common, results
from analyzer.views import documents as documents_reads
from analyzer.views import entity as entity_reads
from analyzer.views import model as model_reads
from analyzer.views import overview as overview_reads
from app_pages import render

CACHE_TTL_SECONDS = 300
MODEL_VERSION_KEY = "model_version"
FREQ_KEY = "freq"


# --------------------------------------------------------------------------- database


def db_path() -> str:
    return str(common.database_path())


def db_stamp() -> str:
    return common.database_stamp(db_path())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _status(db: str, stamp: str) -> dict[str, Any]:
    return common.database_status(db)


def status() -> dict[str, Any]:
    return _status(db_path(), db_stamp())


def require_documents() -> dict[str, Any]:
    """The database status; stops the page with a friendly notice when there is nothing to show."""
    current = status()
    if not current["ready"]:
        st.info(f"{render.markdown_escape(current['message'])} Next step: {current['next_step']}.")
        st.stop()
    return current


def model_version() -> str:
    """The scores' model version the pages show: the sidebar's choice, else the latest used."""
    chosen = st.session_state.get(MODEL_VERSION_KEY)
    versions = [v["model_version"] for v in status()["model_versions"]]
    if chosen in versions:
        return str(chosen)
    return str(status()["model_version"] or "")


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _entity_table(db: str, stamp: str) -> pd.DataFrame:
    return common.entity_table(db)


def entity_table() -> pd.DataFrame:
    return _entity_table(db_path(), db_stamp())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _filter_options(db: str, stamp: str) -> dict[str, Any]:
    return documents_reads.filter_options(db)


def filter_options() -> dict[str, Any]:
    return _filter_options(db_path(), db_stamp())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=512)
def _search_documents(
    db: str, stamp: str, query: dict[str, Any], version: str, limit: int, offset: int
) -> tuple[pd.DataFrame, int]:
    return documents_reads.search_documents(
        db, query, model_version=version, limit=limit, offset=offset
    )


def search_documents(query: dict[str, Any], *, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    return _search_documents(db_path(), db_stamp(), query, model_version(), limit, offset)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=256)
def _document_detail(db: str, stamp: str, document_id: int, version: str) -> dict[str, Any] | None:
    return documents_reads.document_detail(db, document_id, model_version=version)


def document_detail(document_id: int) -> dict[str, Any] | None:
    return _document_detail(db_path(), db_stamp(), int(document_id), model_version())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=256)
def _percentiles(
    db: str,
    stamp: str,
    scores: dict[str, float | None],
    version: str,
    entity: str | None,
    latest_quarter: bool,
) -> dict[str, Any]:
    return check_reads.corpus_percentiles(
        db, scores, model_version=version, entity=entity, latest_quarter=latest_quarter
    )


def percentiles(
    scores: dict[str, float | None], version: str, entity: str | None, latest_quarter: bool
) -> dict[str, Any]:
    return _percentiles(db_path(), db_stamp(), scores, version, entity, latest_quarter)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=64)
def _find_entities(db: str, stamp: str, text: str) -> pd.DataFrame:
    return check_reads.find_entities(db, text)


def find_entities(text: str) -> pd.DataFrame:
    return _find_entities(db_path(), db_stamp(), text)


# --------------------------------------------------------------------------- heat and divergence

FREQ_ORDER = ("quarter", "month", "week", "day")


def freq_options() -> list[str]:
    """Frequencies analysed for the model version on screen (quarter and month when none is)."""
    version = model_version()
    analysed = {a["freq"] for a in status()["analysis"] if a["model_version"] == version}
    return [f for f in FREQ_ORDER if f in analysed] or ["quarter", "month"]


def freq() -> str:
    chosen = st.session_state.get(FREQ_KEY)
    options = freq_options()
    return chosen if chosen in options else options[0]


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _analysis_state(db: str, stamp: str, freq_: str, version: str) -> dict[str, Any]:
    return common.analysis_state(db, freq_, version)


def analysis_state() -> dict[str, Any]:
    return _analysis_state(db_path(), db_stamp(), freq(), model_version())


def compute_on_the_fly() -> bool:
    """Whether the pages must compute heat and divergence (nothing stored for this frequency)."""
    return not analysis_state()["materialised"]


def analysis_notice() -> None:
    """A note when the pages compute the analysis on the fly instead of reading stored results."""
    if not analysis_state()["materialised"]:
        st.caption(
            f"Heat and divergence for this frequency are computed on the fly (nothing stored yet); "
            f"{results.NO_ANALYSIS_HINT} so pages load instantly."
        )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Reading narrative heat…")
def _overview(db: str, stamp: str, freq_: str, version: str, compute: bool) -> pd.DataFrame:
    return overview_reads.overview(db, freq_, version, compute=compute)


def overview() -> pd.DataFrame:
    return _overview(db_path(), db_stamp(), freq(), model_version(), compute_on_the_fly())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _latest_flags(
    db: str, stamp: str, freq_: str, version: str, limit: int, compute: bool
) -> pd.DataFrame:
    return overview_reads.latest_flags(db, freq_, version, limit=limit, compute=compute)


def latest_flags(limit: int = 10) -> pd.DataFrame:
    return _latest_flags(
        db_path(), db_stamp(), freq(), model_version(), limit, compute_on_the_fly()
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Reading the entity's series…", max_entries=64)
def _entity_view(
    db: str, stamp: str, entity: str, freq_: str, version: str, compute: bool
) -> dict[str, Any]:
    return entity_reads.entity_view(db, entity, freq_, version, compute=compute)


def entity_view(entity: str) -> dict[str, Any]:
    return _entity_view(
        db_path(), db_stamp(), entity, freq(), model_version(), compute_on_the_fly()
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=128)
def _lead_lag(
    db: str, stamp: str, entity: str, metric: str, freq_: str, version: str, compute: bool
) -> dict[str, Any]:
    return entity_reads.lead_lag_summary(db, entity, metric, freq_, version, compute=compute)


def lead_lag(entity: str, metric: str) -> dict[str, Any]:
    return _lead_lag(
        db_path(), db_stamp(), entity, metric, freq(), model_version(), compute_on_the_fly()
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=256)
def _period_detail(
    db: str, stamp: str, entity: str, period: str, freq_: str, version: str
) -> dict[str, Any]:
    return entity_reads.period_detail(db, entity, period, freq_, version)


def period_detail(entity: str, period: str) -> dict[str, Any]:
    return _period_detail(db_path(), db_stamp(), entity, period, freq(), model_version())


# --------------------------------------------------------------------------- claims


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _claim_versions(db: str, stamp: str) -> list[str]:
    return claims_reads.extractor_versions(db)


def claim_versions() -> list[str]:
    """Extractor versions with stored claims, the most recent first."""
    return _claim_versions(db_path(), db_stamp())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _claims_scorecard(db: str, stamp: str, version: str | None) -> pd.DataFrame:
    return claims_reads.entity_scorecard(db, extractor_version=version)


def claims_scorecard(version: str | None = None) -> pd.DataFrame:
    return _claims_scorecard(db_path(), db_stamp(), version)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=256)
def _claims_table(
    db: str,
    stamp: str,
    entity: str | None,
    status: str | None,
    due_before: str | None,
    version: str | None,
) -> pd.DataFrame:
    return claims_reads.claims_table(
        db, entity=entity, status=status, due_before=due_before, extractor_version=version
    )


def claims_table(
    *,
    entity: str | None = None,
    status: str | None = None,
    due_before: str | None = None,
    version: str | None = None,
) -> pd.DataFrame:
    return _claims_table(db_path(), db_stamp(), entity, status, due_before, version)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=256)
def _claim_series(db: str, stamp: str, claim: dict[str, Any]) -> dict[str, Any]:
    return claims_reads.claim_series_view(db, claim)


def claim_series(claim: dict[str, Any]) -> dict[str, Any]:
    """One claim's realised series and claimed path (:func:`analyzer.views.claims.claim_series_view`)."""
    plain = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in claim.items()}
    return _claim_series(db_path(), db_stamp(), plain)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=64)
def _entity_claim_markers(db: str, stamp: str, entity: str) -> pd.DataFrame:
    return claims_reads.entity_claim_markers(db, entity)


def with_claim_markers(figure: Any, entity: str) -> Any:
    """The heat timeline with the entity's claims marked at publication and at horizon."""
    from analyzer.views import plots

    return plots.add_claim_markers(
        figure, _entity_claim_markers(db_path(), db_stamp(), entity), freq=freq()
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Reading the claims…", max_entries=32)
def _checked_claims(
    db: str,
    stamp: str,
    directory: str,
    version: str,
    text: str,
    published_at: str | None,
    _scored: pd.DataFrame | None,
    _model: Any,
) -> pd.DataFrame:
    usable = db if status()["ready"] else None
    return claims_reads.checked_text_claims(
        usable, text, scorer=_model, scored_sentences=_scored, published_at=published_at
    )


def checked_claims(
    text: str, *, published_at: str | None = None, scored_sentences: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The claims in a checked text, with the status the ledger would store for them."""
    model = scorer()
    return _checked_claims(
        db_path(),
        db_stamp(),
        model_directory(),
        model.model_version,
        text,
        published_at,
        scored_sentences,
        model,
    )


# --------------------------------------------------------------------------- model


def model_directory() -> str:
    return str(model_reads.model_directory())


@st.cache_resource(show_spinner="Loading the hype model…", max_entries=2)
def _scorer(directory: str, config_stamp: float) -> Any:
    from analyzer.scoring.scorer import HypeScorer

    return HypeScorer.from_pretrained(directory, device="cpu")


def scorer() -> Any:
    """The loaded HypeScorer (cached per model directory); raises ModelError when there is none."""
    directory = Path(model_directory())
    config = directory / "config.json"
    if not config.is_file():
        from analyzer.errors import ModelError

        raise ModelError(f"no model at {directory}")
    return _scorer(str(directory), config.stat().st_mtime)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Scoring…", max_entries=32)
def _check_text(directory: str, version: str, text: str, _model: Any) -> dict[str, Any]:
    return check_reads.check_text(_model, text)


def check_text(text: str) -> dict[str, Any]:
    model = scorer()
    return _check_text(model_directory(), model.model_version, text, model)


# --------------------------------------------------------------------------- rendering


def highlighted_sentences(
    sentences: pd.DataFrame, *, max_sentences: int | None = None, note_column: str | None = None
) -> None:
    """Sentences coloured by hype, scores on hover; every sentence is escaped before wrapping."""
    st.html(render.HIGHLIGHT_LEGEND_HTML)
    st.html(
        render.highlight_sentences_html(
            sentences, max_sentences=max_sentences, note_column=note_column
        )
    )
    if max_sentences is not None and len(sentences) > max_sentences:
        st.caption(
            f"First {max_sentences} of {len(sentences)} sentences shown; the table has all of them."
        )


SCORE_COLUMNS = {
    label: st.column_config.ProgressColumn(
        label.capitalize(), min_value=0.0, max_value=1.0, format="%.2f"
    )
    for label in common.LABELS
}
# Narrow numbers for wide document tables, where titles need the room.
SCORE_NUMBER_COLUMNS = {
    label: st.column_config.NumberColumn(label.capitalize(), format="%.2f", width="small")
    for label in common.LABELS
}


def sentence_table(sentences: pd.DataFrame, *, key: str | None = None) -> None:
    st.dataframe(
        sentences,
        hide_index=True,
        width="stretch",
        column_config={
            "sentence": st.column_config.NumberColumn("#", width="small"),
            "sentence_index": st.column_config.NumberColumn("#", width="small"),
            "text": st.column_config.TextColumn("Sentence", width="large"),
            **SCORE_COLUMNS,
        },
        key=key,
    )


def escaped_list(lines: Any) -> None:
    """A bulleted list of plain-text lines (escaped: they may hold names from ingested data)."""
    items = "".join(f"<li>{html.escape(str(line))}</li>" for line in lines)
    st.html(f'<ul style="margin: 0 0 0.5rem 1.2rem; padding: 0;">{items}</ul>')


def format_score(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return f"{float(value):.2f}"


# --------------------------------------------------------------------------- sidebar


def sidebar() -> None:
    """Database summary and the model-version choice, on every page."""
    current = status()
    with st.sidebar:
        st.caption(f"Database: `{Path(current['path']).name}`")
        if not current["exists"]:
            st.caption("No database yet.")
            return
        st.caption(
            f"{current['documents']:,} documents · {current['scored']:,} scored · "
            f"{current['entities']:,} entities"
        )
        versions = current["model_versions"]
        if len(versions) > 1:
            labels = {
                v[
                    "model_version"
                ]: f"{v['model_version']} ({v['model_id']}, {v['documents']:,} docs)"
                for v in versions
            }
            st.selectbox(
                "Model version",
                list(labels),
                format_func=labels.get,
                key=MODEL_VERSION_KEY,
                help="Which model's scores the pages show.",
            )
        elif versions:
            st.caption(f"Scores: model version `{versions[0]['model_version']}`")
        options = freq_options()
        st.selectbox(
            "Periods",
            options,
            key=FREQ_KEY,
            format_func=common.FREQ_LABELS.get,
            help="Frequency of the heat and divergence series.",
        )
