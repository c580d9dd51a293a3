"""Feed parsing: RSS, Atom, RDF and JSON Feed bytes into clean items.

feedparser receives the bytes together with the HTTP Content-Type, so a charset given only
in the header is honoured. It is always handed a stream, never a string: given a string,
feedparser would treat it as a URL or file name and open it. Its SAX path neither resolves
external entities nor keeps entity declarations that reference other entities, and the
expat it runs on caps entity expansion, which defuses XXE and billion-laughs documents.
One hole remains: when expat gives up, feedparser's fallback parser expands the "safe"
entities itself, so a large entity referenced many times (quadratic blowup) could build a
gigabyte string. :func:`guard_entity_expansion` measures that before parsing.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass, field
from typing import Any

import feedparser

from analyzer.ingest.base import ContentError
from analyzer.ingest.text import clean_text, html_to_text, looks_like_html, normalize_date
from analyzer.ingest.urls import is_http_url


@dataclass
class FeedItem:
    """One entry of a feed, reduced to what a document needs."""

    guid: str | None
    link: str | None
    title: str | None
    text: str
    published_at: str | None
    author: str | None = None
    has_full_content: bool = False  # the feed carried a content block, not just a summary


@dataclass
class ParsedFeed:
    title: str | None
    link: str | None
    language: str | None
    version: str | None
    items: list[FeedItem] = field(default_factory=list)
    problem: str | None = None  # set when feedparser flagged the document as malformed
    duplicate_guids: int = 0
    truncated: int = 0  # items beyond the per-feed cap
    raw: Any = None  # the feedparser result, for callers that need more

    @property
    def partial(self) -> bool:
        return self.problem is not None


_LEFTOVER_TAGS = re.compile(
    r"</(?:p|div|span|a|li|ul|ol|strong|em|b|i|h[1-6]|blockquote|table|td|tr)>", re.IGNORECASE
)


def _plain(value: Any, *, max_chars: int | None = None) -> str:
    if not isinstance(value, str):
        return ""
    if not looks_like_html(value):
        return clean_text(value, max_chars=max_chars)
    text = html_to_text(value, max_chars=max_chars)
    if len(_LEFTOVER_TAGS.findall(text)) >= 2:
        # Markup escaped twice by the publisher still reads as markup after one pass.
        text = html_to_text(text, max_chars=max_chars)
    return text


def _entry_body(entry: Any, max_chars: int) -> tuple[str, bool]:
    """The entry's longest content block, else its summary; and whether it was full content."""
    best = ""
    for block in entry.get("content") or []:
        value = block.get("value") if isinstance(block, dict) else None
        text = _plain(value, max_chars=max_chars)
        if len(text) > len(best):
            best = text
    if best:
        return best, True
    summary = entry.get("summary") or entry.get("description") or ""
    return _plain(summary, max_chars=max_chars), False


