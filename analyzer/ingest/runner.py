"""One ingest run: expand inputs, fetch and parse them, write documents, record everything.

Network work (feeds, article pages) runs on a small thread pool; parsing of local files and
every database write happen on the calling thread, so the store is only ever used from one
thread. Each document is written atomically; a run that is killed and restarted ends with
the same rows as one that was not.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from analyzer.errors import InputError
from analyzer.ingest.articles import (
    ExtractedDocument,
    extract_article,
    extract_pdf,
    extract_plain_text,
)
from analyzer.ingest.base import ContentError, IngestLimits
from analyzer.ingest.feeds import FeedItem, ParsedFeed, parse_feed
from analyzer.ingest.fetch import (
    FEED_ACCEPT,
    PAGE_ACCEPT,
    FetcherConfig,
    FetchResult,
    SafeFetcher,
    decompress_gzip_bounded,
)
from analyzer.ingest.jsonl import RecordError, iter_jsonl
from analyzer.ingest.sniff import SNIFF_BYTES, SOURCES_EXTENSIONS, TEXT_EXTENSIONS, sniff
from analyzer.ingest.sources import SourceSpec, read_sources
from analyzer.ingest.urls import canonicalize_url, is_http_url
from analyzer.scoring.language import detect_language
from analyzer.storage import DocumentRecord, StorageError, Store
from analyzer.storage.runs import RunRecord

ProgressCallback = Callable[[int, int, str], None]

MAX_LISTED_REJECTIONS = 500
LOCAL_SOURCE = "local files"
LANGUAGE_SAMPLE_CHARS = 1500  # enough to tell the language; detection cost grows with length
WRITE_BATCH = 200


@dataclass
class Rejection:
    input: str
    reason: str  # a short code: too_large, timeout, http_error, not_a_feed, invalid_record, ...
    message: str


@dataclass
class IngestReport:
    """What an ingest run did. ``rejections`` lists at most 500; ``rejected`` counts them all."""

    run_id: int | None = None
    inputs: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    not_modified: int = 0
    rejected: int = 0
    partial: int = 0
    skipped: int = 0
    fetches: int = 0
    status: str = "running"
    rejections: list[Rejection] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # malformed feeds ingested in part
    reasons: Counter[str] = field(default_factory=Counter)

    def count(self, action: str) -> None:
        if action == "inserted":
            self.inserted += 1
        elif action == "updated":
            self.updated += 1
        elif action == "unchanged":
            self.unchanged += 1
        elif action == "duplicate":
            self.duplicates += 1

    @property
    def documents(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.duplicates

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "inputs": self.inputs,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "not_modified": self.not_modified,
            "rejected": self.rejected,
            "partial": self.partial,
            "skipped": self.skipped,
            "fetches": self.fetches,
            "rejection_reasons": dict(self.reasons.most_common()),
            "rejections": [r.__dict__ for r in self.rejections],
            "problems": self.problems[:MAX_LISTED_REJECTIONS],
        }

    def stats(self) -> dict[str, Any]:
        """The compact form stored on the run's row."""
        summary = self.to_dict()
        summary.pop("rejections")
        summary.pop("problems")
        return summary


class IngestRejected(InputError):
    """``strict`` mode: an input was rejected, so the run stopped."""

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class _Task:
    kind: str  # "url" or "file"
    location: str
    source: SourceSpec | None = None
    explicit: bool = True  # named by the user (or a sources file), not found by walking a folder

    @property
    def label(self) -> str:
        return self.location


@dataclass
class _ArticleOutcome:
    fetch: FetchResult
    extracted: ExtractedDocument | None
    error: str | None


# Content kinds that are never ingested, with the reason and message they are refused with.
_REFUSED_KINDS = {
    "opml": ("unsupported", "OPML subscription list; list its feeds in a sources file instead"),
    "json": ("unsupported", "JSON that is neither a JSON Feed nor a JSONL document dump"),
    "sources": ("unsupported", "a sources file must be a local file"),
    "empty": ("empty", "no content"),
}
_REFUSED_OTHER = ("unsupported", "binary content that is not a feed, page, PDF or text")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def _looks_like_url(value: str) -> bool:
    return bool(_SCHEME.match(value))


