"""`analyzer score`: score stored documents, a file of records, or one text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="Model directory (default: $ANALYZER_MODEL, else models/hype-default).",
        show_default=False,
    ),
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Sentences per model batch.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def score(
        db: DbOption = None,
        input_arg: Annotated[
            str | None,
            typer.Option(
                "--input",
                help="JSONL, CSV or Parquet records with 'id' and 'text' (streamed). "
                "With --engine ray also a folder or URL.",
                show_default=False,
            ),
        ] = None,
        output_arg: Annotated[
            str | None,
            typer.Option(
                "--output",
                help="Output file; format from its extension (.jsonl, .csv, .parquet). "
                "With --engine ray a folder (or URL) for Parquet files.",
                show_default=False,
            ),
        ] = None,
        sentences_file: Annotated[
            Path | None,
            typer.Option("--sentences", help="Also write one row per sentence to this file."),
        ] = None,
        text: Annotated[
            str | None, typer.Option("--text", help="Score this text and print the result.")
        ] = None,
        model: ModelOption = None,
        device: DeviceOption = "auto",
        batch_size: BatchOption = 64,
        id_field: Annotated[
            str, typer.Option("--id-field", help="Name of the id field or column.")
        ] = "id",
        text_field: Annotated[
            str, typer.Option("--text-field", help="Name of the text field or column.")
        ] = "text",
        max_sentences: Annotated[
            int,
            typer.Option(
                "--max-sentences",
                min=1,
                help="Sentences scored per document at most (the rest are counted).",
            ),
        ] = 2000,
        strict: Annotated[
            bool,
            typer.Option("--strict", help="Exit with status 1 if any input record had a problem."),
        ] = False,
        backend: Annotated[
            str,
            typer.Option(
                "--backend",
                help="Inference backend: auto, torch, onnx or onnx-int8 (auto: the "
                "fastest accurate one for the device).",
            ),
        ] = "auto",
        resume: Annotated[
            bool,
            typer.Option(
                "--resume/--no-resume",
                help="Continue an interrupted --input run from its checkpoint.",
            ),
        ] = True,
        checkpoint_every: Annotated[
            int,
            typer.Option(
                "--checkpoint-every", min=1, help="Records between checkpoints of an --input run."
            ),
        ] = 2048,
        engine: Annotated[
            str,
            typer.Option(
                "--engine", help="local, or ray (Ray Data over a local instance or a cluster)."
            ),
        ] = "local",
        ray_address: Annotated[
            str | None,
            typer.Option(
                "--ray-address",
                help="Ray cluster: 'auto' or ray://HOST:10001 (default: a local instance).",
                show_default=False,
            ),
        ] = None,
        actors: Annotated[
            int | None,
            typer.Option(
                "--actors",
                min=1,
                help="Ray engine: scoring actors (default: from the cluster).",
                show_default=False,
            ),
        ] = None,
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

        An --input run keeps a checkpoint in OUTPUT.partial/ and the output appears only when
        complete: after an interruption (Ctrl-C, kill) the same command resumes without scoring
        finished records again. Identical sentences are scored once per run.

        With --engine ray: score JSONL or Parquet (files, folders, or URLs) with Ray Data and
        write Parquet files into the --output folder; see the README, "Distributed scoring with Ray".
        """
        from rich.console import Console

        from analyzer.errors import InputError
        from analyzer.scoring.scorer import HypeScorer

        console = Console(stderr=True)
        if engine not in ("local", "ray"):
            raise InputError(f"unknown engine {engine!r}; use local or ray")
        if engine == "ray":
            if input_arg is None or output_arg is None:
                raise InputError("--engine ray needs --input and --output")
            _score_ray(
                input_arg,
                output_arg,
                model,
                backend,
                ray_address,
                id_field,
                text_field,
                max_sentences,
                actors,
                as_json,
            )
            return
        input_file = Path(input_arg) if input_arg is not None else None
        output_file = Path(output_arg) if output_arg is not None else None
        _check_local_arguments(input_file, output_file, sentences_file, text)

        scorer = HypeScorer.from_pretrained(model, device=device, batch_size=batch_size)
        scorer.use_backend(backend)

        if text is not None:
            print_json(
                scorer.score_document(text, max_sentences=max_sentences)
                | {"model_version": scorer.model_version}
            )
            return

        if input_file is not None:
            _score_file(
                console,
                scorer,
                input_file,
                output_file,
                sentences_file,
                id_field,
                text_field,
                batch_size,
                max_sentences,
                strict,
                as_json,
                resume=resume,
                checkpoint_every=checkpoint_every,
                db=db,
            )
            return

        _score_db(console, scorer, db, batch_size, max_sentences, as_json)


