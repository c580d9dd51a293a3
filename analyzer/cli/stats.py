"""`analyzer stats`: what the database holds."""

from __future__ import annotations

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table


def register(app: typer.Typer) -> None:
    @app.command()
    def stats(db: DbOption = None, as_json: JsonOption = False) -> None:
        """Show row counts per table, the model versions that scored documents, and recent runs."""
        with open_store(db) as store:
            result = {
                "database": str(store.path),
                "schema_version": store.schema_version(),
                "counts": store.counts(),
                "model_versions": store.model_versions(),
                "recent_runs": store.recent_runs(5),
            }
        if as_json:
            print_json(result)
            return
        typer.echo(f"Database: {result['database']} (schema {result['schema_version']})")
        print_table([{"table": k, "rows": v} for k, v in result["counts"].items()], title="Rows")
        if result["model_versions"]:
            print_table(result["model_versions"], title="Model versions")
