"""`analyzer update`: the whole pipeline and the alerts, as one command for a schedule."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json


class Frequency(str, enum.Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"


def register(app: typer.Typer) -> None:
    @app.command()
    def update(
        inputs: Annotated[
            list[str] | None,
            typer.Argument(
                help="Sources files, feed URLs, folders (default: $ANALYZER_SOURCES, else sources.yaml).",
                show_default=False,
            ),
        ] = None,
        db: DbOption = None,
        model: Annotated[
            str | None,
            typer.Option(
                "--model",
                help="Model directory (default: $ANALYZER_MODEL, else the shipped one).",
                show_default=False,
            ),
        ] = None,
        freq: Annotated[
            list[Frequency] | None,
            typer.Option(
                "--freq",
                help="Frequencies to analyse (default: quarter and month).",
                show_default=False,
            ),
        ] = None,
        allow_private: Annotated[
            bool,
            typer.Option(
                "--allow-private", help="Allow fetching sources from private network addresses."
            ),
        ] = False,
        watch: Annotated[
            bool, typer.Option("--watch/--no-watch", help="Send alerts for new flags at the end.")
        ] = True,
        base_url: Annotated[
            str | None,
            typer.Option(
                "--base-url",
                help="App address for links in alerts (default: $ANALYZER_APP_URL).",
                show_default=False,
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Ingest the sources, tag, score, compute heat and divergence, extract claims, then send alerts.

        Each stage is stored as it finishes. Failed alert deliveries are recorded and retried on
        the next run; they do not change the exit status. See the README, "Scheduled updates".
        """
        from analyzer.update import run_update

        freqs = [f.value for f in freq] if freq else ["quarter", "month"]
        say = (lambda message: typer.echo(message, err=True)) if as_json else typer.echo
        with open_store(db) as store:
            summary = run_update(
                store,
                inputs,
                model=model,
                freqs=freqs,
                allow_private=allow_private,
                watch=watch,
                base_url=base_url,
                say=say,
            )
        if as_json:
            print_json(summary)
