"""The process behind `analyzer app`: load what the first page needs, then start Streamlit.

Streamlit imports a page's modules when the first visitor arrives, so a freshly started app
made that visitor wait while pandas, Plotly and the read models were imported and, on a
database whose analysis is not stored, while the analysis was computed. Here that work is
done before the server listens: the imports land in ``sys.modules`` and the computed analysis
in the read API's in-process cache, which the page's first read then finds.

    python -m analyzer.cli.app_server app.py --server.port 8501 ...   # what `analyzer app` runs
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def warm(db: str | None, app_root: Path) -> None:
    """Import the pages' dependencies and compute the Overview's reads once, if the database has any."""
    if str(app_root) not in sys.path:
        sys.path.insert(0, str(app_root))
    import plotly.graph_objects  # noqa: F401  (the Entity and Model pages' figures)

    from analyzer.views import common, overview, plots  # noqa: F401
    from app_pages import render, ui  # noqa: F401

    if not db or not Path(db).is_file():
        return
    status = common.database_status(db)
    if not status["ready"]:
        return
    version = str(status["model_version"] or "")
    analysed = {a["freq"] for a in status["analysis"] if a["model_version"] == version}
    freq = next((f for f in ui.FREQ_ORDER if f in analysed), "quarter")
    compute = not common.analysis_state(db, freq, version or None)["materialised"]
    overview.overview(db, freq, version or None, compute=compute)
    overview.latest_flags(db, freq, version or None, limit=10, compute=compute)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit("usage: python -m analyzer.cli.app_server APP_SCRIPT [streamlit options]")
    script = Path(args[0]).resolve()
    try:
        warm(os.environ.get("ANALYZER_DB"), script.parent)
    except Exception as exc:  # noqa: BLE001 - the page itself reports a broken database clearly
        print(
            f"note: could not prepare the first page ({exc}); it will load on first visit",
            file=sys.stderr,
        )
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", "run", *args]
    return int(streamlit_cli.main() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
