"""Tell what a blob of bytes is from its content (the name is only a tie-breaker)."""

from __future__ import annotations

import codecs
import json
import re

SNIFF_BYTES = 64 * 1024

FEED_EXTENSIONS = (".xml", ".rss", ".atom", ".rdf", ".feed")
TEXT_EXTENSIONS = (".txt", ".text", ".md", ".markdown", ".rst")
SOURCES_EXTENSIONS = (".yaml", ".yml")
JSONL_EXTENSIONS = (".jsonl", ".ndjson", ".jsonlines")
HTML_EXTENSIONS = (".html", ".htm", ".xhtml")

_PROLOG = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype(?:[^\[>]|\[.*?\])*>)", re.IGNORECASE | re.DOTALL
)
_ROOT_TAG = re.compile(r"<([A-Za-z_][\w:.-]*)")
_HTML_TAGS = frozenset(
    {
        "html",
        "head",
        "body",
        "div",
        "p",
        "meta",
        "link",
        "title",
        "script",
        "style",
        "table",
        "span",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "header",
        "footer",
        "section",
        "article",
        "main",
        "nav",
        "aside",
        "br",
        "img",
        "figure",
        "picture",
        "ul",
        "ol",
        "li",
        "blockquote",
        "form",
        "noscript",
        "iframe",
        "em",
        "strong",
        "b",
        "i",
        "pre",
        "center",
        "font",
        "base",
    }
)
_FEED_TAGS = frozenset({"rss", "feed", "rdf", "channel", "redirect"})


def _decode_head(head: bytes) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, "replace")
    if b"\x00" in head[:4]:
        # UTF-16/32 without a byte-order mark: the zero bytes around '<' tell which.
        for pattern, encoding in (
            (b"<\x00\x00\x00", "utf-32-le"),
            (b"\x00\x00\x00<", "utf-32-be"),
            (b"<\x00", "utf-16-le"),
            (b"\x00<", "utf-16-be"),
        ):
            if head.startswith(pattern):
                return head.decode(encoding, "replace")
    return head.decode("utf-8", "replace")


def _is_binary(head: bytes, text: str) -> bool:
    if not text:
        return False
    if b"\x00" in head and "\x00" in text:
        return True
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\x0b")
    replacement = text.count("\ufffd")
    return (controls + replacement) / len(text) > 0.05


def _sniff_json(text: str, data: bytes, name: str) -> str:
    first_line = text.lstrip().split("\n", 1)[0].strip()
    try:
        first = json.loads(first_line)
    except ValueError:
        first = None
    if isinstance(first, dict):
        if "jsonfeed.org" in str(first.get("version", "")):
            return "feed"
        if "text" in first or name.endswith(JSONL_EXTENSIONS):
            return "jsonl"
        return "json"
    if "jsonfeed.org" in text[:4096] and '"items"' in text:
        return "feed"
    return "json"


def sniff(data: bytes, *, name: str = "", content_type: str | None = None) -> str:
    """Classify ``data``.

    Returns one of ``pdf``, ``gzip``, ``feed``, ``html``, ``opml``, ``xml`` (some other XML),
    ``jsonl``, ``json``, ``sources`` (a YAML sources file), ``text``, ``binary`` or ``empty``.
    """
    name = name.lower()
    head = bytes(data[:SNIFF_BYTES])
    if not head.strip():
        return "empty"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    text = _decode_head(head)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in "{[":
        return _sniff_json(stripped, data, name)
    if stripped.startswith("<"):
        rest = stripped
        doctype_html = False
        while True:
            match = _PROLOG.match(rest)
            if not match or not match.group(0):
                break
            if match.group(0).strip().lower().startswith("<!doctype html"):
                doctype_html = True
            rest = rest[match.end() :]
        if doctype_html:
            return "html"
        tag_match = _ROOT_TAG.match(rest.lstrip())
        if tag_match:
            tag = tag_match.group(1).lower()
            local = tag.rsplit(":", 1)[-1]
            if local in _FEED_TAGS:
                return "feed"
            if local == "opml":
                return "opml"
            if local in _HTML_TAGS or name.endswith(HTML_EXTENSIONS):
                return "html"
            return "xml"
        if not rest.strip():
            return "xml"  # only a prolog in the first block: let the feed parser decide
    if _is_binary(head, text):
        return "binary"
    if name.endswith(SOURCES_EXTENSIONS):
        return "sources"
    ctype = (content_type or "").lower()
    if "html" in ctype and "<" in text[:4096]:
        return "html"
    return "text"
