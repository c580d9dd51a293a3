"""Options and helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="SQLite database file (default: $ANALYZER_DB, else data/analyzer.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def open_store(db: Path | None, *, readonly: bool = False) -> Any:
    from analyzer.storage import Store

    return Store(db, readonly=readonly)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def print_table(
    rows: list[dict[str, Any]], columns: list[str] | None = None, title: str | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    columns = columns or (list(rows[0]) if rows else [])
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)
