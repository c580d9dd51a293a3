"""Parsing of the dates and numbers that arrive in CSV files and API responses."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from typing import Any

# Markers that mean "no observation" in FRED downloads and hand-made spreadsheets.
MISSING_MARKERS = frozenset({"", ".", "na", "n/a", "nan", "null", "none", "-", "--", "#n/a"})

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_MDY_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_DMY_DOT = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TEXT_FORMATS = ("%b %d %Y", "%B %d %Y", "%d %b %Y", "%d %B %Y")


def _make_date(year: int, month: int, day: int, original: str) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError as exc:
        raise ValueError(f"{original!r} is not a valid date ({exc})") from None


def normalise_date(value: str) -> str:
    """An ISO ``YYYY-MM-DD`` date from the forms data files actually use.

    Accepts ISO dates and datetimes (the date part is kept), ``YYYY-MM`` (first of the month),
    ``YYYY/M/D``, US spreadsheet dates ``M/D/YYYY`` and ``M/D/YY``, ``D.M.YYYY``, ``YYYYMMDD``
    and ``Jan 31, 2020``. Raises ValueError with the offending text otherwise.
    """
    text = value.strip().strip('"').strip()
    if not text:
        raise ValueError("date is empty")
    if match := _ISO_DATE.match(text):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _YMD_SLASH.match(text):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _MDY_SLASH.match(text):
        year = int(match[3])
        if len(match[3]) == 2:
            year += 2000 if year < 70 else 1900
        return _make_date(year, int(match[1]), int(match[2]), text)
    if match := _DMY_DOT.match(text):
        return _make_date(int(match[3]), int(match[2]), int(match[1]), text)
    if match := _COMPACT.match(text):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _ISO_MONTH.match(text):
        return _make_date(int(match[1]), int(match[2]), 1, text)
    if re.match(r"^\d{4}-\d{2}-\d{2}[ T]", text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(timezone.utc)
            return parsed.date().isoformat()
    cleaned = re.sub(r"[,\s]+", " ", text)
    for fmt in _TEXT_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date this importer understands (use YYYY-MM-DD)")


def parse_value(value: str | float | int | None) -> float | None:
    """A float, or None for the usual missing-value markers; raises ValueError otherwise.

    Thousands separators and a leading ``$`` are tolerated; ``(123)`` is read as -123, the
    accounting convention.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return None if math.isnan(number) else number
    text = str(value).strip()
    if text.lower() in MISSING_MARKERS:
        return None
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1].strip()
    text = text.lstrip("$").replace(",", "").replace("_", "").strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError(f"{value!r} is not a finite number")
    return -number if negative else number


def utc_day(timestamp_s: float) -> str:
    """The UTC calendar day of a Unix timestamp in seconds."""
    return datetime.fromtimestamp(timestamp_s, tz=timezone.utc).date().isoformat()


def is_utc_midnight(timestamp_s: float) -> bool:
    return int(timestamp_s) % 86400 == 0


def fundamental_row(
    entity_id: str,
    metric: str,
    day: str,
    value: float | None,
    *,
    source: str,
    unit: str | None = "USD",
) -> dict[str, Any]:
    """One row for the ``fundamentals`` table from a connector whose data carries no filing date."""
    return {
        "entity_id": entity_id,
        "metric": metric,
        "date": day,
        "value": value,
        "unit": unit,
        "source": source,
        "filed_at": None,
    }
