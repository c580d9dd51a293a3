"""Find the sentences of original files as annotation spans (see :mod:`.annotations`).

Each reader turns one kind of original (an XML or JSON feed, an HTML page, a PDF, LaTeX source,
a Financial PhraseBank file, FiQA/SemEval JSON, a filing) into *units* (a feed item, a page, a
PDF page, a LaTeX section, a data-set entry), each a list of :class:`Located` sentences. A
sentence is found by splitting what a reader sees with :func:`analyzer.scoring.sentences.split_sentences`
and mapping every character back to the file; a span is kept only when its extractor
materialises exactly the split sentence, so every span here round-trips by construction.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.scoring.sentences import split_sentences
from analyzer.training.annotations import (
    clean_escaped_markup,
    clean_markup,
    collapse_whitespace,
    json_pointer,
    pdf_page_texts,
)

__all__ = [
    "Located",
    "Unit",
    "decode_file",
    "read_feed",
    "read_html_page",
    "read_pdf",
    "read_latex",
    "read_phrasebank",
    "read_fiqa",
    "read_semeval",
    "read_json_text",
]


@dataclass
class Located:
    """One sentence of an original file: its span, and (in memory only) its text."""

    local_path: str
    extractor: str
    start: int
    end: int
    text: str
    encoding: str | None = None
    pointer: str | None = None
    page: int | None = None
    hint: str | None = (
        None  # what held it: a block element (h2, td, figcaption, li), "title", "post"
    )
    furniture: bool = False  # inside nav, header, footer, aside or a form


@dataclass
class Unit:
    """A run of sentences that belong together: a feed item, a page, a section, an entry."""

    local_path: str
    key: str
    title: str | None
    sentences: list[Located] = field(default_factory=list)


# --------------------------------------------------------------------------- decoding

_XML_ENCODING_RE = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']"""
)
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)


def decode_file(data: bytes, *, declared: bool = True) -> tuple[str, str] | None:
    """``(text, encoding)`` for a file: its declared encoding, else UTF-8; None if neither fits."""
    candidates: list[str] = []
    if declared:
        match = _XML_ENCODING_RE.match(data[:400]) or _META_CHARSET_RE.search(data[:4000])
        if match:
            try:
                candidates.append(codecs.lookup(match.group(1).decode("ascii")).name)
            except LookupError:
                pass
    candidates.append("utf-8")
    for encoding in dict.fromkeys(candidates):
        if encoding == "ascii":
            encoding = "utf-8"  # a superset; a file declared ASCII but holding UTF-8 still reads
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


# --------------------------------------------------------------------------- locating


def _token_pattern(sentence: str) -> re.Pattern[str] | None:
    tokens = sentence.split()
    if not tokens:
        return None
    return re.compile(r"\s+".join(re.escape(t) for t in tokens))


def _locate(view: str, sentences: list[str], offset: int = 0) -> Iterator[tuple[str, int, int]]:
    """``(sentence, start, end)`` in ``view`` for each sentence, searched in order."""
    cursor = 0
    for sentence in sentences:
        pattern = _token_pattern(sentence)
        if pattern is None:
            continue
        match = pattern.search(view, cursor)
        if match is None:
            continue  # the splitter re-joined something (a hyphenated wrap): no clean span
        cursor = match.end()
        yield collapse_whitespace(sentence), match.start() + offset, match.end() + offset


def _plain_spans(
    source: str, start: int, end: int, clean: Callable[[str], str], **where: Any
) -> Iterator[Located]:
    """Sentences of ``source[start:end]`` read as plain text, kept when ``clean`` round-trips."""
    for sentence, s, e in _locate(source[start:end], split_sentences(source[start:end]), start):
        if clean(source[s:e]) == sentence:
            yield Located(start=s, end=e, text=sentence, **where)


# --------------------------------------------------------------------------- markup

