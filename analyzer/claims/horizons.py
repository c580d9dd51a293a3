"""When a claim falls due: explicit dates, years, quarters and halves, or relative phrases.

Relative phrases ("within two years", "next month", 「3年後」) and dates with month names are
resolved by ``dateparser`` against the publication date. A handful of targeted patterns find
the phrase in the sentence and cover what dateparser does not read: quarters ("Q3 2025",
"the third quarter of 2025"), halves, "mid-2026", "the end of 2025", fiscal years, and
Japanese years (dateparser reads 「2030年」 as an imperial-era year).

Every horizon resolves to the *last* day of the period it names: a claim "by 2026" is due on
2026-12-31, one "by mid-2026" on 2026-06-30.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

_YEAR = r"(?:19[89]\d|20\d\d|2100)"
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "eighteen": 18,
    "twenty": 20,
    "thirty": 30,
    "several": 3,
    "few": 3,
    "couple of": 2,
}
_COUNT = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|eighteen|twenty|thirty|several|few|couple of)"
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_ORDINAL_QUARTER = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
}

# Ordered: the first pattern that matches at a position wins.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "quarter",
        re.compile(
            rf"\b(?:Q([1-4])|([1-4])Q)\s*(?:of\s+)?(?:FY\s*|fiscal\s+)?('?\d{{2}}\b|{_YEAR})", re.I
        ),
    ),
    (
        "quarter",
        re.compile(
            rf"\b(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter\s+(?:of\s+)?(?:(?:fiscal|FY)\s*)?({_YEAR})",
            re.I,
        ),
    ),
    (
        "half",
        re.compile(
            rf"\b(?:(first|second)\s+half\s+of|(H[12]))\s*(?:(?:fiscal|FY)\s*)?({_YEAR})", re.I
        ),
    ),
    ("mid", re.compile(rf"\b(?:mid-?|the\s+middle\s+of\s+|middle\s+of\s+)({_YEAR})", re.I)),
    ("early", re.compile(rf"\b(?:early|the\s+start\s+of|the\s+beginning\s+of)\s+({_YEAR})", re.I)),
    (
        "end",
        re.compile(
            rf"\b(?:the\s+end\s+of|end\s+of|end-|late|year-end|the\s+close\s+of)\s*({_YEAR})", re.I
        ),
    ),
    (
        "month",
        re.compile(
            rf"\b((?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?(?:\s+\d{{1,2}}\s?,?)?\s+{_YEAR})\b",
            re.I,
        ),
    ),
    ("fiscal", re.compile(rf"\b(?:fiscal(?:\s+year)?\s+|FY\s?)({_YEAR}|'?\d{{2}})\b", re.I)),
    ("season", re.compile(rf"\b(spring|summer|autumn|fall|winter)\s+(?:of\s+)?({_YEAR})\b", re.I)),
    (
        "month_only",
        re.compile(
            r"\b(?:by|in|until|before|through|at\s+the\s+end\s+of|the\s+end\s+of|end\s+of|"
            r"late|early|mid-?)\s*((?-i:January|February|March|April|May|June|July|August|"
            r"September|October|November|December))\b(?!\s*\d)",
            re.I,
        ),
    ),
    ("decade_end", re.compile(r"\b(?:by\s+)?the\s+end\s+of\s+the\s+decade\b", re.I)),
    # "in the next four to five years", "within 3-4 years": due at the far end of the range.
    (
        "relative",
        re.compile(
            rf"\b(?:within|in|over|during)\s+(?:the\s+)?(?:(?:next|coming)\s+)?{_COUNT}\s*(?:to|-|–|or)\s*{_COUNT}\s+(years?|months?|quarters?|decades?)\b",
            re.I,
        ),
    ),
    (
        "relative",
        re.compile(
            rf"\b(?:within|in|over|during)\s+(?:the\s+)?(?:next|coming)\s+{_COUNT}\s+(years?|months?|quarters?|decades?)\b",
            re.I,
        ),
    ),
    (
        "relative",
        re.compile(
            rf"\b(?:within|in|over|inside|after)\s+{_COUNT}\s+(years?|months?|quarters?|decades?)\b",
            re.I,
        ),
    ),
    (
        "relative",
        re.compile(rf"\b{_COUNT}\s+(years?|months?|quarters?|decades?)\s+from\s+now\b", re.I),
    ),
    # "a 3-year restructuring plan": the plan runs for that long from now.
    (
        "relative",
        re.compile(
            rf"\b{_COUNT}[\s-](year|month)(?:[\s-]long)?\s+(?:[a-z-]+\s+)?(?:plan|programme|program|strategy)\b",
            re.I,
        ),
    ),
    (
        "relative",
        re.compile(
            r"\b(?:over|in|within|during)\s+the\s+(?:next|coming)\s+(years?|months?|quarters?|decades?)\b",
            re.I,
        ),
    ),
    (
        "next",
        re.compile(
            r"\b(next|this|the\s+coming|the\s+following)\s+(year|quarter|month|decade|fiscal\s+year)\b",
            re.I,
        ),
    ),
    (
        "year_end",
        re.compile(
            r"\b(?:the\s+)?end\s+of\s+(?:the|this)\s+(?:current\s+)?year\b|\byear-end\b", re.I
        ),
    ),
    (
        "quarter_only",
        re.compile(
            r"\b(?:(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter|Q([1-4]))\b(?!\s*(?:of\s+)?(?:FY|fiscal|'?\d))",
            re.I,
        ),
    ),
    ("year", re.compile(rf"(?<![\w$€£¥.,-])({_YEAR})(?![\w%]|[.,-]\d|\s*(?:percent|%))", re.I)),
]
_JA_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ja_quarter", re.compile(rf"({_YEAR})年(?:度)?第?([1-4一二三四])四半期")),
    ("ja_month", re.compile(rf"({_YEAR})年(\d{{1,2}})月")),
    ("ja_half", re.compile(rf"({_YEAR})年(?:度)?(上期|下期|上半期|下半期)")),
    ("ja_year", re.compile(rf"({_YEAR})年(度)?(末)?")),
    (
        "ja_relative",
        re.compile(
            r"(?:今後|向こう)(\d+|[一二三四五六七八九十]+)年(?:間)?|(\d+|[一二三四五六七八九十]+)年(?:以内|後)"
        ),
    ),
    ("ja_next", re.compile(r"(来年度|来年|今年度|今年|来期|今期)")),
]
_JA_DIGITS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
# Words before a year that make it a deadline rather than a date of something past.
DEADLINE_WORDS = re.compile(
    r"\b(?:by|until|through|thru|before|in|to|for|within|toward|towards|into|beyond)\s+(?:the\s+)?(?:end\s+of\s+|year-end\s+|fiscal\s+(?:year\s+)?|FY\s?|calendar\s+)?$",
    re.I,
)


@dataclass(frozen=True)
class Horizon:
    """A resolved horizon: ``due`` is an ISO date or None (then ``error`` says why)."""

    due: str | None
    kind: str
    text: str
    start: int = -1
    end: int = -1
    error: str | None = None
    deadline: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.due,
            "horizon_kind": self.kind,
            "horizon_text": self.text,
            "horizon_error": self.error,
        }


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _year(text: str, base: date) -> int:
    text = text.lstrip("'")
    if len(text) == 2:
        return 2000 + int(text)
    return int(text)


def _count(text: str) -> int:
    text = text.lower()
    if text.isdigit():
        return int(text)
    return _WORD_NUMBERS.get(text, 0)


def _dateparser_relative(phrase: str, base: date, languages: list[str]) -> date | None:
    import dateparser

    parsed = dateparser.parse(
        phrase,
        languages=languages,
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": "future",
        },
    )
    return parsed.date() if parsed else None


def _dateparser_month(phrase: str) -> date | None:
    import dateparser

    parsed = dateparser.parse(
        phrase,
        languages=["en"],
        settings={"PREFER_DAY_OF_MONTH": "last", "REQUIRE_PARTS": ["month", "year"]},
    )
    return parsed.date() if parsed else None


def _resolve(kind: str, match: re.Match[str], base: date) -> tuple[date | None, str]:
    """(due date, kind label) for one pattern match."""
    if kind == "quarter":
        if match.re.pattern.startswith(r"\b(?:Q"):
            quarter = int(match[1] or match[2])
            year = _year(match[3], base)
        else:
            quarter = _ORDINAL_QUARTER[match[1].lower()]
            year = int(match[2])
        return _last_day(year, quarter * 3), "quarter"
    if kind == "half":
        first = (match[1] or "").lower() == "first" or (match[2] or "").upper() == "H1"
        return _last_day(int(match[3]), 6 if first else 12), "half"
    if kind == "mid":
        return date(int(match[1]), 6, 30), "half"
    if kind == "early":
        return date(int(match[1]), 3, 31), "quarter"
    if kind in ("end", "year"):
        return date(int(match[1]), 12, 31), "year"
    if kind == "fiscal":
        return date(_year(match[1], base), 12, 31), "year"
    if kind == "month":
        # "Jan 27 , 2009": a comma set apart by the tokeniser.
        phrase = re.sub(r"\s+,", ",", match[1])
        day = _dateparser_month(phrase)
        if day is None:
            return None, "month"
        if not re.search(r"\d{1,2},?\s+\d{4}", phrase):
            day = _last_day(day.year, day.month)
        return day, "month" if day.day != 0 else "date"
    if kind == "season":
        year = int(match[2])
        last = {"spring": (year, 5), "summer": (year, 8), "autumn": (year, 11), "fall": (year, 11)}
        y, m = last.get(match[1].lower(), (year + 1, 2))  # winter ends in February
        return _last_day(y, m), "season"
    if kind == "month_only":
        month = _MONTHS.index(match[1].lower()) + 1
        due = _last_day(base.year, month)
        if due <= base:
            due = _last_day(base.year + 1, month)
        return due, "month"
    if kind == "year_end":
        return date(base.year, 12, 31), "year"
    if kind == "quarter_only":
        quarter = _ORDINAL_QUARTER[match[1].lower()] if match[1] else int(match[2])
        due = _last_day(base.year, quarter * 3)
        return (due if due > base else _last_day(base.year + 1, quarter * 3)), "quarter"
    if kind == "decade_end":
        return date(base.year // 10 * 10 + 9, 12, 31), "year"
    if kind == "relative":
        groups = [g for g in match.groups() if g]
        count = _count(groups[-2]) if len(groups) >= 2 else 1
        unit = groups[-1].lower().rstrip("s")
        if not count:
            return None, "relative"
        if unit == "quarter":
            return _add_months(base, 3 * count), "relative"
        if unit == "decade":
            count, unit = count * 10, "year"
        return _dateparser_relative(f"in {count} {unit}s", base, ["en"]), "relative"
    if kind == "next":
        which, unit = match[1].lower(), match[2].lower()
        offset = 0 if which == "this" else 1
        if unit in ("year", "fiscal year"):
            return date(base.year + offset, 12, 31), "relative"
        if unit == "decade":
            return date(base.year + 10 * offset, 12, 31), "relative"
        if unit == "quarter":
            quarter = (base.month - 1) // 3 + offset
            year = base.year + quarter // 4
            return _last_day(year, (quarter % 4 + 1) * 3), "relative"
        moved = _add_months(base, offset)
        return _last_day(moved.year, moved.month), "relative"
    return None, kind


def _resolve_japanese(kind: str, match: re.Match[str], base: date) -> tuple[date | None, str]:
    if kind == "ja_quarter":
        quarter = int(match[2]) if match[2].isdigit() else _JA_DIGITS[match[2]]
        return _last_day(int(match[1]), quarter * 3), "quarter"
    if kind == "ja_month":
        return _last_day(int(match[1]), int(match[2])), "month"
    if kind == "ja_half":
        first = match[2].startswith("上")
        return _last_day(int(match[1]), 6 if first else 12), "half"
    if kind == "ja_year":
        year = int(match[1])
        # A Japanese fiscal year (年度) runs April to March.
        return (date(year + 1, 3, 31), "year") if match[2] else (date(year, 12, 31), "year")
    if kind == "ja_relative":
        number = match[1] or match[2]
        count = int(number) if number.isdigit() else _JA_DIGITS.get(number, 0)
        return _dateparser_relative(f"{count}年後", base, ["ja"]), "relative"
    if kind == "ja_next":
        offset = 1 if match[1].startswith("来") else 0
        if "年度" in match[1] or match[1].endswith("期"):
            return date(base.year + offset + (1 if base.month > 3 else 0), 3, 31), "relative"
        return date(base.year + offset, 12, 31), "relative"
    return None, kind


def find_horizons(text: str, published: date, language: str | None = None) -> list[Horizon]:
    """Every horizon phrase in a sentence, resolved against ``published``, in reading order."""
    japanese = language == "ja" or re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) is not None
    source = unicodedata.normalize("NFKC", text) if japanese else text
    patterns = _JA_PATTERNS if japanese else _PATTERNS
    taken: list[tuple[int, int]] = []
    found: list[Horizon] = []
    for kind, pattern in patterns:
        for match in pattern.finditer(source):
            start, end = match.span()
            if any(s < end and start < e for s, e in taken):
                continue
            if kind == "year" and not _year_is_horizon(source, start, end):
                continue
            try:
                due, label = (_resolve_japanese if japanese else _resolve)(kind, match, published)
                error = None if due is not None else f"could not resolve the horizon {match[0]!r}"
            except (ValueError, OverflowError, KeyError) as exc:
                due, label, error = (
                    None,
                    kind,
                    f"could not resolve the horizon {match[0]!r} ({exc})",
                )
            before = source[max(0, start - 30) : start]
            deadline = (
                kind
                in (
                    "relative",
                    "next",
                    "decade_end",
                    "month_only",
                    "year_end",
                    "ja_relative",
                    "ja_next",
                )
                or bool(DEADLINE_WORDS.search(before))
                or (japanese and source[end : end + 3].startswith(("まで", "に", "には", "末")))
            )
            taken.append((start, end))
            found.append(
                Horizon(
                    due.isoformat() if due else None, label, match[0], start, end, error, deadline
                )
            )
    return sorted(found, key=lambda h: h.start)


def _year_is_horizon(text: str, start: int, end: int) -> bool:
    """A bare year counts unless it is part of a number, a range of amounts or a name."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return not (before.endswith(("#", "No")) or after.startswith(("-0", "/")))


def choose_horizon(
    horizons: list[Horizon], published: date, future_only: bool = True
) -> Horizon | None:
    """The horizon a claim falls due on: a future deadline phrase first, then the latest future
    date. With ``future_only=False`` (the publication date is a stand-in) no date is ruled out
    for lying before it."""
    future = [
        h for h in horizons if not future_only or h.due is None or h.due > published.isoformat()
    ]
    deadlines = [h for h in future if h.deadline]
    pool = deadlines or future
    if not pool:
        return None
    resolved = [h for h in pool if h.due is not None]
    if not resolved:
        return pool[0]
    return max(resolved, key=lambda h: h.due or "")