class Ingestor:
    """Runs one ingest over a list of inputs (see :func:`analyzer.pipeline.ingest`)."""

    def __init__(
        self,
        store: Store,
        *,
        allow_private: bool = False,
        strict: bool = False,
        follow_links: bool = True,
        progress: ProgressCallback | None = None,
        fetcher: SafeFetcher | None = None,
        fetcher_config: FetcherConfig | None = None,
        limits: IngestLimits | None = None,
    ) -> None:
        self.store = store
        self.allow_private = allow_private
        self.strict = strict
        self.follow_links = follow_links
        self.progress = progress
        self.limits = limits or IngestLimits()
        self._fetcher = fetcher
        self._fetcher_config = fetcher_config
        self._own_fetcher = fetcher is None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[Future[Any], Callable[[Any], None]] = {}
        self.report = IngestReport()
        self._total = 0
        self._completed = 0

    # ----------------------------------------------------------------- plumbing
    @property
    def fetcher(self) -> SafeFetcher:
        if self._fetcher is None:
            self._fetcher = SafeFetcher(self._fetcher_config, allow_private=self.allow_private)
        return self._fetcher

    def _workers(self) -> int:
        config = (
            self._fetcher.config
            if self._fetcher is not None
            else (self._fetcher_config or FetcherConfig())
        )
        return max(1, config.max_workers)

    def _submit(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._workers(), thread_name_prefix="ingest"
            )
        self._pending[self._pool.submit(work)] = then

    def _drain(self, *, block: bool) -> None:
        while self._pending:
            done, _ = wait(
                list(self._pending), timeout=None if block else 0, return_when=FIRST_COMPLETED
            )
            if not done:
                return
            for future in done:
                then = self._pending.pop(future)
                then(future.result())

    def _advance(self, label: str) -> None:
        self._completed += 1
        if self.progress is not None:
            self.progress(self._completed, max(self._total, self._completed), label)

    def _reject(self, where: str, reason: str, message: str) -> None:
        report = self.report
        report.rejected += 1
        report.reasons[reason] += 1
        if len(report.rejections) < MAX_LISTED_REJECTIONS:
            report.rejections.append(Rejection(where, reason, message))
        if self.strict:
            raise IngestRejected(f"{where}: {message}", report)

    def _record_fetch(
        self,
        url: str,
        status: str,
        *,
        source: SourceSpec | None = None,
        result: FetchResult | None = None,
        items: int | None = None,
        error: str | None = None,
        n_bytes: int | None = None,
        content_type: str | None = None,
    ) -> None:
        self.report.fetches += 1
        source_id = self.store.source_id(source.name) if source is not None else None
        self.store.record_fetch(
            url,
            status,
            run_id=self.report.run_id,
            source_id=source_id,
            started_at=result.started_at if result and result.started_at else None,
            duration_ms=result.duration_ms if result else None,
            http_status=result.http_status if result else None,
            etag=result.etag if result else None,
            last_modified=result.last_modified if result else None,
            content_type=(result.content_type if result else None) or content_type,
            n_bytes=result.n_bytes if result else n_bytes,
            items=items,
            error=(error or (result.error if result else None) or None),
        )

    # ----------------------------------------------------------------- entry point
    def arguments(self, inputs: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
        """What the ``runs`` row records about this ingest."""
        return {
            "inputs": [str(i) for i in inputs],
            "allow_private": self.allow_private,
            "strict": self.strict,
            "follow_links": self.follow_links,
        }

    def run(
        self, inputs: Sequence[str | os.PathLike[str]], *, run: RunRecord | None = None
    ) -> IngestReport:
        """Ingest ``inputs``; fetches are recorded under ``run`` (see :meth:`Store.run`), whose
        stats this fills as it goes, also when the run fails."""
        report = self.report
        report.run_id = run.id if run is not None else None
        status = "failed"
        try:
            tasks = list(self._expand(inputs))
            report.inputs = len(tasks)
            self._total = len(tasks)
            for task in tasks:
                if task.kind == "url":
                    self._start_url(task)
                else:
                    self._process_file(task)
                self._drain(block=False)
            self._drain(block=True)
            status = "ok"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            report.status = status
            if self._pool is not None:
                self._pool.shutdown(wait=status == "ok", cancel_futures=True)
            if self._own_fetcher and self._fetcher is not None:
                self._fetcher.close()
            if run is not None:
                run.stats.update(report.stats())
        return report

    # ----------------------------------------------------------------- inputs
    def _expand(self, inputs: Iterable[str | os.PathLike[str]]) -> Iterator[_Task]:
        seen: set[str] = set()

        def once(task: _Task) -> Iterator[_Task]:
            key = f"{task.kind}:{task.location}"
            if key not in seen:
                seen.add(key)
                yield task

        for raw in inputs:
            value = os.fspath(raw).strip() if not isinstance(raw, Path) else os.fspath(raw)
            if not value:
                continue
            if _looks_like_url(value) and not Path(value).exists():
                if is_http_url(value):
                    yield from once(_Task("url", value))
                else:
                    scheme = value.split(":", 1)[0]
                    self._reject(
                        value,
                        "refused",
                        f"only http(s) URLs are fetched, not {scheme!r}; pass local files as paths",
                    )
                continue
            path = Path(value)
            if path.is_dir():
                for file_path in self._walk(path):
                    yield from self._file_tasks(file_path, once, explicit=False)
            elif path.exists():
                yield from self._file_tasks(path, once, explicit=True)
            else:
                self._reject(value, "missing", "no such file or directory")

    def _walk(self, root: Path) -> Iterator[Path]:
        for directory, subdirs, files in os.walk(root, followlinks=False):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for name in sorted(files):
                path = Path(directory) / name
                if name.startswith(".") or path.is_symlink():
                    continue
                yield path

    def _file_tasks(
        self, path: Path, once: Callable[[_Task], Iterator[_Task]], *, explicit: bool
    ) -> Iterator[_Task]:
        if path.suffix.lower() not in SOURCES_EXTENSIONS:
            yield from once(_Task("file", str(path), explicit=explicit))
            return
        try:
            specs, problems = read_sources(path)
        except InputError as exc:
            self._reject(str(path), "invalid_sources", str(exc))
            return
        for problem in problems:
            self._reject(str(path), "invalid_sources", problem)
        for spec in specs:
            self.store.upsert_source(
                spec.name,
                url=spec.url,
                kind=spec.kind,
                language=spec.language,
                entity_hints=spec.entity_hints,
                enabled=spec.enabled,
            )
            if not spec.enabled:
                self.report.skipped += 1
                continue
            if spec.is_remote:
                yield from once(_Task("url", spec.url, spec))
            elif Path(spec.url).suffix.lower() in SOURCES_EXTENSIONS:
                self._reject(
                    spec.url, "invalid_sources", "a sources file cannot list another sources file"
                )
            elif Path(spec.url).is_dir():
                for file_path in self._walk(Path(spec.url)):
                    if file_path.suffix.lower() not in SOURCES_EXTENSIONS:
                        yield from once(_Task("file", str(file_path), spec, explicit=False))
            elif Path(spec.url).exists():
                yield from once(_Task("file", spec.url, spec))
            else:
                self._reject(
                    spec.url, "missing", f"source {spec.name!r}: no such file or directory"
                )

    # ----------------------------------------------------------------- remote inputs
    def _start_url(self, task: _Task) -> None:
        etag, last_modified = self.store.last_validators(task.location)
        fetcher = self.fetcher

        def work() -> FetchResult:
            return fetcher.fetch(
                task.location, etag=etag, last_modified=last_modified, accept=FEED_ACCEPT
            )

        self._submit(work, lambda result: self._finish_url(task, result))

    def _finish_url(self, task: _Task, result: FetchResult) -> None:
        try:
            if result.status == "not_modified":
                self.report.not_modified += 1
                self._record_fetch(
                    task.location, "not_modified", source=task.source, result=result, items=0
                )
                return
            if not result.ok:
                self._record_fetch(task.location, result.status, source=task.source, result=result)
                self._reject(task.location, result.status, result.error or result.status)
                return
            self._process_content(
                task,
                result.content,
                name=urlsplit(result.final_url or task.location).path,
                content_type=result.content_type,
                fetch=result,
            )
        finally:
            self._advance(task.location)

    # ----------------------------------------------------------------- local inputs
    def _process_file(self, task: _Task) -> None:
        path = Path(task.location)
        uri = path.resolve().as_uri()
        try:
            try:
                size = path.stat().st_size
                if not path.is_file():
                    self._reject(task.location, "unsupported", "not a regular file")
                    return
                with path.open("rb") as handle:
                    head = handle.read(SNIFF_BYTES)
                    kind = sniff(head, name=path.name)
                    if kind == "jsonl":
                        handle.seek(0)
                        self._ingest_jsonl(task, handle, uri=uri, n_bytes=size)
                        return
                    if size > self.limits.max_file_bytes:
                        self._record_fetch(
                            uri,
                            "too_large",
                            source=task.source,
                            n_bytes=size,
                            error=f"file is larger than {self.limits.max_file_bytes} bytes",
                        )
                        self._reject(
                            task.location,
                            "too_large",
                            f"file is larger than {self.limits.max_file_bytes} bytes",
                        )
                        return
                    handle.seek(0)
                    data = handle.read(self.limits.max_file_bytes + 1)
            except OSError as exc:
                self._reject(task.location, "unreadable", exc.strerror or str(exc))
                return
            if len(data) > self.limits.max_file_bytes:
                self._reject(
                    task.location,
                    "too_large",
                    f"file is larger than {self.limits.max_file_bytes} bytes",
                )
                return
            self._process_content(
                task, data, name=path.name, content_type=None, fetch=None, uri=uri
            )
        finally:
            self._advance(task.location)

    # ----------------------------------------------------------------- content of any origin
    def _process_content(
        self,
        task: _Task,
        data: bytes,
        *,
        name: str,
        content_type: str | None,
        fetch: FetchResult | None,
        uri: str | None = None,
        kind: str | None = None,
    ) -> None:
        where = task.location
        record_url = task.location if task.kind == "url" else (uri or task.location)
        kind = kind or sniff(data, name=name, content_type=content_type)

        def refuse(reason: str, message: str) -> None:
            self._record_fetch(
                record_url,
                "rejected",
                source=task.source,
                result=fetch,
                error=message,
                n_bytes=len(data) if fetch is None else None,
            )
            self._reject(where, reason, message)

        if kind == "gzip":
            self._process_gzip(task, data, name=name, fetch=fetch, uri=uri, refuse=refuse)
            return
        if kind in ("feed", "xml") or (
            kind in ("text", "binary") and name.lower().endswith((".xml", ".rss", ".atom", ".rdf"))
        ):
            try:
                parsed = parse_feed(
                    data,
                    content_type=content_type,
                    base_url=(fetch.final_url if fetch else None),
                    max_items=self.limits.max_items_per_feed,
                    max_text_chars=self.limits.max_text_chars,
                )
            except ContentError as exc:
                if kind in ("feed", "xml"):
                    refuse("not_a_feed", str(exc))
                    return
            else:
                self._ingest_feed(
                    task, parsed, fetch=fetch, record_url=record_url, n_bytes=len(data)
                )
                return
        if kind == "text" and not task.explicit and not name.lower().endswith(TEXT_EXTENSIONS):
            # Walking a folder, only files meant as prose are read as documents (not data files).
            refuse(
                "unsupported",
                "text file without a text extension (.txt, .md); name it explicitly to ingest it",
            )
            return
        single = self._document_extractor(kind, data, content_type=content_type, fetch=fetch)
        if single is not None:
            extract, default_kind = single
            self._ingest_single(
                task, fetch, record_url, len(data), extract, default_kind=default_kind
            )
        elif kind == "jsonl":
            self._ingest_jsonl(
                task, io.BytesIO(data), uri=record_url, n_bytes=len(data), fetch=fetch
            )
        else:
            refuse(*_REFUSED_KINDS.get(kind, _REFUSED_OTHER))

    def _process_gzip(
        self,
        task: _Task,
        data: bytes,
        *,
        name: str,
        fetch: FetchResult | None,
        uri: str | None,
        refuse: Callable[[str, str], None],
    ) -> None:
        """Unpack gzip content (bounded) and process what it holds, one level deep."""
        try:
            data = decompress_gzip_bounded(data, self.limits.max_file_bytes)
        except Exception as exc:  # corrupt or oversized archive; the message says which
            reason = "too_large" if "exceeds" in str(exc) else "corrupt"
            refuse(reason, f"gzip content: {exc}")
            return
        inner_name = name[:-3] if name.lower().endswith(".gz") else name
        inner = sniff(data, name=inner_name, content_type=None)
        if inner == "gzip":
            refuse("unsupported", "nested gzip content")
            return
        self._process_content(
            task, data, name=inner_name, content_type=None, fetch=fetch, uri=uri, kind=inner
        )

    def _document_extractor(
        self,
        kind: str,
        data: bytes,
        *,
        content_type: str | None,
        fetch: FetchResult | None,
    ) -> tuple[Callable[[], ExtractedDocument], str] | None:
        """For content that is one document (a page, a PDF, plain text): its extraction and the
        document kind it defaults to; None for any other content."""
        if kind == "html":
            return (
                lambda: extract_article(
                    data,
                    url=fetch.final_url if fetch else None,
                    content_type=content_type,
                    max_elements=self.limits.max_html_elements,
                    max_chars=self.limits.max_text_chars,
                ),
                "news",
            )
        if kind == "pdf":
            return (
                lambda: extract_pdf(
                    data,
                    max_pages=self.limits.max_pdf_pages,
                    max_chars=self.limits.max_text_chars,
                ),
                "whitepaper",
            )
        if kind == "text":
            return (
                lambda: extract_plain_text(
                    data,
                    content_type=content_type,
                    max_chars=self.limits.max_text_chars,
                ),
                "other",
            )
        return None

    def _source_name(self, task: _Task, fallback: str | None) -> str:
        if task.source is not None:
            return task.source.name
        if task.kind == "url":
            return fallback or (urlsplit(task.location).hostname or task.location)
        # Loose local files share one source; their file URI keeps them apart as external ids.
        return fallback or LOCAL_SOURCE

    def _ensure_source(self, name: str, url: str | None, kind: str, language: str | None) -> None:
        # Only create: an existing source (perhaps from a sources file) keeps its settings.
        if self.store.source_id(name) is None:
            self.store.upsert_source(name, url=url, kind=kind, language=language)

    def _kind_for(self, task: _Task, default_kind: str) -> str:
        if task.source is not None and (task.source.kind != "news" or default_kind == "other"):
            return task.source.kind
        return default_kind

    def _language_of(self, text: str, *hints: str | None) -> str:
        language = detect_language(text[:LANGUAGE_SAMPLE_CHARS])
        if language == "und":
            for hint in hints:
                if hint:
                    return hint
        return language

    # ----------------------------------------------------------------- single documents
    def _ingest_single(
        self,
        task: _Task,
        fetch: FetchResult | None,
        record_url: str,
        n_bytes: int,
        extract: Callable[[], ExtractedDocument],
        *,
        default_kind: str,
    ) -> None:
        try:
            extracted = extract()
        except ContentError as exc:
            self._record_fetch(
                record_url,
                "rejected",
                source=task.source,
                result=fetch,
                error=str(exc),
                n_bytes=None if fetch else n_bytes,
            )
            reason = "corrupt" if "corrupt" in str(exc) else "no_text"
            self._reject(task.location, reason, str(exc))
            return
        is_remote = task.kind == "url"
        url = (
            (fetch.final_url if fetch and fetch.final_url else task.location) if is_remote else None
        )
        kind = self._kind_for(task, default_kind)
        title = extracted.title or (Path(task.location).stem if not is_remote else None)
        source = self._source_name(task, None)
        self._ensure_source(source, task.location if is_remote else None, kind, None)
        record = DocumentRecord(
            text=extracted.text,
            title=title,
            url=url,
            canonical_url=canonicalize_url(task.location) if is_remote else None,
            external_id=None if is_remote else record_url,
            author=extracted.author,
            published_at=extracted.published_at,
            language=self._language_of(
                extracted.text, task.source.language if task.source else None
            ),
            kind=kind,
            source=source,
        )
        self._record_fetch(
            record_url,
            "ok",
            source=task.source,
            result=fetch,
            items=1,
            n_bytes=None if fetch else n_bytes,
        )
        self._write([(task.location, record)])

    # ----------------------------------------------------------------- feeds
    def _ingest_feed(
        self,
        task: _Task,
        parsed: ParsedFeed,
        *,
        fetch: FetchResult | None,
        record_url: str,
        n_bytes: int,
    ) -> None:
        status = "partial" if parsed.partial else "ok"
        message = None
        if parsed.partial:
            message = f"malformed feed, ingested as far as it parses ({len(parsed.items)} items): {parsed.problem}"
            self.report.partial += 1
            if len(self.report.problems) < MAX_LISTED_REJECTIONS:
                self.report.problems.append(f"{task.location}: {message}")
        if parsed.truncated:
            note = f"{parsed.truncated} items beyond the limit of {self.limits.max_items_per_feed} skipped"
            message = f"{message}; {note}" if message else note
        self._record_fetch(
            record_url,
            status,
            source=task.source,
            result=fetch,
            items=len(parsed.items),
            error=message,
            n_bytes=None if fetch else n_bytes,
        )
        self.report.duplicates += parsed.duplicate_guids
        source = self._source_name(task, parsed.title)
        kind = self._kind_for(task, "news")
        feed_url = task.location if task.kind == "url" else parsed.link
        self._ensure_source(source, feed_url, kind, parsed.language)
        language_hint = (task.source.language if task.source else None) or parsed.language
        base = fetch.final_url if fetch and fetch.final_url else None

        ready: list[tuple[str, DocumentRecord]] = []
        followed = 0
        for item in parsed.items:
            link = urljoin(base, item.link) if base and item.link else item.link
            record = self._record_from_item(item, link, source, kind)
            where = f"{task.location} [{item.guid or item.link or item.title or '?'}]"
            wants_article = (
                self.follow_links
                and is_http_url(link)
                and not item.has_full_content
                and len(item.text) < self.limits.summary_follow_chars
                and followed < self.limits.max_articles_per_feed
            )
            if wants_article:
                followed += 1
                self._follow_article(task, record, link, where, language_hint)
            else:
                ready.append((where, self._finalise(record, language_hint)))
        self._write(ready)

    def _record_from_item(
        self, item: FeedItem, link: str | None, source: str, kind: str
    ) -> DocumentRecord:
        canonical = canonicalize_url(link)
        return DocumentRecord(
            text=item.text,
            title=item.title,
            url=link if canonical else None,
            canonical_url=canonical,
            external_id=item.guid or link,
            author=item.author,
            published_at=item.published_at,
            kind=kind,
            source=source,
            # Short text from a feed that carried no content block is a teaser, not the story.
            is_summary=not item.has_full_content
            and len(item.text) < self.limits.summary_follow_chars,
        )

    def _finalise(self, record: DocumentRecord, language_hint: str | None) -> DocumentRecord:
        if not record.text.strip() and record.title:
            record.text = record.title  # a headline-only item is still a statement worth scoring
        elif (
            record.is_summary
            and record.title
            and not record.text.lstrip().startswith(record.title.strip())
        ):
            # A summary is often boilerplate ("Read the full story..."); with its headline the
            # document says what the story is, and two stories never share one text.
            record.text = f"{record.title.strip()}\n\n{record.text}"
        if record.text.strip():
            record.language = self._language_of(record.text, language_hint)
        return record

    def _follow_article(
        self, task: _Task, record: DocumentRecord, link: str, where: str, language_hint: str | None
    ) -> None:
        fetcher = self.fetcher
        limits = self.limits

        def work() -> _ArticleOutcome:
            result = fetcher.fetch(link, accept=PAGE_ACCEPT, respect_robots=True)
            if not result.ok:
                return _ArticleOutcome(result, None, result.error or result.status)
            try:
                kind = sniff(
                    result.content,
                    name=urlsplit(result.final_url or link).path,
                    content_type=result.content_type,
                )
                if kind == "pdf":
                    extracted = extract_pdf(
                        result.content,
                        max_pages=limits.max_pdf_pages,
                        max_chars=limits.max_text_chars,
                    )
                elif kind in ("html", "text", "xml"):
                    extracted = extract_article(
                        result.content,
                        url=result.final_url or link,
                        content_type=result.content_type,
                        max_elements=limits.max_html_elements,
                        max_chars=limits.max_text_chars,
                    )
                else:
                    return _ArticleOutcome(result, None, f"linked page is {kind}, not an article")
            except ContentError as exc:
                return _ArticleOutcome(result, None, str(exc))
            except Exception as exc:  # extraction of a hostile page must never sink the feed
                return _ArticleOutcome(result, None, f"{type(exc).__name__}: {exc}")
            return _ArticleOutcome(result, extracted, None)

        def then(outcome: _ArticleOutcome) -> None:
            fetch = outcome.fetch
            if outcome.extracted is not None:
                extracted = outcome.extracted
                if len(extracted.text) > len(record.text):
                    record.text = extracted.text
                    record.is_summary = False
                    if extracted.kind and record.kind == "news":
                        record.kind = extracted.kind
                record.title = record.title or extracted.title
                record.author = record.author or extracted.author
                record.published_at = record.published_at or extracted.published_at
                self._record_fetch(link, "ok", source=task.source, result=fetch, items=1)
            else:
                status = fetch.status if not fetch.ok else "rejected"
                self._record_fetch(
                    link, status, source=task.source, result=fetch, items=0, error=outcome.error
                )
            self._write([(where, self._finalise(record, language_hint))])

        self._submit(work, then)

    # ----------------------------------------------------------------- JSONL
    def _ingest_jsonl(
        self, task: _Task, handle: Any, *, uri: str, n_bytes: int, fetch: FetchResult | None = None
    ) -> None:
        source = task.source.name if task.source else None
        batch: list[tuple[str, DocumentRecord]] = []
        n_records = 0
        n_bad = 0
        for line_number, outcome in iter_jsonl(
            handle,
            max_line_bytes=self.limits.max_line_bytes,
            default_source=source,
            max_text_chars=self.limits.max_text_chars,
        ):
            where = f"{task.location}:{line_number}"
            if isinstance(outcome, RecordError):
                n_bad += 1
                self._reject(where, "invalid_record", str(outcome))
                continue
            n_records += 1
            if task.source is not None and outcome.kind == "news":
                outcome.kind = task.source.kind
            outcome.language = outcome.language or self._language_of(
                outcome.text, task.source.language if task.source else None
            )
            batch.append((where, outcome))
            if len(batch) >= WRITE_BATCH:
                self._write(batch)
                batch = []
                if self.progress is not None:
                    self.progress(
                        self._completed,
                        max(self._total, self._completed + 1),
                        f"{task.location}: {n_records} records",
                    )
        self._write(batch)
        status = "ok" if n_records else "rejected"
        error = f"{n_bad} invalid records" if n_bad else None
        self._record_fetch(
            uri,
            status,
            source=task.source,
            result=fetch,
            items=n_records,
            error=error,
            n_bytes=None if fetch else n_bytes,
        )

    # ----------------------------------------------------------------- writing
    def _write(self, records: Sequence[tuple[str, DocumentRecord]]) -> None:
        """Upsert records in one transaction, each inside its own savepoint.

        A record the store refuses is rolled back alone and reported; the others stay.
        """
        if not records:
            return
        with self.store.transaction():
            for where, record in records:
                if not record.text.strip():
                    self._reject(where, "no_text", "item has neither text nor title")
                    continue
                try:
                    with self.store.savepoint("ingest_document"):
                        result = self.store.upsert_document(record, run_id=self.report.run_id)
                except (StorageError, sqlite3.IntegrityError, ValueError) as exc:
                    self._reject(where, "store_refused", str(exc))
                    continue
                self.report.count(result.action)
