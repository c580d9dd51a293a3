"""The read API behind the Streamlit app.

Every function takes the database path first and returns plain data (DataFrames, dicts,
strings) or a Plotly figure, so the app can wrap them in ``st.cache_data`` keyed by path and
arguments. Nothing here imports Streamlit or torch; the scorer is passed in by the caller.

Reads go through a read-only connection and SQL aggregates with ``LIMIT``: no function loads a
whole table into memory, so pages stay fast on a database of millions of sentence scores.
Text from feeds is untrusted: :func:`highlight_sentences_html` escapes every sentence before it
is wrapped in markup.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analyzer.errors import FetchError, InputError
from analyzer.storage import StorageError, Store, resolve_db_path

LABELS = ("hype", "growth", "evidence")
EMPTY_DATABASE_HINT = "run `analyzer ingest FEED` (then `analyzer score`) or `make demo`"
NO_ANALYSIS_HINT = "run `analyzer divergence` to compute narrative heat and flags"
# Below this many documents in the comparison scope a percentile says little; widen the scope.
MIN_PERCENTILE_SAMPLE = 30
DOCUMENT_SORTS = {
    "newest": "d.published_at DESC, d.id DESC",
    "oldest": "d.published_at ASC, d.id ASC",
    "most hyped": "s.hype DESC, d.id DESC",
    "least hyped": "s.hype ASC, d.id ASC",
    "most evidence": "s.evidence DESC, d.id DESC",
}
MAX_PAGE_SIZE = 500


# --------------------------------------------------------------------------- database access


def database_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The database the app reads: ``db``, else ``$ANALYZER_DB``, else ``data/analyzer.db``."""
    return resolve_db_path(db)


def database_stamp(db: str | os.PathLike[str] | None = None) -> str:
    """Changes whenever the database (or its write-ahead log) is written: part of cache keys."""
    path = database_path(db)
    parts = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            stat = candidate.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
    return "/".join(parts)


@contextmanager
def open_readonly(db: str | os.PathLike[str] | None = None) -> Iterator[Store]:
    """A read-only Store; raises StorageError when the file is missing or not a database."""
    store = Store(database_path(db), readonly=True)
    try:
        yield store
    finally:
        store.close()