# Content never shown as text.
_SKIP = frozenset(
    "script style noscript template head title svg math iframe object embed select option textarea button canvas audio video map ix:header".split()
)
# Elements that separate what a reader sees; anything else (a, span, em, b, custom tags) is inline.
_BLOCK = frozenset(
    """
    address article aside blockquote body br caption center dd details dialog dir div dl dt fieldset
    figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 header hgroup hr html img input
    label legend li main menu nav ol p pre section summary table tbody td tfoot th thead tr ul
    """.split()
)
_FURNITURE = frozenset({"nav", "header", "footer", "aside", "form", "menu"})
# Boundaries that hold no text: the block around them still names what follows.
_VOID = frozenset({"br", "hr", "img", "input"})
_MARKUP_RE = re.compile(
    r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)|<([!/?]?)([A-Za-z][\w:.-]*)[^>]*>", re.S
)
# The same pattern html.unescape uses, so decoding piece by piece equals decoding the whole.
_CHARREF_RE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


@dataclass
class _Block:
    view: str
    starts: list[int]
    ends: list[int]
    hint: str | None
    furniture: bool


def _decode_with_map(
    source: str, start: int, end: int, starts: list[int] | None, ends: list[int] | None
) -> tuple[list[str], list[int], list[int]]:
    """Characters of ``source[start:end]`` with references decoded, each mapped to its origin."""
    chars: list[str] = []
    out_starts: list[int] = []
    out_ends: list[int] = []

    def origin(a: int, b: int) -> tuple[int, int]:
        return (a, b) if starts is None or ends is None else (starts[a], ends[b - 1])

    position = start
    for match in _CHARREF_RE.finditer(source, start, end):
        for i in range(position, match.start()):
            chars.append(source[i])
            a, b = origin(i, i + 1)
            out_starts.append(a)
            out_ends.append(b)
        a, b = origin(match.start(), match.end())
        for ch in html.unescape(match.group(0)):
            chars.append(ch)
            out_starts.append(a)
            out_ends.append(b)
        position = match.end()
    for i in range(position, end):
        chars.append(source[i])
        a, b = origin(i, i + 1)
        out_starts.append(a)
        out_ends.append(b)
    return chars, out_starts, out_ends


def _collapse(
    chars: list[str], starts: list[int], ends: list[int]
) -> tuple[str, list[int], list[int]]:
    view: list[str] = []
    v_starts: list[int] = []
    v_ends: list[int] = []
    for ch, a, b in zip(chars, starts, ends):
        if ch.isspace():
            if view and view[-1] != " ":
                view.append(" ")
                v_starts.append(a)
                v_ends.append(b)
            continue
        view.append(ch)
        v_starts.append(a)
        v_ends.append(b)
    while view and view[-1] == " ":
        view.pop()
        v_starts.pop()
        v_ends.pop()
    return "".join(view), v_starts, v_ends


def _markup_blocks(
    source: str,
    start: int = 0,
    end: int | None = None,
    starts: list[int] | None = None,
    ends: list[int] | None = None,
) -> Iterator[_Block]:
    """What a reader sees in ``source[start:end]``, block by block, mapped back to the origin."""
    end = len(source) if end is None else end
    chars: list[str] = []
    c_starts: list[int] = []
    c_ends: list[int] = []
    hint: str | None = None
    furniture_depth = 0
    block_furniture = False

    def flush() -> Iterator[_Block]:
        nonlocal chars, c_starts, c_ends
        if chars:
            view, v_starts, v_ends = _collapse(chars, c_starts, c_ends)
            if view:
                yield _Block(view, v_starts, v_ends, hint, block_furniture)
        chars, c_starts, c_ends = [], [], []

    position = start
    while position < end:
        match = _MARKUP_RE.search(source, position, end)
        text_end = match.start() if match else end
        if text_end > position:
            if not chars:
                block_furniture = furniture_depth > 0
            more, more_starts, more_ends = _decode_with_map(
                source, position, text_end, starts, ends
            )
            chars += more
            c_starts += more_starts
            c_ends += more_ends
        if match is None:
            break
        position = match.end()
        name = (match.group(2) or "").lower()
        closing = match.group(1) == "/"
        if not name:  # a comment or CDATA marker: a boundary
            yield from flush()
            continue
        if name in _SKIP and not closing and not match.group(0).endswith("/>"):
            yield from flush()
            close = re.compile(r"</" + re.escape(name) + r"\s*>", re.IGNORECASE).search(
                source, position, end
            )
            position = close.end() if close else end
            continue
        if name in _BLOCK or name in _SKIP:
            yield from flush()
            if name in _FURNITURE:
                furniture_depth = max(0, furniture_depth + (-1 if closing else 1))
            if not closing and name not in _VOID:
                hint = name
    yield from flush()


