"""Labels over text written by others, stored as annotations: where a sentence is, never what it says.

A labelled set built from other people's text (feeds, articles, whitepapers, filings, research
data sets) cannot ship that text: licences differ, and several forbid redistribution. What we
ship instead is, for each sentence, enough to find it again in an unmodified copy of the
original file and to prove that what was found is what was labelled:

* ``origin_repo``, ``origin_commit``, ``origin_path``: the public file it comes from; a file
  with no public origin (a page saved by hand, with no address) has ``origin: "local"``
  instead, and ``file_sha256``, the hash of the whole original file, which is checked too;
* ``local_path``: where that file sits inside a folder of originals (``--sources``);
* ``extractor`` (plus ``encoding``, ``pointer`` or ``page`` where the extractor needs one) and
  ``start``/``end``: a character span into the text that extractor reads from the file;
* ``sha256``: the hash of the sentence as materialised, so a changed file is noticed;
* ``source_type``, ``document`` and ``split``, the labels ``hype``/``growth``/``evidence`` and
  (for the labelled set) ``stratum``: how the sentence was selected.

There is no text field. :func:`materialize` rebuilds every sentence from the originals and
refuses, with the reason, any annotation whose file is missing, whose span is out of range or
whose hash does not match: a sentence is never silently given labels that belong to another.

Extractors (each materialised sentence has its whitespace collapsed to single spaces):

``text``
    The file decoded with ``encoding`` (default UTF-8); the sentence is ``text[start:end]``.
    Plain text, LaTeX source (kept as written), Financial PhraseBank lines (Latin-1), and JSON
    files whose string appears verbatim (no escapes) in the file.
``html``
    The decoded file; the span may hold inline tags (``<a>``, ``<em>``, ``<span>`` ...), which are
    removed, and then character references are decoded (:func:`html.unescape`). Spans never
    cross a block boundary (paragraph, list item, heading, cell, line break), so removing the
    tags joins nothing that a reader sees apart. HTML pages, XML feed fields, CDATA sections.
``html-escaped``
    Like ``html`` for HTML that a feed escaped inside XML (``&lt;p&gt;...``): references are
    decoded once to reveal the markup, then the ``html`` rule applies.
``json`` / ``json-html``
    The decoded file parsed as JSON; ``pointer`` (RFC 6901) names a string in it; the span is
    into that string, read as plain text (``json``) or by the ``html`` rule (``json-html``).
``pdf``
    The text pypdf extracts from page ``page`` (0-based); ``extractor_version`` records the pypdf
    major version used. Another pypdf may extract differently: the hash check catches it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import InputError

__all__ = [
    "ANNOTATION_FIELDS",
    "EXTRACTORS",
    "LABELS",
    "SPLITS",
    "Problem",
    "annotation_id",
    "clean_markup",
    "collapse_whitespace",
    "extract",
    "materialize",
    "read_annotations",
    "sentence_sha256",
    "write_annotations",
    "write_materialized",
]

LABELS: tuple[str, ...] = ("hype", "growth", "evidence")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
EXTRACTORS: tuple[str, ...] = ("text", "html", "html-escaped", "json", "json-html", "pdf")

# Field order in the files; optional fields are written only when they carry a value.
ANNOTATION_FIELDS: tuple[str, ...] = (
    "id",
    "origin_repo",
    "origin_commit",
    "origin_path",
    "origin",
    "local_path",
    "file_sha256",
    "extractor",
    "encoding",
    "pointer",
    "page",
    "extractor_version",
    "start",
    "end",
    "sha256",
    "source_type",
    "document",
    "split",
    "stratum",
    "shape",
    *LABELS,
)
_REQUIRED = (
    "id",
    "origin_repo",
    "origin_commit",
    "origin_path",
    "local_path",
    "extractor",
    "start",
    "end",
    "sha256",
)
_ORIGIN_FIELDS = ("origin_repo", "origin_commit", "origin_path")
# ``origin`` value of an annotation over a file that has no public origin.
LOCAL_ORIGIN = "local"
# Keys that would carry the sentence itself: never allowed in an annotation file.
FORBIDDEN_KEYS = frozenset({"text", "sentence", "context"})

# A tag starts with a letter (or "/", "!" before one); a bare "<" in text is text.
_TAG_RE = re.compile(r"<[!/?]?[A-Za-z][^>]*>")


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (including no-break spaces and line breaks) become one space."""
    return " ".join(text.split())


def clean_markup(fragment: str) -> str:
    """The text a reader sees in an HTML fragment without block boundaries: tags removed, then
    character references decoded, whitespace collapsed."""
    return collapse_whitespace(html.unescape(_TAG_RE.sub("", fragment)))


def clean_escaped_markup(fragment: str) -> str:
    """:func:`clean_markup` for HTML that was escaped once more inside XML."""
    return clean_markup(html.unescape(fragment))


