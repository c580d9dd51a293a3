"""Wires the stages together: ingest into the store, score stored documents, tag entities,
load fundamentals, compute heat and divergence. The CLI and the app call these functions.

Stages stay independent of one another (storage knows nothing of models, scoring nothing of
storage); only this module joins them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from analyzer.storage import Store

# --------------------------------------------------------------------------- entities and fundamentals
# Entity definitions from entities.yaml, tagging documents with them, and fundamentals from
# CSV files and public APIs. Heavy imports stay inside the functions.

DEFAULT_ENTITIES_FILE = "entities.yaml"


def load_entities(store: Store, path: str | os.PathLike[str] | None = None) -> list[Any]:
    """Validate an entities file and upsert every entity into the store; returns the entities."""
    from analyzer.entities.definitions import load_entities_file

    entities = load_entities_file(path or DEFAULT_ENTITIES_FILE)
    with store.transaction():
        for entity in entities:
            store.upsert_entity(entity.as_dict())
    return entities


@dataclass
class TagReport:
    documents: int = 0
    tagged_documents: int = 0
    tags: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    by_entity: dict[str, int] = field(default_factory=dict)


def tag_entities(
    store: Store,
    entities: Iterable[Any] | None = None,
    *,
    embeddings: bool = False,
    threshold: float | None = None,
    model_path: str | os.PathLike[str] | None = None,
    document_ids: Iterable[int] | None = None,
) -> TagReport:
    """(Re-)tag stored documents with entities by alias, ticker and, optionally, embeddings.

    Previous alias/ticker/embedding tags of these entities are replaced, so edited aliases or
    exclusions take effect; links stated explicitly by the source (method 'explicit') are kept
    and gain the matched text and sentences. Sentence indices follow the stored sentences when
    the document was scored, else :func:`analyzer.entities.split_sentences`.
    """
    with store.run(
        "tag", {"entities": None if entities is None else "given", "embeddings": embeddings}
    ) as run:
        result = _tag_entities(
            store,
            entities,
            embeddings=embeddings,
            threshold=threshold,
            model_path=model_path,
            document_ids=document_ids,
        )
        run.stats.update(
            {
                "documents": result.documents,
                "tagged_documents": result.tagged_documents,
                "tags": result.tags,
            }
        )
    return result


def _tag_entities(
    store: Store,
    entities: Iterable[Any] | None = None,
    *,
    embeddings: bool = False,
    threshold: float | None = None,
    model_path: str | os.PathLike[str] | None = None,
    document_ids: Iterable[int] | None = None,
) -> TagReport:
    """(Re-)tag stored documents with entities by alias, ticker and, optionally, embeddings.

    Previous alias/ticker/embedding tags of these entities are replaced, so edited aliases or
    exclusions take effect; links stated explicitly by the source (method 'explicit') are kept
    and gain the matched text and sentences. Sentence indices follow the stored sentences when
    the document was scored, else :func:`analyzer.entities.split_sentences`.
    """
    from analyzer.entities.definitions import DEFAULT_EMBEDDING_THRESHOLD, as_entities
    from analyzer.entities.matching import (
        EmbeddingMatcher,
        match_entities,
        split_sentences,
        tag_text,
    )

    if entities is None:
        entity_list = as_entities(store.entities())
    else:
        entity_list = as_entities(entities)
        with store.transaction():
            for entity in entity_list:
                store.upsert_entity(entity.as_dict())
    report = TagReport()
    if not entity_list:
        return report
    matcher = None
    if embeddings:
        matcher = EmbeddingMatcher(
            DEFAULT_EMBEDDING_THRESHOLD if threshold is None else threshold, model_path=model_path
        ).fit(entity_list)
    entity_ids = [e.id for e in entity_list]
    if document_ids is not None:
        wanted = sorted({int(i) for i in document_ids})
        documents = (d for i in wanted if (d := store.document(i)) is not None)
    else:
        documents = store.iter_documents()

    for document in documents:
        report.documents += 1
        document_id = int(document["id"])
        title, text = document.get("title") or "", document.get("text") or ""
        # Cheap whole-document pass first: only entities found anywhere get the per-sentence pass.
        present = {m.entity_id for m in match_entities(f"{title}\n\n{text}", entity_list)}
        sentences: list[str] | None = None
        tags: dict[str, Any] = {}
        if present or matcher is not None:
            sentences = store.stored_sentences(document_id) or split_sentences(text)
        if present:
            tags = tag_text(title, sentences or [], [e for e in entity_list if e.id in present])
        if matcher is not None:
            for tag in matcher.match(title, sentences or []):
                tags.setdefault(tag.entity_id, tag)
        with store.transaction():
            explicit = store.clear_entity_tags(document_id, entity_ids)
            for tag in tags.values():
                method = "explicit" if tag.entity_id in explicit else tag.method
                store.tag_document(
                    document_id,
                    tag.entity_id,
                    method=method,
                    matched=tag.matched,
                    score=tag.score,
                    sentence_indices=sorted(tag.sentence_indices),
                )
                report.tags += 1
                report.by_method[tag.method] = report.by_method.get(tag.method, 0) + 1
                report.by_entity[tag.entity_id] = report.by_entity.get(tag.entity_id, 0) + 1
        if tags:
            report.tagged_documents += 1
    return report


def import_fundamentals_csv(store: Store, path: str | os.PathLike[str]) -> Any:
    """Store the good rows of a fundamentals CSV; returns the parse (``rows``, ``errors`` with lines)."""
    with store.run("fundamentals", {"source": "csv", "path": str(path)}) as run:
        result = _import_fundamentals_csv(store, path)
        run.stats.update({"rows": len(result.rows), "errors": len(result.errors)})
    return result


def _import_fundamentals_csv(store: Store, path: str | os.PathLike[str]) -> Any:
    """Store the good rows of a fundamentals CSV; returns the parse (``rows``, ``errors`` with lines)."""
    from analyzer.fundamentals.csv_import import read_fundamentals_csv

    result = read_fundamentals_csv(path)
    if result.rows:
        store.add_fundamentals(result.rows)
    return result


def fetch_fundamentals(
    store: Store,
    source: str,
    ids: Iterable[str] = (),
    options: Any | None = None,
    **overrides: Any,
) -> Any:
    """Fetch fundamentals for entities (or raw identifiers) from one source into the store.

    ``options`` is an :class:`analyzer.fundamentals.FetchOptions`; keyword arguments override
    its fields (``cache_dir``, ``refresh``, ``user_agent``, ``api_key``, ``base_url``, ...).
    Each target's rows are stored as soon as they arrive, so one failing id loses nothing
    fetched before it; failures are listed in the report's ``errors``. When every target
    fails, the first failure is raised.
    """
    ids = list(ids)
    with store.run("fundamentals", {"source": source, "ids": ids}) as run:
        result = _fetch_fundamentals(store, source, ids, options, **overrides)
        run.stats.update(result.as_dict())
    return result


def _fetch_fundamentals(
    store: Store,
    source: str,
    ids: Iterable[str] = (),
    options: Any | None = None,
    **overrides: Any,
) -> Any:
    """Fetch fundamentals for entities (or raw identifiers) from one source into the store.

    ``options`` is an :class:`analyzer.fundamentals.FetchOptions`; keyword arguments override
    its fields (``cache_dir``, ``refresh``, ``user_agent``, ``api_key``, ``base_url``, ...).
    Each target's rows are stored as soon as they arrive, so one failing id loses nothing
    fetched before it; failures are listed in the report's ``errors``. When every target
    fails, the first failure is raised.
    """
    from dataclasses import replace

    from analyzer.errors import AnalyzerError
    from analyzer.fundamentals import (
        FetchOptions,
        FetchReport,
        check_source,
        fetch_target,
        make_client,
        resolve_targets,
    )

    source = check_source(source)
    settings = replace(options or FetchOptions(), **overrides)
    targets = resolve_targets(source, list(ids), store.entities(), entity=settings.entity)
    client = make_client(source, settings)
    report = FetchReport(source=source)
    first_error: AnalyzerError | None = None
    for target in targets:
        try:
            rows, notes = fetch_target(source, client, target, settings)
        except AnalyzerError as exc:
            first_error = first_error or exc
            report.errors.append(str(exc))
            report.targets.append(
                {
                    "entity_id": target.entity_id,
                    "identifier": target.identifier,
                    "rows": 0,
                    "error": str(exc),
                }
            )
            continue
        written = store.add_fundamentals(rows) if rows else 0
        report.rows_written += written
        report.notes.extend(notes)
        report.targets.append(
            {
                "entity_id": target.entity_id,
                "identifier": target.identifier,
                "rows": written,
                "error": None,
            }
        )
    client.close()
    report.requests, report.cache_hits = client.requests_made, client.cache_hits
    if first_error is not None and len(report.errors) == len(targets):
        raise first_error
    return report


# --------------------------------------------------------------------------- narrative heat and divergence


def compute_divergence(
    store: Store,
    *,
    freq: str | Iterable[str] = "quarter",
    entity: str | None = None,
    model_version: str | None = None,
    threshold: float | None = None,
    min_periods: int | None = None,
    weights: dict[str, float] | None = None,
    point_in_time: bool | None = None,
    metric_kinds: dict[str, str] | None = None,
    growth_basis: dict[str, str] | None = None,
    cluster: bool = True,
    window_days: int | None = None,
    similarity: float | None = None,
    statistics: bool = True,
    mode: str = "realtime",
    resamples: int | None = None,
    level: float | None = None,
    min_stories: int | None = None,
    growth_floors: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Cluster near-duplicates, compute heat, divergence, flags and statistics, and store them.

    ``freq`` may name several frequencies. With ``entity`` only that entity's rows are
    replaced (volume shares still use the whole corpus). ``metric_kinds`` ("flow"/"level") and
    ``growth_basis`` ("yoy"/"pop") override the per-metric defaults. ``mode`` is "realtime"
    (each period standardised against the history up to it; the default) or "hindsight";
    ``resamples``, ``level`` and ``min_stories`` set the bootstrap bands and reliability. Returns a
    summary per frequency.
    """
    freq = [freq] if isinstance(freq, str) else list(freq)
    with store.run(
        "divergence", {"freq": freq, "entity": entity, "model_version": model_version, "mode": mode}
    ) as run:
        result = _compute_divergence(
            store,
            freq=freq,
            entity=entity,
            model_version=model_version,
            threshold=threshold,
            min_periods=min_periods,
            weights=weights,
            point_in_time=point_in_time,
            metric_kinds=metric_kinds,
            growth_basis=growth_basis,
            cluster=cluster,
            window_days=window_days,
            similarity=similarity,
            statistics=statistics,
            mode=mode,
            resamples=resamples,
            level=level,
            min_stories=min_stories,
            growth_floors=growth_floors,
        )
        run.stats.update(result)
    return result