def _markup_spans(
    source: str, start: int, end: int, extractor: str, *, escaped: bool = False, **where: Any
) -> Iterator[Located]:
    """Sentences of the markup in ``source[start:end]``; ``escaped`` for HTML escaped in XML."""
    clean = clean_escaped_markup if escaped else clean_markup
    if escaped:
        chars, d_starts, d_ends = _decode_with_map(source, start, end, None, None)
        blocks = _markup_blocks("".join(chars), 0, len(chars), d_starts, d_ends)
    else:
        blocks = _markup_blocks(source, start, end)
    for block in blocks:
        for sentence, a, b in _locate(block.view, split_sentences(block.view)):
            s, e = block.starts[a], block.ends[b - 1]
            if clean(source[s:e]) == sentence:
                yield Located(
                    start=s,
                    end=e,
                    text=sentence,
                    extractor=extractor,
                    hint=block.hint,
                    furniture=block.furniture,
                    **where,
                )


# --------------------------------------------------------------------------- feeds

_ITEM_RE = re.compile(r"<(item|entry)\b[^>]*>(.*?)</\1\s*>", re.S | re.I)
_FIELD_RE = re.compile(
    r"<(title|description|summary|content|content:encoded)\b([^>]*)>(.*?)</\1\s*>", re.S | re.I
)
_CDATA_RE = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_ESCAPED_TAG_RE = re.compile(r"&lt;/?[A-Za-z]")
_JSON_FEED_FIELDS = (
    ("title", "json"),
    ("summary", "json"),
    ("content_text", "json"),
    ("content_html", "json-html"),
)


def read_feed(path: Path, local_path: str) -> list[Unit]:
    """Items of an RSS, Atom, RDF or JSON feed: titles, descriptions, summaries and content."""
    decoded = decode_file(path.read_bytes())
    if decoded is None:
        return []
    text, encoding = decoded
    if text.lstrip("\ufeff \r\n\t").startswith("{"):
        return _read_json_feed(text, encoding, local_path)
    units: list[Unit] = []
    for number, item in enumerate(_ITEM_RE.finditer(text)):
        unit = Unit(local_path, f"{local_path}#item{number}", None)
        for fld in _FIELD_RE.finditer(text, item.start(2), item.end(2)):
            inner_start, inner_end = fld.start(3), fld.end(3)
            inner = text[inner_start:inner_end]
            where = {"local_path": local_path, "encoding": encoding}
            if "<![CDATA[" in inner:
                found: list[Located] = []
                for cdata in _CDATA_RE.finditer(text, inner_start, inner_end):
                    found += _markup_spans(text, cdata.start(1), cdata.end(1), "html", **where)
            elif _ESCAPED_TAG_RE.search(inner):
                found = list(
                    _markup_spans(
                        text, inner_start, inner_end, "html-escaped", escaped=True, **where
                    )
                )
            else:
                found = list(_markup_spans(text, inner_start, inner_end, "html", **where))
            if fld.group(1).lower() == "title":
                for located in found:
                    located.hint = "title"
                if unit.title is None and found:
                    unit.title = " ".join(s.text for s in found)
            unit.sentences += found
        if unit.sentences:
            units.append(unit)
    return units


def _read_json_feed(text: str, encoding: str, local_path: str) -> list[Unit]:
    try:
        feed = json.loads(text)
    except json.JSONDecodeError:
        return []
    items = feed.get("items") if isinstance(feed, dict) else None
    units: list[Unit] = []
    for number, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        title = item.get("title") if isinstance(item.get("title"), str) else None
        unit = Unit(
            local_path, f"{local_path}#item{number}", collapse_whitespace(title) if title else None
        )
        for key, extractor in _JSON_FEED_FIELDS:
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                continue
            where = {
                "local_path": local_path,
                "encoding": encoding,
                "pointer": json_pointer("items", number, key),
            }
            if extractor == "json-html":
                found = list(_markup_spans(value, 0, len(value), "json-html", **where))
            else:
                found = list(
                    _plain_spans(
                        value, 0, len(value), collapse_whitespace, extractor="json", **where
                    )
                )
            for located in found if key == "title" else ():
                located.hint = "title"
            unit.sentences += found
        if unit.sentences:
            units.append(unit)
    return units


# --------------------------------------------------------------------------- pages, filings

_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.S | re.I)
_BODY_RE = re.compile(r"<body\b[^>]*>", re.I)


def read_html_page(path: Path, local_path: str, *, title: str | None = None) -> list[Unit]:
    """Every block of visible text of an HTML page, one unit for the page."""
    decoded = decode_file(path.read_bytes())
    if decoded is None:
        return []
    text, encoding = decoded
    if title is None:
        match = _TITLE_RE.search(text)
        title = clean_markup(match.group(1)) if match else None
    body = _BODY_RE.search(text)
    unit = Unit(local_path, local_path, title or None)
    unit.sentences = list(
        _markup_spans(
            text,
            body.end() if body else 0,
            len(text),
            "html",
            local_path=local_path,
            encoding=encoding,
        )
    )
    return [unit] if unit.sentences else []


def html_visible_sentences(path: Path) -> list[str]:
    """The sentences of an HTML file as a reader sees them (to compare two renderings)."""
    decoded = decode_file(path.read_bytes())
    if decoded is None:
        return []
    text = decoded[0]
    return [s for block in _markup_blocks(text) for s in split_sentences(block.view)]


def read_json_text(
    path: Path, local_path: str, pointer_tokens: tuple[str | int, ...], *, title: str | None = None
) -> list[Unit]:
    """A long text held in one JSON string (a filing section), as one unit."""
    decoded = decode_file(path.read_bytes(), declared=False)
    if decoded is None:
        return []
    text, encoding = decoded
    value: Any = json.loads(text)
    for token in pointer_tokens:
        value = value[token]
    pointer = json_pointer(*pointer_tokens)
    unit = Unit(local_path, f"{local_path}#{pointer}", title)
    unit.sentences = list(
        _plain_spans(
            value,
            0,
            len(value),
            collapse_whitespace,
            extractor="json",
            local_path=local_path,
            encoding=encoding,
            pointer=pointer,
        )
    )
    return [unit] if unit.sentences else []


# --------------------------------------------------------------------------- whitepapers


def read_pdf(path: Path, local_path: str, *, title: str | None = None) -> list[Unit]:
    """One unit per PDF page, spans into pypdf's text of that page."""
    units: list[Unit] = []
    for number, page_text in enumerate(pdf_page_texts(path.read_bytes())):
        unit = Unit(local_path, f"{local_path}#page{number + 1}", title)
        unit.sentences = list(
            _plain_spans(
                page_text,
                0,
                len(page_text),
                collapse_whitespace,
                extractor="pdf",
                local_path=local_path,
                page=number,
            )
        )
        if unit.sentences:
            units.append(unit)
    return units


_SECTION_RE = re.compile(r"\\(?:sub)*section\*?\{([^}]*)\}")
_LATEX_SKIP_ENVIRONMENTS = ("figure", "bytefield", "verbatim", "lstlisting", "thebibliography")


def read_latex(path: Path, local_path: str) -> list[Unit]:
    """LaTeX source as written, one unit per top-level section; figures and comments left out."""
    decoded = decode_file(path.read_bytes(), declared=False)
    if decoded is None:
        return []
    text, encoding = decoded
    begin = text.find("\\begin{document}")
    finish = text.find("\\end{document}")
    start = begin + len("\\begin{document}") if begin >= 0 else 0
    stop = finish if finish >= 0 else len(text)
    skipped: list[tuple[int, int]] = []
    for environment in _LATEX_SKIP_ENVIRONMENTS:
        pattern = re.compile(
            r"\\begin\{" + environment + r"\*?\}.*?\\end\{" + environment + r"\*?\}", re.S
        )
        skipped += [(m.start(), m.end()) for m in pattern.finditer(text, start, stop)]
    units: list[Unit] = []
    unit = Unit(local_path, f"{local_path}#front", None)
    for paragraph in re.finditer(r"(?:[^\n]|\n(?![ \t]*\n))+", text[start:stop]):
        p_start, p_end = paragraph.start() + start, paragraph.end() + start
        if any(a < p_end and p_start < b for a, b in skipped):
            continue
        body = text[p_start:p_end]
        if all(line.lstrip().startswith("%") or not line.strip() for line in body.splitlines()):
            continue
        heading = _SECTION_RE.search(body)
        if heading and body.lstrip().startswith("\\section"):
            if unit.sentences:
                units.append(unit)
            unit = Unit(
                local_path,
                f"{local_path}#section{len(units)}",
                collapse_whitespace(heading.group(1)),
            )
        if "%" in body.replace("\\%", ""):
            continue  # a comment inside the paragraph would show up in the span
        unit.sentences += _plain_spans(
            text,
            p_start,
            p_end,
            collapse_whitespace,
            extractor="text",
            local_path=local_path,
            encoding=encoding,
        )
    if unit.sentences:
        units.append(unit)
    return units


# --------------------------------------------------------------------------- labelled data sets


def read_phrasebank(path: Path, local_path: str) -> list[Unit]:
    """Financial PhraseBank: Latin-1 lines ``sentence@label``; one unit per sentence."""
    text = path.read_bytes().decode("latin-1")
    units: list[Unit] = []
    for line in re.finditer(r"[^\n]+", text):
        content = line.group(0).rstrip("\r")
        at = content.rfind("@")
        if at <= 0:
            continue  # a stray line without a label
        s, e = line.start(), line.start() + at
        while e > s and text[e - 1].isspace():
            e -= 1
        sentence = collapse_whitespace(text[s:e])
        if not sentence:
            continue
        located = Located(
            local_path=local_path,
            extractor="text",
            start=s,
            end=e,
            text=sentence,
            encoding="latin-1",
        )
        units.append(
            Unit(local_path, f"{local_path}#line{text.count(chr(10), 0, s) + 1}", None, [located])
        )
    return units


def _json_entry_spans(
    raw: str, value: str, search_from: int, local_path: str, encoding: str, pointer: str, hint: str
) -> list[Located]:
    """Sentences of one JSON string: spans into the file when it appears there verbatim, else
    spans into the string at ``pointer``."""
    literal = json.dumps(value, ensure_ascii=False)[1:-1]
    position = raw.find('"' + value + '"', search_from) if literal == value else -1
    if position >= 0:
        s = position + 1
        found = list(
            _plain_spans(
                raw,
                s,
                s + len(value),
                collapse_whitespace,
                extractor="text",
                local_path=local_path,
                encoding=encoding,
            )
        )
    else:
        found = list(
            _plain_spans(
                value,
                0,
                len(value),
                collapse_whitespace,
                extractor="json",
                local_path=local_path,
                encoding=encoding,
                pointer=pointer,
            )
        )
    for located in found:
        located.hint = hint
    return found


def read_fiqa(path: Path, local_path: str) -> list[Unit]:
    """FiQA posts: ``{id: {"sentence": ...}}``; one unit per post."""
    decoded = decode_file(path.read_bytes(), declared=False)
    if decoded is None:
        return []
    raw, encoding = decoded
    units: list[Unit] = []
    for key, post in json.loads(raw).items():
        value = post.get("sentence") if isinstance(post, dict) else None
        if not isinstance(value, str) or not value.strip():
            continue
        anchor = raw.find(json.dumps(key) + ":")
        found = _json_entry_spans(
            raw, value, max(anchor, 0), local_path, encoding, json_pointer(key, "sentence"), "post"
        )
        if found:
            units.append(Unit(local_path, f"{local_path}#{key}", None, found))
    return units


def read_semeval(path: Path, local_path: str) -> list[Unit]:
    """SemEval-2017 task 5 headlines: a list of ``{"id", "title", ...}``; one unit per headline."""
    decoded = decode_file(path.read_bytes(), declared=False)
    if decoded is None:
        return []
    raw, encoding = decoded
    units: list[Unit] = []
    cursor = 0
    for index, entry in enumerate(json.loads(raw)):
        value = entry.get("title") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value.strip():
            continue
        anchor = raw.find('"title"', cursor)
        cursor = max(cursor, anchor + 1)
        found = _json_entry_spans(
            raw, value, max(anchor, 0), local_path, encoding, json_pointer(index, "title"), "title"
        )
        if found:
            units.append(Unit(local_path, f"{local_path}#{entry.get('id', index)}", None, found))
    return units
