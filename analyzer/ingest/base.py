"""Limits and the error type shared by the ingestion modules."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.errors import InputError


class ContentError(InputError):
    """A document or feed could not be turned into clean text (corrupt, empty, unsupported)."""


@dataclass(frozen=True)
class IngestLimits:
    """Caps that keep any single input from exhausting time or memory."""

    max_file_bytes: int = 50 * 1024 * 1024  # one local file (JSONL dumps are streamed instead)
    max_line_bytes: int = 8 * 1024 * 1024  # one JSONL record
    max_items_per_feed: int = 5000
    max_pdf_pages: int = 400
    max_text_chars: int = 2_000_000  # one document's clean text
    max_html_elements: int = 60_000  # real article pages stay far below this
    summary_follow_chars: int = 600  # feed text shorter than this is treated as a summary
    max_articles_per_feed: int = 100  # article pages followed per feed per run
