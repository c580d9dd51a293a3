"""`analyzer score`: score stored documents, a file of records, or one text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .common import DbOption, JsonOption, open_store, print_json

ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="Model directory (default: $ANALYZER_MODEL, else models/hype-default).", show_default=False),
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Sentences per model batch.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def score(
        db: DbOption = None,
        input_file: Annotated[
            Path | None,
            typer.Option("--input", help="JSONL, CSV or Parquet records with 'id' and 'text' (streamed)."),
        ] = None,
        output_file: Annotated[
            Path | None,
            typer.Option("--output", help="Output file; format from its extension (.jsonl, .csv, .parquet)."),
        ] = None,
        sentences_file: Annotated[
            Path | None, typer.Option("--sentences", help="Also write one row per sentence to this file.")
        ] = None,
        text: Annotated[str | None, typer.Option("--text", help="Score this text and print the result.")] = None,
        model: ModelOption = None,
        device: DeviceOption = "auto",
        batch_size: BatchOption = 64,
        id_field: Annotated[str, typer.Option("--id-field", help="Name of the id field or column.")] = "id",
        text_field: Annotated[str, typer.Option("--text-field", help="Name of the text field or column.")] = "text",
        max_sentences: Annotated[
            int, typer.Option("--max-sentences", min=1, help="Sentences scored per document at most (the rest are counted).")
        ] = 2000,
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit with status 1 if any input record had a problem.")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Score hype, growth and evidence.

        With --input/--output: every record of the input file gets one output row (id, hype,
        growth, evidence, language, n_sentences, unscored). Records that cannot be parsed (a
        broken JSONL line) are skipped with a warning naming the line; the rest are scored and a
        summary is printed at the end. The exit status is 0 unless --strict is given.

        With --text: print one text's document and sentence scores.

        Otherwise: score the documents in the database (--db) that the current model version
        has not scored yet; scores from other versions stay.
        """
        from rich.console import Console

        from analyzer.errors import InputError
        from analyzer.model import HypeScorer

        console = Console(stderr=True)
        if (input_file is None) != (output_file is None):
            raise InputError("--input and --output go together")
        if sentences_file is not None and input_file is None:
            raise InputError("--sentences needs --input and --output")
        if text is not None and input_file is not None:
            raise InputError("use either --text or --input, not both")

        scorer = HypeScorer.from_pretrained(model, device=device, batch_size=batch_size)

        if text is not None:
            print_json(scorer.score_document(text, max_sentences=max_sentences) | {"model_version": scorer.model_version})
            return

        if input_file is not None:
            _score_file(console, scorer, input_file, output_file, sentences_file, id_field, text_field,
                        batch_size, max_sentences, strict, as_json)
            return

        _score_db(console, scorer, db, batch_size, max_sentences, as_json)


def _progress_bar(console: Any, description: str, *, bytes_mode: bool = False) -> Any:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    amount = DownloadColumn() if bytes_mode else MofNCompleteColumn()
    return Progress(
        TextColumn(description), BarColumn(), amount, TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )


def _score_file(
    console: Any,
    scorer: Any,
    input_file: Path,
    output_file: Path,
    sentences_file: Path | None,
    id_field: str,
    text_field: str,
    batch_size: int,
    max_sentences: int,
    strict: bool,
    as_json: bool,
) -> None:
    from analyzer.batch import detect_format, score_file

    bytes_mode = detect_format(input_file) != "parquet"
    with _progress_bar(console, "Scoring", bytes_mode=bytes_mode) as bar:
        task = bar.add_task("score", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        def warn(message: str) -> None:
            bar.console.print(f"[yellow]Warning:[/yellow] {message}", markup=True, highlight=False)

        summary = score_file(
            scorer, input_file, output_file, sentences_path=sentences_file, id_field=id_field,
            text_field=text_field, chunk_size=batch_size, max_sentences=max_sentences,
            progress=progress, on_problem=warn,
        )
    result = {"output": str(output_file), "model_version": scorer.model_version, **summary.as_dict()}
    if sentences_file is not None:
        result["sentences_output"] = str(sentences_file)
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"Scored {summary.records} records into {output_file} ({summary.unscored} unscored"
            + (f", {summary.sentences} sentence rows in {sentences_file}" if sentences_file else "")
            + f") with model {scorer.model_id} {scorer.model_version}."
        )
        if summary.problems:
            typer.echo(f"{len(summary.problems)} record(s) had problems (see warnings above).", err=True)
    if strict and summary.problems:
        from analyzer.errors import InputError

        raise InputError(f"{len(summary.problems)} input record(s) had problems (--strict); the other rows were written")


def _score_db(console: Any, scorer: Any, db: Path | None, batch_size: int, max_sentences: int, as_json: bool) -> None:
    from analyzer.pipeline import score_store
    from analyzer.storage import StorageError, resolve_db_path

    path = resolve_db_path(db)
    if not path.exists():
        raise StorageError(f"database {path} does not exist; run `analyzer ingest` first")
    with open_store(path) as store:
        run_id = store.start_run("score", {"model": scorer.model_id, "model_version": scorer.model_version})
        try:
            with _progress_bar(console, "Scoring documents") as bar:
                task = bar.add_task("score", total=None)
                stats = score_store(
                    store, scorer, batch_size=batch_size, max_sentences=max_sentences,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except BaseException:
            store.finish_run(run_id, "failed")
            raise
        store.finish_run(run_id, "ok", stats)
    if as_json:
        print_json(stats)
        return
    typer.echo(
        f"Scored {stats['documents']} documents ({stats['unscored']} unscored, {stats['sentences']} sentences, "
        f"{stats['cached_sentences']} from cache) with {stats['model_id']} {stats['model_version']} "
        f"in {stats['seconds']:.1f} s."
    )
