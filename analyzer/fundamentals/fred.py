"""FRED series from its CSV download, in the shapes it has had and that people save it in.

- classic ``DATE,SERIES`` (one series),
- current ``observation_date,SERIES_A,SERIES_B`` (one metric per column),
- re-saved ``date,value`` where the series id comes from the caller,
- ``.`` or a blank for a missing observation (a holiday, a late release): not stored,
- dates that went through a spreadsheet (``2016/6/30``, ``1/31/2020``): normalised to ISO.

Series are macro context rather than facts about one entity, so they are stored under the
entity ``macro`` unless the caller names another.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from analyzer.errors import InputError
from analyzer.fundamentals.http import HttpClient, HttpStatusError
from analyzer.fundamentals.values import fundamental_row, normalise_date, parse_value

SOURCE_KEY = "fred"
SOURCE_NAME = "FRED"
DEFAULT_BASE_URL = "https://fred.stlouisfed.org"
RATE_PER_SECOND = 2.0
DEFAULT_ENTITY = "macro"
DATE_COLUMNS = frozenset({"date", "observation_date"})
SERIES_ID = re.compile(r"^[A-Za-z0-9_.]{1,40}$")


def parse_fred_csv(
    text: str,
    *,
    series_id: str | None = None,
    entity_id: str = DEFAULT_ENTITY,
    origin: str = "FRED CSV",
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (metric = series id) and a note per line that could not be read."""
    stripped = text.lstrip("\ufeff").lstrip()
    if stripped.startswith("<"):
        raise InputError(f"FRED: {origin} is an HTML page, not a CSV download; check the series id")
    reader = csv.reader(io.StringIO(stripped))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(f"FRED: {origin} is empty") from None
    if len(header) < 2 or header[0].lower() not in DATE_COLUMNS:
        raise InputError(
            f"FRED: {origin} line 1: expected a header like 'DATE,SERIES' or"
            f" 'observation_date,SERIES,...', got {','.join(header)!r}"
        )
    metrics = []
    for column in header[1:]:
        if column.lower() == "value":
            if not series_id:
                raise InputError(
                    f"FRED: {origin} has a generic 'value' column; say which series it is"
                )
            metrics.append(series_id)
        else:
            metrics.append(column)

    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for cells in reader:
        line = reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue
        try:
            day = normalise_date(cells[0])
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        for metric, cell in zip(metrics, cells[1:]):
            try:
                value = parse_value(cell)
            except ValueError as exc:
                problems.append(f"line {line}, {metric}: {exc}")
                continue
            if value is None:
                continue
            rows.append(
                fundamental_row(entity_id, metric, day, value, source=SOURCE_KEY, unit=None)
            )
    return rows, problems


def fetch_series(
    client: HttpClient, series_id: str, entity_id: str = DEFAULT_ENTITY
) -> tuple[list[dict[str, Any]], list[str]]:
    series_id = series_id.strip()
    if not SERIES_ID.match(series_id):
        raise InputError(f"FRED: {series_id!r} is not a series id (e.g. DFF, M2SL)")
    try:
        text = client.get_text("/graph/fredgraph.csv", {"id": series_id})
    except HttpStatusError as exc:
        if exc.status in (400, 404):
            raise HttpStatusError(
                f"FRED: series {series_id!r} not found (HTTP {exc.status}); check the id at"
                " https://fred.stlouisfed.org",
                exc.status,
                exc.url,
            ) from exc
        raise
    rows, problems = parse_fred_csv(
        text, series_id=series_id, entity_id=entity_id, origin=f"the download of {series_id}"
    )
    if not rows:
        problems.append("no observations")
    notes = [f"{series_id}: {p}" for p in problems[:20]]
    if len(problems) > 20:
        notes.append(f"{series_id}: {len(problems) - 20} more unreadable line(s)")
    return rows, notes