def _compute_divergence(
    store: Store,
    *,
    freq: str | Iterable[str] = "quarter",
    entity: str | None = None,
    model_version: str | None = None,
    threshold: float | None = None,
    min_periods: int | None = None,
    weights: dict[str, float] | None = None,
    point_in_time: bool | None = None,
    metric_kinds: dict[str, str] | None = None,
    growth_basis: dict[str, str] | None = None,
    cluster: bool = True,
    window_days: int | None = None,
    similarity: float | None = None,
    statistics: bool = True,
    mode: str = "realtime",
    resamples: int | None = None,
    level: float | None = None,
    min_stories: int | None = None,
    growth_floors: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Cluster near-duplicates, compute heat, divergence, flags and statistics, and store them.

    ``freq`` may name several frequencies. With ``entity`` only that entity's rows are
    replaced (volume shares still use the whole corpus). ``metric_kinds`` ("flow"/"level") and
    ``growth_basis`` ("yoy"/"pop") override the per-metric defaults. Returns a summary per
    frequency.
    """
    from analyzer.analysis.dedup import DEFAULT_SIMILARITY, DEFAULT_WINDOW_DAYS
    from analyzer.analysis.flags import DEFAULT_MIN_PERIODS, DEFAULT_THRESHOLD
    from analyzer.analysis.heat import DEFAULT_LEVEL, DEFAULT_RESAMPLES, MIN_RELIABLE_STORIES
    from analyzer.analysis.periods import check_freq
    from analyzer.analysis.run import analyse, cluster_documents, save_result

    freqs = [freq] if isinstance(freq, str) else list(freq)
    for name in freqs:
        check_freq(name)
    summary: dict[str, Any] = {"clusters": None, "frequencies": {}}
    if cluster:
        clustered = cluster_documents(
            store,
            window_days=DEFAULT_WINDOW_DAYS if window_days is None else window_days,
            similarity=DEFAULT_SIMILARITY if similarity is None else similarity,
        )
        summary["clusters"] = {
            "examined": clustered.examined,
            "clusters": clustered.clusters,
            "duplicates": clustered.duplicates,
        }
    for name in freqs:
        result = analyse(
            store,
            name,
            entities=[entity] if entity else None,
            model_version=model_version,
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            min_periods=DEFAULT_MIN_PERIODS if min_periods is None else min_periods,
            weights=weights,
            point_in_time=point_in_time,
            metric_kinds=metric_kinds,
            growth_basis=growth_basis,
            statistics=statistics,
            mode=mode,
            resamples=DEFAULT_RESAMPLES if resamples is None else resamples,
            level=DEFAULT_LEVEL if level is None else level,
            min_stories=MIN_RELIABLE_STORIES if min_stories is None else min_stories,
            growth_floors=growth_floors,
        )
        written = save_result(store, result)
        summary["frequencies"][name] = {
            "model_version": result.model_version,
            "mode": result.params["mode"],
            **written,
        }
    return summary


# --------------------------------------------------------------------------- claims ledger
# Quantified growth claims from scored sentences, checked against the fundamentals.


def run_claims(
    store: Store,
    *,
    growth_threshold: float | None = None,
    refresh: bool = False,
    model_version: str | None = None,
    extractor: Any = None,
    check: bool = True,
    as_of: str | None = None,
    fx_rates: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Extract claims from documents not yet read, then (optionally) check every stored claim.

    A document whose extraction fails is reported and skipped; its scores stay as they are.
    """
    from analyzer.claims.extract import DEFAULT_GROWTH_THRESHOLD
    from analyzer.claims.ledger import check_store, extract_store

    with store.run(
        "claims", {"model_version": model_version, "refresh": refresh, "check": check}
    ) as run:
        report = extract_store(
            store,
            growth_threshold=DEFAULT_GROWTH_THRESHOLD
            if growth_threshold is None
            else growth_threshold,
            model_version=model_version,
            extractor=extractor,
            refresh=refresh,
        )
        summary: dict[str, Any] = {"extract": report.as_dict()}
        if check:
            summary["check"] = check_store(store, as_of=as_of, fx_rates=fx_rates)
        run.stats.update(summary)
    return summary


# --------------------------------------------------------------------------- ingestion
# Sources files, feeds, article pages, PDFs, local files and JSONL dumps into the store.


def ingest_inputs(
    store: Store,
    inputs: Iterable[str | os.PathLike[str]],
    *,
    allow_private: bool = False,
    strict: bool = False,
    follow_links: bool = True,
    progress: Any = None,
    fetcher: Any = None,
    fetcher_config: Any = None,
    limits: Any = None,
) -> Any:
    """Ingest ``inputs`` (sources files, feed/page/PDF URLs, files, directories, JSONL dumps).

    Returns an :class:`analyzer.ingest.IngestReport`. Bad inputs are recorded and skipped;
    with ``strict`` the first rejection raises :class:`analyzer.ingest.IngestRejected`.
    ``progress(completed, total, label)`` is called as inputs finish. One ``runs`` row and
    one ``fetches`` row per fetched URL or read file are written.
    """
    from analyzer.ingest import Ingestor

    ingestor = Ingestor(
        store,
        allow_private=allow_private,
        strict=strict,
        follow_links=follow_links,
        progress=progress,
        fetcher=fetcher,
        fetcher_config=fetcher_config,
        limits=limits,
    )
    inputs = list(inputs)
    with store.run("ingest", ingestor.arguments(inputs)) as run:
        report = ingestor.run(inputs, run=run)
        run.status = report.status
    return report


# --------------------------------------------------------------------------- hype classifier: scoring stored documents
# Documents without a score from the current model version get one; sentence scores are reused
# across documents (and runs) through the store's cache keyed by sentence content hash.


def score_store(
    store: Store,
    scorer: Any = None,
    *,
    batch_size: int = 64,
    progress: Any | None = None,
    max_sentences: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Score stored documents not yet scored by ``scorer.model_version``; returns counts.

    Documents go through :meth:`HypeScorer.score_documents` in groups of ``batch_size`` with the
    database's score cache, so only sentences this model version never saw are computed; each
    document's sentences and scores are saved in one transaction (an interrupted run loses at
    most the current group, and a rerun picks up where it stopped). Scores of other model
    versions are left as they are. ``progress(done, total)`` is called after every group. A
    document's stored ``language`` is used when present, else detected. The run is recorded in
    the ``runs`` table. ``scorer`` defaults to the shipped model (or ``$ANALYZER_MODEL``).
    """
    import time

    from analyzer.scoring.cache import CacheCounter
    from analyzer.scoring.scorer import DEFAULT_MAX_SENTENCES, HypeScorer

    if scorer is None:
        scorer = HypeScorer.from_pretrained()
        scorer.use_backend("auto")

    started = time.perf_counter()
    version, model_id = scorer.model_version, scorer.model_id
    cap = DEFAULT_MAX_SENTENCES if max_sentences is None else max_sentences
    total = store.count_documents_to_score(version)
    if limit is not None:
        total = min(total, limit)
    cache = store.sentence_cache(version)
    counter = CacheCounter()
    labels = list(scorer.labels)
    with store.run("score", {"model": model_id, "model_version": version}) as run:
        stats = run.stats
        stats.update(
            model_id=model_id,
            model_version=version,
            documents=0,
            unscored=0,
            truncated=0,
            sentences=0,
        )

        def flush(group: list[dict[str, Any]]) -> None:
            results = scorer.score_documents(
                [d.get("text") or "" for d in group],
                languages=[d.get("language") or None for d in group],
                max_sentences=cap,
                cache=cache,
                counter=counter,
            )
            for document, result in zip(group, results):
                sentences = result.pop("sentences")
                store.save_document_scores(
                    int(document["id"]),
                    model_id=model_id,
                    model_version=version,
                    document_scores=result,
                    sentences=[s["text"] for s in sentences],
                    sentence_scores=[{label: s[label] for label in labels} for s in sentences],
                    kinds=[s.get("kind", "prose") for s in sentences],
                )
                stats["documents"] += 1
                stats["unscored"] += int(result["unscored"])
                stats["truncated"] += int(result["truncated"])
                stats["sentences"] += len(sentences)
            cache.flush()
            stats["cached_sentences"], stats["computed_sentences"] = (
                counter.cached,
                counter.computed,
            )
            if progress:
                progress(stats["documents"], total)

        group: list[dict[str, Any]] = []
        stats["cached_sentences"] = stats["computed_sentences"] = 0
        for document in store.documents_to_score(version):
            if limit is not None and stats["documents"] + len(group) >= limit:
                break
            group.append(document)
            if len(group) >= batch_size:
                flush(group)
                group = []
        if group:
            flush(group)
        stats["seconds"] = round(time.perf_counter() - started, 3)
    return dict(stats)


# --------------------------------------------------------------------------- demo
# The bundled corpus through every stage: what `make demo` runs.


def build_demo(
    store: Store,
    *,
    corpus: Path | None = None,
    model: str | None = None,
    say: Callable[[str], None] = print,
    progress: Any = None,
) -> dict[str, Any]:
    """Ingest, tag, score, import fundamentals and compute divergence for the demo corpus."""
    from analyzer.demo import DEMO_ROOT_URL, default_corpus_dir, demo_inputs, serve_directory
    from analyzer.errors import InputError
    from analyzer.ingest.fetch import FetcherConfig
    from analyzer.scoring.scorer import HypeScorer

    corpus = corpus or default_corpus_dir()
    site = corpus / "site"
    if not site.is_dir():
        raise InputError(f"demo corpus not found at {corpus}; run from a checkout of the project")
    summary: dict[str, Any] = {}

    entities = load_entities(store, corpus / "entities.yaml")
    say(f"Loaded {len(entities)} entities")

    with serve_directory(site) as base_url:
        config = FetcherConfig(mirrors={DEMO_ROOT_URL: base_url})
        report = ingest_inputs(store, demo_inputs(site), allow_private=True, fetcher_config=config)
    summary["ingest"] = report.to_dict()
    say(f"Ingested: {_describe_ingest(summary['ingest'])}")

    scorer = HypeScorer.from_pretrained(model)
    scored = score_store(store, scorer, progress=progress)
    summary["score"] = scored
    say(
        f"Scored {scored['documents']} new documents with {scorer.model_id} ({scorer.model_version})"
    )

    tagged = tag_entities(store, entities)
    summary["tag"] = {
        "documents": tagged.documents,
        "tagged_documents": tagged.tagged_documents,
        "tags": tagged.tags,
    }

    fundamentals = import_fundamentals_csv(store, corpus / "fundamentals.csv")
    summary["fundamentals"] = {"rows": len(fundamentals.rows), "errors": len(fundamentals.errors)}
    say(f"Imported {len(fundamentals.rows)} fundamentals rows")

    summary["divergence"] = compute_divergence(
        store, freq=["quarter", "month"], model_version=scorer.model_version
    )
    say("Computed narrative heat and divergence")

    summary["claims"] = run_claims(store, model_version=scorer.model_version)
    checked = summary["claims"].get("check") or {}
    say(
        f"Claims ledger: {summary['claims']['extract']['claims']} new claim(s); "
        + (", ".join(f"{n} {s}" for s, n in sorted(checked.items())) or "none to check")
    )
    return summary


def _describe_ingest(report: dict[str, Any]) -> str:
    keys = ("inserted", "updated", "unchanged", "duplicates", "not_modified", "rejected")
    return ", ".join(f"{report[k]} {k.replace('_', ' ')}" for k in keys if k in report)
