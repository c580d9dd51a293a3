"""The Documents page: full-text search with filters, one document in full, and filter choices."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from analyzer.storage import DocumentQuery
from analyzer.storage.search import DOCUMENT_SORTS, MAX_PAGE_SIZE, fts_query
from analyzer.views.common import open_readonly

__all__ = [
    "DOCUMENT_SORTS",
    "MAX_PAGE_SIZE",
    "DocumentQuery",
    "document_detail",
    "filter_options",
    "fts_query",
    "search_documents",
]


def filter_options(db: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Choices for the document filters: sources, kinds, languages and the date range."""
    with open_readonly(db) as store:
        return store.filter_options()


def search_documents(
    db: str | os.PathLike[str] | None,
    query: DocumentQuery | Mapping[str, Any] | None = None,
    *,
    model_version: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """One page of documents matching ``query`` and the total number of matches.

    Columns: id, published_at, title, source, kind, language, entities, hype, growth,
    evidence, snippet (search hits in [brackets]), url. Raises InputError for a search query
    FTS5 cannot parse, with a hint on quoting.
    """
    with open_readonly(db) as store:
        page, total = store.search_documents(
            query, model_version=model_version, limit=limit, offset=offset
        )
    if not page.empty:
        page["published_at"] = page["published_at"].astype("string").str.slice(0, 10)
        page["snippet"] = page["snippet"].astype("string").str.replace(r"\s+", " ", regex=True)
        page["entities"] = page["entities"].fillna("")
    return page, total


def document_detail(
    db: str | os.PathLike[str] | None, document_id: int, *, model_version: str | None = None
) -> dict[str, Any] | None:
    """One document's metadata, scores and scored sentences (``sentences`` is a DataFrame).

    Each sentence has its segment ``kind`` and ``prose`` (False: stored and shown, but neither
    scored nor counted in the document's scores; see analyzer.scoring.segments).
    """
    from analyzer.scoring.segments import is_prose

    with open_readonly(db) as store:
        detail = store.document_detail(document_id, model_version=model_version)
    if detail is not None:
        sentences = detail["sentences"]
        if "kind" not in sentences.columns:
            sentences["kind"] = "prose"
        sentences["prose"] = [is_prose(str(kind)) for kind in sentences["kind"]]
    return detail
