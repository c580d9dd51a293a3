"""The `analyzer` command line: a thin layer over the library.

Each command group lives in its own module with a ``register(app)`` function. Heavy libraries
(torch, transformers) are imported inside the commands, so ``analyzer --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="analyzer",
    help="Measure how far a market narrative runs ahead of its fundamentals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Measure how far a market narrative runs ahead of its fundamentals."""


# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "ingest",
    "score",
    "train",
    "label",
    "compare",
    "corpus",
    "entities",
    "fundamentals",
    "divergence",
    "watch",
    "update",
    "claims",
    "serve",
    "demo",
    "stats",
    "bench",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"analyzer.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: library errors become one clean line and exit status 1."""
    from analyzer.errors import AnalyzerError

    try:
        app(args=argv, standalone_mode=False)
    except AnalyzerError as exc:
        typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.secho("Interrupted.", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        # Usage errors from the command-line parser know how to show themselves.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            typer.secho("Aborted.", err=True)
            sys.exit(1)
        if type(exc).__name__ == "Exit":
            sys.exit(getattr(exc, "exit_code", 0))
        typer.secho(f"Error: {type(exc).__name__}: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)
