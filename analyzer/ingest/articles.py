"""Article extraction from HTML pages with trafilatura, plus PDF and plain-text documents."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from analyzer.ingest.base import ContentError
from analyzer.ingest.text import charset_from_content_type, clean_text, decode_bytes, normalize_date

# Hidden elements are not part of what a reader sees (and a classic place for keyword spam).
_HIDDEN_XPATH = (
    '//*[@hidden or @aria-hidden="true"'
    ' or contains(translate(@style, " ", ""), "display:none")'
    ' or contains(translate(@style, " ", ""), "visibility:hidden")]'
)


@dataclass
class ExtractedDocument:
    """Clean text and metadata of one document extracted from a page or file."""

    text: str
    title: str | None = None
    author: str | None = None
    published_at: str | None = None
    language: str | None = None
    kind: str | None = (
        None  # set when the format itself says what the document is (a PDF whitepaper)
    )


def extract_article(
    html: bytes | str,
    *,
    url: str | None = None,
    content_type: str | None = None,
    max_elements: int = 60_000,
    max_chars: int = 2_000_000,
) -> ExtractedDocument:
    """Main text and metadata of an article page; raises :class:`ContentError` when there is none.

    The page is parsed once with lxml (no network, no entity expansion) and its element count
    checked before trafilatura runs, because extraction time grows with the element count.
    """
    import trafilatura
    from trafilatura.utils import load_html

    if isinstance(html, (bytes, bytearray)):
        charset = charset_from_content_type(content_type)
        html = decode_bytes(bytes(html), charset) if charset else bytes(html)
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    try:
        tree = load_html(html)
    except Exception as exc:  # lxml raises several types on junk
        raise ContentError(f"page could not be parsed as HTML: {type(exc).__name__}") from exc
    if tree is None:
        raise ContentError("page could not be parsed as HTML")
    n_elements = 0
    for n_elements, _ in enumerate(tree.iter(), start=1):  # noqa: B007 - counting
        if n_elements > max_elements:
            raise ContentError(f"page has more than {max_elements} elements")
    for element in tree.xpath(_HIDDEN_XPATH):
        if element.getparent() is not None:
            element.drop_tree()
    try:
        document: Any = trafilatura.bare_extraction(
            tree,
            url=url,
            include_comments=False,
            include_tables=True,
            with_metadata=True,
        )
    except RecursionError as exc:
        raise ContentError("page is nested too deeply to extract") from exc
    except Exception as exc:  # trafilatura has many internal failure modes on odd pages
        raise ContentError(f"article extraction failed: {type(exc).__name__}: {exc}") from exc
    if document is None:
        raise ContentError("no article text found in page")
    text = clean_text(getattr(document, "text", None), max_chars=max_chars)
    if not text:
        raise ContentError("no article text found in page")
    return ExtractedDocument(
        text=text,
        title=clean_text(getattr(document, "title", None), max_chars=2000) or None,
        author=clean_text(getattr(document, "author", None), max_chars=500) or None,
        published_at=normalize_date(getattr(document, "date", None)),
        language=getattr(document, "language", None) or None,
    )


def extract_pdf(
    data: bytes, *, max_pages: int = 400, max_chars: int = 2_000_000
) -> ExtractedDocument:
    """Text of a PDF (at most ``max_pages`` pages); raises :class:`ContentError` when unreadable."""
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ContentError("PDF is encrypted")
            except ContentError:
                raise
            except Exception as exc:
                raise ContentError(f"PDF is encrypted: {exc}") from exc
        n_pages = len(reader.pages)
    except ContentError:
        raise
    except Exception as exc:  # pypdf raises many exception types on damaged files
        raise ContentError(f"corrupt PDF: {type(exc).__name__}: {exc}"[:300]) from exc

    pages: list[str] = []
    total = 0
    failed_pages = 0
    for index in range(min(n_pages, max_pages)):
        try:
            page_text = reader.pages[index].extract_text() or ""
        except Exception:  # one damaged page must not lose the others
            failed_pages += 1
            continue
        pages.append(page_text)
        total += len(page_text)
        if total > max_chars:
            break
    text = clean_text(_join_pdf_lines("\n\n".join(pages)), max_chars=max_chars)
    if not text:
        detail = f" ({failed_pages} pages failed)" if failed_pages else ""
        raise ContentError(f"PDF has no extractable text{detail}")
    title = author = published = None
    try:
        meta = reader.metadata
        if meta is not None:
            title = clean_text(str(meta.title or ""), max_chars=500) or None
            author = clean_text(str(meta.author or ""), max_chars=500) or None
            created = meta.creation_date
            published = normalize_date(created) if created else None
    except Exception:  # metadata is optional and often malformed
        pass
    if not title:
        first_line = text.split("\n", 1)[0].strip()
        title = first_line[:200] or None
    return ExtractedDocument(
        text=text, title=title, author=author, published_at=published, kind="whitepaper"
    )


def _join_pdf_lines(text: str) -> str:
    """Rejoin words hyphenated across PDF line breaks; keep other line breaks."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        stripped = line.rstrip()
        if (
            out
            and out[-1].endswith("-")
            and stripped[:1].islower()
            and len(out[-1]) > 1
            and out[-1][-2].isalpha()
        ):
            out[-1] = out[-1][:-1] + stripped.lstrip()
        else:
            out.append(stripped)
    return "\n".join(out)


def extract_plain_text(
    data: bytes, *, content_type: str | None = None, max_chars: int = 2_000_000
) -> ExtractedDocument:
    """A plain-text file as a document; the first line becomes the title."""
    text = clean_text(
        decode_bytes(data, charset_from_content_type(content_type)), max_chars=max_chars
    )
    if not text:
        raise ContentError("text file is empty")
    first_line = text.split("\n", 1)[0].strip()
    title = first_line[:200] if len(first_line) <= 200 else None
    return ExtractedDocument(text=text, title=title)