def _language_tag(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def describe_bozo(exception: Any) -> str:
    if exception is None:
        return "malformed feed"
    text = str(exception).strip() or type(exception).__name__
    return f"{type(exception).__name__}: {text}"[:500]


MAX_ENTITY_EXPANSION = 1_000_000  # characters that declared entities may add to a feed
_FIRST_ELEMENT = re.compile(r"<\w", re.ASCII)
# The declarations feedparser keeps and expands: general entities with a plain quoted value.
_ENTITY_DECLARATION = re.compile(r'<!ENTITY\s+(\w+)\s+"(&#\w+;|[^&"]*)"')
_XML_ENCODING = re.compile(rb"""^[^>]{0,200}?encoding\s*=\s*["']([\w.:-]{1,40})["']""")


def _candidate_texts(data: bytes, content_type: str | None, limit: int | None) -> list[str]:
    """The document decoded every way feedparser might decode it (enough to find markup)."""
    sample = data if limit is None else data[:limit]
    encodings = ["utf-8"]
    if b"\x00" in sample[:4096]:
        encodings += ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
    if sample[:4] == b"\x4c\x6f\xa7\x94":
        encodings.append("cp037")
    declared = _XML_ENCODING.search(sample.lstrip(b"\xef\xbb\xbf\xff\xfe\x00"))
    for name in ([declared.group(1).decode("ascii")] if declared else []) + (
        [m.group(1) for m in re.finditer(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "")]
    ):
        try:
            encodings.append(codecs.lookup(name).name)
        except LookupError:
            continue
    texts = []
    for encoding in dict.fromkeys(encodings):
        try:
            texts.append(sample.decode(encoding, "ignore"))
        except (LookupError, ValueError):
            continue
    return texts


def guard_entity_expansion(
    data: bytes, *, content_type: str | None = None, limit: int = MAX_ENTITY_EXPANSION
) -> None:
    """Raise :class:`ContentError` when entity declarations would expand past ``limit`` characters."""
    head_bytes = 1024 * 1024
    if not any(
        "<!ENTITY" in _prolog(text) for text in _candidate_texts(data, content_type, head_bytes)
    ):
        return
    for text in _candidate_texts(data, content_type, None):
        declarations = _ENTITY_DECLARATION.findall(_prolog(text))
        expansion = sum(len(value) * text.count(f"&{name};") for name, value in declarations)
        if expansion > limit:
            raise ContentError(
                f"feed declares entities that would expand to {expansion} characters (limit {limit});"
                " refused as an entity-expansion attack"
            )


def _prolog(text: str) -> str:
    match = _FIRST_ELEMENT.search(text)
    return text[: match.start()] if match else text


def parse_feed(
    data: bytes,
    *,
    content_type: str | None = None,
    base_url: str | None = None,
    max_items: int = 5000,
    max_text_chars: int = 2_000_000,
) -> ParsedFeed:
    """Parse feed bytes into :class:`ParsedFeed`.

    A malformed feed is parsed as far as it goes and ``problem`` says what was wrong; a
    document with no feed in it at all raises :class:`ContentError`.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_feed takes bytes")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return parse_json_feed(bytes(data), max_items=max_items, max_text_chars=max_text_chars)
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    if base_url and is_http_url(base_url):
        headers["content-location"] = base_url
        # With any header present feedparser expects a Content-Type; plain XML keeps the
        # document's own encoding declaration in charge, as when no header is given.
        headers.setdefault("content-type", "application/xml")
    guard_entity_expansion(bytes(data), content_type=content_type)
    try:
        result = feedparser.parse(io.BytesIO(bytes(data)), response_headers=headers)
    except RecursionError as exc:
        raise ContentError("feed is nested too deeply to parse") from exc
    except Exception as exc:  # feedparser is permissive but not exception-proof on junk
        raise ContentError(f"feed could not be parsed: {type(exc).__name__}: {exc}") from exc

    meta = result.get("feed") or {}
    entries = result.get("entries") or []
    version = result.get("version") or None
    bozo_exception = result.get("bozo_exception")
    problem = describe_bozo(bozo_exception) if result.get("bozo") else None
    if isinstance(bozo_exception, feedparser.NonXMLContentType) and (entries or version):
        problem = None  # a mislabelled Content-Type, but the document itself parsed cleanly
    if not entries and not version:
        reason = problem or "no feed elements found"
        raise ContentError(f"not a feed ({reason})")

    parsed = ParsedFeed(
        title=_plain(meta.get("title")) or None,
        link=meta.get("link") if is_http_url(meta.get("link")) else None,
        language=_language_tag(meta.get("language")),
        version=version,
        problem=problem,
        raw=result,
    )
    seen: set[str] = set()
    for entry in entries:
        if len(parsed.items) >= max_items:
            parsed.truncated += 1
            continue
        link = entry.get("link")
        link = link.strip() if isinstance(link, str) and link.strip() else None
        guid = (
            entry.get("id")
            if isinstance(entry.get("id"), str) and entry.get("id").strip()
            else None
        )
        key = guid or link
        if key is not None:
            if key in seen:
                parsed.duplicate_guids += 1
                continue
            seen.add(key)
        title = _plain(entry.get("title"), max_chars=2000) or None
        text, full = _entry_body(entry, max_text_chars)
        published = None
        for name in ("published_parsed", "updated_parsed", "created_parsed"):
            published = normalize_date(entry.get(name))
            if published:
                break
        if published is None:
            for name in ("published", "updated", "created"):
                published = normalize_date(entry.get(name))
                if published:
                    break
        author = _plain(entry.get("author"), max_chars=500) or None
        parsed.items.append(
            FeedItem(
                guid=guid.strip() if guid else None,
                link=link,
                title=title,
                text=text,
                published_at=published,
                author=author,
                has_full_content=full,
            )
        )
    return parsed


def _json_feed_author(obj: dict[str, Any]) -> str | None:
    authors = obj.get("authors")
    if isinstance(authors, list):
        names = [
            a.get("name") for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)
        ]
        if names:
            return clean_text(", ".join(names), max_chars=500) or None
    author = obj.get("author")
    if isinstance(author, dict) and isinstance(author.get("name"), str):
        return clean_text(author["name"], max_chars=500) or None
    return None


def parse_json_feed(
    data: bytes, *, max_items: int = 5000, max_text_chars: int = 2_000_000
) -> ParsedFeed:
    """Parse a JSON Feed (https://jsonfeed.org, versions 1 and 1.1)."""
    import json

    try:
        document = json.loads(data.decode("utf-8-sig", "replace"))
    except RecursionError as exc:
        raise ContentError("JSON feed is nested too deeply") from exc
    except ValueError as exc:
        raise ContentError(f"not a feed (invalid JSON: {exc})") from exc
    if not isinstance(document, dict) or "jsonfeed.org" not in str(document.get("version", "")):
        raise ContentError("not a feed (JSON without a JSON Feed version)")
    raw_items = document.get("items")
    problem = None
    if not isinstance(raw_items, list):
        raw_items = []
        problem = "JSON feed has no 'items' list"
    home = document.get("home_page_url")
    parsed = ParsedFeed(
        title=_plain(document.get("title"), max_chars=2000) or None,
        link=home if is_http_url(home) else None,
        language=_language_tag(document.get("language")),
        version="json" + str(document.get("version", "")).rsplit("/", 1)[-1].replace(".", ""),
        problem=problem,
        raw=document,
    )
    seen: set[str] = set()
    for item in raw_items:
        if not isinstance(item, dict):
            parsed.problem = parsed.problem or "JSON feed has items that are not objects"
            continue
        if len(parsed.items) >= max_items:
            parsed.truncated += 1
            continue
        guid = item.get("id")
        guid = str(guid).strip() if isinstance(guid, (str, int)) and str(guid).strip() else None
        link = item.get("url") if isinstance(item.get("url"), str) else item.get("external_url")
        link = link.strip() if isinstance(link, str) and link.strip() else None
        key = guid or link
        if key is not None:
            if key in seen:
                parsed.duplicate_guids += 1
                continue
            seen.add(key)
        text = ""
        full = False
        for field_name in ("content_html", "content_text"):
            candidate = _plain(item.get(field_name), max_chars=max_text_chars)
            if len(candidate) > len(text):
                text, full = candidate, True
        if not text:
            text = _plain(item.get("summary"), max_chars=max_text_chars)
        published = normalize_date(item.get("date_published")) or normalize_date(
            item.get("date_modified")
        )
        parsed.items.append(
            FeedItem(
                guid=guid,
                link=link,
                title=_plain(item.get("title"), max_chars=2000) or None,
                text=text,
                published_at=published,
                author=_json_feed_author(item) or _json_feed_author(document),
                has_full_content=full,
            )
        )
    return parsed
