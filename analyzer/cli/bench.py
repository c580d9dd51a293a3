"""`analyzer bench`: how fast each inference path scores the same sentences, and how closely it agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import JsonOption, print_json

DEFAULT_SENTENCES = (
    Path(__file__).resolve().parent.parent.parent / "corpora" / "hype" / "test.jsonl"
)


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        model: Annotated[
            Path | None,
            typer.Option(
                "--model",
                help="Model directory (default: $ANALYZER_MODEL, else models/hype-default).",
                show_default=False,
            ),
        ] = None,
        sentences: Annotated[
            Path | None,
            typer.Option(
                "--sentences",
                help="JSONL with a 'text' field, or a text file with one sentence per line "
                "(default: the bundled corpus test split).",
                show_default=False,
            ),
        ] = None,
        n: Annotated[
            int, typer.Option("--n", min=1, help="Use at most this many sentences.")
        ] = 1000,
        repeats: Annotated[
            int, typer.Option("--repeats", min=1, help="Alternated timing rounds per path.")
        ] = 3,
        paths: Annotated[
            str | None,
            typer.Option(
                "--paths",
                help="Comma-separated subset of: naive, sentence-transformers, default, torch, "
                "onnx, onnx-int8 (default: all).",
                show_default=False,
            ),
        ] = None,
        device: Annotated[
            str, typer.Option("--device", help="cpu or cuda (auto picks cuda when present).")
        ] = "cpu",
        in_process: Annotated[
            bool,
            typer.Option(
                "--in-process",
                help="Run every path in this process (quicker start; RSS only as growth).",
            ),
        ] = False,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the results as JSON here.")
        ] = None,
        markdown: Annotated[
            Path | None, typer.Option("--markdown", help="Write the summary table here.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Benchmark the scoring paths: sentences/s and tokens/s (net of start-up), peak RSS, agreement.

        Paths: the naive transformers pipeline (one text per call), SentenceTransformer.encode,
        the default path (backend auto), and the torch, ONNX fp32 and ONNX int8 backends, each
        compared with plain fp32 torch (HypeScorer.probabilities). Every path runs in its own
        process; rounds alternate between paths so that they share the machine's conditions.
        """
        from rich.console import Console

        from analyzer.scoring.benchmark import (
            PATHS,
            markdown_table,
            read_sentences,
            run_benchmark,
            write_results,
        )
        from analyzer.scoring.encoder import resolve_device

        console = Console(stderr=True)
        source = sentences or DEFAULT_SENTENCES
        texts = read_sentences(source, n)
        chosen = [p.strip() for p in paths.split(",") if p.strip()] if paths else list(PATHS)
        with console.status("Benchmarking...") as status:
            results = run_benchmark(
                texts,
                model=model,
                paths=chosen,
                repeats=repeats,
                device=resolve_device(device),
                source=source.name,
                isolate=not in_process,
                progress=lambda message: status.update(f"Benchmarking: {message}"),
            )
        write_results(results, out, markdown)
        if as_json:
            print_json(results)
            return
        typer.echo(markdown_table(results))
        if out is not None:
            typer.echo(f"Results written to {out}.")
