"""One page on demand: download a URL with the safe fetcher and extract its article text (the
Check page's "paste a URL"), with the same extractors ingestion uses.
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import FetchError, InputError


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
    return {
        "url": url,
        "title": extracted.title,
        "text": extracted.text,
        "published_at": extracted.published_at,
        "author": extracted.author,
    }