def _check_local_arguments(
    input_file: Path | None, output_file: Path | None, sentences_file: Path | None, text: str | None
) -> None:
    """Refuse options that only go together given apart, and --text with --input."""
    from analyzer.errors import InputError

    if (input_file is None) != (output_file is None):
        raise InputError("--input and --output go together")
    if sentences_file is not None and input_file is None:
        raise InputError("--sentences needs --input and --output")
    if text is not None and input_file is not None:
        raise InputError("use either --text or --input, not both")


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
        TextColumn(description),
        BarColumn(),
        amount,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
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
    *,
    resume: bool = True,
    checkpoint_every: int = 2048,
    db: Path | None = None,
) -> None:
    from contextlib import ExitStack

    from analyzer.scoring.cache import LayeredCache, MemorySentenceCache

    with ExitStack() as stack:
        cache = None
        if db is not None:
            # Sentences the database already scored with this model version are reused, read-only.
            store = stack.enter_context(open_store(db, readonly=True))
            cache = LayeredCache(MemorySentenceCache(), store.sentence_cache(scorer.model_version))
        _score_file_with_cache(
            console,
            scorer,
            input_file,
            output_file,
            sentences_file,
            id_field,
            text_field,
            batch_size,
            max_sentences,
            strict,
            as_json,
            resume,
            checkpoint_every,
            cache,
        )


def _score_file_with_cache(
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
    resume: bool,
    checkpoint_every: int,
    cache: Any,
) -> None:
    from analyzer.scoring.files import detect_format, score_file_resumable

    bytes_mode = detect_format(input_file) != "parquet"
    with _progress_bar(console, "Scoring", bytes_mode=bytes_mode) as bar:
        task = bar.add_task("score", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        def warn(message: str) -> None:
            bar.console.print(f"[yellow]Warning:[/yellow] {message}", markup=True, highlight=False)

        def note(message: str) -> None:
            bar.console.print(message, markup=False, highlight=False)

        try:
            summary = score_file_resumable(
                scorer,
                input_file,
                output_file,
                sentences_path=sentences_file,
                id_field=id_field,
                text_field=text_field,
                max_sentences=max_sentences,
                resume=resume,
                checkpoint_records=checkpoint_every,
                progress=progress,
                on_problem=warn,
                on_resume=note,
                cache=cache,
            )
        except KeyboardInterrupt:
            note("Stopped; run the same command again to resume where this run left off.")
            raise
    result = {
        "output": str(output_file),
        "model_version": scorer.model_version,
        **summary.as_dict(),
    }
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
            typer.echo(
                f"{summary.problem_count} record(s) had problems (see warnings above).", err=True
            )
    if strict and summary.problems:
        from analyzer.errors import InputError

        raise InputError(
            f"{summary.problem_count} input record(s) had problems (--strict); the other rows were written"
        )


def _score_db(
    console: Any, scorer: Any, db: Path | None, batch_size: int, max_sentences: int, as_json: bool
) -> None:
    from analyzer.pipeline import score_store
    from analyzer.storage import StorageError, resolve_db_path

    path = resolve_db_path(db)
    if not path.exists():
        raise StorageError(f"database {path} does not exist; run `analyzer ingest` first")
    with open_store(path) as store, _progress_bar(console, "Scoring documents") as bar:
        task = bar.add_task("score", total=None)
        stats = score_store(
            store,
            scorer,
            batch_size=batch_size,
            max_sentences=max_sentences,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        print_json(stats)
        return
    typer.echo(
        f"Scored {stats['documents']} documents ({stats['unscored']} unscored, {stats['sentences']} sentences, "
        f"{stats['cached_sentences']} from cache) with {stats['model_id']} {stats['model_version']} "
        f"in {stats['seconds']:.1f} s."
    )


def _score_ray(
    input_path: str,
    output_dir: str,
    model: Path | None,
    backend: str,
    address: str | None,
    id_field: str,
    text_field: str,
    max_sentences: int,
    actors: int | None,
    as_json: bool,
) -> None:
    from analyzer.scoring.distributed import score_with_ray

    result = score_with_ray(
        input_path,
        output_dir,
        model=model,
        backend=backend,
        address=address,
        id_field=id_field,
        text_field=text_field,
        max_sentences=max_sentences,
        actors=actors,
    )
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"Scored {result['rows']} records into {output_dir} with Ray ({result['actors']} actor(s), backend "
        f"{result['backend']}) using model {result['model_id']} {result['model_version']} in {result['seconds']:.1f} s."
    )
