"""`analyzer compare` (what a new model version changes) and `analyzer models` (what is installed)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table


class Frequency(str, enum.Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _print_comparison(result: Any, top: int) -> None:
    typer.echo(f"Version {result.b} against {result.a} (threshold {result.threshold:g}).")
    for note in result.notes:
        typer.echo(f"Note: {note}", err=True)
    print_table(
        [{**r, "flip_rate": _fmt(r["flip_rate"])} for r in result.flip_summary.to_dict("records")],
        ["label", "compared", "positive_a", "positive_b", "turned_on", "turned_off", "flip_rate"],
        title="Label flips",
    )
    if not result.flips.empty:
        rows = [
            {
                **r,
                "score_a": _fmt(r["score_a"], 2),
                "score_b": _fmt(r["score_b"], 2),
                "text": (r.get("text") or "")[:90],
            }
            for r in result.flips.head(top).to_dict("records")
        ]
        print_table(
            rows,
            ["document_id", "sentence_index", "label", "change", "score_a", "score_b", "text"],
            title=f"Largest flips (first {len(rows)} of {len(result.flips)})",
        )
    typer.echo(
        f"Documents: {len(result.documents)} compared, rank correlation {_fmt(result.document_rank_correlation)}, "
        f"top-20 overlap {_fmt(result.document_top_overlap, 2)}."
    )
    if not result.documents.empty:
        rows = [
            {
                **r,
                "title": str(r.get("title") or "")[:60],
                "value_a": _fmt(r["value_a"], 2),
                "value_b": _fmt(r["value_b"], 2),
            }
            for r in result.documents.head(top).to_dict("records")
        ]
        print_table(
            rows,
            ["key", "title", "value_a", "value_b", "rank_a", "rank_b", "rank_change"],
            title="Largest moves in the document ranking",
        )
    if result.heat_period is not None:
        typer.echo(
            f"Heat ranking in {result.heat_period}: rank correlation {_fmt(result.heat_rank_correlation)}."
        )
        print_table(
            [
                {**r, "value_a": _fmt(r["value_a"], 2), "value_b": _fmt(r["value_b"], 2)}
                for r in result.heat.head(top).to_dict("records")
            ],
            ["key", "value_a", "value_b", "rank_a", "rank_b", "rank_change"],
            title="Entity heat ranking",
        )
    flags = (
        result.flags[result.flags["change"] != "kept"] if not result.flags.empty else result.flags
    )
    typer.echo(
        f"Flags: {len(result.flags_appeared)} appeared, {len(result.flags_disappeared)} disappeared."
    )
    if not flags.empty:
        print_table(
            flags.astype(object).where(flags.notna(), None).to_dict("records"),
            ["change", "entity_id", "metric", "start_period", "end_a", "end_b"],
            title="Flags",
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def compare(
        a: Annotated[
            str,
            typer.Option("--a", help="The reference model version (a unique prefix is enough)."),
        ],
        b: Annotated[str, typer.Option("--b", help="The model version to compare with it.")],
        db: DbOption = None,
        freq: Annotated[
            Frequency, typer.Option("--freq", help="Periods of the heat and flags compared.")
        ] = Frequency.quarter,
        threshold: Annotated[
            float,
            typer.Option(
                "--threshold", min=0.0, max=1.0, help="Probability that makes a label positive."
            ),
        ] = 0.5,
        rank_by: Annotated[
            str,
            typer.Option(
                "--rank-by", help="Document score to rank by: hype, hype_top, growth, ..."
            ),
        ] = "hype",
        compute: Annotated[
            bool,
            typer.Option(
                "--compute",
                help="First compute heat and flags for any of the two versions that has none stored.",
            ),
        ] = False,
        top: Annotated[
            int, typer.Option("--top", min=1, help="Rows shown per table (JSON: per list).")
        ] = 10,
        output: Annotated[
            OutputFormat, typer.Option("--format", help="table or json.")
        ] = OutputFormat.table,
    ) -> None:
        """What version B changes against version A: label flips, document and heat rankings, flags."""
        from analyzer.storage import StorageError, resolve_db_path
        from analyzer.views.versions import compare as compare_versions
        from analyzer.views.versions import resolve_versions

        path = resolve_db_path(db)
        if not path.exists():
            raise StorageError(f"database {path} does not exist")
        if compute:
            from analyzer.pipeline import compute_divergence

            with open_store(path) as store:
                for version in resolve_versions(store, a, b):
                    if not store.is_analysed(version, freq.value):
                        typer.echo(f"Computing heat and flags for {version}...", err=True)
                        compute_divergence(store, freq=freq.value, model_version=version)
        else:
            with open_store(path):
                pass  # bring an older database's schema up to date before reading it read-only
        result = compare_versions(path, a, b, freq=freq.value, threshold=threshold, rank_by=rank_by)
        if output is OutputFormat.json:
            print_json(result.to_dict(max_rows=top))
        else:
            _print_comparison(result, top)

    @app.command()
    def models(
        model_dir: Annotated[
            list[Path] | None,
            typer.Option(
                "--dir",
                help="Also look here (a model directory or a folder of them); repeatable.",
                show_default=False,
            ),
        ] = None,
        databases: Annotated[
            list[Path] | None,
            typer.Option(
                "--db",
                help="Databases to look for scores in (default: $ANALYZER_DB and data/*.db); "
                "repeatable.",
                show_default=False,
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """List installed models with their versions, test metrics and the databases holding their scores.

        Model directories are found in models/ (here and beside the package), $ANALYZER_MODEL and
        --dir; databases are the --db ones, else $ANALYZER_DB and data/*.db.
        """
        from analyzer.scoring.registry import model_registry

        registry = model_registry(model_dir or (), databases)
        if as_json:
            print_json(registry)
            return
        rows = []
        for model in registry["models"]:
            metrics = model["metrics"] or {}
            rows.append(
                {
                    "model": model["model_id"],
                    "version": model["model_version"],
                    "method": model["method"],
                    "macro_f1": _fmt(metrics.get("macro_f1")),
                    "auroc": _fmt(metrics.get("auroc")),
                    "ece": _fmt(metrics.get("ece")),
                    "path": model["path"],
                    "scores in": "; ".join(
                        f"{Path(d['path']).name} ({d['documents']} docs)"
                        for d in model["databases"]
                    )
                    or "-",
                }
            )
        print_table(
            rows,
            ["model", "version", "method", "macro_f1", "auroc", "ece", "path", "scores in"],
            title="Installed models",
        )
        for unknown in registry["unknown_versions"]:
            typer.echo(
                f"{Path(unknown['path']).name} holds scores of {unknown['model_id']} {unknown['model_version']} "
                f"({unknown['documents']} docs), which no installed directory has."
            )
        for database in registry["databases"]:
            if database["error"]:
                typer.echo(f"Could not read {database['path']}: {database['error']}", err=True)
        if not registry["databases"]:
            typer.echo("No database given or found (pass --db, or set ANALYZER_DB).", err=True)
