"""`analyzer entities`: load entities.yaml into the database, optionally re-tag, and list them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table


def register(app: typer.Typer) -> None:
    @app.command("entities")
    def entities(
        db: DbOption = None,
        file: Annotated[
            Path | None,
            typer.Option(
                "--file", help="Entities YAML file (default: entities.yaml here, when present)."
            ),
        ] = None,
        tag: Annotated[
            bool, typer.Option("--tag", help="Re-tag stored documents after loading.")
        ] = False,
        embeddings: Annotated[
            bool,
            typer.Option(
                "--embeddings", help="With --tag: also tag by similarity to entity descriptions."
            ),
        ] = False,
        threshold: Annotated[
            float | None,
            typer.Option(
                "--threshold", help="With --embeddings: minimum cosine similarity (default 0.4)."
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Load entity definitions (upsert), optionally re-tag documents, and list entities with document counts."""
        from analyzer import pipeline

        source = file or Path(pipeline.DEFAULT_ENTITIES_FILE)
        loaded = None
        tag_report = None
        with open_store(db) as store:
            if file is not None or source.is_file():
                loaded = pipeline.load_entities(store, source)
            elif not as_json:
                typer.secho(f"No {source} here; listing the entities already stored.", err=True)
            if tag:
                tag_report = pipeline.tag_entities(
                    store, embeddings=embeddings, threshold=threshold
                )
            rows = store.entities()
        if as_json:
            print_json(
                {
                    "loaded_from": str(source) if loaded is not None else None,
                    "loaded": len(loaded) if loaded is not None else 0,
                    "tagging": tag_report.__dict__ if tag_report is not None else None,
                    "entities": rows,
                }
            )
            return
        if loaded is not None:
            typer.echo(f"Loaded {len(loaded)} entities from {source}.")
        if tag_report is not None:
            methods = (
                ", ".join(f"{k}: {v}" for k, v in sorted(tag_report.by_method.items())) or "none"
            )
            typer.echo(
                f"Tagged {tag_report.tagged_documents} of {tag_report.documents} documents"
                f" ({tag_report.tags} tags; {methods})."
            )
        table = [
            {
                "id": r["id"],
                "name": r["name"],
                "kind": r["kind"],
                "documents": r["documents"],
                "aliases": ", ".join(r["aliases"][:2]) + (" ..." if len(r["aliases"]) > 2 else ""),
                "tickers": ", ".join(r["tickers"]),
            }
            for r in rows
        ]
        print_table(
            table, ["id", "name", "kind", "documents", "aliases", "tickers"], title="Entities"
        )
