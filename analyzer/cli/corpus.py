"""`analyzer corpus`: the real-text labelled set (materialise it, import labelling passes,
measure agreement, list disagreements, build the final annotations)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import JsonOption, print_json

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "hype-real"

CorpusOption = Annotated[
    Path,
    typer.Option(
        "--corpus",
        help="The annotation corpus folder (pool.jsonl, annotations.jsonl, passes/).",
        show_default="corpora/hype-real",
    ),
]


def register(app: typer.Typer) -> None:
    corpus_app = typer.Typer(
        help="The real-text labelled set: annotations over others' text, never the text.",
        no_args_is_help=True,
    )
    app.add_typer(corpus_app, name="corpus")

    @corpus_app.command("materialize")
    def materialize_command(
        sources: Annotated[
            Path,
            typer.Option(
                "--sources", help="Folder of the unmodified originals the annotations point into."
            ),
        ],
        out: Annotated[
            Path,
            typer.Option(
                "--out",
                help="Folder for train/validation/test JSONL with text (keep it git-ignored, e.g. data/corpora/hype-real).",
            ),
        ],
        corpus: CorpusOption = DEFAULT_CORPUS,
        annotations: Annotated[
            Path | None,
            typer.Option(
                "--annotations",
                help="Annotation file to materialise (default: CORPUS/annotations.jsonl; CORPUS/pool.jsonl for the unlabelled pool).",
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Rebuild the labelled sentences from the originals; refuse, with the reason, any span whose file is missing or changed."""
        from analyzer.errors import InputError
        from analyzer.training.annotations import (
            iter_problem_lines,
            materialize,
            read_annotations,
            write_materialized,
        )

        source_file = annotations or corpus / "annotations.jsonl"
        if not source_file.is_file():
            raise InputError(
                f"{source_file} does not exist"
                + (
                    "; the labels are not built yet (analyzer corpus build), or pass --annotations CORPUS/pool.jsonl"
                    if annotations is None
                    else ""
                )
            )
        records = read_annotations(source_file)
        rows, problems = materialize(records, sources)
        counts = write_materialized(rows, out) if rows else {}
        if as_json:
            print_json(
                {
                    "annotations": len(records),
                    "materialized": len(rows),
                    "splits": counts,
                    "refused": [p.as_dict() for p in problems],
                }
            )
        else:
            splits = ", ".join(f"{k} {v}" for k, v in counts.items())
            typer.echo(
                f"materialized {len(rows)} of {len(records)} annotations into {out} ({splits or 'nothing written'}); refused {len(problems)}"
            )
            for line in iter_problem_lines(problems):
                typer.echo(line)
        if records and not rows:
            raise typer.Exit(1)

    @corpus_app.command("import-pass")
    def import_pass_command(
        name: Annotated[
            str, typer.Argument(help="Pass name, e.g. a or b (stored as CORPUS/passes/NAME.jsonl).")
        ],
        files: Annotated[
            list[Path],
            typer.Argument(
                help='Labellers\' JSONL files: lines {"id", "hype", "growth", "evidence"}.'
            ),
        ],
        corpus: CorpusOption = DEFAULT_CORPUS,
        partial: Annotated[
            bool,
            typer.Option("--partial", help="Allow missing or null labels (an adjudication pass)."),
        ] = False,
    ) -> None:
        """Import a labelling pass (ids and labels only; text and other keys are dropped)."""
        from analyzer.training.passes import import_pass

        report = import_pass(corpus, name, files, partial=partial)
        typer.echo(report.summary())

    @corpus_app.command("kappa")
    def kappa_command(
        pass_a: Annotated[str, typer.Argument(help="First pass name.")],
        pass_b: Annotated[str, typer.Argument(help="Second pass name.")],
        corpus: CorpusOption = DEFAULT_CORPUS,
        as_json: JsonOption = False,
    ) -> None:
        """Cohen's kappa per label between two passes, on the sentences both labelled."""
        from analyzer.training.passes import agreement, read_pass

        result = agreement(read_pass(corpus, pass_a), read_pass(corpus, pass_b))
        if as_json:
            print_json(result)
            return
        typer.echo(f"{result['items']} sentences labelled in both passes")
        for label, info in result["labels"].items():
            kappa = "undefined" if info["kappa"] is None else f"{info['kappa']:.3f}"
            agreed = "-" if info["agreement"] is None else f"{info['agreement']:.1%}"
            typer.echo(
                f"  {label:<9} kappa {kappa}  agreement {agreed}  positives {info['positives_a']} / {info['positives_b']}"
            )

    @corpus_app.command("disagreements")
    def disagreements_command(
        pass_a: Annotated[str, typer.Argument(help="First pass name.")],
        pass_b: Annotated[str, typer.Argument(help="Second pass name.")],
        batches: Annotated[
            Path,
            typer.Option(
                "--batches", help="Folder of the labelling batches (batch-NN.jsonl, for the text)."
            ),
        ],
        out: Annotated[
            Path,
            typer.Option(
                "--out",
                help="Folder for adjudicate-NN.jsonl (outside the repository: it holds text).",
            ),
        ],
        corpus: CorpusOption = DEFAULT_CORPUS,
    ) -> None:
        """Write the sentences two passes disagree on, per batch, for adjudication."""
        from analyzer.training.passes import read_pass, write_disagreements

        written = write_disagreements(
            read_pass(corpus, pass_a),
            read_pass(corpus, pass_b),
            batches,
            out,
            names=(pass_a, pass_b),
        )
        total = sum(written.values())
        typer.echo(f"{total} disagreement(s) in {len(written)} file(s) under {out}")
        for name, count in written.items():
            typer.echo(f"  {name}: {count}")

    @corpus_app.command("build")
    def build_command(
        pass_a: Annotated[str, typer.Argument(help="First pass name.")],
        pass_b: Annotated[str, typer.Argument(help="Second pass name.")],
        adjudication: Annotated[
            str | None,
            typer.Option("--adjudication", help="Name of the imported adjudication pass."),
        ] = None,
        corpus: CorpusOption = DEFAULT_CORPUS,
        as_json: JsonOption = False,
    ) -> None:
        """Build CORPUS/annotations.jsonl and stats.json from the pool, two passes and the adjudication."""
        from analyzer.training.passes import build_annotations

        stats = build_annotations(corpus, pass_a, pass_b, adjudication=adjudication)
        if as_json:
            print_json(stats)
            return
        labels = ", ".join(
            f"{k} {v['rate']:.1%}"
            for k, v in stats["labels"].items()
            if isinstance(v, dict) and v.get("rate") is not None
        )
        left = ", ".join(f"{v} {k}" for k, v in stats["left_out"].items()) or "none"
        typer.echo(
            f"annotations: {stats['sentences']} of {stats['pool']} pool sentences ({labels}); left out: {left}"
        )
        if stats["below_15_percent"]:
            typer.echo(f"warning: below 15% positives: {', '.join(stats['below_15_percent'])}")
