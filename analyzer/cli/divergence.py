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


class Mode(str, enum.Enum):
    realtime = "realtime"
    hindsight = "hindsight"


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


def _banded(value: Any, low: Any, high: Any) -> str:
    """'1.23 [0.91, 1.52]': a value with its band, as short as a table cell can be."""
    if not isinstance(value, float):
        return ""
    if isinstance(low, float) and isinstance(high, float):
        return f"{value:.2f} [{low:.1f}, {high:.1f}]"
    return f"{value:.2f}"


def register(app: typer.Typer) -> None:
    @app.command()
    def divergence(
        db: DbOption = None,
        entity: Annotated[str | None, typer.Option("--entity", help="Only this entity id.")] = None,
        metric: Annotated[
            str | None, typer.Option("--metric", help="Only this fundamental metric.")
        ] = None,
        freq: Annotated[
            Frequency, typer.Option("--freq", help="Period length.")
        ] = Frequency.quarter,
        threshold: Annotated[
            float | None,
            typer.Option(
                "--threshold",
                help="Flag when the divergence band's lower bound exceeds this (default 0.75, chosen by simulation; see docs/METHOD.md).",
            ),
        ] = None,
        min_periods: Annotated[
            int | None,
            typer.Option(
                "--min-periods",
                min=1,
                help="...for at least this many consecutive reliable periods (default 1).",
            ),
        ] = None,
        output: Annotated[
            OutputFormat, typer.Option("--format", help="Output format.")
        ] = OutputFormat.table,
        model_version: Annotated[
            str | None,
            typer.Option("--model-version", help="Scores of this model version (default: latest)."),
        ] = None,
        show_flags: Annotated[
            bool,
            typer.Option("--flags", help="List flagged spans with their top sentences instead."),
        ] = False,
        compute: Annotated[
            bool,
            typer.Option(
                "--compute/--no-compute",
                help="Recompute and store heat, divergence and flags first (default), or only read "
                "what is stored.",
            ),
        ] = True,
        mode: Annotated[
            Mode | None,
            typer.Option(
                "--mode",
                help="realtime: each period standardised against the history up to it, fundamentals as "
                "filed (no look-ahead; the default). hindsight: against the whole history.",
            ),
        ] = None,
        min_stories: Annotated[
            int | None,
            typer.Option(
                "--min-stories",
                min=1,
                help="Periods with fewer stories are unreliable, never flagged (default 5).",
            ),
        ] = None,
        resamples: Annotated[
            int | None,
            typer.Option(
                "--resamples",
                min=0,
                help="Bootstrap resamples for the bands (default 200; 0: none).",
            ),
        ] = None,
    ) -> None:
        """Narrative heat vs fundamental growth per period, the divergence index and its flags.

        JSON output is an array of records with entity, metric, period (ISO date of the period
        start), heat, fundamental_level, fundamental_growth, divergence and flagged, the bands
        heat_low/heat_high and divergence_low/divergence_high, reliable and mode. A flag needs
        the band's lower bound above the threshold over reliable periods; --flags lists each
        with its confidence. Entities without fundamentals get heat rows with metric null.
        """
        from analyzer.views import results

        with open_store(db, readonly=not compute) as store:
            _check_filters(store, entity, metric)
            if compute:
                from analyzer.pipeline import compute_divergence

                compute_divergence(
                    store,
                    freq=freq.value,
                    entity=entity,
                    model_version=model_version,
                    threshold=threshold,
                    min_periods=min_periods,
                    mode=(mode or Mode.realtime).value,
                    min_stories=min_stories,
                    resamples=resamples,
                )
            elif mode is not None:
                _check_stored_mode(store, freq, model_version, mode)
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
        elif output is OutputFormat.csv:
            if show_flags:
                frame = frame.assign(
                    top_sentence=[s[0]["text"] if s else None for s in frame["top_sentences"]]
                ).drop(columns=["top_sentences"])
            frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%d")
        elif show_flags:
            _print_flags(frame, freq)
        else:
            _print_divergence(frame, freq)


def _check_filters(store: Any, entity: str | None, metric: str | None) -> None:
    """Refuse an unknown entity or a metric no stored fundamentals series has."""
    from analyzer.errors import InputError

    if entity and store.entity(entity) is None:
        raise InputError(f"unknown entity {entity!r}; see `analyzer entities list`")
    if metric:
        names = set(store.fundamental_metrics(entity))
        if metric not in names:
            listed = ", ".join(sorted(names)) or "none"
            raise InputError(f"no fundamentals named {metric!r} (known: {listed})")


def _check_stored_mode(store: Any, freq: Frequency, model_version: str | None, mode: Mode) -> None:
    """Refuse to show a stored analysis computed in another mode than the one asked for."""
    from analyzer.errors import InputError
    from analyzer.views import results

    run = store.analysis_run(freq.value, model_version or None)
    stored = results.mode_of(run["params"]) if run else None
    if run is not None and stored != mode.value:
        raise InputError(
            f"the stored {freq.value} analysis is in {stored or 'an older'} mode, not {mode.value}; "
            f"run `analyzer divergence --mode {mode.value}` to compute it"
        )


def _print_flags(frame: Any, freq: Frequency) -> None:
    """The flagged spans as a table, each with its band, confidence and top sentence."""
    rows = [
        {
            **{k: _round(_clean(v)) for k, v in row.items() if k != "top_sentences"},
            "top_sentence": (row["top_sentences"][0]["text"][:120] if row["top_sentences"] else ""),
        }
        for row in frame.to_dict("records")
    ]
    for row in rows:
        row["peak_band"] = (
            f"{row['peak_low']:.2f}–{row['peak_high']:.2f}"
            if isinstance(row.get("peak_low"), float) and isinstance(row.get("peak_high"), float)
            else ""
        )
        confidence = row.get("confidence")
        row["confidence"] = f"{confidence:.0%}" if isinstance(confidence, float) else ""
    columns = [
        "entity",
        "metric",
        "start",
        "end",
        "peak_period",
        "peak_value",
        "peak_band",
        "confidence",
        "periods",
        "mode",
        "top_sentence",
    ]
    if not rows:
        typer.echo("No flags.")
        return
    print_table(rows, columns, title=f"Divergence flags ({freq.value})")


def _print_divergence(frame: Any, freq: Frequency) -> None:
    """Heat, growth and divergence per entity, metric and period as a table, bands inline."""
    if frame.empty:
        typer.echo("No heat yet: ingest, tag and score documents first.")
        return
    rows = []
    for row in _records(frame):
        rows.append(
            {
                "entity": row["entity"],
                "metric": row["metric"],
                "period": row["period"],
                "heat": _banded(row["heat"], row.get("heat_low"), row.get("heat_high")),
                "growth": _round(row["fundamental_growth"], 3),
                "divergence": _banded(
                    row["divergence"], row.get("divergence_low"), row.get("divergence_high")
                ),
                "ok": "" if row.get("reliable", True) else "few",
                "flag": "yes" if row["flagged"] else "",
            }
        )
    columns = ["entity", "metric", "period", "heat", "growth", "divergence", "ok", "flag"]
    modes = ", ".join(sorted({str(m) for m in frame["mode"].dropna()})) or "unknown"
    print_table(rows, columns, title=f"Narrative heat vs fundamentals ({freq.value}, {modes} mode)")
    typer.echo("heat and divergence with their 90% band; ok 'few': too few stories, never flagged.")
