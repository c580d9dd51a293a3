"""`analyzer fundamentals import|fetch|list`: measurable numbers to compare narratives with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table

fundamentals_app = typer.Typer(
    help="Import, fetch and list fundamentals (revenue, capex, TVL, fees, prices, macro series).",
    no_args_is_help=True,
)


@fundamentals_app.command("import")
def import_csv(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with columns entity,metric,date,value[,unit,source,filed_at]."),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a CSV file; good rows are kept, bad rows are reported with their line numbers."""
    from analyzer import pipeline

    with open_store(db) as store:
        result = pipeline.import_fundamentals_csv(store, file)
    if as_json:
        print_json(
            {
                "file": str(file),
                "rows_imported": len(result.rows),
                "errors": [{"line": e.line, "message": e.message} for e in result.errors],
            }
        )
    else:
        typer.echo(f"Imported {len(result.rows)} row(s) from {file}.")
        for error in result.errors:
            typer.secho(f"  skipped {error}", err=True, fg=typer.colors.YELLOW)
    if result.errors and not result.rows:
        raise typer.Exit(1)


@fundamentals_app.command("fetch")
def fetch(
    source: Annotated[str, typer.Argument(help="sec | defillama | coingecko | fred | eia")],
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Entity ids from entities.yaml, or identifiers at the source (CIK, slug, coin id,"
            " FRED series, EIA spec such as retail-sales:VA:COM). Default: every entity with an identifier for the source."
        ),
    ] = None,
    db: DbOption = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Cache root; responses go to <dir>/<source>/ (default data/cache)."
        ),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ignore cached responses and fetch again.")
    ] = False,
    user_agent: Annotated[
        str | None,
        typer.Option(
            "--user-agent", help="SEC: 'Name email@example.com' (or $ANALYZER_SEC_USER_AGENT)."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="CoinGecko demo or pro key (or $ANALYZER_COINGECKO_API_KEY); EIA key (or $ANALYZER_EIA_API_KEY).",
        ),
    ] = None,
    pro: Annotated[
        bool, typer.Option("--pro", help="CoinGecko: the key is a pro key (pro API host).")
    ] = False,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Use another API host (a mirror).")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request.")] = 30.0,
    days: Annotated[
        str, typer.Option("--days", help="CoinGecko: days of history, or 'max'.")
    ] = "365",
    entity: Annotated[
        str | None,
        typer.Option("--entity", help="Store the rows under this entity id (FRED default: macro)."),
    ] = None,
    no_fees: Annotated[
        bool, typer.Option("--no-fees", help="DefiLlama: TVL only, skip fees and revenue.")
    ] = False,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Allow a --base-url on loopback or a private network."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch fundamentals from a public source into the database (cached, rate limited)."""
    from analyzer import pipeline
    from analyzer.fundamentals import FetchOptions

    options = FetchOptions(
        cache_dir=cache_dir,
        refresh=refresh,
        user_agent=user_agent,
        api_key=api_key,
        pro=pro,
        base_url=base_url,
        timeout=timeout,
        days=days,
        entity=entity,
        fees=not no_fees,
        allow_private=allow_private,
    )
    with open_store(db) as store:
        report = pipeline.fetch_fundamentals(store, source, ids or [], options)
    if as_json:
        print_json(report.as_dict())
    else:
        print_table(
            [
                {
                    "entity": t["entity_id"],
                    "identifier": t["identifier"],
                    "rows": t["rows"],
                    "status": "ok" if t["error"] is None else "failed",
                }
                for t in report.targets
            ],
            ["entity", "identifier", "rows", "status"],
            title=f"{report.source}: {report.rows_written} row(s) stored"
            f" ({report.requests} request(s), {report.cache_hits} from cache)",
        )
        for note in report.notes:
            typer.echo(f"  note: {note}")
        for error in report.errors:
            typer.secho(f"  error: {error}", err=True, fg=typer.colors.RED)
    if report.errors:
        raise typer.Exit(1)


@fundamentals_app.command("list")
def list_fundamentals(
    db: DbOption = None,
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity id.")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Only this metric.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Point in time: only values filed on or before this date."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Show at most this many rows (0: all).")
    ] = 200,
    as_json: JsonOption = False,
) -> None:
    """List stored fundamentals, optionally as they were known on a date."""
    from analyzer.errors import InputError
    from analyzer.fundamentals.values import normalise_date

    if as_of is not None:
        try:
            as_of = normalise_date(as_of)
        except ValueError as exc:
            raise InputError(f"--as-of: {exc}") from None
    with open_store(db, readonly=True) as store:
        rows = store.fundamentals(entity, metric, as_of=as_of)
    shown = rows if limit <= 0 else rows[-limit:]
    if as_json:
        print_json(shown)
        return
    if not rows:
        typer.echo("No fundamentals match; import a CSV or run `analyzer fundamentals fetch`.")
        return
    title = f"Fundamentals ({len(rows)} row(s)" + (
        f", showing the last {len(shown)}" if len(shown) < len(rows) else ""
    )
    title += f", as of {as_of})" if as_of else ")"
    print_table(
        shown, ["entity_id", "metric", "date", "value", "unit", "source", "filed_at"], title=title
    )


def register(app: typer.Typer) -> None:
    app.add_typer(fundamentals_app, name="fundamentals")
