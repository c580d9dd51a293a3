"""`analyzer claims`: the ledger of quantified growth claims and how they turned out.

    analyzer claims [--entity ID] [--status S] [--due-before DATE] [--format table|json|csv]
    analyzer claims extract [--threshold P] [--refresh] [--llm-url URL --llm-model M] [--no-check]
    analyzer claims check [--as-of DATE] [--tolerance T] [--fx EUR=1.08 ...]
    analyzer claims scorecard [--format table|json|csv]

``extract`` reads scored documents not read yet (and checks every claim afterwards unless
``--no-check``); ``check`` re-checks stored claims, e.g. after new fundamentals arrive.
"""

from __future__ import annotations

import csv
import enum
import sys
from typing import Annotated, Any

import typer

from analyzer.cli.common import DbOption, open_store, print_json, print_table


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


claims_app = typer.Typer(
    help="Quantified growth claims: extract them, check them against fundamentals, list them.",
    invoke_without_command=True,
)


def _fx(values: list[str] | None) -> dict[str, float]:
    from analyzer.errors import InputError

    rates: dict[str, float] = {}
    for value in values or []:
        code, _, rate = value.partition("=")
        try:
            rates[code.strip().upper()] = float(rate)
        except ValueError:
            raise InputError(
                f"--fx {value!r}: write CURRENCY=RATE, e.g. EUR=1.08 (USD per euro)"
            ) from None
    if rates:
        rates.setdefault("USD", 1.0)
    return rates


def _emit(
    rows: list[dict[str, Any]], fmt: OutputFormat, columns: list[str], title: str, empty: str
) -> None:
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    if fmt is OutputFormat.csv:
        writer = csv.DictWriter(
            sys.stdout, fieldnames=list(rows[0]) if rows else columns, extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
        return
    if not rows:
        typer.echo(empty)
        return
    print_table(rows, columns, title=title)


def _short(value: Any, digits: int = 2) -> Any:
    return round(value, digits) if isinstance(value, float) else value


@claims_app.callback()
def list_claims(
    ctx: typer.Context,
    db: DbOption = None,
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity id.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="met | missed | pending | unverifiable")
    ] = None,
    due_before: Annotated[
        str | None,
        typer.Option("--due-before", help="Only claims whose horizon is before this date."),
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table, json or csv.")
    ] = OutputFormat.table,
) -> None:
    """List the claims in the ledger (run `analyzer claims extract` first)."""
    if ctx.invoked_subcommand is not None:
        return
    from analyzer.claims.ledger import RECORD_FIELDS, claim_records, claims_frame

    with open_store(db, readonly=True) as store:
        frame = claims_frame(store, entity=entity, status=status, due_before=due_before)
    records = claim_records(frame)
    if fmt is OutputFormat.table:
        records = [
            {
                **r,
                "claimed_change": _short(r["claimed_change"]),
                "realised_change": _short(r["realised_change"]),
                "sentence": (r["sentence"] or "")[:90],
            }
            for r in records
        ]
    _emit(
        records,
        fmt,
        [
            "entity",
            "metric",
            "claimed_change",
            "horizon",
            "published_at",
            "status",
            "realised_change",
            "sentence",
        ]
        if fmt is OutputFormat.table
        else list(RECORD_FIELDS),
        f"Claims ({len(records)})",
        "No claims match; run `analyzer claims extract` after scoring.",
    )


@claims_app.command("extract")
def extract(
    db: DbOption = None,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", help="Read sentences whose growth probability is at least this."
        ),
    ] = 0.5,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Read every scored document again.")
    ] = False,
    model_version: Annotated[
        str | None,
        typer.Option("--model-version", help="Whose growth scores to use (default: the latest)."),
    ] = None,
    llm_url: Annotated[
        str | None,
        typer.Option("--llm-url", help="OpenAI-compatible API base URL (or $ANALYZER_LLM_URL)."),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option("--llm-model", help="Model name (or $ANALYZER_LLM_MODEL).")
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Let the LLM endpoint be on this machine or a private network."
        ),
    ] = False,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Check all claims afterwards.")
    ] = True,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Check date (default today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Extract claims from scored documents (rules, or an LLM endpoint) and check them."""
    import os

    from analyzer import pipeline

    extractor = None
    if llm_url or llm_model or os.environ.get("ANALYZER_LLM_URL"):
        from analyzer.claims.llm import LLMExtractor

        extractor = LLMExtractor.from_env(url=llm_url, model=llm_model, allow_private=allow_private)
    with open_store(db) as store:
        summary = pipeline.run_claims(
            store,
            growth_threshold=threshold,
            refresh=refresh,
            model_version=model_version,
            extractor=extractor,
            check=check,
            as_of=as_of,
        )
    if as_json:
        print_json(summary)
        return
    extracted = summary["extract"]
    typer.echo(
        f"Read {extracted['documents']} document(s) with {extracted['extractor_version']}:"
        f" {extracted['claims']} claim(s)."
    )
    for failure in extracted["failed"]:
        typer.secho(
            f"  document {failure['document_id']}: {failure['error']}",
            err=True,
            fg=typer.colors.YELLOW,
        )
    if summary.get("check"):
        typer.echo("Checked: " + ", ".join(f"{n} {s}" for s, n in sorted(summary["check"].items())))


@claims_app.command("check")
def check_command(
    db: DbOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Check date: only fundamentals filed by then (default today)."
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="Count as met when this share short of the claimed growth (0..1)."
        ),
    ] = 0.0,
    fx: Annotated[
        list[str] | None,
        typer.Option(
            "--fx", help="Exchange rate CURRENCY=USD-per-unit, e.g. EUR=1.08 (repeatable)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Check stored claims against stored fundamentals, point-in-time."""
    from analyzer.claims.ledger import check_store

    with open_store(db) as store:
        counts = check_store(store, as_of=as_of, fx_rates=_fx(fx), tolerance=tolerance)
    if as_json:
        print_json(counts)
    elif not counts:
        typer.echo("No claims to check; run `analyzer claims extract` first.")
    else:
        typer.echo("Checked: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


@claims_app.command("scorecard")
def scorecard_command(
    db: DbOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Count claims due by this date (default today).")
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table, json or csv.")
    ] = OutputFormat.table,
) -> None:
    """Per-entity record: claims made, due, met, missed, and reliability (met / checked)."""
    import math

    from analyzer.claims.ledger import claims_scorecard

    with open_store(db, readonly=True) as store:
        frame = claims_scorecard(store, as_of=as_of)
    rows = []
    for row in frame.to_dict("records"):
        reliability = row["reliability"]
        rows.append(
            {
                **{
                    k: int(v) if hasattr(v, "item") and k != "reliability" else v
                    for k, v in row.items()
                },
                "reliability": None
                if reliability is None
                or (isinstance(reliability, float) and math.isnan(reliability))
                else round(float(reliability), 3),
            }
        )
    _emit(
        rows,
        fmt,
        ["entity_id", "made", "due", "met", "missed", "pending", "unverifiable", "reliability"],
        "Claims scorecard",
        "No claims yet; run `analyzer claims extract` after scoring.",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(claims_app, name="claims")
