"""Ingestion: sources files, feeds, article pages, PDFs, local files and JSONL dumps into the store.

The entry point is :func:`analyzer.pipeline.ingest`; the pieces are usable on their own:
:func:`parse_feed`, :func:`extract_article`, :func:`extract_pdf`, :func:`canonicalize_url`,
:func:`html_to_text`, :func:`normalize_date`, :func:`sniff`, :func:`load_sources`.
"""

from __future__ import annotations

from analyzer.ingest.articles import (
    ExtractedDocument,
    extract_article,
    extract_pdf,
    extract_plain_text,
)
from analyzer.ingest.base import ContentError, IngestLimits
from analyzer.ingest.feeds import FeedItem, ParsedFeed, parse_feed
from analyzer.ingest.jsonl import RecordError, iter_jsonl, record_from_json
from analyzer.ingest.runner import Ingestor, IngestRejected, IngestReport, Rejection
from analyzer.ingest.sniff import sniff
from analyzer.ingest.sources import SourceSpec, load_sources, read_sources
from analyzer.ingest.text import clean_text, decode_bytes, html_to_text, normalize_date
from analyzer.ingest.urls import canonicalize_url, is_http_url

__all__ = [
    "ContentError",
    "ExtractedDocument",
    "FeedItem",
    "IngestLimits",
    "IngestRejected",
    "IngestReport",
    "Ingestor",
    "ParsedFeed",
    "RecordError",
    "Rejection",
    "SourceSpec",
    "canonicalize_url",
    "clean_text",
    "decode_bytes",
    "extract_article",
    "extract_pdf",
    "extract_plain_text",
    "html_to_text",
    "is_http_url",
    "iter_jsonl",
    "load_sources",
    "normalize_date",
    "parse_feed",
    "read_sources",
    "record_from_json",
    "sniff",
]