def _frame(store: Store, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> pd.DataFrame:
    cursor = store.conn.execute(sql, params)
    columns = [c[0] for c in cursor.description or []]
    return pd.DataFrame(cursor.fetchall(), columns=columns)


def _scalar(store: Store, sql: str, params: Sequence[Any] = ()) -> Any:
    row = store.conn.execute(sql, params).fetchone()
    return row[0] if row else None


def _table_exists(store: Store, name: str) -> bool:
    return bool(
        _scalar(store, "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,))
    )


def database_status(db: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What the database holds, cheaply, plus a ``message`` and ``next_step`` when it is not usable.

    ``ready`` is True when there are documents to show. Never raises for a missing, empty or
    unreadable file: the app turns the message into a friendly notice.
    """
    path = database_path(db)
    status: dict[str, Any] = {
        "path": str(path), "exists": path.is_file(), "ready": False, "documents": 0, "scored": 0,
        "entities": 0, "fundamentals": 0, "model_version": None, "model_versions": [],
        "analysis": [], "message": None, "next_step": None,
    }
    if not status["exists"]:
        status["message"] = f"No database at {path}."
        status["next_step"] = EMPTY_DATABASE_HINT
        return status
    try:
        with open_readonly(path) as store:
            status["documents"] = int(_scalar(store, "SELECT COUNT(*) FROM documents") or 0)
            status["entities"] = int(_scalar(store, "SELECT COUNT(*) FROM entities") or 0)
            status["fundamentals"] = int(
                _scalar(store, "SELECT COUNT(*) FROM (SELECT 1 FROM fundamentals LIMIT 1)") or 0
            )
            versions = _frame(
                store,
                "SELECT model_version, MAX(model_id) AS model_id, COUNT(*) AS documents,"
                " MAX(scored_at) AS last_scored FROM scores GROUP BY model_version"
                " ORDER BY last_scored DESC",
            )
            status["model_versions"] = versions.to_dict("records")
            status["scored"] = int(versions["documents"].sum()) if not versions.empty else 0
            status["model_version"] = versions["model_version"].iloc[0] if not versions.empty else None
            if _table_exists(store, "analysis_runs"):
                status["analysis"] = store.query(
                    "SELECT freq, model_version, computed_at FROM analysis_runs ORDER BY computed_at DESC"
                )
    except (StorageError, sqlite3.DatabaseError) as exc:
        status["message"] = f"The database {path} cannot be read: {exc}"
        status["next_step"] = "open it once with `analyzer stats --db PATH` to upgrade or check it"
        return status
    if not status["documents"]:
        status["message"] = "No documents yet."
        status["next_step"] = EMPTY_DATABASE_HINT
        return status
    status["ready"] = True
    return status


# --------------------------------------------------------------------------- entities and filters


def entity_table(db: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Entities with their definitions (aliases and tickers as lists) and tagged document counts."""
    with open_readonly(db) as store:
        frame = _frame(
            store,
            "SELECT e.id, e.name, e.kind, e.aliases, e.exclusions, e.tickers,"
            " (SELECT COUNT(*) FROM document_entities de WHERE de.entity_id = e.id) AS documents"
            " FROM entities e ORDER BY e.name COLLATE NOCASE",
        )
    for column in ("aliases", "exclusions", "tickers"):
        frame[column] = [json.loads(value or "[]") for value in frame[column]]
    return frame


def filter_options(db: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Choices for the document filters: sources, kinds, languages and the date range."""
    with open_readonly(db) as store:
        sources = _frame(store, "SELECT id, name, kind FROM sources ORDER BY name COLLATE NOCASE")
        kinds = [r[0] for r in store.conn.execute("SELECT DISTINCT kind FROM documents ORDER BY 1")]
        languages = [
            r[0] for r in store.conn.execute(
                "SELECT DISTINCT language FROM documents WHERE language IS NOT NULL ORDER BY 1"
            )
        ]
        first = _scalar(store, "SELECT MIN(published_at) FROM documents WHERE published_at IS NOT NULL")
        last = _scalar(store, "SELECT MAX(published_at) FROM documents WHERE published_at IS NOT NULL")
    return {
        "sources": sources.to_dict("records"),
        "kinds": kinds,
        "languages": languages,
        "first_date": first[:10] if first else None,
        "last_date": last[:10] if last else None,
    }


# --------------------------------------------------------------------------- documents


@dataclass
class DocumentQuery:
    """Filters of the Documents page; every field is optional."""

    text: str = ""
    entity: str | None = None
    source_id: int | None = None
    kind: str | None = None
    language: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    min_hype: float | None = None
    max_hype: float | None = None
    sort: str = "newest"


def fts_query(text: str) -> str:
    """The search box's text as an FTS5 query.

    Plain words are matched as given (FTS5 syntax such as ``"exact phrase"``, ``OR``, ``NOT``
    and ``prefix*`` works); a query FTS5 rejects is reported by :func:`search_documents`.
    """
    return " ".join(text.split())


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
    if query is None:
        query = DocumentQuery()
    elif isinstance(query, Mapping):
        query = DocumentQuery(**query)
    if query.sort not in DOCUMENT_SORTS and query.sort != "relevance":
        raise InputError(f"unknown sort {query.sort!r}; use one of {', '.join(DOCUMENT_SORTS)} or relevance")
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    offset = max(0, int(offset))
    clauses: list[str] = []
    params: list[Any] = []
    text = fts_query(query.text or "")
    join_fts = ""
    if text:
        join_fts = "JOIN documents_fts ON documents_fts.rowid = d.id"
        clauses.append("documents_fts MATCH ?")
        params.append(text)
    if query.entity:
        clauses.append(
            "EXISTS (SELECT 1 FROM document_entities de WHERE de.document_id = d.id AND de.entity_id = ?)"
        )
        params.append(query.entity)
    if query.source_id is not None:
        clauses.append("d.source_id = ?")
        params.append(int(query.source_id))
    if query.kind:
        clauses.append("d.kind = ?")
        params.append(query.kind)
    if query.language:
        clauses.append("d.language = ?")
        params.append(query.language)
    if query.date_from:
        clauses.append("d.published_at >= ?")
        params.append(str(query.date_from)[:10])
    if query.date_to:
        # Inclusive of the whole last day, whatever time of day is stored.
        clauses.append("d.published_at < date(?, '+1 day')")
        params.append(str(query.date_to)[:10])
    if query.min_hype is not None and query.min_hype > 0:
        clauses.append("s.hype >= ?")
        params.append(float(query.min_hype))
    if query.max_hype is not None and query.max_hype < 1:
        clauses.append("s.hype <= ?")
        params.append(float(query.max_hype))
    where = " AND ".join(clauses) or "1"
    order = "documents_fts.rank" if (query.sort == "relevance" and text) else DOCUMENT_SORTS.get(
        query.sort, DOCUMENT_SORTS["newest"]
    )
    snippet = (
        "snippet(documents_fts, 1, '[', ']', ' … ', 14)" if text else "substr(d.text, 1, 200)"
    )
    scores_join = "LEFT JOIN scores s ON s.document_id = d.id AND s.model_version = ?"
    version_param = [model_version or ""]
    page_sql = f"""
        SELECT d.id, d.published_at, d.title, src.name AS source, d.kind, d.language,
               (SELECT group_concat(de.entity_id, ', ') FROM document_entities de
                 WHERE de.document_id = d.id) AS entities,
               s.hype, s.growth, s.evidence, {snippet} AS snippet, d.url
        FROM documents d {join_fts}
        {scores_join}
        LEFT JOIN sources src ON src.id = d.source_id
        WHERE {where}
        ORDER BY {order}
        LIMIT ? OFFSET ?
    """
    # Counting needs the scores only when a score filter is set; skipping the join halves the cost.
    filters_scores = "s.hype" in where
    count_sql = (
        f"SELECT COUNT(*) FROM documents d {join_fts} {scores_join if filters_scores else ''} WHERE {where}"
    )
    count_params = [*version_param, *params] if filters_scores else list(params)
    try:
        with open_readonly(db) as store:
            page = _frame(store, page_sql, [*version_param, *params, limit, offset])
            total = int(_scalar(store, count_sql, count_params) or 0)
    except sqlite3.OperationalError as exc:
        if text:
            raise InputError(
                f"the search {query.text!r} is not a valid full-text query ({exc}); "
                'put phrases in double quotes, e.g. "AI bubble"'
            ) from exc
        raise StorageError(f"could not list documents: {exc}") from exc
    if not page.empty:
        page["published_at"] = page["published_at"].astype("string").str.slice(0, 10)
        page["snippet"] = page["snippet"].astype("string").str.replace(r"\s+", " ", regex=True)
        page["entities"] = page["entities"].fillna("")
    return page, total


def document_detail(
    db: str | os.PathLike[str] | None, document_id: int, *, model_version: str | None = None
) -> dict[str, Any] | None:
    """One document's metadata, scores and scored sentences (``sentences`` is a DataFrame)."""
    with open_readonly(db) as store:
        rows = store.query(
            "SELECT d.id, d.title, d.url, d.author, d.published_at, d.kind, d.language,"
            " src.name AS source, length(d.text) AS characters"
            " FROM documents d LEFT JOIN sources src ON src.id = d.source_id WHERE d.id = ?",
            (int(document_id),),
        )
        if not rows:
            return None
        detail = rows[0]
        version = model_version or ""
        scores = store.query(
            "SELECT hype, growth, evidence, hype_top, n_sentences, unscored FROM scores"
            " WHERE document_id = ? AND model_version = ?",
            (int(document_id), version),
        )
        detail["scores"] = scores[0] if scores else None
        detail["entities"] = [
            r[0] for r in store.conn.execute(
                "SELECT entity_id FROM document_entities WHERE document_id = ? ORDER BY entity_id",
                (int(document_id),),
            )
        ]
        detail["sentences"] = _frame(
            store,
            "SELECT t.sentence_index, t.text, ss.hype, ss.growth, ss.evidence FROM sentences t"
            " LEFT JOIN sentence_scores ss ON ss.document_id = t.document_id"
            " AND ss.sentence_index = t.sentence_index AND ss.model_version = ?"
            " WHERE t.document_id = ? ORDER BY t.sentence_index",
            (version, int(document_id)),
        )
    return detail


# --------------------------------------------------------------------------- percentiles


def _quarter_bounds(day: str) -> tuple[str, str, str]:
    """(first day, first day of the next quarter, label) of the quarter containing ``day``."""
    year, month = int(day[:4]), int(day[5:7])
    first_month = (month - 1) // 3 * 3 + 1
    start = f"{year:04d}-{first_month:02d}-01"
    end = f"{year + 1:04d}-01-01" if first_month == 10 else f"{year:04d}-{first_month + 3:02d}-01"
    return start, end, f"{year} Q{(first_month - 1) // 3 + 1}"


def corpus_percentiles(
    db: str | os.PathLike[str] | None,
    scores: Mapping[str, float | None],
    *,
    model_version: str,
    entity: str | None = None,
    latest_quarter: bool = True,
) -> dict[str, Any]:
    """Where ``scores`` fall among the stored document scores of the same model version.

    A percentile is the share of comparable documents scoring lower (ties count half), so 92
    means "higher than 92% of them". The comparison set is the entity's documents (or the whole
    corpus) in the latest quarter with documents, widened to all dates when that quarter holds
    fewer than ``MIN_PERCENTILE_SAMPLE`` documents. Returns ``percentiles`` (label -> float or
    None), ``n``, ``scope`` (words for the comparison set) and ``reason`` when none could be
    computed, and ``note`` when the latest quarter was too thin and all dates were used.
    """
    result: dict[str, Any] = {"percentiles": dict.fromkeys(LABELS), "n": 0, "scope": None, "reason": None,
                              "note": None}
    values = {label: scores.get(label) for label in LABELS}
    if all(v is None for v in values.values()):
        result["reason"] = "the text has no scores"
        return result
    entity_join = ""
    entity_params: list[Any] = []
    if entity:
        entity_join = "JOIN document_entities de ON de.document_id = s.document_id AND de.entity_id = ?"
        entity_params = [entity]
    base = (
        f"FROM scores s {entity_join} JOIN documents d ON d.id = s.document_id"
        " WHERE s.model_version = ? AND s.unscored = 0 AND s.hype IS NOT NULL"
    )
    with open_readonly(db) as store:
        entity_name = None
        if entity:
            entity_name = _scalar(store, "SELECT name FROM entities WHERE id = ?", (entity,)) or entity
        subject = f"{entity_name} coverage" if entity_name else "stored documents"
        scopes: list[tuple[str, list[Any], str]] = []
        if latest_quarter:
            last = _scalar(store, f"SELECT MAX(d.published_at) {base}", [*entity_params, model_version])
            if last:
                start, end, label = _quarter_bounds(str(last)[:10])
                scopes.append((" AND d.published_at >= ? AND d.published_at < ?", [start, end], f"{subject} in {label}"))
        scopes.append(("", [], f"all {subject}"))
        counts = ", ".join(
            f"SUM(s.{label} < ?), SUM(s.{label} = ?), COUNT(s.{label})" for label in LABELS
        )
        for extra, extra_params, scope in scopes:
            label_params: list[Any] = []
            for label in LABELS:
                value = values[label] if values[label] is not None else float("nan")
                label_params += [value, value]
            row = store.conn.execute(
                f"SELECT COUNT(*), {counts} {base}{extra}",
                [*label_params, *entity_params, model_version, *extra_params],
            ).fetchone()
            n = int(row[0] or 0)
            if extra and n < MIN_PERCENTILE_SAMPLE:
                result["note"] = (
                    f"{scope[0].upper()}{scope[1:]} has only {n} scored documents, too few to rank against; "
                    "compared with all dates instead."
                )
            if n >= MIN_PERCENTILE_SAMPLE or (extra == "" and n > 0):
                for i, label in enumerate(LABELS):
                    below, equal, counted = (int(x or 0) for x in row[1 + 3 * i : 4 + 3 * i])
                    if values[label] is None or not counted:
                        continue
                    result["percentiles"][label] = 100.0 * (below + 0.5 * equal) / counted
                result.update(n=n, scope=scope)
                return result
    result["reason"] = (
        f"no stored documents scored by model version {model_version}"
        + (f" mention {entity}" if entity else "")
        + "; run `analyzer score` to compare against the corpus"
    )
    return result


def percentile_sentence(label: str, percentile: float | None, scope: str | None) -> str:
    """"More hyped than 92% of NVIDIA coverage in 2025 Q3" from the numbers."""
    if percentile is None or scope is None:
        return f"No {label} comparison available."
    adjective = {"hype": "hyped", "growth": "growth-focused", "evidence": "evidence-backed"}.get(label, label)
    if percentile >= 50:
        return f"More {adjective} than {percentile:.0f}% of {scope}."
    return f"Less {adjective} than {100 - percentile:.0f}% of {scope}."


# --------------------------------------------------------------------------- checking a text


_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"trillion|billion|million|thousand|tn|bn|mn|mln|[kKmMbBtT](?![a-zA-Z])"
_CURRENCY_WORDS = r"dollars?|USD|US\$|euros?|EUR|pounds?|GBP|yen|JPY|yuan|CNY|RMB"
_UNITS = (
    r"GW|MW|kW|TWh|GWh|MWh|TB|PB|EB|GB|exaflops|petaflops|teraflops|FLOPS|users|customers|"
    r"subscribers|employees|developers|units|chips|GPUs|servers|tokens|transactions|downloads|"
    r"installs|wallets|accounts|vehicles|parameters|data ?centers|data ?centres"
)
FIGURE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "money",
        re.compile(
            rf"(?:US)?[$€£¥]\s?(?:{_NUMBER})(?:\s?(?:{_SCALE}))?"
            rf"|(?:{_NUMBER})\s?(?:(?:{_SCALE})\s?)?(?:{_CURRENCY_WORDS})\b"
        ),
    ),
    (
        "percent",
        re.compile(
            rf"[-+−]?(?:{_NUMBER})\s?(?:%|percent\b|per cent\b|percentage points?\b|pp\b|bps\b|basis points\b)"
        ),
    ),
    ("multiple", re.compile(rf"(?:{_NUMBER})\s?(?:x|×|-fold|fold)(?![a-zA-Z])|(?:{_NUMBER}) times\b")),
    (
        "quantity",
        re.compile(rf"(?:{_NUMBER})\s?(?:(?:{_SCALE})\s)?(?:{_UNITS})\b|(?:{_NUMBER})\s(?:trillion|billion|million)\b"),
    ),
)
_SCALE_VALUES = {
    "trillion": 1e12, "tn": 1e12, "t": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9,
    "million": 1e6, "mn": 1e6, "mln": 1e6, "m": 1e6, "thousand": 1e3, "k": 1e3,
}


def _figure_value(text: str) -> float | None:
    """The number a figure states, scaled (``$1.2bn`` -> 1.2e9); None when unreadable."""
    number = re.search(_NUMBER, text)
    if number is None:
        return None
    try:
        value = float(number.group(0).replace(",", ""))
    except ValueError:
        return None
    rest = text[number.end():].strip().lower()
    scale = re.match(r"(trillion|billion|million|thousand|tn|bn|mn|mln|[kmbt])(?![a-z])", rest)
    if scale:
        value *= _SCALE_VALUES[scale.group(1)]
    if text.lstrip().startswith(("-", "−")):
        value = -value
    return value


def extract_figures(sentences: Sequence[str]) -> pd.DataFrame:
    """Money amounts, percentages, multiples and quantities with units cited in each sentence.

    Columns: sentence (index), figure (as written), kind, value (scaled number).
    """
    rows = []
    for index, sentence in enumerate(sentences):
        taken: list[tuple[int, int]] = []
        for kind, pattern in FIGURE_PATTERNS:
            for hit in pattern.finditer(sentence):
                start, end = hit.span()
                if any(start < e and end > s for s, e in taken):
                    continue
                taken.append((start, end))
                figure = hit.group(0).strip()
                rows.append({"sentence": index, "start": start, "figure": figure, "kind": kind,
                             "value": _figure_value(figure)})
    frame = pd.DataFrame(rows, columns=["sentence", "start", "figure", "kind", "value"])
    return frame.sort_values(["sentence", "start"]).drop(columns="start").reset_index(drop=True)


def find_entities(db: str | os.PathLike[str] | None, text: str) -> pd.DataFrame:
    """Entities of the database mentioned in ``text``: id, name, mentions, first matched words."""
    from analyzer.entities.definitions import as_entities
    from analyzer.entities.matching import match_entities

    columns = ["entity", "name", "mentions", "matched"]
    table = entity_table(db)
    if table.empty or not text:
        return pd.DataFrame(columns=columns)
    definitions = table[["id", "name", "kind", "aliases", "exclusions", "tickers"]].to_dict("records")
    for definition in definitions:
        # A bare entity (created by an import) has no aliases: its name is the obvious one.
        if not definition["aliases"]:
            definition["aliases"] = [definition["name"]]
    matches = match_entities(text, as_entities(definitions))
    names = dict(zip(table["id"], table["name"]))
    found: dict[str, dict[str, Any]] = {}
    for match in matches:
        row = found.setdefault(
            match.entity_id, {"entity": match.entity_id, "name": names.get(match.entity_id), "mentions": 0,
                              "matched": []}
        )
        row["mentions"] += 1
        if match.text not in row["matched"]:
            row["matched"].append(match.text)
    for row in found.values():
        row["matched"] = ", ".join(row["matched"][:5])
    frame = pd.DataFrame(list(found.values()), columns=columns)
    return frame.sort_values(["mentions", "entity"], ascending=[False, True]).reset_index(drop=True)


def check_text(scorer: Any, text: str, *, max_sentences: int | None = 2000) -> dict[str, Any]:
    """Score one pasted or fetched text: document scores plus a ``sentences`` DataFrame.

    ``scorer`` is a loaded :class:`analyzer.scoring.scorer.HypeScorer`. The result holds the document
    values (hype, growth, evidence and their ``_top``/``_share``), ``language``, ``unscored``
    and ``reason`` (e.g. a language the model does not cover), ``model_version`` and
    ``figures`` (see :func:`extract_figures`).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("paste some text to check")
    result = scorer.score_document(text, max_sentences=max_sentences)
    sentences = pd.DataFrame(result.pop("sentences"), columns=["text", *LABELS])
    # Numbered from 1 for readers; the figures table uses the same numbers.
    sentences.insert(0, "sentence", range(1, len(sentences) + 1))
    result["sentences"] = sentences
    figures = extract_figures(sentences["text"].tolist())
    figures["sentence"] = figures["sentence"] + 1
    result["figures"] = figures
    result["model_version"] = scorer.model_version
    result["model_id"] = scorer.model_id
    result["model_languages"] = list(scorer.languages)
    return result


def check_result_json(result: Mapping[str, Any], *, source: str | None = None,
                      entities: pd.DataFrame | None = None,
                      percentiles: Mapping[str, Any] | None = None) -> str:
    """The check result as a JSON document (sentences and figures as lists of objects)."""
    document = {
        key: _plain(value) for key, value in result.items() if not isinstance(value, pd.DataFrame)
    }
    document["source"] = source
    document["sentences"] = _records(result.get("sentences"))
    document["figures"] = _records(result.get("figures"))
    document["entities"] = _records(entities)
    if percentiles is not None:
        document["percentiles"] = _plain(dict(percentiles))
    return json.dumps(document, indent=2, ensure_ascii=False)


def check_result_csv(result: Mapping[str, Any]) -> str:
    """One row per sentence with its scores, plus the document scores repeated on every row."""
    sentences = result["sentences"].copy()
    for label in LABELS:
        sentences[f"document_{label}"] = result.get(label)
    sentences["language"] = result.get("language")
    sentences["model_version"] = result.get("model_version")
    return sentences.to_csv(index=False)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _plain(value.item())
    return value


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [_plain(r) for r in cleaned.to_dict("records")]


# --------------------------------------------------------------------------- highlighting

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def markdown_escape(text: Any) -> str:
    """``text`` with every character that Streamlit's Markdown would interpret backslash-escaped.

    For names and titles from ingested data shown in captions and headings: without it a
    title could add links, load remote images (``![](url)``), colour text (``:red[...]``) or
    turn "$5 and $6" into LaTeX.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))



