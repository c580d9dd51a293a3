"""Read models for comparing model versions and for annotator agreement (the Model page, the CLI).

Every function takes the database path first, opens it read-only and returns plain data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from analyzer.errors import InputError
from analyzer.storage import Store, resolve_db_path

MAX_FLIPS_WITH_TEXT = 200


@contextmanager
def _readonly(db: str | os.PathLike[str] | None) -> Iterator[Store]:
    store = Store(resolve_db_path(db), readonly=True)
    try:
        yield store
    finally:
        store.close()


def stored_versions(db: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """Model versions with scores: model_id, documents, last_scored, analysed frequencies."""
    with _readonly(db) as store:
        return store.version_summary()


def resolve_versions(store: Store, *prefixes: str) -> list[str]:
    resolved = []
    known = [v["model_version"] for v in store.version_summary()]
    for prefix in prefixes:
        version = store.resolve_version(prefix)
        if version is None:
            raise InputError(
                f"unknown or ambiguous model version {prefix!r}; stored versions: {', '.join(known) or 'none'}"
            )
        resolved.append(version)
    return resolved


def compare(
    db: str | os.PathLike[str] | None,
    a: str,
    b: str,
    *,
    freq: str = "quarter",
    threshold: float = 0.5,
    rank_by: str = "hype",
) -> Any:
    """:class:`analyzer.analysis.compare.VersionComparison` of version ``b`` against ``a``.

    Versions may be given by a unique prefix. The largest 200 flips carry their sentence's
    ``text`` (the others ``None``).
    """
    from analyzer.analysis.compare import compare_versions
    from analyzer.analysis.periods import check_freq

    check_freq(freq)
    if rank_by not in ("hype", "growth", "evidence", "hype_top", "growth_top", "evidence_top"):
        raise InputError(
            f"cannot rank documents by {rank_by!r}; use hype, growth, evidence or their _top"
        )
    with _readonly(db) as store:
        version_a, version_b = resolve_versions(store, a, b)
        if version_a == version_b:
            raise InputError("--a and --b name the same model version")
        result = compare_versions(
            a=version_a,
            b=version_b,
            sentences_a=store.sentence_scores_frame(version_a),
            sentences_b=store.sentence_scores_frame(version_b),
            documents_a=store.document_scores_frame(version_a),
            documents_b=store.document_scores_frame(version_b),
            heat_a=store.heat_frame_for(version_a, freq),
            heat_b=store.heat_frame_for(version_b, freq),
            flags_a=store.flags_frame_for(version_a, freq),
            flags_b=store.flags_frame_for(version_b, freq),
            threshold=threshold,
            rank_by=rank_by,
        )
        shown = result.flips.head(MAX_FLIPS_WITH_TEXT)
        texts = store.sentence_texts(list(zip(shown["document_id"], shown["sentence_index"])))
    # Every flip is kept (the totals count them all); the largest ones carry their sentence.
    result.flips = result.flips.assign(
        text=[
            texts.get((int(d), int(i)))
            for d, i in zip(result.flips["document_id"], result.flips["sentence_index"])
        ]
    )
    return result


def agreement(db: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Labels per annotator and Cohen's kappa for every pair who labelled the same sentences."""
    from analyzer.analysis.agreement import AGREEMENT_COLUMNS, agreement_table

    with _readonly(db) as store:
        labels = pd.DataFrame(store.labels())
        counts = store.label_counts()
    table = agreement_table(labels) if not labels.empty else pd.DataFrame(columns=AGREEMENT_COLUMNS)
    return {"annotators": counts, "table": table}