def sentence_sha256(sentence: str) -> str:
    return hashlib.sha256(sentence.encode("utf-8")).hexdigest()


def annotation_id(
    origin_repo: str,
    origin_path: str,
    extractor: str,
    locator: str | int | None,
    start: int,
    end: int,
) -> str:
    """A stable identifier from where the span is (not from what it says)."""
    where = "" if locator is None else locator
    key = "\x00".join(
        str(part) for part in (origin_repo, origin_path, extractor, where, start, end)
    )
    return "rt-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Problem:
    """An annotation that could not be materialised, and why."""

    id: str
    local_path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "local_path": self.local_path, "reason": self.reason}


class _Refused(Exception):
    """Raised inside materialisation; becomes a :class:`Problem`."""


# --------------------------------------------------------------------------- reading sources


class _SourceCache:
    """Decoded files, parsed JSON and extracted PDF pages, each read once per materialisation."""

    def __init__(self, sources_dir: Path):
        self.sources_dir = sources_dir
        self._bytes: dict[str, bytes | None] = {}
        self._texts: dict[tuple[str, str], str] = {}
        self._json: dict[tuple[str, str], Any] = {}
        self._pdf_pages: dict[str, list[str]] = {}

    def _path(self, local_path: str) -> Path:
        relative = Path(local_path)
        if relative.is_absolute() or ".." in relative.parts:
            raise _Refused(f"local_path {local_path!r} must be relative to the sources folder")
        return self.sources_dir / relative

    def raw(self, local_path: str) -> bytes:
        if local_path not in self._bytes:
            path = self._path(local_path)
            self._bytes[local_path] = path.read_bytes() if path.is_file() else None
        data = self._bytes[local_path]
        if data is None:
            raise _Refused("missing file")
        return data

    def text(self, local_path: str, encoding: str) -> str:
        key = (local_path, encoding)
        if key not in self._texts:
            try:
                self._texts[key] = self.raw(local_path).decode(encoding)
            except (UnicodeDecodeError, LookupError) as exc:
                raise _Refused(f"cannot decode as {encoding}: {exc}") from exc
        return self._texts[key]

    def json_string(self, local_path: str, encoding: str, pointer: str) -> str:
        key = (local_path, encoding)
        if key not in self._json:
            try:
                self._json[key] = json.loads(self.text(local_path, encoding))
            except json.JSONDecodeError as exc:
                raise _Refused(f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        value = resolve_pointer(self._json[key], pointer)
        if not isinstance(value, str):
            raise _Refused(f"no JSON string at pointer {pointer!r}")
        return value

    def pdf_page(self, local_path: str, page: int) -> str:
        if local_path not in self._pdf_pages:
            self._pdf_pages[local_path] = pdf_page_texts(self.raw(local_path))
        pages = self._pdf_pages[local_path]
        if not 0 <= page < len(pages):
            raise _Refused(f"page {page} out of range (the PDF has {len(pages)})")
        return pages[page]


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON pointer, or None when it does not exist."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        return None
    current = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            if token not in current:
                return None
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current):
                return None
            current = current[int(token)]
        else:
            return None
    return current


