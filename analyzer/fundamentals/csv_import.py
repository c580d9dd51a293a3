"""Import fundamentals from a CSV file: ``entity, metric, date, value`` (+ ``unit, source, filed_at``).

Good rows are kept and bad rows are reported with their line numbers, so one typo in a
spreadsheet does not throw away the rest of it.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.fundamentals.compute_prices import check_compute_row
from analyzer.fundamentals.values import normalise_date, parse_value

REQUIRED_COLUMNS = ("entity", "metric", "date", "value")
OPTIONAL_COLUMNS = ("unit", "source", "filed_at")
# Alternative spellings people use in spreadsheets.
COLUMN_ALIASES = {"entity_id": "entity", "filed": "filed_at", "filing_date": "filed_at"}


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class CsvImport:
    """The rows that parsed, and why the others did not."""

    path: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.errors)


def read_fundamentals_csv(path: str | os.PathLike[str]) -> CsvImport:
    """Parse a fundamentals CSV file; raises InputError only when the file as a whole is unusable."""
    file_path = Path(path)
    try:
        raw = file_path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"fundamentals CSV {file_path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read fundamentals CSV {file_path}: {exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Windows still save as cp1252; digits and names survive either way.
        text = raw.decode("cp1252", errors="replace")
    return parse_fundamentals_csv(text, origin=str(file_path))


def parse_fundamentals_csv(text: str, origin: str = "<csv>") -> CsvImport:
    result = CsvImport(path=origin)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(
            f"{origin} is empty; expected a header row: entity,metric,date,value"
        ) from None
    except csv.Error as exc:
        raise InputError(f"{origin} line 1: {exc}") from exc
    columns = [COLUMN_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(
            f"{origin} line 1: missing column(s) {', '.join(missing)}; the header must include"
            f" {','.join(REQUIRED_COLUMNS)} (optional: {','.join(OPTIONAL_COLUMNS)}), got {header}"
        )
    index = {
        name: columns.index(name)
        for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if name in columns
    }

    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append(RowError(reader.line_num, f"unreadable CSV ({exc})"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        try:
            result.rows.append(_parse_row(cells, index))
        except ValueError as exc:
            result.errors.append(RowError(line, str(exc)))
    return result


def _cell(cells: list[str], index: dict[str, int], name: str) -> str:
    position = index.get(name)
    if position is None or position >= len(cells):
        return ""
    return cells[position].strip()


def _parse_row(cells: list[str], index: dict[str, int]) -> dict[str, Any]:
    if len(cells) < len(REQUIRED_COLUMNS):
        raise ValueError(f"expected at least {len(REQUIRED_COLUMNS)} cells, got {len(cells)}")
    entity = _cell(cells, index, "entity")
    metric = _cell(cells, index, "metric")
    if not entity:
        raise ValueError("entity is empty")
    if not metric:
        raise ValueError("metric is empty")
    try:
        day = normalise_date(_cell(cells, index, "date"))
    except ValueError as exc:
        raise ValueError(f"date: {exc}") from None
    try:
        value = parse_value(_cell(cells, index, "value"))
    except ValueError as exc:
        raise ValueError(f"value: {exc}") from None
    filed_text = _cell(cells, index, "filed_at")
    filed_at = None
    if filed_text:
        try:
            filed_at = normalise_date(filed_text)
        except ValueError as exc:
            raise ValueError(f"filed_at: {exc}") from None
    row = {
        "entity_id": entity,
        "metric": metric,
        "date": day,
        "value": value,
        "unit": _cell(cells, index, "unit") or None,
        "source": _cell(cells, index, "source") or "csv",
        "filed_at": filed_at,
    }
    check_compute_row(row)
    return row
