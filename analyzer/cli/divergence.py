"""`analyzer divergence`: narrative heat against fundamentals, and the flags it raises."""

from __future__ import annotations

import enum
import math
import sys
from typing import Annotated, Any

import typer

from analyzer.cli.common import DbOption, open_store, print_json, print_table


class Frequency(str, enum.Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN becomes null, timestamps become ISO dates."""
    if value is None or isinstance(value, (list, dict, str, bool)):
        return value
    import pandas as pd

    if pd.isna(value):
        return None
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _round(value: Any, digits: int = 3) -> Any:
    return round(value, digits) if isinstance(value, float) and math.isfinite(value) else value


def register(app: typer.Typer) -> None:
    @app.command()
    def divergence(
        db: DbOption = None,
        entity: Annotated[str | None, typer.Option("--entity", help="Only this entity id.")] = None,
        metric: Annotated[str | None, typer.Option("--metric", help="Only this fundamental metric.")] = None,
        freq: Annotated[Frequency, typer.Option("--freq", help="Period length.")] = Frequency.quarter,
        threshold: Annotated[
            float | None,
            typer.Option("--threshold", help="Flag when divergence exceeds this (default 1.0)."),
        ] = None,
        min_periods: Annotated[
            int | None,
            typer.Option("--min-periods", min=1, help="...for at least this many periods (default 2)."),
        ] = None,
        output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
        model_version: Annotated[
            str | None, typer.Option("--model-version", help="Scores of this model version (default: latest).")
        ] = None,
        show_flags: Annotated[
            bool, typer.Option("--flags", help="List flagged spans with their top sentences instead.")
        ] = False,
        compute: Annotated[
            bool,
            typer.Option(
                "--compute/--no-compute",
                help="Recompute and store heat, divergence and flags first (default), or only read "
                "what is stored.",
            ),
        ] = True,
    ) -> None:
        """Narrative heat vs fundamental growth per period, the divergence index and its flags.

        JSON output is an array of records with entity, metric, period (ISO date of the period
        start), heat, fundamental_level, fundamental_growth, divergence and flagged. Entities
        without fundamentals get heat rows with metric null.
        """
        from analyzer.errors import InputError
        from analyzer.views import results

        with open_store(db, readonly=not compute) as store:
            if entity and store.entity(entity) is None:
                raise InputError(f"unknown entity {entity!r}; see `analyzer entities list`")
            if metric:
                names = set(store.fundamental_metrics(entity))
                if metric not in names:
                    listed = ", ".join(sorted(names)) or "none"
                    raise InputError(f"no fundamentals named {metric!r} (known: {listed})")
            if compute:
                from analyzer.pipeline import compute_divergence

                compute_divergence(
                    store, freq=freq.value, entity=entity, model_version=model_version,
                    threshold=threshold, min_periods=min_periods,
                )
            if show_flags:
                frame = results.flags(
                    store, entity, metric, freq.value, model_version, threshold, min_periods
                )
            else:
                frame = results.divergence_frame(
                    store, entity, metric, freq.value, model_version, threshold, min_periods
                )

        if output is OutputFormat.json:
            print_json(_records(frame))
            return
        if output is OutputFormat.csv:
            if show_flags:
                frame = frame.assign(
                    top_sentence=[s[0]["text"] if s else None for s in frame["top_sentences"]]
                ).drop(columns=["top_sentences"])
            frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%d")
            return
        if show_flags:
            rows = [
                {
                    **{k: _round(_clean(v)) for k, v in row.items() if k != "top_sentences"},
                    "top_sentence": (row["top_sentences"][0]["text"][:120] if row["top_sentences"] else ""),
                }
                for row in frame.to_dict("records")
            ]
            columns = ["entity", "metric", "start", "end", "peak_period", "peak_value", "periods", "top_sentence"]
            if not rows:
                typer.echo("No flags.")
                return
            print_table(rows, columns, title=f"Divergence flags ({freq.value})")
            return
        if frame.empty:
            typer.echo("No heat yet: ingest, tag and score documents first.")
            return
        columns = ["entity", "metric", "period", "heat", "fundamental_growth", "divergence", "flagged"]
        rows = [{k: _round(_clean(v)) for k, v in row.items()} for row in _records(frame[columns])]
        print_table(rows, columns, title=f"Narrative heat vs fundamentals ({freq.value})")
