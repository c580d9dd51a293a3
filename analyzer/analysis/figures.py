"""Figures cited in sentences: money amounts, percentages, multiples and quantities with units."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


_SCALE = r"trillion|billion|million|thousand|tn|bn|mn|mln|[kKmMbBtT](?![a-zA-Z])"


_CURRENCY_WORDS = r"dollars?|USD|US\$|euros?|EUR|pounds?|GBP|yen|JPY|yuan|CNY|RMB"


_UNITS = (
    r"GW|MW|kW|TWh|GWh|MWh|TB|PB|EB|GB|exaflops|petaflops|teraflops|FLOPS|users|customers|"
    r"subscribers|employees|developers|units|chips|GPUs|servers|tokens|transactions|downloads|"
    r"installs|wallets|accounts|vehicles|parameters|data ?centers|data ?centres"
)


FIGURE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "money",
        re.compile(
            rf"(?:US)?[$€£¥]\s?(?:{_NUMBER})(?:\s?(?:{_SCALE}))?"
            rf"|(?:{_NUMBER})\s?(?:(?:{_SCALE})\s?)?(?:{_CURRENCY_WORDS})\b"
        ),
    ),
    (
        "percent",
        re.compile(
            rf"[-+−]?(?:{_NUMBER})\s?(?:%|percent\b|per cent\b|percentage points?\b|pp\b|bps\b|basis points\b)"
        ),
    ),
    (
        "multiple",
        re.compile(rf"(?:{_NUMBER})\s?(?:x|×|-fold|fold)(?![a-zA-Z])|(?:{_NUMBER}) times\b"),
    ),
    (
        "quantity",
        re.compile(
            rf"(?:{_NUMBER})\s?(?:(?:{_SCALE})\s)?(?:{_UNITS})\b|(?:{_NUMBER})\s(?:trillion|billion|million)\b"
        ),
    ),
)


_SCALE_VALUES = {
    "trillion": 1e12,
    "tn": 1e12,
    "t": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}


def _figure_value(text: str) -> float | None:
    """The number a figure states, scaled (``$1.2bn`` -> 1.2e9); None when unreadable."""
    number = re.search(_NUMBER, text)
    if number is None:
        return None
    try:
        value = float(number.group(0).replace(",", ""))
    except ValueError:
        return None
    rest = text[number.end() :].strip().lower()
    scale = re.match(r"(trillion|billion|million|thousand|tn|bn|mn|mln|[kmbt])(?![a-z])", rest)
    if scale:
        value *= _SCALE_VALUES[scale.group(1)]
    if text.lstrip().startswith(("-", "−")):
        value = -value
    return value


def extract_figures(sentences: Sequence[str]) -> pd.DataFrame:
    """Money amounts, percentages, multiples and quantities with units cited in each sentence.

    Columns: sentence (index), figure (as written), kind, value (scaled number).
    """
    rows = []
    for index, sentence in enumerate(sentences):
        taken: list[tuple[int, int]] = []
        for kind, pattern in FIGURE_PATTERNS:
            for hit in pattern.finditer(sentence):
                start, end = hit.span()
                if any(start < e and end > s for s, e in taken):
                    continue
                taken.append((start, end))
                figure = hit.group(0).strip()
                rows.append(
                    {
                        "sentence": index,
                        "start": start,
                        "figure": figure,
                        "kind": kind,
                        "value": _figure_value(figure),
                    }
                )
    frame = pd.DataFrame(rows, columns=["sentence", "start", "figure", "kind", "value"])
    return frame.sort_values(["sentence", "start"]).drop(columns="start").reset_index(drop=True)