def json_pointer(*tokens: str | int) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def pdf_page_texts(data: bytes) -> list[str]:
    """Text of each page as pypdf extracts it (the ``pdf`` extractor's input)."""
    import io

    try:
        import pypdf
    except ImportError as exc:  # pragma: no cover - pypdf is a dependency
        raise _Refused("pypdf is not installed") from exc
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        return [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on a damaged file
        raise _Refused(f"cannot read the PDF ({type(exc).__name__}: {exc})") from exc


def pypdf_major_version() -> str:
    try:
        import pypdf
    except ImportError:  # pragma: no cover
        return "none"
    return "pypdf " + pypdf.__version__.split(".")[0]


def _span(source: str, start: int, end: int) -> str:
    if not (0 <= start < end <= len(source)):
        raise _Refused(f"span {start}:{end} out of range (the text has {len(source)} characters)")
    return source[start:end]


def extract(annotation: dict[str, Any], cache: _SourceCache) -> str:
    """The sentence an annotation points at, as its extractor materialises it (no hash check)."""
    extractor = annotation["extractor"]
    local_path = annotation["local_path"]
    encoding = annotation.get("encoding") or "utf-8"
    start, end = int(annotation["start"]), int(annotation["end"])
    if extractor in ("text", "html", "html-escaped"):
        fragment = _span(cache.text(local_path, encoding), start, end)
        if extractor == "text":
            return collapse_whitespace(fragment)
        return clean_markup(fragment) if extractor == "html" else clean_escaped_markup(fragment)
    if extractor in ("json", "json-html"):
        pointer = annotation.get("pointer")
        if not isinstance(pointer, str):
            raise _Refused(f"extractor {extractor!r} needs a 'pointer'")
        fragment = _span(cache.json_string(local_path, encoding, pointer), start, end)
        return collapse_whitespace(fragment) if extractor == "json" else clean_markup(fragment)
    if extractor == "pdf":
        page = annotation.get("page")
        if not isinstance(page, int):
            raise _Refused("extractor 'pdf' needs a 'page'")
        return collapse_whitespace(_span(cache.pdf_page(local_path, page), start, end))
    raise _Refused(f"unknown extractor {extractor!r} (known: {', '.join(EXTRACTORS)})")


# --------------------------------------------------------------------------- materialise


def _missing_fields(annotation: dict[str, Any]) -> list[str]:
    """Required fields the annotation lacks (a local-origin one needs the file hash instead of an origin)."""
    required: tuple[str, ...] = _REQUIRED
    if annotation.get("origin") == LOCAL_ORIGIN:
        required = (*(k for k in _REQUIRED if k not in _ORIGIN_FIELDS), "file_sha256")
    return [key for key in required if key not in annotation]


def materialize(
    annotations: Iterable[dict[str, Any]], sources_dir: str | Path
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rebuild each annotated sentence from the originals in ``sources_dir``.

    Returns ``(rows, problems)``: ``rows`` are the annotations that matched, each with its
    ``text`` added; ``problems`` name every annotation that was refused and why (missing file,
    undecodable file, span out of range, hash mismatch ...). Nothing is guessed or repaired.
    """
    sources_dir = Path(sources_dir)
    if not sources_dir.is_dir():
        raise InputError(f"sources folder {sources_dir} does not exist")
    cache = _SourceCache(sources_dir)
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for annotation in annotations:
        identifier = str(annotation.get("id", "?"))
        local_path = str(annotation.get("local_path", "?"))
        try:
            missing = _missing_fields(annotation)
            if missing:
                raise _Refused(f"annotation lacks {', '.join(missing)}")
            if annotation.get("origin") == LOCAL_ORIGIN:
                digest = hashlib.sha256(cache.raw(str(annotation["local_path"]))).hexdigest()
                if digest != annotation["file_sha256"]:
                    raise _Refused("file hash mismatch: this is not the file that was annotated")
            text = extract(annotation, cache)
            if sentence_sha256(text) != annotation["sha256"]:
                reason = (
                    "hash mismatch: the file no longer holds the annotated sentence at this span"
                )
                if annotation["extractor"] == "pdf" and annotation.get("extractor_version") not in (
                    None,
                    pypdf_major_version(),
                ):
                    reason += f" (extracted with {annotation['extractor_version']}, installed {pypdf_major_version()})"
                raise _Refused(reason)
        except _Refused as refused:
            problems.append(Problem(identifier, local_path, str(refused)))
            continue
        rows.append({**annotation, "text": text})
    return rows, problems


# --------------------------------------------------------------------------- files


def read_annotations(path: str | Path) -> list[dict[str, Any]]:
    """Annotations from a JSONL file; a malformed line, or one carrying text, raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: expected a JSON object")
            carried = FORBIDDEN_KEYS & set(row)
            if carried:
                raise InputError(f"{path}:{number}: annotations must not carry {sorted(carried)}")
            rows.append(row)
    return rows


def write_annotations(path: str | Path, annotations: Iterable[dict[str, Any]]) -> int:
    """Write annotations as JSONL in a fixed field order, refusing any that carries text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for annotation in annotations:
            carried = FORBIDDEN_KEYS & set(annotation)
            if carried:
                raise InputError(
                    f"annotation {annotation.get('id')} carries {sorted(carried)}; refusing to write text"
                )
            handle.write(json.dumps(_ordered(annotation), ensure_ascii=False) + "\n")
            count += 1
    return count


def _ordered(annotation: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: annotation[key] for key in ANNOTATION_FIELDS if annotation.get(key) is not None}
    ordered.update({k: v for k, v in annotation.items() if k not in ordered and v is not None})
    return ordered


MATERIALIZED_FIELDS = (
    "id",
    "text",
    *LABELS,
    "source",
    "source_type",
    "document",
    "stratum",
    "shape",
    "lang",
)


def write_materialized(rows: Sequence[dict[str, Any]], out_dir: str | Path) -> dict[str, int]:
    """Write materialised rows to ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` in
    ``out_dir`` (the format :func:`analyzer.training.data.read_labelled` reads)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    for row in rows:
        split = row.get("split")
        if split in by_split:
            by_split[split].append(row)
    counts: dict[str, int] = {}
    for name, members in by_split.items():
        with open(out_dir / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for row in sorted(members, key=lambda r: r["id"]):
                record = {**row, "source": row.get("source_type"), "lang": row.get("lang") or "en"}
                handle.write(
                    json.dumps(
                        {k: record[k] for k in MATERIALIZED_FIELDS if record.get(k) is not None},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        counts[name] = len(members)
    return counts


def iter_problem_lines(problems: Sequence[Problem]) -> Iterator[str]:
    for problem in problems:
        yield f"refused {problem.id} ({problem.local_path}): {problem.reason}"
