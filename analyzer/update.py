"""The scheduled update: ingest the sources, tag and score what is new, recompute heat and
divergence, extract and check claims, then send alerts for new flags, as one call for cron or a
timer. Every stage is recorded in the ``runs`` table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analyzer.errors import InputError

SOURCES_ENV_VAR = "ANALYZER_SOURCES"
DEFAULT_SOURCES_FILE = Path("sources.yaml")


def default_inputs() -> list[str]:
    """``$ANALYZER_SOURCES`` (paths separated by the OS path separator), else ./sources.yaml."""
    configured = os.environ.get(SOURCES_ENV_VAR)
    if configured:
        return [p for p in configured.split(os.pathsep) if p.strip()]
    if DEFAULT_SOURCES_FILE.is_file():
        return [str(DEFAULT_SOURCES_FILE)]
    raise InputError(
        f"no sources to ingest: pass them (sources files, feed URLs, folders), set {SOURCES_ENV_VAR}, "
        f"or create {DEFAULT_SOURCES_FILE}"
    )


def run_update(
    store: Any,
    inputs: Sequence[str] | None = None,
    *,
    model: str | os.PathLike[str] | None = None,
    freqs: Sequence[str] = ("quarter", "month"),
    allow_private: bool = False,
    watch: bool = True,
    base_url: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every stage in order; returns a summary per stage. Each stage's results are stored as it
    finishes, so a failure later on keeps what earlier stages did."""
    from analyzer.pipeline import (
        compute_divergence,
        ingest_inputs,
        run_claims,
        score_store,
        tag_entities,
    )
    from analyzer.scoring.scorer import HypeScorer
    from analyzer.storage import utcnow

    summary: dict[str, Any] = {}
    sources = list(inputs) if inputs else default_inputs()
    started = utcnow()
    report = ingest_inputs(store, sources, allow_private=allow_private)
    summary["ingest"] = report.to_dict()
    say(
        f"Ingested {len(sources)} input(s): {report.inserted} new, {report.updated} updated, "
        f"{report.rejected} rejected."
    )

    changed = store.documents_updated_since(started)
    if changed and store.entities():
        tagged = tag_entities(store, document_ids=changed)
        summary["tag"] = {
            "documents": tagged.documents,
            "tagged_documents": tagged.tagged_documents,
        }
    else:
        summary["tag"] = {"documents": 0, "tagged_documents": 0}
    say(
        f"Tagged {summary['tag']['tagged_documents']} of {len(changed)} new or changed document(s)."
    )

    scorer = HypeScorer.from_pretrained(model)
    scored = score_store(store, scorer)
    summary["score"] = scored
    say(f"Scored {scored['documents']} document(s) with {scorer.model_id} {scorer.model_version}.")

    summary["divergence"] = compute_divergence(
        store, freq=list(freqs), model_version=scorer.model_version
    )
    say(f"Computed heat, divergence and flags ({', '.join(freqs)}).")

    summary["claims"] = run_claims(store, model_version=scorer.model_version)
    extracted = summary["claims"]["extract"]
    say(
        f"Claims: {extracted.get('claims', 0)} found in {extracted.get('documents', 0)} new document(s), all checked."
    )

    if watch:
        from analyzer.alerts import run_watches

        alerts = run_watches(store, base_url=base_url, model_version=scorer.model_version, say=say)
        summary["watch"] = alerts.to_dict()
        say(
            f"Alerts: {alerts.sent} sent, {alerts.failed} failed, {alerts.deferred} deferred "
            f"({alerts.new_flags} new flag(s) over {alerts.watches} watch(es))."
        )
    return summary
