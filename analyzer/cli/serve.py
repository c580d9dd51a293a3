"""`analyzer app`: serve the Streamlit app over a database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import DbOption
from analyzer.errors import InputError


def app_script() -> Path:
    """The Streamlit entry script shipped beside the package."""
    script = Path(__file__).resolve().parents[2] / "app.py"
    if not script.is_file():
        raise InputError(
            f"the app script was not found at {script}; run from a checkout of the project "
            "(pip install -e .)"
        )
    return script


def serve_app(
    db: Path | None, port: int, *, address: str = "localhost", open_browser: bool = False
) -> int:
    """Run Streamlit in the foreground; returns its exit status."""
    from analyzer.storage import resolve_db_path

    env = dict(os.environ)
    env["ANALYZER_DB"] = str(resolve_db_path(db).resolve())
    command = [
        # Not `streamlit run` directly: app_server loads the first page's modules and reads
        # before the server listens, so a visitor never waits for imports.
        sys.executable,
        "-m",
        "analyzer.cli.app_server",
        str(app_script()),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "false" if open_browser else "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        # Readers of the app need no developer menu (deploy, rerun, settings).
        "--client.toolbarMode",
        "viewer",
    ]
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def register(app: typer.Typer) -> None:
    @app.command("app")
    def serve(
        db: DbOption = None,
        port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
        address: Annotated[
            str, typer.Option("--address", help="Interface to listen on.")
        ] = "localhost",
        open_browser: Annotated[bool, typer.Option("--open", help="Open a browser tab.")] = False,
    ) -> None:
        """Serve the Streamlit app at http://localhost:PORT over the database."""
        typer.echo(f"Serving the analyzer app at http://{address}:{port} (Ctrl-C to stop)")
        raise typer.Exit(serve_app(db, port, address=address, open_browser=open_browser))
