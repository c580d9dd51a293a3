"""Read models and the one write of the Label page.

Reads open the database read-only. :func:`save_label` and :func:`restore_label` write through
:class:`analyzer.storage.labels.LabelWriter`, a connection that can change the ``labels``
table and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd

from analyzer.storage import Store, resolve_db_path, utcnow
from analyzer.storage.labels import LABEL_NAMES, LabelWriter

QUEUE_SIZE = 25


@contextmanager
def _readonly(db: str | os.PathLike[str] | None) -> Iterator[Store]:
    store = Store(resolve_db_path(db), readonly=True)
    try:
        yield store
    finally:
        store.close()


def label_queue(
    db: str | os.PathLike[str] | None,
    annotator: str,
    *,
    n: int = QUEUE_SIZE,
    strategy: str = "uncertain",
    measure: str = "margin",
    entity: str | None = None,
    model_version: str | None = None,
    skip: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """The next sentences for ``annotator``, best first: the export's choice, leaving out the
    sentences this annotator has labelled (others' labels stay in, so agreement can be measured)
    and those whose text hash is in ``skip``. Uncertainty is the ``model_version``'s (default:
    the latest scored)."""
    from analyzer.training.labelling import choose_sentences

    with _readonly(db) as store:
        if not store.scored_versions():
            return pd.DataFrame()
        versions = [model_version] if model_version and strategy != "disagreement" else None
        chosen, _ = choose_sentences(
            store,
            n=n + len(skip),
            strategy=strategy,
            measure=measure,
            entity=entity,
            model_versions=versions,
            exclude_labelled_by=annotator,
        )
    if chosen.empty:
        return chosen
    return chosen[~chosen["text_hash"].isin(skip)].head(n).reset_index(drop=True)


def sentence_view(
    db: str | os.PathLike[str] | None, document_id: int, sentence_index: int, *, window: int = 2
) -> dict[str, Any]:
    """The sentence with the ones around it, and its document's title, source, date and link."""
    with _readonly(db) as store:
        context = store.sentence_context(document_id, sentence_index, window=window)
        document = store.document_summary(int(document_id)) or {}
    return {
        "context": context,
        "title": document.get("title"),
        "url": document.get("url"),
        "published_at": document.get("published_at"),
        "source": document.get("source"),
    }


def current_label(
    db: str | os.PathLike[str] | None, text_hash: str, annotator: str
) -> dict[str, Any] | None:
    with _readonly(db) as store:
        return store.label(text_hash, annotator)


def progress(db: str | os.PathLike[str] | None, annotator: str) -> int:
    """How many sentences ``annotator`` has labelled."""
    with _readonly(db) as store:
        return int(store.label_counts().get(annotator, 0))


def save_label(
    db: str | os.PathLike[str] | None,
    *,
    sentence: Mapping[str, Any],
    annotator: str,
    labels: Mapping[str, int | None],
    guideline_version: str,
) -> dict[str, int]:
    """Store one label from the page (origin ``app``); only the labels table is writable."""
    row = {
        "text_hash": sentence["text_hash"],
        "annotator": annotator,
        "text": sentence["text"],
        "document_id": int(sentence["document_id"]),
        "sentence_index": int(sentence["sentence_index"]),
        **{name: labels.get(name) for name in LABEL_NAMES},
        "guideline_version": guideline_version,
        "labelled_at": utcnow(),
        "origin": "app",
    }
    with LabelWriter(resolve_db_path(db)) as writer:
        return writer.save_labels([row])


def restore_label(
    db: str | os.PathLike[str] | None,
    text_hash: str,
    annotator: str,
    previous: Mapping[str, Any] | None,
) -> None:
    """Undo: put back the label the annotator had before (or none)."""
    with LabelWriter(resolve_db_path(db)) as writer:
        if previous is None:
            writer.delete_label(text_hash, annotator)
        else:
            writer.save_labels([dict(previous)])
