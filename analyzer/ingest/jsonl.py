"""JSONL document dumps: one JSON object per line, streamed so a dump of any size fits in memory.

Fields: ``text`` (required), ``id``, ``url``, ``title``, ``published`` (or ``published_at``,
``date``), ``source``, ``author``, ``language``, ``kind`` and ``entities`` (entity ids,
created when unknown).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import IO, Any

from analyzer.ingest.text import (
    clean_text,
    decode_bytes,
    html_to_text,
    looks_like_html,
    normalize_date,
)
from analyzer.ingest.urls import canonicalize_url
from analyzer.storage import DOCUMENT_KINDS, DocumentRecord


class RecordError(ValueError):
    """One JSONL record is unusable; the message says why."""


def _optional_str(value: Any, name: str, max_chars: int = 2000) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RecordError(f"'{name}' must be a string")
    return clean_text(value, max_chars=max_chars) or None


def record_from_json(
    obj: Any,
    *,
    default_source: str | None = None,
    max_text_chars: int = 2_000_000,
) -> DocumentRecord:
    """A :class:`DocumentRecord` from one decoded JSONL object; raises :class:`RecordError`."""
    if not isinstance(obj, dict):
        raise RecordError("record is not a JSON object")
    raw_text = obj.get("text")
    if not isinstance(raw_text, str):
        raise RecordError("record has no 'text' string")
    text = (
        html_to_text(raw_text, max_chars=max_text_chars)
        if looks_like_html(raw_text)
        else clean_text(raw_text, max_chars=max_text_chars)
    )
    if not text:
        raise RecordError("record text is empty")
    url = obj.get("url")
    if url is not None and not isinstance(url, str):
        raise RecordError("'url' must be a string")
    url = url.strip() if url else None
    kind = str(obj.get("kind") or "news").strip().lower()
    if kind not in DOCUMENT_KINDS:
        raise RecordError(f"unknown kind {kind!r}")
    entities = obj.get("entities") or []
    if isinstance(entities, str):
        entities = [entities]
    if not isinstance(entities, list):
        raise RecordError("'entities' must be a list of entity ids")
    entity_ids = []
    for entity in entities:
        if not isinstance(entity, (str, int)) or isinstance(entity, bool):
            raise RecordError("'entities' must be a list of entity ids")
        if str(entity).strip():
            entity_ids.append(str(entity).strip())
    published_raw = next(
        (obj[k] for k in ("published", "published_at", "date") if obj.get(k) not in (None, "")),
        None,
    )
    source = _optional_str(obj.get("source"), "source", 300) or default_source
    language = _optional_str(obj.get("language"), "language", 20)
    return DocumentRecord(
        text=text,
        title=_optional_str(obj.get("title"), "title"),
        url=url or None,
        canonical_url=canonicalize_url(url),
        external_id=_optional_str(obj.get("id"), "id", 500),
        author=_optional_str(obj.get("author"), "author", 500),
        published_at=normalize_date(published_raw),
        language=language.lower() if language else None,
        kind=kind,
        source=source,
        entities=entity_ids,
    )


def _read_line(stream: IO[bytes], max_line_bytes: int) -> tuple[bytes | None, bool]:
    """The next line (None at the end) and whether it was too long (its rest is skipped)."""
    line = stream.readline(max_line_bytes + 1)
    if not line:
        return None, False
    if len(line) > max_line_bytes and not line.endswith(b"\n"):
        while True:
            rest = stream.readline(1024 * 1024)
            if not rest or rest.endswith(b"\n"):
                break
        return line, True
    return line, False


def iter_jsonl(
    stream: IO[bytes] | bytes,
    *,
    max_line_bytes: int = 8 * 1024 * 1024,
    default_source: str | None = None,
    max_text_chars: int = 2_000_000,
) -> Iterator[tuple[int, DocumentRecord | RecordError]]:
    """Yield ``(line_number, record_or_error)`` for each non-blank line of a JSONL stream."""
    if isinstance(stream, (bytes, bytearray)):
        stream = io.BytesIO(bytes(stream))
    number = 0
    while True:
        line, too_long = _read_line(stream, max_line_bytes)
        if line is None:
            return
        number += 1
        if too_long:
            yield number, RecordError(f"line is longer than {max_line_bytes} bytes")
            continue
        if not line.strip():
            continue
        try:
            decoded = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            decoded = decode_bytes(line)
        try:
            obj = json.loads(decoded)
        except RecursionError:
            yield number, RecordError("record is nested too deeply")
            continue
        except ValueError as exc:
            yield number, RecordError(f"invalid JSON: {exc}")
            continue
        try:
            yield (
                number,
                record_from_json(obj, default_source=default_source, max_text_chars=max_text_chars),
            )
        except RecordError as exc:
            yield number, exc
