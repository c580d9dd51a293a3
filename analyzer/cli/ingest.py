"""`analyzer ingest`: feeds, pages, PDFs, files, directories, JSONL dumps and sources files."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table


def _print_summary(report: Any) -> None:
    typer.echo(
        f"Ingest run {report.run_id} ({report.status}): {report.inputs} inputs, "
        f"{report.inserted} inserted, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.duplicates} duplicates, {report.not_modified} not modified, "
        f"{report.rejected} rejected, {report.partial} partial feeds"
        + (f", {report.skipped} disabled sources skipped" if report.skipped else "")
        + "."
    )
    if report.reasons:
        examples: dict[str, str] = {}
        for rejection in report.rejections:
            examples.setdefault(rejection.reason, f"{rejection.input}: {rejection.message}"[:160])
        print_table(
            [
                {"reason": reason, "count": count, "example": examples.get(reason, "")}
                for reason, count in report.reasons.most_common()
            ],
            columns=["reason", "count", "example"],
            title="Rejected",
        )
    for problem in report.problems[:10]:
        typer.echo(f"partial: {problem[:200]}")
    if len(report.problems) > 10:
        typer.echo(f"... and {len(report.problems) - 10} more partial feeds")


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        inputs: Annotated[
            list[str],
            typer.Argument(
                help="Sources files (.yaml), feed/page/PDF URLs, local files, directories, JSONL dumps.",
                show_default=False,
            ),
        ],
        db: DbOption = None,
        allow_private: Annotated[
            bool,
            typer.Option(
                "--allow-private",
                help="Allow fetching from loopback and private network addresses.",
            ),
        ] = False,
        strict: Annotated[
            bool,
            typer.Option("--strict", help="Stop with exit status 1 at the first rejected input."),
        ] = False,
        follow_links: Annotated[
            bool,
            typer.Option(
                "--follow-links/--no-follow-links",
                help="Fetch the full article for feed items that carry only a summary.",
            ),
        ] = True,
        user_agent: Annotated[
            str | None, typer.Option("--user-agent", help="User-Agent header for HTTP requests.")
        ] = None,
        timeout: Annotated[
            float, typer.Option("--timeout", min=0.1, help="Connect and read timeout in seconds.")
        ] = 20.0,
        max_mb: Annotated[
            float,
            typer.Option(
                "--max-mb", min=0.01, help="Size cap per HTTP response (also decompressed), MiB."
            ),
        ] = 20.0,
        max_file_mb: Annotated[
            float,
            typer.Option(
                "--max-file-mb", min=0.01, help="Size cap per local file (JSONL is streamed), MiB."
            ),
        ] = 50.0,
        workers: Annotated[
            int, typer.Option("--workers", min=1, max=64, help="Concurrent fetches.")
        ] = 8,
        as_json: JsonOption = False,
    ) -> None:
        """Fetch, parse and store documents; prints what was inserted, updated and rejected.

        Exits 0 when the run completed, even if some inputs were rejected (see the summary);
        with --strict any rejection ends the run with exit status 1.
        """
        from dataclasses import replace

        from analyzer.ingest import IngestLimits, IngestRejected
        from analyzer.ingest.fetch import FetcherConfig
        from analyzer.pipeline import ingest_inputs

        max_bytes = int(max_mb * 1024 * 1024)
        config = FetcherConfig(
            connect_timeout=min(timeout, 10.0),
            read_timeout=timeout,
            max_bytes=max_bytes,
            max_workers=workers,
        )
        if user_agent:
            config.user_agent = user_agent
        limits = replace(IngestLimits(), max_file_bytes=int(max_file_mb * 1024 * 1024))

        with open_store(db) as store, _progress(enabled=not as_json) as progress:
            try:
                report = ingest_inputs(
                    store,
                    inputs,
                    allow_private=allow_private,
                    strict=strict,
                    follow_links=follow_links,
                    progress=progress,
                    fetcher_config=config,
                    limits=limits,
                )
            except IngestRejected as exc:
                if as_json:
                    print_json(exc.report.to_dict())
                else:
                    _print_summary(exc.report)
                raise
        if as_json:
            print_json(report.to_dict())
        else:
            _print_summary(report)


class _progress:
    """A rich progress bar on an interactive terminal; nothing otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("ingesting", total=None)

        def update(completed: int, total: int, label: str) -> None:
            self._progress.update(
                self._task, completed=completed, total=total, description=label[-60:]
            )

        return update

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
