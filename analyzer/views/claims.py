"""The Claims page, and the claims other pages show: the ledger of quantified growth claims as
the app reads it.

Per-entity scorecard (made, due, met, missed, reliability), the filtered list of claims with
the words to emphasise in each sentence and a link to its document, one claim's realised
series with the claimed path from baseline to target, the markers the Entity page draws, the
Overview's reliability column, and the claims the Check page finds in a pasted text. Every
function returns plain data; nothing here imports Streamlit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd

from analyzer.claims.check import STATUSES, check_claims, is_flow_metric, measured_series, scorecard
from analyzer.claims.extract import DEFAULT_GROWTH_THRESHOLD, claims_in_text
from analyzer.claims.ledger import claims_frame, fundamentals_frame
from analyzer.views.common import open_readonly

__all__ = [
    "CLAIM_TABLE_COLUMNS",
    "DEFAULT_GROWTH_THRESHOLD",
    "STATUSES",
    "checked_text_claims",
    "claim_series_view",
    "claimed_path",
    "claims_table",
    "document_link",
    "entity_claim_markers",
    "entity_scorecard",
    "extractor_versions",
    "format_change",
    "is_flow_metric",
    "reliability_columns",
    "reliability_text",
]

# The Documents page opens the document named in its link (?document=ID).
DOCUMENTS_PAGE_PATH = "documents"

CLAIM_TABLE_COLUMNS = [
    "claim_key",
    "extractor_version",
    "entity_id",
    "name",
    "published_at",
    "metric",
    "direction",
    "claimed",
    "claimed_change",
    "horizon",
    "status",
    "realised",
    "realised_change",
    "ratio",
    "status_reason",
    "hedge",
    "speaker",
    "sentence",
    "magnitude_text",
    "horizon_text",
    "hedge_text",
    "document_id",
    "document_title",
    "document_url",
    "document_link",
    "checked_metric",
    "checked_unit",
    "baseline_checked",
    "baseline_date",
    "realised_value",
    "realised_date",
    "check_date",
    "magnitude_kind",
    "magnitude_value",
    "magnitude_unit",
    "currency",
]


def _missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
        or value == ""
    )


def _number(value: Any) -> float | None:
    if _missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def document_link(document_id: Any) -> str:
    """The app-relative address of a document on the Documents page."""
    return f"{DOCUMENTS_PAGE_PATH}?document={int(document_id)}"


def format_change(ratio: Any) -> str:
    """A change as a reader says it: ×2.0 for a doubling, +25% or −10% for smaller moves."""
    value = _number(ratio)
    if value is None:
        return ""
    if value >= 2.0:
        return f"×{value:.1f}"
    percent = (value - 1.0) * 100.0
    return f"{'+' if percent >= 0 else '−'}{abs(percent):.0f}%"


def reliability_text(met: Any, missed: Any, due: Any = None) -> str:
    """ "80% (4 met, 1 missed)"; blank when nothing is due; a dash when nothing due could be checked."""
    met_n, missed_n = int(_number(met) or 0), int(_number(missed) or 0)
    due_n = int(_number(due) or 0) if due is not None else met_n + missed_n
    if met_n + missed_n == 0:
        return "" if due_n == 0 else f"– ({due_n} due, none checkable)"
    return f"{met_n / (met_n + missed_n):.0%} ({met_n} met, {missed_n} missed)"


def extractor_versions(db: str | os.PathLike[str] | None) -> list[str]:
    """Extractor versions with stored claims, the most recently used first."""
    with open_readonly(db) as store:
        seen: list[str] = []
        for row in store.claim_extractor_versions():
            if row["extractor_version"] not in seen:
                seen.append(str(row["extractor_version"]))
    return seen


def _stored(store: Any, extractor_version: str | None, **filters: Any) -> pd.DataFrame:
    return claims_frame(store, extractor_version=extractor_version or None, **filters)


def entity_scorecard(
    db: str | os.PathLike[str] | None,
    *,
    extractor_version: str | None = None,
    as_of: str | date | None = None,
) -> pd.DataFrame:
    """Per-entity record: entity_id, name, made, due, met, missed, pending, unverifiable,
    reliability (met / (met + missed), NaN when none) and ``record`` (the same in words)."""
    with open_readonly(db) as store:
        frame = scorecard(_stored(store, extractor_version), as_of=as_of)
        names = store.entity_names()
    columns = [
        "entity_id",
        "name",
        "made",
        "due",
        "met",
        "missed",
        "pending",
        "unverifiable",
        "reliability",
        "record",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame.insert(1, "name", [names.get(e, e) for e in frame["entity_id"]])
    frame["reliability"] = frame["reliability"].astype(float)
    frame["record"] = [
        reliability_text(m, x, d) for m, x, d in zip(frame["met"], frame["missed"], frame["due"])
    ]
    return frame[columns]


def reliability_columns(store: Any, *, as_of: str | date | None = None) -> pd.DataFrame:
    """The Overview's claim columns per entity: ``entity`` (id), ``claims_due``, ``claims_met``,
    ``claims_missed``, ``claim_reliability`` (NaN when none was checked) and ``claim_record``."""
    frame = scorecard(claims_frame(store), as_of=as_of)
    columns = [
        "entity",
        "claims_due",
        "claims_met",
        "claims_missed",
        "claim_reliability",
        "claim_record",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(
        {
            "entity": frame["entity_id"],
            "claims_due": frame["due"].astype(int),
            "claims_met": frame["met"].astype(int),
            "claims_missed": frame["missed"].astype(int),
            "claim_reliability": frame["reliability"].astype(float),
            "claim_record": [
                reliability_text(m, x, d)
                for m, x, d in zip(frame["met"], frame["missed"], frame["due"])
            ],
        }
    )


def claims_table(
    db: str | os.PathLike[str] | None,
    *,
    entity: str | None = None,
    status: str | None = None,
    due_before: str | date | None = None,
    extractor_version: str | None = None,
) -> pd.DataFrame:
    """Stored claims matching the filters, newest publication first (:data:`CLAIM_TABLE_COLUMNS`).

    ``claimed_change`` is the change the check worked with (an absolute target turned into a
    ratio over the baseline) or, before any check, the extracted one; ``claimed`` and
    ``realised`` are the same in words. ``document_link`` opens the document on the Documents
    page. Raises InputError for an unknown status or a malformed date.
    """
    if isinstance(due_before, date):
        due_before = due_before.isoformat()
    with open_readonly(db) as store:
        frame = _stored(
            store,
            extractor_version,
            entity=entity or None,
            status=status or None,
            due_before=due_before or None,
        )
        names = store.entity_names()
    if frame.empty:
        return pd.DataFrame(columns=CLAIM_TABLE_COLUMNS)
    for column in CLAIM_TABLE_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    checked = frame["claimed_change_checked"].map(_number)
    frame["claimed_change"] = [
        c if c is not None else _number(e) for c, e in zip(checked, frame["claimed_change"])
    ]
    frame["claimed"] = [format_change(c) for c in frame["claimed_change"]]
    frame["realised"] = [format_change(r) for r in frame["realised_change"]]
    frame["name"] = [names.get(e, e) if not _missing(e) else "" for e in frame["entity_id"]]
    frame["entity_id"] = frame["entity_id"].fillna("")
    frame["published_at"] = frame["published_at"].astype("string").str.slice(0, 10)
    frame["document_link"] = [document_link(d) for d in frame["document_id"]]
    return frame[CLAIM_TABLE_COLUMNS].reset_index(drop=True)


def claimed_path(claim: Mapping[str, Any]) -> pd.DataFrame:
    """The claimed path of a checked claim: from its baseline to baseline × claimed change at the horizon.

    Empty (columns ``date``, ``value``, ``point``) when the claim has no checked baseline or
    change yet. Values are on the scale of :func:`analyzer.claims.check.measured_series`.
    """
    baseline, change = _number(claim.get("baseline_checked")), _number(claim.get("claimed_change"))
    start, end = claim.get("baseline_date"), claim.get("horizon")
    if baseline is None or change is None or _missing(start) or _missing(end):
        return pd.DataFrame(columns=["date", "value", "point"])
    return pd.DataFrame(
        {
            "date": [str(start)[:10], str(end)[:10]],
            "value": [baseline, baseline * change],
            "point": ["baseline", "target"],
        }
    )


def claim_series_view(
    db: str | os.PathLike[str] | None,
    claim: Mapping[str, Any],
    *,
    margin_days: int = 200,
) -> dict[str, Any]:
    """One claim's realised series, as its check measured it, around the claimed period.

    Returns ``series`` (date, value: trailing-year totals for a flow such as revenue, values
    for a level), ``metric`` and ``unit`` of the series, ``path`` (:func:`claimed_path`) and
    ``realised`` (date and value the check read at the horizon, or None). The series uses
    only values filed by the check date, as the check did.
    """
    empty = pd.DataFrame(columns=["date", "value"])
    metric = claim.get("checked_metric")
    entity = claim.get("entity_id")
    view: dict[str, Any] = {
        "series": empty,
        "metric": None if _missing(metric) else str(metric),
        "unit": claim.get("checked_unit") or None,
        "path": claimed_path(claim),
        "realised": None,
    }
    realised_value, realised_date = _number(claim.get("realised_value")), claim.get("realised_date")
    if realised_value is not None and not _missing(realised_date):
        view["realised"] = {"date": str(realised_date)[:10], "value": realised_value}
    if _missing(metric) or _missing(entity):
        return view
    as_of = None if _missing(claim.get("check_date")) else str(claim["check_date"])[:10]
    with open_readonly(db) as store:
        rows = pd.DataFrame(
            store.fundamentals(str(entity), str(metric), as_of=as_of),
            columns=["entity_id", "metric", "date", "value", "unit", "source", "filed_at"],
        )
    series = measured_series(rows, str(metric))
    published = str(claim.get("published_at") or "")[:10]
    anchors = [d for d in (published, str(claim.get("baseline_date") or "")[:10]) if d]
    if anchors and not series.empty:
        start = date.fromisoformat(min(anchors)) - timedelta(days=margin_days)
        end_text = str(claim.get("horizon") or claim.get("check_date") or "")[:10]
        end = date.fromisoformat(end_text) + timedelta(days=margin_days) if end_text else date.max
        series = series[(series["date"] >= start.isoformat()) & (series["date"] <= end.isoformat())]
    view["series"] = series.reset_index(drop=True)
    return view


def entity_claim_markers(
    db: str | os.PathLike[str] | None,
    entity: str,
    *,
    extractor_version: str | None = None,
) -> pd.DataFrame:
    """An entity's claims for the heat timeline: published_at, horizon (None when none was
    read), status, metric, claimed (words), sentence and status_reason."""
    columns = [
        "published_at",
        "horizon",
        "status",
        "metric",
        "claimed",
        "sentence",
        "status_reason",
    ]
    table = claims_table(db, entity=entity, extractor_version=extractor_version)
    if table.empty:
        return pd.DataFrame(columns=columns)
    table = table.assign(horizon=[None if _missing(h) else str(h)[:10] for h in table["horizon"]])
    return table[columns].reset_index(drop=True)


class _KnownGrowth:
    """Growth scores already computed for the checked text, by sentence; others scored on demand."""

    def __init__(self, scored: pd.DataFrame | None, scorer: Any) -> None:
        self.known: dict[str, float | None] = {}
        if (
            scored is not None
            and len(scored)
            and "text" in scored.columns
            and "growth" in scored.columns
        ):
            self.known = {str(t): _number(g) for t, g in zip(scored["text"], scored["growth"])}
        self.scorer = scorer

    def sentence_scores(self, sentences: Sequence[str]) -> list[dict[str, float | None]]:
        missing = [s for s in sentences if s not in self.known]
        if missing and self.scorer is not None:
            for text, row in zip(missing, self.scorer.sentence_scores(list(missing))):
                self.known[text] = _number(row.get("growth"))
        return [{"growth": self.known.get(s)} for s in sentences]


def checked_text_claims(
    db: str | os.PathLike[str] | None,
    text: str,
    *,
    scorer: Any = None,
    scored_sentences: pd.DataFrame | None = None,
    published_at: str | None = None,
    growth_threshold: float = DEFAULT_GROWTH_THRESHOLD,
    as_of: str | date | None = None,
) -> pd.DataFrame:
    """The claims in a checked text, with the status the ledger would store for them.

    Every sentence is read, so a claim below the growth threshold is still listed; ``in_ledger``
    says whether the ledger would keep it (growth ≥ ``growth_threshold``, or unscored). Entities
    come from the database's definitions; ``status`` and ``status_reason`` come from checking
    the claim against the stored fundamentals on ``as_of`` (default today), as the ledger does;
    ``when_due`` says whether it can be checked once its horizon has passed. Horizons resolve
    against ``published_at`` (default today). Without a usable database, claims are listed with
    no entities and checked against no fundamentals.
    """
    columns = [
        "sentence",
        "entity_id",
        "metric",
        "direction",
        "claimed",
        "claimed_change",
        "magnitude_text",
        "horizon",
        "horizon_text",
        "hedge",
        "hedge_text",
        "speaker",
        "growth",
        "in_ledger",
        "status",
        "status_reason",
        "when_due",
    ]
    definitions: list[dict[str, Any]] = []
    fundamentals = pd.DataFrame(
        columns=["entity_id", "metric", "date", "value", "unit", "source", "filed_at"]
    )
    store_usable = db is not None and os.path.isfile(os.fspath(db))
    if store_usable:
        with open_readonly(db) as store:
            table = store.entity_table()
            definitions = table[["id", "name", "kind", "aliases", "exclusions", "tickers"]].to_dict(
                "records"
            )
            for definition in definitions:
                # A bare entity (created by an import) has no aliases: its name is the obvious one.
                if not definition["aliases"]:
                    definition["aliases"] = [definition["name"]]
    scores = (
        _KnownGrowth(scored_sentences, scorer)
        if (scorer is not None or scored_sentences is not None)
        else None
    )
    found = claims_in_text(
        text,
        published_at=(str(published_at)[:10] if published_at else None),
        entities=definitions,
        scorer=scores,
        growth_threshold=0.0,
    )
    if found.empty:
        return pd.DataFrame(columns=columns)
    entities = sorted({str(e) for e in found["entity_id"].dropna()})
    if store_usable and entities:
        with open_readonly(db) as store:
            fundamentals = fundamentals_frame(store, entities)
    today = (
        as_of
        if isinstance(as_of, date)
        else (date.fromisoformat(str(as_of)[:10]) if as_of else date.today())
    )
    now = check_claims(found, fundamentals, as_of=today)
    found = found.assign(status=list(now["status"]), status_reason=list(now["status_reason"]))
    later = []
    for claim, status in zip(found.to_dict("records"), now["status"]):
        horizon = claim.get("horizon")
        if status != "pending" or _missing(horizon):
            later.append("")
            continue
        due = max(today, date.fromisoformat(str(horizon)[:10]) + timedelta(days=1))
        verdict = check_claims(pd.DataFrame([claim]), fundamentals, as_of=due).iloc[0]
        later.append(
            f"unverifiable: {verdict['status_reason']}"
            if verdict["status"] == "unverifiable"
            else "checkable against the stored fundamentals"
        )
    found["when_due"] = later
    growth = found["growth"].map(_number)
    found["in_ledger"] = [g is None or g >= growth_threshold for g in growth]
    found["claimed"] = [format_change(c) for c in found["claimed_change"]]
    found["entity_id"] = found["entity_id"].fillna("")
    return found[columns].reset_index(drop=True)
