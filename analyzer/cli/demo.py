"""`analyzer demo`: build the demo database from the bundled corpus and serve the app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        db: DbOption = None,
        corpus: Annotated[
            Path | None,
            typer.Option("--corpus", help="Demo corpus folder (default: corpora/demo)."),
        ] = None,
        model: Annotated[
            str | None,
            typer.Option("--model", help="Model directory (default: the shipped model)."),
        ] = None,
        serve: Annotated[
            bool, typer.Option("--serve/--no-serve", help="Serve the app afterwards.")
        ] = True,
        port: Annotated[int, typer.Option("--port", help="Port for the app.")] = 8501,
        as_json: JsonOption = False,
    ) -> None:
        """Build (or refresh) the demo database: ingest, score, tag, fundamentals, divergence."""
        from analyzer.pipeline import build_demo

        def say(message: str) -> None:
            if not as_json:
                typer.echo(message)

        with open_store(db) as store:
            summary = build_demo(store, corpus=corpus, model=model, say=say)
            path = store.path
        if as_json:
            print_json(summary)
        if serve:
            from analyzer.cli.serve import serve_app

            typer.echo(f"Serving the demo at http://localhost:{port} (Ctrl-C to stop)")
            raise typer.Exit(serve_app(path, port))
