"""The ledger over a store: extract claims from scored documents, check them, read them back.

These functions join the pure stages (:mod:`.extract`, :mod:`.llm`, :mod:`.check`) with the
database; the CLI and the app call them. Each document's claims are written in their own
transaction, and a document whose extraction fails is recorded with the error and skipped:
its sentences and scores are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from analyzer.claims.check import check_claims, scorecard
from analyzer.claims.extract import DEFAULT_GROWTH_THRESHOLD, EXTRACTOR_VERSION, extract_claims
from analyzer.errors import AnalyzerError, InputError

# Fields of the JSON/CSV form of a claim, in order (the CLI's --format json|csv).
RECORD_FIELDS = (
    "entity",
    "metric",
    "direction",
    "claimed_change",
    "magnitude_kind",
    "magnitude_value",
    "magnitude_unit",
    "currency",
    "baseline_value",
    "horizon",
    "horizon_text",
    "published_at",
    "status",
    "status_reason",
    "realised_change",
    "ratio",
    "hedge",
    "speaker",
    "sentence",
    "document_id",
    "document_title",
    "document_url",
    "method",
    "extractor_version",
    "claim_key",
)


@dataclass
class ExtractionReport:
    """What one extraction run did."""

    extractor_version: str
    model_version: str | None
    documents: int = 0
    claims: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "extractor_version": self.extractor_version,
            "model_version": self.model_version,
            "documents": self.documents,
            "claims": self.claims,
            "failed": self.failed,
        }


def extract_store(
    store: Any,
    *,
    growth_threshold: float = DEFAULT_GROWTH_THRESHOLD,
    model_version: str | None = None,
    extractor: Any = None,
    refresh: bool = False,
    document_ids: list[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExtractionReport:
    """Extract claims from stored, scored documents not yet read by this extractor.

    ``model_version`` picks whose growth scores select sentences (default: the latest).
    ``extractor`` is an object with ``extractor_version`` and ``extract(sentences, documents,
    growth_threshold=...)`` (e.g. :class:`analyzer.claims.llm.LLMExtractor`); ``None`` uses
    the rules.
    """
    import pandas as pd

    version = getattr(extractor, "extractor_version", EXTRACTOR_VERSION)
    model_version = model_version or store.latest_model_version()
    if document_ids is None:
        document_ids = store.documents_for_claims(version, model_version, refresh=refresh)
    report = ExtractionReport(version, model_version)
    total = len(document_ids)
    for start in range(0, total, 100):
        chunk = document_ids[start : start + 100]
        sentences = pd.DataFrame(store.claim_sentences(chunk, model_version))
        documents = store.claim_documents(chunk)
        by_document = (
            {int(d): group for d, group in sentences.groupby("document_id")}
            if len(sentences)
            else {}
        )
        for document in documents:
            document_id = int(document["document_id"])
            frame = by_document.get(
                document_id,
                pd.DataFrame(
                    columns=["document_id", "sentence_index", "text", "growth", "entity_ids"]
                ),
            )
            try:
                if extractor is None:
                    claims = extract_claims(
                        frame, pd.DataFrame([document]), growth_threshold=growth_threshold
                    )
                else:
                    claims = extractor.extract(
                        frame, pd.DataFrame([document]), growth_threshold=growth_threshold
                    )
            except (AnalyzerError, ValueError, KeyError, TypeError) as exc:
                message = f"{type(exc).__name__}: {exc}"
                store.save_document_claims(
                    document_id,
                    version,
                    [],
                    model_version=model_version,
                    content_hash=document["content_hash"],
                    error=message,
                )
                report.failed.append({"document_id": document_id, "error": message})
                continue
            report.claims += store.save_document_claims(
                document_id,
                version,
                claims.to_dict("records"),
                model_version=model_version,
                content_hash=document["content_hash"],
            )
            report.documents += 1
        if progress:
            progress(min(start + len(chunk), total), total)
    return report


def fundamentals_frame(store: Any, entity_ids: list[str] | None = None) -> Any:
    """Every stored fundamentals filing (not only the latest), for point-in-time checks."""
    import pandas as pd

    rows = store.fundamental_filings(entity_ids)
    return pd.DataFrame(
        rows, columns=["entity_id", "metric", "date", "value", "unit", "source", "filed_at"]
    )


def check_store(
    store: Any,
    *,
    as_of: str | date | None = None,
    fx_rates: Mapping[str, float] | None = None,
    tolerance: float = 0.0,
    extractor_version: str | None = None,
) -> dict[str, int]:
    """Check every stored claim against the stored fundamentals and save the results; counts by status."""
    import pandas as pd

    claims = pd.DataFrame(store.claims(extractor_version=extractor_version))
    if len(claims) == 0:
        return {}
    entities = sorted({str(e) for e in claims["entity_id"].dropna()})
    checks = check_claims(
        claims,
        fundamentals_frame(store, entities),
        as_of=as_of,
        fx_rates=fx_rates,
        tolerance=tolerance,
    )
    store.save_claim_checks(checks.to_dict("records"))
    return {str(k): int(v) for k, v in checks["status"].value_counts().items()}


def claims_frame(
    store: Any,
    *,
    entity: str | None = None,
    status: str | None = None,
    due_before: str | None = None,
    extractor_version: str | None = None,
) -> Any:
    """Stored claims as a DataFrame (all columns of the ledger plus document title and URL)."""
    import pandas as pd

    from analyzer.claims.check import STATUSES

    if status is not None and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    if due_before is not None:
        try:
            due_before = date.fromisoformat(str(due_before)).isoformat()
        except ValueError:
            raise InputError(f"--due-before {due_before!r} is not a date (YYYY-MM-DD)") from None
    rows = store.claims(
        entity_id=entity, status=status, due_before=due_before, extractor_version=extractor_version
    )
    return pd.DataFrame(rows)


def claim_records(frame: Any) -> list[dict[str, Any]]:
    """The JSON form of claims: :data:`RECORD_FIELDS`, with ratios as plain numbers or None."""
    import math

    out = []
    for row in frame.to_dict("records") if len(frame) else []:
        record = {}
        for name in RECORD_FIELDS:
            value = row.get("entity_id") if name == "entity" else row.get(name)
            if name == "claimed_change":
                checked = row.get("claimed_change_checked")
                value = (
                    checked
                    if checked is not None
                    and not (isinstance(checked, float) and math.isnan(checked))
                    else row.get("claimed_change")
                )
            if isinstance(value, float) and math.isnan(value):
                value = None
            if hasattr(value, "item"):
                value = value.item()
            record[name] = value
        out.append(record)
    return out


def claims_scorecard(store: Any, *, as_of: str | date | None = None) -> Any:
    """Per-entity scorecard from the stored claims (made, due, met, missed, reliability).

    Columns: entity_id, made, due, met, missed, pending, unverifiable, reliability; the app's
    Overview joins it on entity_id.
    """
    return scorecard(claims_frame(store), as_of=as_of)


def claim_series(store: Any, claim: Mapping[str, Any], *, margin_days: int = 120) -> Any:
    """The fundamentals series a claim was checked against, around its period (date, value)."""
    import pandas as pd

    metric = claim.get("checked_metric")
    entity = claim.get("entity_id")
    if not metric or not entity:
        return pd.DataFrame(columns=["date", "value", "unit"])
    as_of = claim.get("check_date") or None
    rows = store.fundamentals(entity, metric, as_of=as_of)
    frame = pd.DataFrame(
        rows, columns=["entity_id", "metric", "date", "value", "unit", "source", "filed_at"]
    )
    start = date.fromisoformat(str(claim.get("published_at"))[:10]) - timedelta(days=margin_days)
    end_text = claim.get("horizon") or claim.get("check_date")
    end = (
        date.fromisoformat(str(end_text)[:10]) + timedelta(days=margin_days)
        if end_text
        else date.today()
    )
    mask = (frame["date"] >= start.isoformat()) & (frame["date"] <= end.isoformat())
    return frame.loc[mask, ["date", "value", "unit"]].reset_index(drop=True)


def entity_claims(store: Any, entity_id: str) -> Any:
    """An entity's claims, each with its realised series (column ``series``: list of {date, value})."""
    frame = claims_frame(store, entity=entity_id)
    if len(frame) == 0:
        frame["series"] = []
        return frame
    frame["series"] = [
        claim_series(store, row).to_dict("records") for row in frame.to_dict("records")
    ]
    return frame
