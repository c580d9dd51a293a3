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
    sentences: pd.DataFrame,
    *,
    max_sentences: int | None = None,
    note_column: str | None = None,
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
            colour, title, extra = (
                "transparent",
                f"{kind}: not prose, not scored",
                " color: #9aa0a6;",
            )
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
    return (
        '<div class="hype-text" style="font-size: 1rem;">'
        + ("" if note_column else " ").join(parts)
        + "</div>"
    )


HIGHLIGHT_LEGEND_HTML = (
    '<div style="font-size: 0.85rem;">Hype: '
    + " ".join(
        f'<span style="background-color: {hype_colour(v)}; padding: 1px 6px; border-radius: 3px;">{v:.1f}</span>'
        for v in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    + ' <span style="background-color: rgba(128, 128, 128, 0.12); padding: 1px 6px; border-radius: 3px;">'
    'unscored</span> · <span style="color: #9aa0a6;">grey text: not prose (headings, labels, counters),'
    " left out of the document's scores</span> · hover a sentence for its three scores</div>"
)


# Claims: the words that make a claim checkable, emphasised in its sentence.
CLAIM_SPAN_STYLES = {
    "quantity": "background-color: rgba(31, 119, 180, 0.22); font-weight: 600;",
    "horizon": "background-color: rgba(44, 160, 44, 0.22); font-weight: 600;",
    "hedge": "text-decoration: underline dotted;",
}
CLAIM_STATUS_COLOURS = {
    "met": "#2ca02c",
    "missed": "#8c1c13",
    "pending": "#7f7f7f",
    "unverifiable": "#9a9b1c",
}


def _claim_spans(sentence: str, spans: Mapping[str, Any]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) of each span's first case-insensitive occurrence."""
    lowered = sentence.lower()
    found: list[tuple[int, int, str]] = []
    for kind in CLAIM_SPAN_STYLES:
        text = spans.get(kind)
        if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
            continue
        start = lowered.find(str(text).strip().lower())
        if start < 0:
            continue
        end = start + len(str(text).strip())
        if any(start < e and s < end for s, e, _ in found):
            continue
        found.append((start, end, kind))
    return sorted(found)


def highlight_claim_html(sentence: Any, spans: Mapping[str, Any]) -> str:
    """A claim's sentence with its quantity, horizon and hedge emphasised.

    ``spans`` maps "quantity", "horizon" and "hedge" to the words the extractor read (e.g.
    ``magnitude_text``, ``horizon_text``, ``hedge_text``). Every piece of the sentence is
    HTML-escaped before it is wrapped, so the result is safe whatever the sentence holds.
    """
    text = str(sentence or "")
    parts: list[str] = []
    position = 0
    for start, end, kind in _claim_spans(text, spans):
        parts.append(html.escape(text[position:start], quote=True))
        parts.append(
            f'<span class="claim-{kind}" style="{CLAIM_SPAN_STYLES[kind]} border-radius: 3px; padding: 0 2px;">'
            f"{html.escape(text[start:end], quote=True)}</span>"
        )
        position = end
    parts.append(html.escape(text[position:], quote=True))
    return '<span class="claim-sentence">' + "".join(parts) + "</span>"


def claim_cards_html(claims: pd.DataFrame) -> str:
    """Claims as a list: status, entity, the highlighted sentence, its numbers and a link to its document.

    ``claims`` has the columns of :func:`analyzer.views.claims.claims_table`. Every value from
    the ledger (sentences, titles, names, reasons) is escaped; the document link is the app's
    own relative address, built from the numeric document id.
    """
    cards = []
    for row in claims.to_dict("records"):
        status = str(row.get("status") or "pending")
        colour = CLAIM_STATUS_COLOURS.get(status, "#7f7f7f")
        sentence = highlight_claim_html(
            row.get("sentence"),
            {
                "quantity": row.get("magnitude_text"),
                "horizon": row.get("horizon_text"),
                "hedge": row.get("hedge_text"),
            },
        )
        facts = [str(row.get("metric") or "other")]
        if row.get("claimed"):
            facts.append(f"claimed {row['claimed']}")
        if row.get("horizon") and not (
            isinstance(row["horizon"], float) and math.isnan(row["horizon"])
        ):
            facts.append(f"by {str(row['horizon'])[:10]}")
        if row.get("realised"):
            facts.append(f"realised {row['realised']}")
        reason = row.get("status_reason")
        if (
            reason is not None
            and not (isinstance(reason, float) and math.isnan(reason))
            and str(reason)
        ):
            facts.append(str(reason))
        title = row.get("document_title") or "untitled"
        link = ""
        document_id = row.get("document_id")
        if document_id is not None and not (
            isinstance(document_id, float) and math.isnan(document_id)
        ):
            link = (
                f' · <a href="documents?document={int(document_id)}" target="_self">'
                f"{html.escape(str(title), quote=True)}</a>"
            )
        cards.append(
            '<div class="claim-card" style="margin-bottom: 0.7rem;">'
            f'<span class="claim-status" style="color: {colour}; font-weight: 600;">{html.escape(status)}</span>'
            f' · <span style="font-weight: 600;">{html.escape(str(row.get("name") or row.get("entity_id") or "no entity"))}'
            f"</span> · {html.escape(str(row.get('published_at') or '')[:10])}<br>{sentence}<br>"
            f'<span style="color: #808495; font-size: 0.85rem;">{html.escape(" · ".join(facts))}{link}</span></div>'
        )
    return '<div class="claim-list" style="font-size: 0.95rem;">' + "".join(cards) + "</div>"


CLAIM_LEGEND_HTML = (
    '<div style="font-size: 0.85rem;">In each sentence: '
    f'<span style="{CLAIM_SPAN_STYLES["quantity"]} padding: 0 4px; border-radius: 3px;">quantity</span> '
    f'<span style="{CLAIM_SPAN_STYLES["horizon"]} padding: 0 4px; border-radius: 3px;">horizon</span> '
    f'<span style="{CLAIM_SPAN_STYLES["hedge"]}">hedge</span></div>'
)
