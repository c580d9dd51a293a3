"""`analyzer label export|import|agreement`: the researchers' labelling loop."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table

label_app = typer.Typer(
    help="Choose sentences to label, import the labels, and measure agreement between annotators.",
    no_args_is_help=True,
)


class Strategy(str, enum.Enum):
    uncertain = "uncertain"
    disagreement = "disagreement"
    random = "random"


class Measure(str, enum.Enum):
    margin = "margin"
    entropy = "entropy"


@label_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write the sentences into.")],
    db: DbOption = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="Only sentences of this entity's documents.")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="How many sentences to export.")] = 50,
    strategy: Annotated[
        Strategy,
        typer.Option(
            "--strategy",
            help="uncertain: where the model is least sure; disagreement: where model "
            "versions disagree most; random: a seeded sample.",
        ),
    ] = Strategy.uncertain,
    measure: Annotated[
        Measure,
        typer.Option(
            "--measure", help="Uncertainty: margin (1 - |2p - 1|) or entropy, mean over labels."
        ),
    ] = Measure.margin,
    model_version: Annotated[
        list[str] | None,
        typer.Option(
            "--model-version",
            help="Scores of this version (repeat for disagreement; default: the "
            "latest, or every version for disagreement).",
            show_default=False,
        ),
    ] = None,
    max_share: Annotated[
        float,
        typer.Option(
            "--max-share",
            min=0.01,
            max=1.0,
            help="Most of the export one source or entity may supply.",
        ),
    ] = 0.25,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random strategy.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Write the sentences most worth labelling, with their document context, for annotators to fill in.

    Each line has id, text, context_before/after, the model's scores and hype/growth/evidence set to
    null: fill them with 0 or 1 (or leave one null), add your name as annotator, then run
    `analyzer label import`. Near-duplicates are removed and already labelled sentences left out.
    """
    from analyzer.training.labelling import export_for_labelling

    with open_store(db) as store:
        summary = export_for_labelling(
            store,
            out,
            n=n,
            strategy=strategy.value,
            measure=measure.value,
            model_versions=model_version,
            entity=entity,
            seed=seed,
            max_share=max_share,
        )
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"Wrote {summary['sentences']} sentences ({summary['strategy']}"
        + (f", {summary['measure']}" if summary["strategy"] == "uncertain" else "")
        + f", {summary['sources']} sources, model version {', '.join(summary['model_versions'])}) to {out}."
    )
    if summary["sentences"] < n:
        typer.echo(f"Only {summary['sentences']} unlabelled scored sentences matched.", err=True)


@label_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL labels (an exported file, filled in).")],
    db: DbOption = None,
    annotator: Annotated[
        str | None, typer.Option("--annotator", help="Annotator of lines that do not name one.")
    ] = None,
    guideline: Annotated[
        str | None,
        typer.Option(
            "--guideline-version",
            help="Guideline version of lines that do not name one "
            "(default: the hash of the current GUIDELINES.md).",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit with status 1 when any line was rejected (the rest are stored)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Store human labels. Bad lines are rejected one by one with the reason; the rest are kept.

    Re-importing a file changes nothing; a changed label replaces the annotator's earlier one.
    """
    from analyzer.errors import InputError
    from analyzer.training.labelling import import_labels

    with open_store(db) as store:
        report = import_labels(store, file, annotator=annotator, guideline=guideline)
    if as_json:
        print_json(report.to_dict())
    else:
        for line, reason in report.rejected:
            typer.echo(f"{file}:{line}: rejected: {reason}", err=True)
        typer.echo(
            f"Imported {report.stored} of {report.lines} labels from {file}: {report.inserted} new, "
            f"{report.updated} changed, {report.unchanged} unchanged, {len(report.rejected)} rejected."
        )
    if strict and report.rejected:
        raise InputError(
            f"{len(report.rejected)} line(s) rejected (--strict); the other labels were stored"
        )


@label_app.command("agreement")
def agreement(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Cohen's kappa per label for every pair of annotators who labelled the same sentences."""
    import pandas as pd

    from analyzer.analysis.agreement import agreement_table

    with open_store(db) as store:
        labels = pd.DataFrame(store.labels())
        counts = store.label_counts()
    table = agreement_table(labels) if not labels.empty else pd.DataFrame()
    records = (
        []
        if table.empty
        else [
            {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
            for row in table.to_dict("records")
        ]
    )
    if as_json:
        print_json({"annotators": counts, "agreement": records})
        return
    typer.echo(
        "Labels per annotator: "
        + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
    )
    if not records:
        typer.echo("No two annotators labelled the same sentence yet.")
        return
    for row in records:
        row["agreement"] = f"{row['agreement']:.2f}"
        row["kappa"] = "n/a" if row["kappa"] is None else f"{row['kappa']:.2f}"
    print_table(
        records,
        ["annotator_a", "annotator_b", "label", "sentences", "agreement", "kappa"],
        title="Agreement (Cohen's kappa)",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
