"""HTML and Markdown rendering for the pages: hype-coloured sentences and escaping.

Text from feeds is untrusted: :func:`highlight_sentences_html` escapes every sentence, note and
attribute before it is wrapped in markup, and :func:`markdown_escape` neutralises Markdown in
names and titles.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

LABELS = ("hype", "growth", "evidence")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def markdown_escape(text: Any) -> str:
    """``text`` with every character that Streamlit's Markdown would interpret backslash-escaped.

    For names and titles from ingested data shown in captions and headings: without it a
    title could add links, load remote images (``![](url)``), colour text (``:red[...]``) or
    turn "$5 and $6" into LaTeX.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def hype_colour(value: float | None) -> str:
    """Background for a sentence: transparent at 0, strong orange-red at 1, grey when unscored."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "rgba(128, 128, 128, 0.12)"
    strength = max(0.0, min(1.0, float(value)))
    return f"rgba(230, 85, 13, {0.05 + 0.6 * strength:.2f})"


def _score_text(row: Mapping[str, Any]) -> str:
    parts = []
    for label in LABELS:
        value = row.get(label)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            parts.append(f"{label} –")
        else:
            parts.append(f"{label} {float(value):.2f}")
    return " · ".join(parts)


def highlight_sentences_html(
    sentences: pd.DataFrame, *, max_sentences: int | None = None, note_column: str | None = None,
) -> str:
    """Sentences as HTML spans coloured by hype, each with its three scores on hover.

    A row whose ``prose`` is False (a heading, a figure label, a counter: see
    :func:`analyzer.views.documents.document_detail`) is shown in grey, without a score.
    Inline (running text) by default; with ``note_column`` every sentence gets its own line
    followed by that column's text in grey (e.g. source and date). Every sentence, note and
    attribute value is HTML-escaped before it is wrapped, so the result is safe to render
    whatever the text contains.
    """
    rows = sentences.to_dict("records")
    if max_sentences is not None:
        rows = rows[:max_sentences]
    parts = []
    for row in rows:
        hype = row.get("hype")
        hype = None if hype is None or pd.isna(hype) else float(hype)
        kind = str(row.get("kind") or "prose")
        if row.get("prose", True) is not False:
            colour, title, extra = hype_colour(hype), _score_text(row), ""
        else:
            # Non-prose (a heading, a figure label, a counter): shown greyed, never scored.
            colour, title, extra = "transparent", f"{kind}: not prose, not scored", " color: #9aa0a6;"
        span = (
            '<span class="hype-sentence" style="background-color: {colour}; border-radius: 3px;'
            ' padding: 1px 2px; line-height: 1.9;{extra}" title="{title}">{text}</span>'.format(
                colour=colour,
                extra=extra,
                title=html.escape(title, quote=True),
                text=html.escape(str(row.get("text") or ""), quote=True),
            )
        )
        if note_column is None:
            parts.append(span)
        else:
            note = html.escape(str(row.get(note_column) or ""), quote=True)
            parts.append(
                f'<div style="margin-bottom: 0.5rem;">{span}'
                f' <span style="color: #808495; font-size: 0.85rem;">{note}</span></div>'
            )
    return '<div class="hype-text" style="font-size: 1rem;">' + ("" if note_column else " ").join(parts) + "</div>"


HIGHLIGHT_LEGEND_HTML = (
    '<div style="font-size: 0.85rem;">Hype: '
    + " ".join(
        f'<span style="background-color: {hype_colour(v)}; padding: 1px 6px; border-radius: 3px;">{v:.1f}</span>'
        for v in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    + ' <span style="background-color: rgba(128, 128, 128, 0.12); padding: 1px 6px; border-radius: 3px;">'
    "unscored</span> · <span style=\"color: #9aa0a6;\">grey text: not prose (headings, labels, counters),"
    " left out of the document's scores</span> · hover a sentence for its three scores</div>"
)