def hype_colour(value: float | None) -> str:
    """Background for a sentence: transparent at 0, strong orange-red at 1, grey when unscored."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "rgba(128, 128, 128, 0.12)"
    strength = max(0.0, min(1.0, float(value)))
    return f"rgba(230, 85, 13, {0.05 + 0.6 * strength:.2f})"


def _score_text(row: Mapping[str, Any]) -> str:
    parts = []
    for label in LABELS:
        value = row.get(label)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            parts.append(f"{label} –")
        else:
            parts.append(f"{label} {float(value):.2f}")
    return " · ".join(parts)


def highlight_sentences_html(
    sentences: pd.DataFrame, *, max_sentences: int | None = None, note_column: str | None = None,
) -> str:
    """Sentences as HTML spans coloured by hype, each with its three scores on hover.

    Inline (running text) by default; with ``note_column`` every sentence gets its own line
    followed by that column's text in grey (e.g. source and date). Every sentence, note and
    attribute value is HTML-escaped before it is wrapped, so the result is safe to render
    whatever the text contains.
    """
    rows = sentences.to_dict("records")
    if max_sentences is not None:
        rows = rows[:max_sentences]
    parts = []
    for row in rows:
        hype = row.get("hype")
        hype = None if hype is None or pd.isna(hype) else float(hype)
        span = (
            '<span class="hype-sentence" style="background-color: {colour}; border-radius: 3px;'
            ' padding: 1px 2px; line-height: 1.9;" title="{title}">{text}</span>'.format(
                colour=hype_colour(hype),
                title=html.escape(_score_text(row), quote=True),
                text=html.escape(str(row.get("text") or ""), quote=True),
            )
        )
        if note_column is None:
            parts.append(span)
        else:
            note = html.escape(str(row.get(note_column) or ""), quote=True)
            parts.append(
                f'<div style="margin-bottom: 0.5rem;">{span}'
                f' <span style="color: #808495; font-size: 0.85rem;">{note}</span></div>'
            )
    return '<div class="hype-text" style="font-size: 1rem;">' + ("" if note_column else " ").join(parts) + "</div>"


HIGHLIGHT_LEGEND_HTML = (
    '<div style="font-size: 0.85rem;">Hype: '
    + " ".join(
        f'<span style="background-color: {hype_colour(v)}; padding: 1px 6px; border-radius: 3px;">{v:.1f}</span>'
        for v in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    + ' <span style="background-color: rgba(128, 128, 128, 0.12); padding: 1px 6px; border-radius: 3px;">'
    "unscored</span> · hover a sentence for its three scores</div>"
)


# --------------------------------------------------------------------------- fetching a URL


def fetch_article(url: str, *, allow_private: bool = False) -> dict[str, Any]:
    """Download one article page with the safe fetcher and extract its title and text.

    Raises FetchError with a plain explanation when the URL is refused (private addresses,
    non-http schemes), unreachable, too large or holds no article text.
    """
    from analyzer.ingest.fetch import PAGE_ACCEPT, SafeFetcher

    url = (url or "").strip()
    if not url:
        raise InputError("enter a URL starting with http:// or https://")
    with SafeFetcher(allow_private=allow_private) as fetcher:
        result = fetcher.fetch(url, accept=PAGE_ACCEPT, respect_robots=True)
    if not result.ok:
        reasons = {
            "refused": "the address is not allowed (only public http/https addresses are fetched)",
            "disallowed": "the site's robots.txt does not allow fetching this page",
            "timeout": "the site did not answer in time",
            "too_large": "the page is larger than the size limit",
            "http_error": f"the site answered HTTP {result.http_status}",
            "not_modified": "the site answered 304 Not Modified",
        }
        reason = reasons.get(result.status, "the download failed")
        detail = f" ({result.error})" if result.error else ""
        raise FetchError(f"could not fetch {url}: {reason}{detail}")
    return extract_article(result.content, result.content_type, result.final_url or url)


def extract_article(content: bytes, content_type: str | None, url: str) -> dict[str, Any]:
    """Title and clean text of a fetched page, PDF or plain-text file via the ingestion extractors.

    Raises FetchError (with the extractor's reason) when no article text can be found.
    """
    from analyzer.ingest import ContentError, extract_pdf, extract_plain_text, sniff
    from analyzer.ingest import extract_article as extract_html

    kind = sniff(content, name=url, content_type=content_type)
    try:
        if kind == "pdf":
            extracted = extract_pdf(content)
        elif kind == "text":
            extracted = extract_plain_text(content, content_type=content_type)
        elif kind in ("html", "xml"):
            extracted = extract_html(content, url=url, content_type=content_type)
        else:
            raise ContentError(f"the address returned {kind} content, not an article")
    except ContentError as exc:
        raise FetchError(f"no article text at {url}: {exc}") from exc
    return {"url": url, "title": extracted.title, "text": extracted.text,
            "published_at": extracted.published_at, "author": extracted.author}


# --------------------------------------------------------------------------- model card


def model_directory() -> Path:
    """The model the app loads: ``$ANALYZER_MODEL``, else the shipped models/hype-default."""
    from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, MODEL_ENV_VAR

    return Path(os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_DIR).expanduser()


_LOCAL_IMAGE = re.compile(r"!\[[^\]]*\]\((?!https?:)[^)]*\)")


def model_card(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The model's card (markdown), metrics, configuration summary and reliability plot path.

    Reads files only (no torch), so the Model page is instant. ``exists`` is False when the
    directory holds no saved model.
    """
    directory = Path(directory) if directory else model_directory()
    card: dict[str, Any] = {
        "directory": str(directory), "exists": (directory / "config.json").is_file(), "readme": None,
        "metrics": None, "config": None, "model_version": None, "model_id": directory.name,
        "reliability_plot": None, "images": [],
    }
    if not card["exists"]:
        return card
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    card["config"] = {
        key: config.get(key)
        for key in ("model_id", "model_version", "base", "method", "labels", "languages", "multilingual",
                    "temperatures", "thresholds", "max_length", "created_at")
        if key in config
    }
    card["model_version"] = config.get("model_version")
    card["model_id"] = config.get("model_id") or directory.name
    readme = directory / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        # Images beside the card cannot be served by the app; the page shows them itself.
        card["readme"] = _LOCAL_IMAGE.sub("", text)
    metrics = directory / "metrics.json"
    if metrics.is_file():
        try:
            card["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
        except ValueError:
            card["metrics"] = None
    images = sorted(p for p in directory.glob("*.png"))
    card["images"] = [str(p) for p in images]
    reliability = [p for p in images if "reliab" in p.name.lower() or "calibration" in p.name.lower()]
    card["reliability_plot"] = str(reliability[0]) if reliability else (str(images[0]) if images else None)
    return card


def metrics_table(metrics: Mapping[str, Any] | None) -> pd.DataFrame:
    """Per-label test metrics as a table (label rows, numeric metric columns), when present."""
    if not metrics:
        return pd.DataFrame()
    per_label = metrics.get("labels")
    if isinstance(per_label, Mapping):
        rows = []
        for label, values in per_label.items():
            if isinstance(values, Mapping):
                rows.append({"label": label, **{k: v for k, v in values.items() if isinstance(v, (int, float))}})
        if rows:
            return pd.DataFrame(rows)
    flat = {k: v for k, v in (metrics.get("summary") or metrics).items() if isinstance(v, (int, float))}
    return pd.DataFrame([flat]) if flat else pd.DataFrame()



# --------------------------------------------------------------------------- narrative heat and divergence
# The Overview and Entity pages read the materialised analysis through analyzer.analysis; when
# nothing is materialised for the chosen frequency and model version, analysis computes the
# same numbers in memory (fine for small databases; large ones should run `analyzer divergence`).

FREQ_LABELS = {"quarter": "Quarterly", "month": "Monthly", "week": "Weekly", "day": "Daily"}
# A period with fewer stories than this says little about tone; the Entity page warns.
MIN_RELIABLE_STORIES = 5
# The fundamental shown first on the Entity page: the most direct measure of the business.
METRIC_PREFERENCE = ("revenue", "revenues", "fees", "tvl", "active_users", "price", "market_cap")
GROWTH_BASIS_WORDS = {"yoy": "year over year", "pop": "on the previous period"}


def period_label(value: Any, freq: str) -> str:
    """'2024 Q3', '2024-03', 'week of 2024-03-04' or the day, for a period's start."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    stamp = pd.Timestamp(str(value)[:10]) if isinstance(value, str) else pd.Timestamp(value)
    if freq == "quarter":
        return f"{stamp.year} Q{(stamp.month - 1) // 3 + 1}"
    if freq == "month":
        return stamp.strftime("%Y-%m")
    if freq == "week":
        return f"week of {stamp.strftime('%Y-%m-%d')}"
    return stamp.strftime("%Y-%m-%d")


def analysis_state(db: str | os.PathLike[str] | None, freq: str, model_version: str | None) -> dict[str, Any]:
    """Whether the analysis for ``freq`` and ``model_version`` is materialised, and when."""
    with open_readonly(db) as store:
        row = store.conn.execute(
            "SELECT computed_at, params FROM analysis_runs WHERE freq = ? AND model_version = ?",
            (freq, model_version or ""),
        ).fetchone()
    if row is None:
        return {"materialised": False, "computed_at": None, "params": None}
    params = json.loads(row[1] or "{}")
    return {"materialised": params.get("entities") is None, "computed_at": row[0], "params": params}


def describe_flag(flag: Mapping[str, Any], rows: pd.DataFrame, name: str | None = None) -> str:
    """One line, generated from the numbers, for a flagged span.

    ``rows`` is the divergence frame of the flag's entity and metric. Example: "Nvidia ·
    revenue · 2024 Q1–2024 Q4: narrative heat up 2.1σ while revenue growth slowed to 3% year
    over year (peak divergence 3.4 in 2024 Q3)".
    """
    freq = str(flag.get("freq") or "quarter")
    metric = flag.get("metric")
    span = f"{period_label(flag['start'], freq)}–{period_label(flag['end'], freq)}"
    if flag["start"] == flag["end"]:
        span = period_label(flag["start"], freq)
    head = f"{name or flag['entity']}{f' · {metric}' if metric else ''} · {span}"
    peak = pd.Timestamp(flag["peak_period"])
    ordered = rows.sort_values("period").reset_index(drop=True)
    at_peak = ordered[ordered["period"] == peak]
    tail = f"peak divergence {float(flag['peak_value']):.1f} in {period_label(peak, freq)}"
    if at_peak.empty:
        return f"{head}: divergence above the threshold for {int(flag['periods'])} periods ({tail})."
    position = int(at_peak.index[0])
    row = ordered.iloc[position]
    heat_z = row.get("heat_z")
    if heat_z is None or pd.isna(heat_z):
        heat_z = row.get("heat")
    heat_phrase = (
        f"narrative heat {'up' if float(heat_z) >= 0 else 'down'} {abs(float(heat_z)):.1f}σ"
        if heat_z is not None and pd.notna(heat_z) else "narrative heat high"
    )
    growth = row.get("fundamental_growth")
    if not metric or growth is None or pd.isna(growth):
        return f"{head}: {heat_phrase} with no fundamentals to compare ({tail})."
    growth = float(growth)
    basis = GROWTH_BASIS_WORDS.get(str(row.get("growth_basis") or ""), "")
    previous = ordered.iloc[position - 1].get("fundamental_growth") if position > 0 else None
    basis_text = f" {basis}" if basis else ""
    if growth < 0:
        growth_phrase = f"{metric} fell {abs(growth):.0%}{basis_text}"
    elif previous is not None and pd.notna(previous) and growth < float(previous):
        growth_phrase = f"{metric} growth slowed to {growth:.0%}{basis_text} (from {float(previous):.0%})"
    else:
        growth_z = row.get("growth_z")
        relative = f", {float(growth_z):+.1f}σ against its history" if growth_z is not None and pd.notna(growth_z) else ""
        growth_phrase = f"{metric} grew only {growth:.0%}{basis_text}{relative}"
    return f"{head}: {heat_phrase} while {growth_phrase} ({tail})."


def overview(
    db: str | os.PathLike[str] | None, freq: str = "quarter", model_version: str | None = None,
    trend_periods: int = 12,
) -> pd.DataFrame:
    """Entities ranked by current divergence, then heat, each with its heat trend (a list).

    Columns of :func:`analyzer.analysis.entity_overview` plus ``rank``; entities with no
    documents come last.
    """
    from analyzer.views.data import entity_overview

    with open_readonly(db) as store:
        frame = entity_overview(store, freq, model_version or None, trend_periods=trend_periods)
    frame = frame.copy()
    frame["_has_docs"] = frame["documents"] > 0
    frame["_div"] = frame["divergence"].astype(float).fillna(-np.inf)
    frame["_heat"] = frame["heat"].astype(float).fillna(-np.inf)
    frame = frame.sort_values(["_has_docs", "flagged_now", "_div", "_heat"], ascending=False, kind="stable")
    frame = frame.drop(columns=["_has_docs", "_div", "_heat"]).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame["trend"] = [[float(v) for v in trend if v is not None and np.isfinite(v)] for trend in frame["trend"]]
    return frame


def latest_flags(
    db: str | os.PathLike[str] | None, freq: str = "quarter", model_version: str | None = None,
    limit: int = 10, entity: str | None = None,
) -> pd.DataFrame:
    """The most recent flags (latest end first), each with a one-line ``summary`` from its numbers."""
    from analyzer.views.data import divergence_frame, flags

    with open_readonly(db) as store:
        found = flags(store, entity, None, freq, model_version or None)
        columns = [*found.columns, "name", "summary"]
        if found.empty:
            return pd.DataFrame(columns=columns)
        found = found.sort_values(["end", "peak_value"], ascending=[False, False]).head(limit).copy()
        names = dict(store.conn.execute("SELECT id, name FROM entities").fetchall())
        divergence = divergence_frame(store, entity, None, freq, model_version or None)
    summaries = []
    for flag in found.to_dict("records"):
        rows = divergence[(divergence["entity"] == flag["entity"])
                          & (divergence["metric"].fillna("") == (flag["metric"] or ""))]
        summaries.append(describe_flag(flag, rows, names.get(flag["entity"])))
    found["name"] = [names.get(e, e) for e in found["entity"]]
    found["summary"] = summaries
    return found[columns].reset_index(drop=True)


def entity_view(
    db: str | os.PathLike[str] | None, entity: str, freq: str = "quarter", model_version: str | None = None,
) -> dict[str, Any]:
    """Everything the Entity page draws for one entity.

    ``heat`` (heat frame), ``divergence`` (divergence frame, every metric), ``metrics`` (the
    most direct measure of the business first, e.g. revenue),
    ``flags`` (with ``summary`` lines), ``source_mix``, ``periods`` (newest first), ``name``,
    and ``reliability``: stories per period and a ``warning`` when too few documents make the
    series unreliable.
    """
    from analyzer.views.data import divergence_frame, heat_frame, source_mix

    with open_readonly(db) as store:
        row = store.conn.execute("SELECT name, kind FROM entities WHERE id = ?", (entity,)).fetchone()
        if row is None:
            raise InputError(f"unknown entity {entity!r}")
        heat = heat_frame(store, entity, freq, model_version or None)
        divergence = divergence_frame(store, entity, None, freq, model_version or None)
        mix = source_mix(store, entity, freq, model_version or None)
    flag_frame = latest_flags(db, freq, model_version, limit=1000, entity=entity)
    metrics = sorted((str(m) for m in divergence["metric"].dropna().unique()),
                     key=lambda m: (METRIC_PREFERENCE.index(m) if m in METRIC_PREFERENCE else len(METRIC_PREFERENCE), m))
    periods = list(heat.sort_values("period", ascending=False)["period"]) if not heat.empty else []
    stories = heat["stories"].astype(int) if not heat.empty else pd.Series(dtype=int)
    active = stories[stories > 0]
    warning = None
    if heat.empty:
        warning = "No dated documents mention this entity yet, so it has no heat series."
    elif len(active) < 4 or float(active.median()) < MIN_RELIABLE_STORIES:
        typical = int(active.median()) if len(active) else 0
        warning = (
            f"Only about {typical} stories per period over {len(active)} periods with coverage: the heat "
            f"series is noisy and its z-scores unreliable (aim for {MIN_RELIABLE_STORIES}+ stories per period "
            "over several periods; ingest more sources or choose a coarser frequency)."
        )
    return {
        "entity": entity, "name": row[0], "kind": row[1], "heat": heat, "divergence": divergence,
        "metrics": metrics, "flags": flag_frame, "source_mix": mix, "periods": periods,
        "reliability": {
            "periods": len(heat), "periods_with_stories": int(len(active)),
            "median_stories": float(active.median()) if len(active) else 0.0, "warning": warning,
        },
    }


def lead_lag_summary(
    db: str | os.PathLike[str] | None, entity: str, metric: str, freq: str = "quarter",
    model_version: str | None = None,
) -> dict[str, Any]:
    """Lead-lag of heat against the metric's growth, with a sentence that reads the numbers and
    the caveat that goes with them."""
    from analyzer.views.data import lead_lag

    with open_readonly(db) as store:
        result = lead_lag(store, entity, metric, freq, model_version or None)
    lag, correlation = result["best_lag"], result["best_correlation"]
    unit = {"quarter": "quarter", "month": "month", "week": "week", "day": "day"}[freq]
    if lag is None or correlation is None:
        sentence = f"No lead-lag estimate: {result['reason'] or 'too little data'} ({result['n']} paired periods)."
    elif lag > 0:
        sentence = (f"Heat moved first: it correlates best ({correlation:+.2f}) with {metric} growth "
                    f"{lag} {unit}{'s' if lag != 1 else ''} later, over {result['n']} paired periods"
                    + (" (negative: hotter coverage was followed by slower growth)." if correlation < 0 else "."))
    elif lag < 0:
        sentence = (f"{metric.capitalize()} growth moved first: heat correlates best ({correlation:+.2f}) "
                    f"with growth {-lag} {unit}{'s' if lag != -1 else ''} earlier, over {result['n']} paired periods"
                    + (" (negative: faster growth was followed by cooler coverage)." if correlation < 0 else "."))
    else:
        sentence = (f"Heat and {metric} growth move together (best correlation {correlation:+.2f} "
                    f"at lag 0, {result['n']} paired periods).")
    granger = []
    for key, direction in (("granger_heat_to_growth", f"heat → {metric} growth"),
                           ("granger_growth_to_heat", f"{metric} growth → heat")):
        test = result[key]
        granger.append({
            "direction": direction, "p_value": test.get("p_value"), "best_lag": test.get("best_lag"),
            "n": test.get("n"), "note": test.get("reason") or "",
        })
    result["sentence"] = sentence
    result["granger"] = pd.DataFrame(granger)
    return result


def period_detail(
    db: str | os.PathLike[str] | None, entity: str, period: Any, freq: str = "quarter",
    model_version: str | None = None, limit: int = 100, top_k: int = 8,
) -> dict[str, Any]:
    """The documents about ``entity`` published in ``period`` and its highest-hype sentences."""
    from analyzer.views.data import period_documents, top_sentences

    with open_readonly(db) as store:
        documents = period_documents(store, entity, period, freq, model_version or None, limit=limit)
        sentences = top_sentences(store, entity, period, None, freq, model_version or None, limit=top_k)
    if not documents.empty:
        documents["published_at"] = documents["published_at"].astype("string").str.slice(0, 10)
    return {"documents": documents, "sentences": sentences, "label": period_label(period, freq)}


def standardised_figure(
    divergence: pd.DataFrame, metrics: Sequence[str], flags: pd.DataFrame | None = None,
    *, title: str = "Heat and fundamentals on one scale",
) -> Any:
    """Heat and each metric's growth as robust z-scores on one axis (comparable whatever the units),
    with every flagged span of the chosen metrics shaded."""
    import plotly.graph_objects as go

    from analyzer.analysis.periods import next_period_start
    from analyzer.views.plots import FLAG_COLOR, HEAT_COLOR

    fig = go.Figure()
    if divergence.empty:
        fig.update_layout(title=title, template="plotly_white")
        return fig
    freq = str(divergence["freq"].iloc[0])
    heat = divergence.drop_duplicates("period").sort_values("period")
    fig.add_trace(go.Scatter(x=heat["period"], y=heat["heat"], name="narrative heat (z)", mode="lines+markers",
                             line={"color": HEAT_COLOR, "width": 3}))
    for metric in metrics:
        rows = divergence[divergence["metric"] == metric].sort_values("period")
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(x=rows["period"], y=rows["growth_z"], name=html.escape(f"{metric} growth (z)"),
                                 mode="lines+markers", line={"dash": "dot"}))
    if flags is not None and not flags.empty:
        chosen = flags[flags["metric"].isin(list(metrics))] if metrics else flags
        for flag in chosen.drop_duplicates(["start", "end"]).itertuples():
            fig.add_vrect(x0=pd.Timestamp(flag.start), x1=next_period_start(flag.end, freq), fillcolor=FLAG_COLOR,
                          line_width=0, layer="below")
    fig.add_hline(y=0, line_color="#bbbbbb", line_width=1)
    fig.update_layout(title=html.escape(title), template="plotly_white", hovermode="x unified",
                      yaxis={"title": "robust z (own history)"}, legend={"orientation": "h", "y": -0.2},
                      margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig
