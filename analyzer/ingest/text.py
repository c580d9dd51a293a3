"""Clean text and normalised dates from whatever a feed or file provides.

Everything here is linear in its input and free of recursion, so hostile markup (deep
nesting, unclosed tags, entity soup) costs time proportional to its size and no more.
"""

from __future__ import annotations

import calendar
import codecs
import email.utils
import re
import time
import unicodedata
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

# Content of these elements is never text a reader sees.
_SKIP_CONTENT = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "head",
        "title",
        "select",
        "textarea",
        "canvas",
        "audio",
        "video",
        "button",
        "form",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "main",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "figure",
        "figcaption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "br",
        "address",
        "details",
        "summary",
        "fieldset",
        "center",
    }
)
_BREAK = "\x00"  # internal marker for a block boundary; real NULs are removed before parsing

_HTML_HINT = re.compile(
    r"<(?:/?(?:p|div|br|a|span|img|b|i|em|strong|u|ul|ol|li|h[1-6]|table|tr|td|script|style|"
    r"blockquote|pre|code|iframe|font|center|figure|section|article)\b[^>]*|!--)>?|"
    r"&(?:amp|lt|gt|quot|apos|nbsp|#\d{1,7}|#x[0-9a-fA-F]{1,6});",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP_CONTENT:
            self._skipping[tag] = self._skipping.get(tag, 0) + 1
        elif tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT:
            if self._skipping.get(tag):
                self._skipping[tag] -= 1
                if not self._skipping[tag]:
                    del self._skipping[tag]
        elif tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def looks_like_html(text: str) -> bool:
    """True when ``text`` carries markup or character references worth converting."""
    return bool(_HTML_HINT.search(text[:20000]))


def html_to_text(markup: str | None, *, max_chars: int | None = None) -> str:
    """Visible text of an HTML fragment or page: no tags, scripts, styles or comments.

    Block elements become line breaks; character references are decoded. Safe on any
    input: the parser never executes, fetches or recurses.
    """
    if not markup:
        return ""
    markup = markup.replace("\x00", "")
    collector = _TextCollector()
    try:
        collector.feed(markup)
        collector.close()
    except (AssertionError, ValueError):  # html.parser gives up on some pathological declarations
        pass
    raw = "".join(collector.parts).replace(_BREAK, "\n")
    return clean_text(raw, max_chars=max_chars)


def _keep_char(ch: str) -> bool:
    if ch in "\n\t":
        return True
    category = unicodedata.category(ch)
    # Control characters, lone surrogates (from broken decoding) and non-characters go.
    return category not in ("Cc", "Cs") and ch not in ("\ufffe", "\uffff", "\ufeff")


def clean_text(text: str | None, *, max_chars: int | None = None) -> str:
    """Normalise plain text: NFC, no control characters, tidy whitespace, optional length cap."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = (
        text.replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\u2028", "\n")
        .replace("\u2029", "\n")
    )
    if not text.isprintable():
        text = "".join(ch for ch in text if _keep_char(ch))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    blank = False
    for line in lines:
        if line:
            if blank and out:
                out.append("")
            out.append(line)
            blank = False
        else:
            blank = True
    result = "\n".join(out)
    if max_chars is not None and len(result) > max_chars:
        cut = result.rfind(" ", 0, max_chars)
        result = result[: cut if cut > max_chars * 0.9 else max_chars].rstrip()
    return result


def text_from_markup_or_plain(value: str | None, *, max_chars: int | None = None) -> str:
    """Clean text from a value that may be plain text or HTML."""
    if not value:
        return ""
    if looks_like_html(value):
        return html_to_text(value, max_chars=max_chars)
    return clean_text(value, max_chars=max_chars)


# --------------------------------------------------------------------------- dates

EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=timezone.utc)
FUTURE_TOLERANCE = timedelta(days=2)  # clock skew and time zones; later than this is an error


def _from_struct(value: time.struct_time | tuple[Any, ...]) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(tuple(value)[:9]), tz=timezone.utc)  # type: ignore[arg-type]
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _parse_date_string(value: str) -> datetime | None:
    value = value.strip()
    if not value or len(value) > 100:
        return None
    candidate = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is not None:
            return parsed
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    try:
        from feedparser.datetimes import _parse_date  # many historic feed date formats

        struct = _parse_date(value)
    except Exception:  # feedparser's date handlers are permissive but not exception-proof
        struct = None
    return _from_struct(struct) if struct else None


def normalize_date(value: Any) -> str | None:
    """ISO 8601 UTC (``2024-05-01T12:00:00+00:00``) or None when the value is not a sane date.

    Accepts strings in ISO, RFC 822 and the other formats feeds use, ``datetime``, a
    ``time.struct_time`` (as feedparser gives) or a Unix timestamp. Dates before 1900 or
    more than two days in the future are treated as invalid.
    """
    parsed: datetime | None
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, time.struct_time) or (isinstance(value, tuple) and len(value) >= 6):
        parsed = _from_struct(value)
    elif isinstance(value, bool):
        return None
    elif isinstance(value, (int, float)):
        try:
            parsed = datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, ValueError, OSError):
            return None
    elif isinstance(value, str):
        parsed = _parse_date_string(value)
    else:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        parsed = parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None
    if parsed < EARLIEST_DATE or parsed > datetime.now(timezone.utc) + FUTURE_TOLERANCE:
        return None
    return parsed.replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- decoding

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it names a known codec."""
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared_charset: str | None = None) -> str:
    """Decode text of unknown encoding: BOM, then the declared charset, UTF-8, a detector, cp1252."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, "replace")
    if declared_charset:
        try:
            return data.decode(declared_charset, "replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            return data.decode(best.encoding, "replace")
    except Exception:  # the detector is optional and must not decide whether we can read a file
        pass
    return data.decode("cp1252", "replace")
